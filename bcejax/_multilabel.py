"""Multi-label losses that reduce over the label axis first: soft margin and ZLPR.

Both losses return one value per example with ``reduction="none"`` (shape
``logits.shape[:-1]``), then sum or average those values over the examples. With a
``where`` mask, the "mean" counts only the examples that keep at least one label:
an example whose labels are all masked out has a loss of 0 and is not counted.

How each one gets its derivatives:

* :func:`multilabel_soft_margin_loss` averages the element losses of
    :func:`bcejax.sigmoid_binary_cross_entropy`, so it reuses that loss's
    hand-written backward pass. The average over labels is linear, and autodiff of
    a sum and a division is exact.
* :func:`zlpr_loss` is differentiated by autodiff. Its forward pass is a
    log-sum-exp written so that autodiff yields the exact gradient formula: the
    shift by the maximum is a constant (``stop_gradient``), so the gradient of each
    term is its own softmax weight, never ``1 - (sum of the other weights)``. A
    hand-written backward pass would compute the same weights, so it would gain no
    accuracy. Memory is kept low instead by ``jax.checkpoint``: reverse mode saves
    only the inputs and recomputes the rest.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from bcejax import _binary_cross_entropy
from bcejax import _validation


def _labeled_logits(function: str, logits: jax.typing.ArrayLike) -> jax.Array:
    """Convert ``logits`` and raise ValueError unless they have a label axis."""
    logits = _validation.floating_array(function, "logits", logits)
    if logits.ndim == 0:
        raise ValueError(
            f"{function}: `logits` has shape (), but a multi-label loss needs the "
            f"labels on the last axis, shape [..., num_labels]. For one example with "
            f"one label, pass `logits.reshape(1)`."
        )
    return logits


def _example_mask(where: jax.Array | None, shape: tuple[int, ...]) -> jax.Array | None:
    """Return which examples keep at least one unmasked label, or None without a mask."""
    if where is None:
        return None
    return jnp.any(jnp.broadcast_to(where, shape), axis=-1)


# ----------------------------------------------------------------------------------
# Multi-label soft-margin loss.
# ----------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("reduction",))
def _soft_margin(logits, labels, weight, pos_weight, label_smoothing, where, *, reduction):
    if label_smoothing is not None:
        labels = _validation.smooth_labels(
            labels, label_smoothing, _validation.compute_dtype(logits.dtype)
        )
    elements = _binary_cross_entropy._sigmoid_bce_elements(
        logits, labels, weight, pos_weight, where
    )
    if where is None:
        count = jnp.asarray(logits.shape[-1], elements.dtype)
    else:
        count = jnp.count_nonzero(jnp.broadcast_to(where, logits.shape), axis=-1)
        count = count.astype(elements.dtype)
    # An example with no unmasked label has a sum of 0, and 0 / 1 keeps it at 0.
    losses = jnp.sum(elements, axis=-1) / jnp.maximum(count, 1)
    examples = _example_mask(where, logits.shape)
    return _validation.reduce_losses(losses, examples, reduction, logits.dtype)


def multilabel_soft_margin_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    weight: jax.typing.ArrayLike | None = None,
    pos_weight: jax.typing.ArrayLike | None = None,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    where: jax.typing.ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Compute the multi-label soft-margin loss: sigmoid BCE averaged over each example's labels.

    For example :math:`n` with logits :math:`x_{ni}`, labels :math:`y_{ni}`, weights
    :math:`w_{ni}`, positive weights :math:`p_{ni}` and the set :math:`K_n` of its
    unmasked labels (all :math:`C` labels without ``where``), the loss is

    .. math::
        \ell_n = \frac{1}{|K_n|} \sum_{i \in K_n} w_{ni} \left(
            p_{ni}\, y_{ni} \operatorname{softplus}(-x_{ni})
            + (1 - y_{ni}) \operatorname{softplus}(x_{ni}) \right),

    the element loss of :func:`bcejax.sigmoid_binary_cross_entropy` averaged over
    the labels of the example. Without ``pos_weight``, ``label_smoothing`` and
    ``where`` this is PyTorch's ``MultiLabelSoftMarginLoss``. The gradient is that
    of the element loss divided by :math:`|K_n|`:

    .. math::
        \frac{\partial \ell_n}{\partial x_{ni}} = \frac{w_{ni}}{|K_n|}
            \left( (1 - y_{ni}) \sigma(x_{ni}) - p_{ni}\, y_{ni}\, \sigma(-x_{ni}) \right).

    Labels, ``weight`` and ``pos_weight`` receive gradients too, with the accuracy
    of :func:`bcejax.sigmoid_binary_cross_entropy`.

    Args:
        logits: floating array ``[..., num_labels]``, typically
            ``[batch, num_labels]``; the last axis contains the labels of one example.
        labels: array of exactly the shape of ``logits``; float (soft labels in
            [0, 1]), int or bool. Labels are never broadcast.
        weight: optional weight that broadcasts to ``logits.shape`` by NumPy rules:
            ``[num_labels]`` per label (PyTorch's ``weight``), ``[batch, 1]`` per
            example, a scalar or the full shape.
        pos_weight: optional weight of the positive term, broadcast like
            ``weight``, for example :func:`bcejax.pos_weight_from_labels`.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; labels become
            :math:`y (1 - \varepsilon) + \varepsilon / 2`.
        where: optional bool mask broadcasting to ``logits.shape``. Masked-out
            labels contribute exactly 0 to the loss and to every gradient, even
            where their logits or labels are NaN or inf, and do not count in
            :math:`|K_n|`. For unknown labels marked -1 or NaN, pass
            ``where=bcejax.known_labels(labels)``.
        reduction: ``"none"`` (one loss per example), ``"sum"`` (the sum over
            examples) or ``"mean"``, a static Python string. The mean runs over the
            examples that keep at least one unmasked label, and a mean over no
            example is 0. Weights change neither divisor.

    Returns:
        With ``"none"``, the per-example losses, of shape ``logits.shape[:-1]`` and
        dtype ``logits.dtype``. With ``"sum"`` or ``"mean"``, a scalar accumulated
        in at least float32.

    Raises:
        ValueError: if ``logits`` has no label axis, if ``labels`` does not have
            the shape of ``logits``, if ``weight``, ``pos_weight`` or ``where`` does
            not broadcast to it, if ``reduction`` is unknown or
            ``label_smoothing`` lies outside [0, 1].
        TypeError: if ``logits`` is not floating or ``where`` is not bool.

    Note:
        Every element follows :func:`bcejax.sigmoid_binary_cross_entropy`: logits
        of :math:`\pm\infty` give the limits (loss 0 or inf), never NaN, and NaN in
        an unmasked logit or label gives NaN. Without ``where`` the divisor is
        ``num_labels`` for every example. An example with ``num_labels = 0`` has a
        loss of 0 (PyTorch divides by 0 there). Computation runs in at least
        float32, and gradients have the dtype of the input they belong to.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> logits = jnp.array([[2.0, -1.0, 0.0], [0.5, 3.0, -2.0]])
        >>> labels = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        >>> print(bcejax.multilabel_soft_margin_loss(logits, labels, reduction="none"))
        [0.37777898 0.38319743]
        >>> known = jnp.array([[True, True, False], [True, True, True]])
        >>> print(bcejax.multilabel_soft_margin_loss(logits, labels, where=known,
        ...                                          reduction="none"))
        [0.22009484 0.38319743]

    References:
        PyTorch, `MultiLabelSoftMarginLoss
        <https://pytorch.org/docs/stable/generated/torch.nn.MultiLabelSoftMarginLoss.html>`_.
    """
    name = "multilabel_soft_margin_loss"
    logits = _labeled_logits(name, logits)
    labels = _validation.labels_array(name, labels, logits, "logits")
    weight = _validation.broadcastable_array(name, "weight", weight, logits.shape)
    pos_weight = _validation.broadcastable_array(name, "pos_weight", pos_weight, logits.shape)
    where = _validation.broadcastable_array(name, "where", where, logits.shape, mask=True)
    smoothing = _validation.label_smoothing_value(name, label_smoothing)
    reduction = _validation.check_reduction(name, reduction)
    return _soft_margin(logits, labels, weight, pos_weight, smoothing, where, reduction=reduction)


# ----------------------------------------------------------------------------------
# ZLPR: zero-bounded log-sum-exp and pairwise rank-based loss.
# ----------------------------------------------------------------------------------


@jax.custom_jvp
def _shift(values, maximum):
    """Return ``values - maximum``, with ``inf - inf`` taken as 0.

    A term at +inf is the maximum of its sum, so its shifted exponential is 1. The
    tangent is ``dv - dm`` everywhere, so that term keeps its derivative, which a
    plain ``jnp.where`` would set to 0.
    """
    return jnp.where(values == maximum, jnp.zeros_like(values), values - maximum)


@_shift.defjvp
def _shift_jvp(primals, tangents):
    values, maximum = primals
    d_values, d_maximum = tangents
    return _shift(values, maximum), d_values - d_maximum


def _two_sum(a, b):
    """Return ``a + b`` rounded and its rounding error, exactly (Knuth's TwoSum)."""
    total = a + b
    b_part = total - a
    error = (a - (total - b_part)) + (b - b_part)
    return total, error


def _log1p_sum_exp(exponents, coefficients):
    """Return ``log(1 + sum_i c_i exp(a_i))`` over the last axis, for ``c_i >= 0``.

    The gradient is ``c_i exp(a_i) / (1 + sum)`` for ``a_i`` and ``exp(a_i) / (1 +
    sum)`` for ``c_i``, also where ``c_i = 0``.
    """
    dtype = exponents.dtype
    # The shift is the largest exponent of a term, a + log c, or 0 for the "1 +". Only
    # the shift uses log c, and it is a constant, so no derivative meets log(0). The
    # gradient of each term is then its own c * exp(a - shift) / total. A negative
    # c gives log(c) = NaN, so labels or weights outside the domain give NaN.
    active = coefficients != 0
    terms_log = jnp.where(active, exponents + jnp.log(jnp.where(active, coefficients, 1)),
                          -jnp.inf)
    maximum = jnp.maximum(jnp.max(terms_log, axis=-1, keepdims=True, initial=-jnp.inf), 0)
    terms_log, maximum = jax.lax.stop_gradient((terms_log, maximum))

    # exp(a - shift) <= 1 / c, so it can only overflow for c = 0 or a subnormal c.
    # The cap keeps 0 * exp(...) from becoming 0 * inf = NaN there.
    # NOTE: beyond the cap (88 in float32, 709 in float64) the gradient of a zero c,
    # and the term of a subnormal c, are computed with exp(cap) in place of an
    # exponential that overflows.
    cap = float(np.floor(np.log(np.finfo(dtype).max)))
    shifted = jnp.minimum(_shift(exponents, maximum), cap)
    exp_shifted = jnp.exp(shifted)
    # a - shift rounds by up to half an ulp of the larger operand, and exp turns that
    # into a relative error of the term. The exact rounding error restores it:
    # exp(shifted + error) = exp(shifted) * (1 + error).
    _, error = _two_sum(exponents, -maximum)
    error = jax.lax.stop_gradient(jnp.where(jnp.isfinite(error), error, 0))
    # The largest terms are 1 before the correction. Adding them as 1 + (c expm1(d)
    # + c - 1) outside the sum lets log1p keep full precision when all the other
    # terms are small; expm1' = exp keeps their derivative.
    largest = terms_log == maximum
    terms = jnp.where(largest, coefficients * jnp.expm1(shifted) + (coefficients - 1),
                      coefficients * exp_shifted)
    terms = terms + coefficients * exp_shifted * error
    largest_count = jnp.sum(largest, axis=-1).astype(dtype)

    # The "1 +" term: exp(-shift), or one of the largest terms when the shift is 0.
    one_is_largest = maximum[..., 0] == 0
    one_term = jnp.where(one_is_largest, 0, jnp.exp(-maximum[..., 0]))
    extra_ones = largest_count + one_is_largest.astype(dtype) - 1
    return maximum[..., 0] + jnp.log1p(jnp.sum(terms, axis=-1) + one_term + extra_ones)


def _zlpr_example_losses(logits, labels, weight, label_smoothing, where):
    dtype = _validation.compute_dtype(logits.dtype)
    x = logits.astype(dtype)
    y = labels.astype(dtype)
    if label_smoothing is not None:
        y = _validation.smooth_labels(y, label_smoothing, dtype)
    positive = y
    negative = 1 - y
    if weight is not None:
        w = jnp.broadcast_to(weight.astype(dtype), x.shape)
        positive = w * positive
        negative = w * negative
    if where is not None:
        # Masked-out elements may hold NaN or inf: they are replaced before any
        # arithmetic that a derivative could reach, and drop out of both sums.
        mask = jnp.broadcast_to(where, x.shape)
        x = jnp.where(mask, x, 0)
        positive = jnp.where(mask, positive, 0)
        negative = jnp.where(mask, negative, 0)
    # log(1 + sum_neg exp(s)) + log(1 + sum_pos exp(-s)), with soft memberships. Both
    # sums run as one batch of two, which halves the program XLA compiles.
    both = _log1p_sum_exp(jnp.stack([x, -x]), jnp.stack([negative, positive]))
    return both[0] + both[1]


# Reverse mode saves only the inputs of the loss and recomputes the exponentials.
_zlpr_examples = jax.checkpoint(_zlpr_example_losses)


@functools.partial(jax.jit, static_argnames=("reduction",))
def _zlpr(logits, labels, weight, label_smoothing, where, *, reduction):
    losses = _zlpr_examples(logits, labels, weight, label_smoothing, where)
    examples = _example_mask(where, logits.shape)
    return _validation.reduce_losses(losses, examples, reduction, logits.dtype)


def zlpr_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    weight: jax.typing.ArrayLike | None = None,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    where: jax.typing.ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Compute the ZLPR loss (multi-label categorical cross-entropy) of each example.

    ZLPR pushes every positive label's logit above 0 and every negative label's logit
    below 0, and ranks the two groups against each other through one log-sum-exp per
    group. For the logits :math:`s_i` of one example with positive
    labels :math:`P` and negative labels :math:`N`, the loss is

    .. math::
        \ell = \log\Bigl(1 + \sum_{i \in N} e^{s_i}\Bigr)
             + \log\Bigl(1 + \sum_{j \in P} e^{-s_j}\Bigr).

    The threshold is 0: predict label :math:`i` when :math:`s_i > 0`. Soft labels
    :math:`y_i \in [0, 1]` and weights :math:`w_i` enter as memberships of the two
    sums, and a masked-out label (mask :math:`m_i = 0`) leaves both:

    .. math::
        \ell = \log\Bigl(1 + \sum_i m_i w_i (1 - y_i)\, e^{s_i}\Bigr)
             + \log\Bigl(1 + \sum_i m_i w_i y_i\, e^{-s_i}\Bigr).

    With hard labels and unit weights this is the formula above. For a single
    label, the loss is minimal at :math:`s = \tfrac12 \log(y / (1 - y))`, so the
    threshold at 0 still predicts exactly the labels with :math:`y > 1/2`. With
    :math:`a_i = m_i w_i (1 - y_i) e^{s_i}` and :math:`b_i = m_i w_i y_i e^{-s_i}`,
    the gradient is

    .. math::
        \frac{\partial \ell}{\partial s_i}
            = \frac{a_i}{1 + \sum_k a_k} - \frac{b_i}{1 + \sum_k b_k},

    a difference of two softmax weights, each in [0, 1], computed without
    cancellation for hard labels. Both log-sum-exps are shifted by their largest
    term (including the 0 of the "1 +"), so logits of :math:`\pm 10^4` or
    :math:`\pm 10^9` neither overflow nor lose the small terms.

    Args:
        logits: floating array ``[..., num_labels]``, typically
            ``[batch, num_labels]``; the last axis contains the labels of one example.
        labels: array of exactly the shape of ``logits``; float (soft labels in
            [0, 1]), int or bool. Labels are never broadcast.
        weight: optional weight :math:`w_i \ge 0` that broadcasts to
            ``logits.shape``. It multiplies a label's term inside its sum, which
            is the same as adding :math:`\log w_i` to that term's exponent, so a
            class weight such as :func:`bcejax.class_balanced_weight` makes the
            errors on that label cost more. A weight that is constant over the
            labels of an example does not scale its loss in proportion. To weight
            whole examples, multiply the ``reduction="none"`` result.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; labels become
            :math:`y (1 - \varepsilon) + \varepsilon / 2` before they enter the sums.
        where: optional bool mask broadcasting to ``logits.shape``. Masked-out
            labels leave both sums and get exactly 0 gradient, even where their
            logits or labels are NaN or inf. For unknown labels marked -1 or NaN,
            pass ``where=bcejax.known_labels(labels)``.
        reduction: ``"none"`` (one loss per example), ``"sum"`` (the sum over
            examples) or ``"mean"`` (the mean over the examples that keep at least
            one unmasked label; an example whose labels are all masked out has a
            loss of 0 and is not counted; a mean over no example is 0). A static
            Python string.

    Returns:
        With ``"none"``, the per-example losses, of shape ``logits.shape[:-1]`` and
        dtype ``logits.dtype``. With ``"sum"`` or ``"mean"``, a scalar accumulated
        in at least float32.

    Raises:
        ValueError: if ``logits`` has no label axis, if ``labels`` does not have
            the shape of ``logits``, if ``weight`` or ``where`` does not broadcast
            to it, if ``reduction`` is unknown or ``label_smoothing`` lies outside
            [0, 1].
        TypeError: if ``logits`` is not floating or ``where`` is not bool.

    Note:
        A logit of :math:`+\infty` on a negative label (or :math:`-\infty` on a
        positive one) gives a loss of inf, and the gradient is the limit: 1 (or
        -1) on that logit, 0 on the others. Several infinite logits in one sum
        share it in proportion to their memberships, equally for hard labels and
        unit weights. An infinite logit on the side of its label drops out
        of the sums. NaN in an unmasked logit or label gives NaN, and so do labels
        outside [0, 1] and negative weights, which make a membership negative.
        Gradients for labels and weights are exact too, but they grow like
        :math:`e^{|s_i|}` at a hard label whose logit agrees with it, because a
        small change of that label adds :math:`e^{|s_i|}` to the other sum. Where
        that exponential would overflow (:math:`|s_i|` more than 88 above the
        other sum's largest exponent in float32, 709 in float64), it is replaced
        by :math:`e^{88}` (:math:`e^{709}`), so the gradient stays finite but too
        small. Computation runs in at least float32, and gradients have the dtype
        of the input they belong to.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> logits = jnp.array([[2.0, -1.0, 0.0], [0.5, 3.0, -2.0]])
        >>> labels = jnp.array([[1, 0, 1], [0, 1, 0]])
        >>> print(bcejax.zlpr_loss(logits, labels, reduction="none"))
        [1.0718855 1.0724964]
        >>> print(bcejax.zlpr_loss(jnp.array([[1e4, -1e4]]), jnp.array([[0, 1]])))
        20000.0

    References:
        Jianlin Su, Mingren Zhu, Ahmed Murtadha, Shengfeng Pan, Bo Wen and Yunfeng
        Liu, `ZLPR: A Novel Loss for Multi-label Classification
        <https://arxiv.org/abs/2208.02955>`_, 2022.
    """
    name = "zlpr_loss"
    logits = _labeled_logits(name, logits)
    labels = _validation.labels_array(name, labels, logits, "logits")
    weight = _validation.broadcastable_array(name, "weight", weight, logits.shape)
    where = _validation.broadcastable_array(name, "where", where, logits.shape, mask=True)
    smoothing = _validation.label_smoothing_value(name, label_smoothing)
    reduction = _validation.check_reduction(name, reduction)
    return _zlpr(logits, labels, weight, smoothing, where, reduction=reduction)
