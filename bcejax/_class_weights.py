"""Class-imbalance weights from label counts, and the mask for unknown labels.

All functions are pure and jit-compatible: shapes and static arguments are checked
at trace time, and values are never checked. They prepare the ``pos_weight``,
``weight`` and ``where`` arguments of the losses.

The partial-label convention of bcejax: a label is unknown when it is negative
(conventionally -1) or NaN, and known otherwise. :func:`known_labels` turns that
into the bool mask that every loss takes as ``where``. Masked-out labels contribute
exactly 0 to the loss and to every gradient, whatever value they contain.
"""

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from bcejax import _validation


def _numeric_labels(function: str, labels: jax.typing.ArrayLike) -> jax.Array:
    """Convert ``labels`` to an array and raise TypeError unless it is numeric or bool."""
    # The dtype is checked before the conversion, which rejects strings with a message
    # that does not name the argument.
    dtype = labels.dtype if hasattr(labels, "dtype") else np.asarray(labels).dtype
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
            or dtype == np.bool_):
        raise TypeError(
            f"{function}: `labels` must have a floating, integer or bool dtype, got "
            f"dtype {dtype}."
        )
    return jnp.asarray(labels)


def _labels_with_axis(function: str, labels: jax.typing.ArrayLike) -> jax.Array:
    """Convert ``labels`` and raise unless they are numeric with a label axis."""
    labels = _numeric_labels(function, labels)
    if labels.ndim == 0:
        raise ValueError(
            f"{function}: `labels` has shape (), but the labels must lie on the last "
            f"axis, shape [..., num_labels]. Pass at least one axis, for example "
            f"`labels.reshape(1, -1)`."
        )
    return labels


def _count_dtype(labels: jax.Array) -> jnp.dtype:
    if jnp.issubdtype(labels.dtype, jnp.floating):
        return _validation.compute_dtype(labels.dtype)
    return jnp.dtype(jnp.float32)


@jax.jit
def _label_counts(labels, where):
    dtype = _count_dtype(labels)
    leading_axes = tuple(range(labels.ndim - 1))
    if jnp.issubdtype(labels.dtype, jnp.floating):
        y = labels.astype(dtype)
        if where is not None:
            # Unknown labels may be NaN, so they are replaced before the sums.
            mask = jnp.broadcast_to(where, labels.shape)
            positives = jnp.where(mask, y, 0)
            negatives = jnp.where(mask, 1 - y, 0)
        else:
            positives = y
            negatives = 1 - y
        return jnp.sum(positives, axis=leading_axes), jnp.sum(negatives, axis=leading_axes)
    # Integer sums count hard labels exactly before the one rounding to float.
    y = labels.astype(jnp.int32)
    known = jnp.ones(labels.shape, jnp.int32)
    if where is not None:
        mask = jnp.broadcast_to(where, labels.shape)
        y = jnp.where(mask, y, 0)
        known = mask.astype(jnp.int32)
    positives = jnp.sum(y, axis=leading_axes)
    negatives = jnp.sum(known, axis=leading_axes) - positives
    return positives.astype(dtype), negatives.astype(dtype)


def label_counts(
    labels: jax.typing.ArrayLike,
    *,
    where: jax.typing.ArrayLike | None = None,
) -> tuple[jax.Array, jax.Array]:
    r"""Count the positive and negative examples of each label.

    For labels :math:`y_{ni}` and a mask :math:`m_{ni}`, the counts are
    :math:`P_i = \sum_n m_{ni} y_{ni}` and :math:`N_i = \sum_n m_{ni} (1 - y_{ni})`,
    summed over every axis but the last. Soft labels count fractionally.

    Args:
        labels: array ``[..., num_labels]``; float, int or bool.
        where: optional bool mask broadcasting to ``labels.shape``; only labels
            where it is True are counted. For unknown labels marked -1 or NaN, pass
            ``where=bcejax.known_labels(labels)``.

    Returns:
        ``(positives, negatives)``, two arrays of shape ``[num_labels]``, float32
        for int, bool and 16-bit labels, float64 for float64 labels. Hard labels
        are counted exactly up to :math:`2^{24}` examples in float32.

    Raises:
        ValueError: if ``labels`` has no axis or ``where`` does not broadcast to
            its shape.
        TypeError: if ``labels`` is not numeric or ``where`` is not bool.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> labels = jnp.array([[1, 0, -1], [1, 1, 0], [0, -1, 0]])
        >>> positives, negatives = bcejax.label_counts(
        ...     labels, where=bcejax.known_labels(labels))
        >>> print(positives, negatives)
        [2. 1. 0.] [1. 1. 2.]
    """
    name = "label_counts"
    labels = _labels_with_axis(name, labels)
    where = _validation.broadcastable_array(
        name, "where", where, labels.shape, inputs_name="labels", mask=True
    )
    return _label_counts(labels, where)


def pos_weight_from_labels(
    labels: jax.typing.ArrayLike,
    *,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Compute each label's ``pos_weight`` as its number of negatives over positives.

    With the counts :math:`P_i` and :math:`N_i` of :func:`label_counts`, the weight
    is :math:`N_i / P_i`. Passed as ``pos_weight``, it makes the positive examples
    of each label weigh as much in total as its negative ones.

    A label with no positive example has no positive term to weight, and a label
    with no negative example would get a weight of 0 that silences its positive
    term. Both get a weight of 1.0, which leaves their loss unchanged.

    Args:
        labels: training labels ``[..., num_labels]``; float, int or bool.
        where: optional bool mask broadcasting to ``labels.shape``; only labels
            where it is True are counted, for example
            ``where=bcejax.known_labels(labels)``.

    Returns:
        An array of shape ``[num_labels]`` and the dtype of :func:`label_counts`.
        With hard labels every entry is finite, at most the number of examples
        minus one.

    Raises:
        ValueError: if ``labels`` has no axis or ``where`` does not broadcast to
            its shape.
        TypeError: if ``labels`` is not numeric or ``where`` is not bool.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> train_labels = jnp.array([[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]])
        >>> pos_weight = bcejax.pos_weight_from_labels(train_labels)
        >>> print(pos_weight)
        [3.         1.         0.33333334]
        >>> logits = jnp.zeros((4, 3))
        >>> loss = bcejax.sigmoid_binary_cross_entropy(
        ...     logits, train_labels, pos_weight=pos_weight)
    """
    name = "pos_weight_from_labels"
    labels = _labels_with_axis(name, labels)
    where = _validation.broadcastable_array(
        name, "where", where, labels.shape, inputs_name="labels", mask=True
    )
    return _pos_weight(labels, where)


@jax.jit
def _pos_weight(labels, where):
    positives, negatives = _label_counts(labels, where)
    defined = (positives > 0) & (negatives > 0)
    ratio = negatives / jnp.where(defined, positives, 1)
    return jnp.where(defined, ratio, 1)


def _beta_value(function: str, beta: jax.typing.ArrayLike) -> jax.typing.ArrayLike:
    """Check ``beta`` against [0, 1) where its value is known at trace time.

    Returns a Python float ``1 - beta`` for a Python number, so that it is exact
    before it is rounded to the compute dtype, or ``1 - beta`` as an array for an
    array ``beta``. A traced value cannot be checked and is passed on unchecked.
    """
    if isinstance(beta, numbers.Real) and not isinstance(beta, bool):
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"{function}: `beta` must lie in [0, 1), got {beta}.")
        return 1.0 - float(beta)
    array = jnp.asarray(beta)
    if array.shape != () or not jnp.issubdtype(array.dtype, jnp.floating):
        raise ValueError(
            f"{function}: `beta` must be a float scalar in [0, 1), got shape "
            f"{array.shape} and dtype {array.dtype}."
        )
    if not isinstance(array, jax.core.Tracer) and not 0.0 <= float(array) < 1.0:
        raise ValueError(f"{function}: `beta` must lie in [0, 1), got {float(array)}.")
    return 1 - array


@jax.jit
def _class_balanced(counts, one_minus_beta):
    dtype = _count_dtype(counts)
    n = jnp.maximum(counts.astype(dtype), 1)
    one_minus_beta = jnp.asarray(one_minus_beta).astype(dtype)
    # 1 - beta**n = -expm1(n * log(beta)), with log(beta) = log1p(-(1 - beta)): both
    # keep full precision for beta close to 1, where 1 - beta**n would cancel.
    effective_number = -jnp.expm1(n * jnp.log1p(-one_minus_beta)) / one_minus_beta
    weight = 1 / effective_number
    return weight * (counts.shape[-1] / jnp.sum(weight))


def class_balanced_weight(
    counts: jax.typing.ArrayLike,
    *,
    beta: jax.typing.ArrayLike = 0.999,
) -> jax.Array:
    r"""Compute class-balanced weights from the effective number of samples per label.

    Cui et al. (2019) weight a class with :math:`n` samples by the inverse of its
    effective number of samples :math:`E_n = (1 - \beta^n) / (1 - \beta)`:

    .. math::
        w_i = \frac{1 - \beta}{1 - \beta^{n_i}}, \qquad
        \text{normalised so that } \sum_i w_i = C,

    where :math:`C` is the number of labels. :math:`\beta = 0` gives equal
    weights, and :math:`\beta \to 1` approaches inverse frequency. Pass the result
    as ``weight``, which scales both terms of each label, or as ``pos_weight``,
    which scales only the positive term.

    A count of 0 would give :math:`E_0 = 0` and an infinite weight. Counts below 1,
    including 0, are treated as 1, the largest weight before normalisation, so a
    label with no positive example still learns from its negative terms.

    Args:
        counts: array ``[num_labels]`` of positive examples per label, int or
            float, for example the first result of :func:`label_counts`.
        beta: :math:`\beta \in [0, 1)`, a Python float or a float scalar. A Python
            float is checked and :math:`1 - \beta` is formed in float64 before it
            is rounded; a traced value is accepted but not range-checked.

    Returns:
        An array of shape ``[num_labels]`` that sums to ``num_labels``: float32 for
        int and 16-bit counts, float64 for float64 counts.

    Raises:
        ValueError: if ``counts`` is not one-dimensional, or ``beta`` is not a
            scalar in [0, 1).
        TypeError: if ``counts`` is not numeric.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> train_labels = jnp.array([[1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 0, 0]])
        >>> positives, _ = bcejax.label_counts(train_labels)
        >>> weight = bcejax.class_balanced_weight(positives, beta=0.9)
        >>> print(weight)
        [0.3808073 1.3095963 1.3095963]
        >>> loss = bcejax.sigmoid_binary_cross_entropy(
        ...     jnp.zeros((4, 3)), train_labels, weight=weight)

    References:
        Yin Cui, Menglin Jia, Tsung-Yi Lin, Yang Song and Serge Belongie,
        `Class-Balanced Loss Based on Effective Number of Samples
        <https://arxiv.org/abs/1901.05555>`_, CVPR 2019.
    """
    name = "class_balanced_weight"
    counts = jnp.asarray(counts)
    numeric = jnp.issubdtype(counts.dtype, jnp.floating) or jnp.issubdtype(counts.dtype, jnp.integer)
    if not numeric:
        raise TypeError(
            f"{name}: `counts` must have an integer or floating dtype, got dtype "
            f"{counts.dtype}."
        )
    if counts.ndim != 1:
        raise ValueError(
            f"{name}: `counts` has shape {counts.shape}; expected one count per label, "
            f"shape [num_labels]. Count labels of shape [batch, num_labels] with "
            f"`bcejax.label_counts(labels)[0]`."
        )
    one_minus_beta = _beta_value(name, beta)
    return _class_balanced(counts, one_minus_beta)


def known_labels(labels: jax.typing.ArrayLike) -> jax.Array:
    """Return the mask of known labels: True except where a label is negative or NaN.

    bcejax marks an unknown label with -1 (any negative value works) or NaN. Pass
    the mask as ``where`` to a loss: the unknown labels then contribute exactly 0 to
    the loss and to every gradient, and the "mean" reductions count only the known
    ones. Bool labels are all known.

    Args:
        labels: array of any shape; float, int or bool.

    Returns:
        A bool array of the shape of ``labels``.

    Raises:
        TypeError: if ``labels`` is not numeric.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> labels = jnp.array([[1.0, -1.0, 0.0], [jnp.nan, 1.0, 0.0]])
        >>> known = bcejax.known_labels(labels)
        >>> print(known)
        [[ True False  True]
         [False  True  True]]
        >>> loss = bcejax.sigmoid_binary_cross_entropy(
        ...     jnp.zeros((2, 3)), labels, where=known)
        >>> print(f"{loss:.6f}")
        0.693147
    """
    labels = _numeric_labels("known_labels", labels)
    if labels.dtype == jnp.bool_:
        return jnp.ones(labels.shape, bool)
    # NaN >= 0 is False, so this one comparison marks both conventions as unknown.
    return labels >= 0
