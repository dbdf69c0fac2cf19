"""Sigmoid binary cross-entropy on logits, and binary cross-entropy on probabilities.

Both losses follow the same plan. A public function checks shapes, dtypes and
static arguments at trace time, then calls a jitted implementation whose element
loss has a hand-written backward pass (see :mod:`bcejax._derivatives` for how that
one backward pass also drives forward mode). Element losses and their derivatives
are computed in at least float32 and rounded once to the dtype of the input they
belong to.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bcejax import _derivatives
from bcejax import _elementwise
from bcejax import _validation
from bcejax._elementwise import broadcast as _broadcast
from bcejax._elementwise import cotangent as _cotangent
from bcejax._elementwise import masked_operands as _masked_operands
from bcejax._elementwise import times as _times

# The floor of each log term in `binary_cross_entropy`, as in PyTorch's BCELoss:
# it keeps the loss finite at probabilities of exactly 0 and 1.
LOG_FLOOR = -100.0


# ----------------------------------------------------------------------------------
# Sigmoid binary cross-entropy on logits.
# ----------------------------------------------------------------------------------


class _LogitsOperands(NamedTuple):
    """Upcast, masked and broadcast operands of the logit loss, and their shared terms."""

    x: jax.Array
    y: jax.Array
    w: jax.Array | None
    p: jax.Array | None
    mask: jax.Array | None
    positive: jax.Array  # w * p * y, the weight of softplus(-x)
    negative: jax.Array  # w * (1 - y), the weight of softplus(x)
    total: jax.Array  # w * (p * y + (1 - y)), the sum of the two
    log_term: jax.Array  # log(1 + exp(-|x|))


def _logits_operands(logits, labels, weight, pos_weight, where):
    x, y, mask = _masked_operands(logits, labels, where, fill=0)
    w = _broadcast(weight, x.shape, x.dtype)
    p = _broadcast(pos_weight, x.shape, x.dtype)
    positive = y if p is None else p * y
    negative = 1 - y
    total = positive + negative
    if w is not None:
        positive, negative, total = w * positive, w * negative, w * total
    log_term = _elementwise.log1p_exp_neg_abs(x)
    return _LogitsOperands(x, y, w, p, mask, positive, negative, total, log_term)


def _logits_forward(logits, labels, weight, pos_weight, where):
    o = _logits_operands(logits, labels, weight, pos_weight, where)
    losses = _elementwise.cross_entropy(o.x, o.positive, o.negative, o.total, o.log_term)
    if o.mask is not None:
        losses = jnp.where(o.mask, losses, 0)
    # Saved for the backward pass: the inputs only, which the caller keeps in memory anyway.
    # The backward pass recomputes exp(-|x|) instead of storing a new array.
    return losses, (logits, labels, weight, pos_weight, where)


def _logits_backward(residuals, cotangent):
    logits, labels, weight, pos_weight, where = residuals
    o = _logits_operands(logits, labels, weight, pos_weight, where)
    x, y, w, p, mask = o.x, o.y, o.w, o.p, o.mask
    cotangent = cotangent.astype(x.dtype)

    # d/dx = w * ((1 - y) * sigmoid(x) - p * y * sigmoid(-x)).
    d_logits = cotangent * _elementwise.cross_entropy_slope(x, o.positive, o.negative, o.total)

    # d/dy = w * (p * softplus(-x) - softplus(x)). With softplus(-x) - softplus(x) = -x
    # this is w * (-x + (p - 1) * log_term) for x >= 0 and w * (-p * x + (p - 1) *
    # log_term) for x < 0: no two large terms cancel.
    if p is None:
        label_slope = -x
    else:
        label_slope = jnp.where(x >= 0, -x, _times(p, -x)) + (p - 1) * o.log_term
    if w is not None:
        label_slope = _times(w, label_slope)
    d_labels = cotangent * label_slope

    cotangents = [_cotangent(d_logits, mask, logits), _cotangent(d_labels, mask, labels)]
    if weight is None:
        cotangents.append(None)
    else:
        positive = y if p is None else p * y
        unweighted = _elementwise.cross_entropy(x, positive, 1 - y, positive + (1 - y), o.log_term)
        cotangents.append(_cotangent(cotangent * unweighted, mask, weight))
    if pos_weight is None:
        cotangents.append(None)
    else:
        scale = y if w is None else w * y
        softplus_neg = jnp.maximum(-x, 0) + o.log_term
        cotangents.append(_cotangent(cotangent * _times(scale, softplus_neg), mask, pos_weight))
    cotangents.append(None)  # `where` is a bool mask.
    return tuple(cotangents)


_sigmoid_bce_elements, _sigmoid_bce_elements_vjp = _derivatives.vjp_with_forward_mode(
    _logits_forward, _logits_backward
)


@functools.partial(jax.jit, static_argnames=("reduction",))
def _sigmoid_bce(logits, labels, weight, pos_weight, label_smoothing, where, *, reduction):
    if label_smoothing is not None:
        labels = _validation.smooth_labels(
            labels, label_smoothing, _validation.compute_dtype(logits.dtype)
        )
    losses = _sigmoid_bce_elements(logits, labels, weight, pos_weight, where)
    return _validation.reduce_losses(losses, where, reduction, logits.dtype)


def sigmoid_binary_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    weight: jax.typing.ArrayLike | None = None,
    pos_weight: jax.typing.ArrayLike | None = None,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    where: jax.typing.ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Compute sigmoid binary cross-entropy from logits, one yes/no question per label.

    For a logit :math:`x`, a label :math:`y \in [0, 1]`, a weight :math:`w` and a
    positive-class weight :math:`p`, the element loss is

    .. math::
        \ell(x, y) = w \left( p\, y \operatorname{softplus}(-x)
                     + (1 - y) \operatorname{softplus}(x) \right),

    with :math:`\operatorname{softplus}(x) = \log(1 + e^x)`. This is PyTorch's
    ``BCEWithLogitsLoss``: :math:`p` scales only the positive term, also for soft
    labels. A term whose coefficient (:math:`w p y` or :math:`w (1 - y)`) is exactly
    0 counts as 0 even where its softplus is infinite. The gradient is

    .. math::
        \frac{\partial \ell}{\partial x}
            = w \left( (1 - y) \sigma(x) - p\, y\, \sigma(-x) \right),

    evaluated without cancellation: :math:`\sigma(-x)` is never formed as
    :math:`1 - \sigma(x)`. Labels, ``weight`` and ``pos_weight`` receive exact
    gradients too (:math:`\partial \ell / \partial y = w (p \operatorname{softplus}(-x)
    - \operatorname{softplus}(x))`), so soft targets can be learned, as in
    distillation.

    Args:
        logits: floating array of any shape, typically ``[batch, num_labels]``.
        labels: array of exactly the shape of ``logits``; float (soft labels in
            [0, 1]), int or bool. Labels are never broadcast.
        weight: optional weight that broadcasts to ``logits.shape`` by NumPy rules:
            a scalar, ``[num_labels]`` per label, ``[batch, 1]`` per example, or
            the full shape.
        pos_weight: optional weight of the positive term, broadcast like
            ``weight``; for imbalanced labels, ``num_negatives / num_positives``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; labels become
            :math:`y (1 - \varepsilon) + \varepsilon / 2`. Gradients flow through the
            smoothing to the labels. A traced value is accepted but not range-checked.
        where: optional bool mask broadcasting to ``logits.shape``. Masked-out
            elements contribute exactly 0 to the loss and to every gradient, even
            where their logits or labels are NaN or inf.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``, a static Python string.
            The mean divides the sum by the number of unmasked elements. Weights
            do not change that divisor, and a mean over no element is 0.

    Returns:
        With ``"none"``, element losses of ``logits.shape`` and ``logits.dtype``.
        With ``"sum"`` or ``"mean"``, a scalar accumulated in at least float32, so
        float16 and bfloat16 inputs give a float32 scalar.

    Raises:
        ValueError: if ``labels`` does not have the shape of ``logits``, if
            ``weight``, ``pos_weight`` or ``where`` does not broadcast to it, if
            ``reduction`` is unknown or ``label_smoothing`` lies outside [0, 1].
        TypeError: if ``logits`` is not floating or ``where`` is not bool.

    Note:
        Logits of :math:`\pm\infty` give the limits (loss 0 or inf, gradient 0 or
        :math:`\pm 1`), never NaN. NaN in an unmasked logit or label gives NaN.
        Values are not checked on this path: labels outside [0, 1] are used as
        given, never clipped. :func:`bcejax.check_labels` checks them under
        ``jax.experimental.checkify``. Computation runs in at least float32, and
        gradients have the dtype of the input they belong to.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> logits = jnp.array([[2.0, -1.0, 0.0], [0.5, 3.0, -2.0]])
        >>> labels = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        >>> print(f"{bcejax.sigmoid_binary_cross_entropy(logits, labels):.6f}")
        0.380488
        >>> bcejax.sigmoid_binary_cross_entropy(
        ...     logits, labels, pos_weight=jnp.array([1.0, 2.0, 4.0]), reduction="none"
        ... ).shape
        (2, 3)

    References:
        PyTorch, `BCEWithLogitsLoss
        <https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html>`_.
    """
    name = "sigmoid_binary_cross_entropy"
    logits = _validation.floating_array(name, "logits", logits)
    labels = _validation.labels_array(name, labels, logits, "logits")
    weight = _validation.broadcastable_array(name, "weight", weight, logits.shape)
    pos_weight = _validation.broadcastable_array(name, "pos_weight", pos_weight, logits.shape)
    where = _validation.broadcastable_array(name, "where", where, logits.shape, mask=True)
    smoothing = _validation.label_smoothing_value(name, label_smoothing)
    reduction = _validation.check_reduction(name, reduction)
    return _sigmoid_bce(logits, labels, weight, pos_weight, smoothing, where, reduction=reduction)


# ----------------------------------------------------------------------------------
# Binary cross-entropy on probabilities.
# ----------------------------------------------------------------------------------


def _probabilities_operands(probs, labels, weight, where):
    # Masked-out probabilities become 0.5, where both log terms are finite.
    p, y, mask = _masked_operands(probs, labels, where, fill=0.5)
    w = _broadcast(weight, p.shape, p.dtype)
    log_p = jnp.log(p)
    # log1p(-p) keeps full precision for small p, where log(1 - p) would not.
    log_q = jnp.log1p(-p)
    positive = y if w is None else w * y
    negative = 1 - y if w is None else w * (1 - y)
    return p, y, w, mask, log_p, log_q, positive, negative


def _probabilities_forward(probs, labels, weight, where):
    _, _, _, mask, log_p, log_q, positive, negative = _probabilities_operands(
        probs, labels, weight, where
    )
    # jnp.maximum propagates NaN, so an invalid probability is not hidden by the floor.
    losses = -(positive * jnp.maximum(log_p, LOG_FLOOR) + negative * jnp.maximum(log_q, LOG_FLOOR))
    if mask is not None:
        losses = jnp.where(mask, losses, 0)
    # Saved for the backward pass: the inputs only.
    return losses, (probs, labels, weight, where)


def _probabilities_backward(residuals, cotangent):
    probs, labels, weight, where = residuals
    p, y, w, mask, log_p, log_q, positive, negative = _probabilities_operands(
        probs, labels, weight, where
    )
    cotangent = cotangent.astype(p.dtype)
    # The derivative of max(log p, -100) is 1 / p above the floor and 0 below it,
    # so it is finite at p = 0 and p = 1. Below the floor, p is replaced by 1
    # before dividing, so no inf or NaN reaches a second derivative either.
    floored_p = log_p < LOG_FLOOR
    floored_q = log_q < LOG_FLOOR
    d_log_p = jnp.where(floored_p, 0, 1 / jnp.where(floored_p, 1, p))
    d_log_q = jnp.where(floored_q, 0, 1 / jnp.where(floored_q, 1, 1 - p))
    d_probs = cotangent * (negative * d_log_q - positive * d_log_p)

    clamped_log_p = jnp.maximum(log_p, LOG_FLOOR)
    clamped_log_q = jnp.maximum(log_q, LOG_FLOOR)
    label_slope = clamped_log_q - clamped_log_p
    if w is not None:
        label_slope = w * label_slope
    d_labels = cotangent * label_slope

    cotangents = [_cotangent(d_probs, mask, probs), _cotangent(d_labels, mask, labels)]
    if weight is None:
        cotangents.append(None)
    else:
        unweighted = -(y * clamped_log_p + (1 - y) * clamped_log_q)
        cotangents.append(_cotangent(cotangent * unweighted, mask, weight))
    cotangents.append(None)  # `where` is a bool mask.
    return tuple(cotangents)


_bce_elements, _bce_elements_vjp = _derivatives.vjp_with_forward_mode(
    _probabilities_forward, _probabilities_backward
)


@functools.partial(jax.jit, static_argnames=("reduction",))
def _bce(probs, labels, weight, label_smoothing, where, *, reduction):
    if label_smoothing is not None:
        labels = _validation.smooth_labels(
            labels, label_smoothing, _validation.compute_dtype(probs.dtype)
        )
    losses = _bce_elements(probs, labels, weight, where)
    return _validation.reduce_losses(losses, where, reduction, probs.dtype)


def binary_cross_entropy(
    probs: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    weight: jax.typing.ArrayLike | None = None,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    where: jax.typing.ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Compute binary cross-entropy from probabilities, with PyTorch's floor on the logs.

    For a probability :math:`q`, a label :math:`y` and a weight :math:`w`, the
    element loss is

    .. math::
        \ell(q, y) = -w \left( y \max(\log q, -100)
                     + (1 - y) \max(\log(1 - q), -100) \right),

    PyTorch's ``BCELoss``: the floor keeps the loss finite at :math:`q = 0` and
    :math:`q = 1`. The backward pass is the derivative of exactly this function,

    .. math::
        \frac{\partial \ell}{\partial q} = w \left( \frac{1 - y}{1 - q}
            [\log(1 - q) \ge -100] - \frac{y}{q} [\log q \ge -100] \right),

    finite at :math:`q = 0` and :math:`q = 1` (PyTorch's backward is not the
    derivative of its own forward there). Prefer
    :func:`sigmoid_binary_cross_entropy` on logits when you have them: it is exact
    for every logit and has no floor.

    Args:
        probs: floating array of probabilities in [0, 1], any shape.
        labels: array of exactly the shape of ``probs``; float, int or bool.
        weight: optional weight that broadcasts to ``probs.shape``.
        label_smoothing: :math:`\varepsilon \in [0, 1]`; labels become
            :math:`y (1 - \varepsilon) + \varepsilon / 2`.
        where: optional bool mask broadcasting to ``probs.shape``; masked-out
            elements contribute exactly 0 to the loss and every gradient.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``, as in
            :func:`sigmoid_binary_cross_entropy`.

    Returns:
        With ``"none"``, element losses of ``probs.shape`` and ``probs.dtype``;
        otherwise a scalar accumulated in at least float32.

    Raises:
        ValueError: for mismatched shapes, an unknown ``reduction`` or
            ``label_smoothing`` outside [0, 1].
        TypeError: if ``probs`` is not floating or ``where`` is not bool.

    Note:
        Probabilities outside [0, 1] give NaN; they are not checked on this path.
        :func:`bcejax.check_probabilities` checks them under
        ``jax.experimental.checkify``. For a subnormal float32 probability the
        exact derivative :math:`y / q` exceeds the float32 range and becomes inf.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> probs = jnp.array([0.9, 0.2, 0.0])
        >>> labels = jnp.array([1.0, 0.0, 1.0])
        >>> losses = bcejax.binary_cross_entropy(probs, labels, reduction="none")
        >>> print(losses.round(6))
        [  0.105361   0.223144 100.      ]

    References:
        PyTorch, `BCELoss
        <https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html>`_.
    """
    name = "binary_cross_entropy"
    probs = _validation.floating_array(name, "probs", probs)
    labels = _validation.labels_array(name, labels, probs, "probs")
    weight = _validation.broadcastable_array(
        name, "weight", weight, probs.shape, inputs_name="probs"
    )
    where = _validation.broadcastable_array(
        name, "where", where, probs.shape, inputs_name="probs", mask=True
    )
    smoothing = _validation.label_smoothing_value(name, label_smoothing)
    reduction = _validation.check_reduction(name, reduction)
    return _bce(probs, labels, weight, smoothing, where, reduction=reduction)
