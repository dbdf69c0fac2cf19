"""Sigmoid losses that reweight binary cross-entropy: focal, asymmetric and Poly-1.

All three are written in terms of exact building blocks on the logits:
``sigmoid(x)`` and ``sigmoid(-x)`` without cancellation, and ``softplus(±x)`` for
``-log sigmoid(∓x)``. Their backward passes are hand-written because autodiff of the
forward pass fails at the edges: ``(1 - p)^gamma`` differentiated for
``0 < gamma < 1`` gives ``inf * 0`` where the sigmoid saturates, and an infinite
cross-entropy times a zero focusing derivative gives NaN at infinite logits.

The hyperparameters (``alpha``, ``gamma``, ``clip``, ``epsilon``) receive no gradient.
"""

import functools

import jax
import jax.numpy as jnp

from bcejax import _derivatives
from bcejax import _elementwise
from bcejax import _validation
from bcejax._elementwise import times


def _power(base: jax.Array, exponent: jax.Array) -> jax.Array:
    """Return ``base ** exponent`` with ``0 ** 0 = 1``, for base >= 0."""
    return jnp.where(exponent == 0, 1, jnp.power(base, exponent))


def _standard_arguments(name, logits, labels, weight, where, reduction):
    logits = _validation.floating_array(name, "logits", logits)
    labels = _validation.labels_array(name, labels, logits, "logits")
    weight = _validation.broadcastable_array(name, "weight", weight, logits.shape)
    where = _validation.broadcastable_array(name, "where", where, logits.shape, mask=True)
    reduction = _validation.check_reduction(name, reduction)
    return logits, labels, weight, where, reduction


# ----------------------------------------------------------------------------------
# Focal loss.
# ----------------------------------------------------------------------------------


def _focal_terms(logits, labels, weight, where, alpha, gamma):
    x, y, mask = _elementwise.masked_operands(logits, labels, where, fill=0)
    sigmoid, sigmoid_neg, _ = _elementwise.sigmoids(x)
    log_term = _elementwise.log1p_exp_neg_abs(x)
    gamma = gamma.astype(x.dtype)
    # 1 - p_t = y * sigmoid(-x) + (1 - y) * sigmoid(x), a sum of non-negative terms.
    miss = y * sigmoid_neg + (1 - y) * sigmoid
    focus = _power(miss, gamma)
    # The element loss of sigmoid_binary_cross_entropy, computed the same way, so
    # gamma = 0 reproduces it bit for bit.
    cross_entropy = _elementwise.cross_entropy(x, y, 1 - y, y + (1 - y), log_term)
    scale = jnp.ones_like(x)
    if alpha is not None:
        alpha = alpha.astype(x.dtype)
        scale = alpha * y + (1 - alpha) * (1 - y)
    w = _elementwise.broadcast(weight, x.shape, x.dtype)
    if w is not None:
        scale = w * scale
    return dict(x=x, y=y, mask=mask, sigmoid=sigmoid, sigmoid_neg=sigmoid_neg, gamma=gamma,
                miss=miss, focus=focus, cross_entropy=cross_entropy, scale=scale, alpha=alpha)


def _focal_forward(logits, labels, weight, where, alpha, gamma):
    t = _focal_terms(logits, labels, weight, where, alpha, gamma)
    losses = times(t["scale"] * t["focus"], t["cross_entropy"])
    if t["mask"] is not None:
        losses = jnp.where(t["mask"], losses, 0)
    # Saved for the backward pass: the inputs only; the sigmoids are recomputed.
    return losses, (logits, labels, weight, where, alpha, gamma)


def _focal_backward(residuals, cotangent):
    logits, labels, weight, where, alpha, gamma = residuals
    t = _focal_terms(logits, labels, weight, where, alpha, gamma)
    x, y, g = t["x"], t["y"], t["gamma"]
    sigmoid, sigmoid_neg, miss = t["sigmoid"], t["sigmoid_neg"], t["miss"]
    cotangent = cotangent.astype(x.dtype)

    # d(1 - p_t)/dx = (1 - 2y) sigmoid(x) sigmoid(-x), so the focusing term contributes
    # gamma (1 - 2y) (1 - p_t)^gamma r CE with r = sigmoid(x) sigmoid(-x) / (1 - p_t).
    # For hard labels r is sigmoid(x) (y = 1) or sigmoid(-x) (y = 0), so no 0 / 0 is
    # formed where 1 - p_t underflows; soft labels keep 1 - p_t >= min(y, 1 - y) > 0.
    hard_one, hard_zero = y == 1, y == 0
    safe_miss = jnp.where(hard_one | hard_zero, 1, miss)
    ratio = jnp.where(hard_one, sigmoid, jnp.where(
        hard_zero, sigmoid_neg, sigmoid * sigmoid_neg / safe_miss))
    bce_slope = _elementwise.cross_entropy_slope(x, y, 1 - y, y + (1 - y))
    slope = g * (1 - 2 * y) * times(ratio, t["cross_entropy"]) + bce_slope
    d_logits = cotangent * t["scale"] * t["focus"] * slope

    # d/dy of scale * (1 - p_t)^gamma * CE, with d(1 - p_t)/dy = sigmoid(-x) - sigmoid(x)
    # = -tanh(x / 2) and dCE/dy = softplus(-x) - softplus(x) = -x. The factor
    # (1 - p_t)^(gamma - 1) CE is formed as (1 - p_t)^gamma (CE / (1 - p_t)), whose
    # limit where both vanish is 1.
    unscaled = times(t["focus"], t["cross_entropy"])
    ce_over_miss = jnp.where(miss == 0, 1, t["cross_entropy"] / jnp.where(miss == 0, 1, miss))
    label_slope = (times(g * -jnp.tanh(x / 2), times(t["focus"], ce_over_miss))
                   + times(t["focus"], -x))
    label_slope = times(t["scale"], label_slope)
    if alpha is not None:
        w = _elementwise.broadcast(weight, x.shape, x.dtype)
        alpha_slope = (2 * t["alpha"] - 1) * unscaled
        label_slope = label_slope + (alpha_slope if w is None else times(w, alpha_slope))
    # Where the cross-entropy is infinite (x = ±inf against the label), dCE/dy = -x
    # dominates every other term, which would otherwise meet as inf - inf.
    label_slope = jnp.where(jnp.isinf(t["cross_entropy"]),
                            times(t["scale"] * t["focus"], -x), label_slope)
    d_labels = cotangent * label_slope

    mask = t["mask"]
    cotangents = [_elementwise.cotangent(d_logits, mask, logits),
                  _elementwise.cotangent(d_labels, mask, labels)]
    if weight is None:
        cotangents.append(None)
    else:
        alpha_t = 1 if alpha is None else t["alpha"] * y + (1 - t["alpha"]) * (1 - y)
        cotangents.append(_elementwise.cotangent(
            cotangent * times(alpha_t * t["focus"], t["cross_entropy"]), mask, weight))
    return (*cotangents, None, None, None)


_focal_elements, _focal_elements_vjp = _derivatives.vjp_with_forward_mode(
    _focal_forward, _focal_backward, constant_argnums=(4, 5)
)


@functools.partial(jax.jit, static_argnames=("reduction",))
def _focal(logits, labels, weight, where, alpha, gamma, *, reduction):
    losses = _focal_elements(logits, labels, weight, where, alpha, gamma)
    return _validation.reduce_losses(losses, where, reduction, logits.dtype)


def sigmoid_focal_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    alpha: float | None = None,
    gamma: float = 2.0,
    weight: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Compute the sigmoid focal loss, which down-weights well-classified elements.

    With :math:`p = \sigma(x)`, the probability of a miss
    :math:`1 - p_t = y (1 - p) + (1 - y) p` and the binary cross-entropy
    :math:`\mathrm{CE}(x, y)`, the element loss is

    .. math::
        \ell(x, y) = w\, \alpha_t\, (1 - p_t)^\gamma\, \mathrm{CE}(x, y),
        \qquad \alpha_t = \alpha y + (1 - \alpha)(1 - y),

    with :math:`\alpha_t = 1` when ``alpha`` is None. This is the formula of optax's
    and torchvision's ``sigmoid_focal_loss`` (``alpha`` weighs positives, ``1 - alpha``
    negatives), also for soft labels. :math:`\gamma = 0` gives plain binary
    cross-entropy exactly. Everything is computed from the logits in log space, and
    the gradient is the true derivative (the focusing weight is differentiated),

    .. math::
        \frac{\partial \ell}{\partial x} = w\, \alpha_t (1 - p_t)^\gamma
        \left( \gamma (1 - 2y)\, \frac{\sigma(x)\sigma(-x)}{1 - p_t}\, \mathrm{CE}
        + (1 - y)\sigma(x) - y\,\sigma(-x) \right),

    finite for every logit and every :math:`\gamma \ge 0`, including
    :math:`0 < \gamma < 1`, where autodiff of the usual formula gives NaN.

    Args:
        logits: floating array, typically ``[batch, num_labels]``.
        labels: array of exactly the shape of ``logits``; float (soft labels in
            [0, 1]), int or bool.
        alpha: optional weight of positives in [0, 1]; negatives get ``1 - alpha``.
        gamma: focusing exponent, ``gamma >= 0``.
        weight: optional weight that broadcasts to ``logits.shape``.
        where: optional bool mask; masked-out elements contribute exactly 0 to the
            loss and every gradient, even if they hold NaN or inf.
        reduction: ``"mean"`` (over unmasked elements), ``"sum"`` or ``"none"``.

    Returns:
        With ``"none"``, element losses of ``logits.shape`` and ``logits.dtype``;
        otherwise a scalar accumulated in at least float32.

    Raises:
        ValueError: for mismatched shapes, an unknown reduction, ``alpha`` outside
            [0, 1] or a negative ``gamma``.
        TypeError: if ``logits`` is not floating or ``where`` is not bool.

    Note:
        ``alpha`` and ``gamma`` receive no gradient. Labels, ``weight`` and the
        logits receive exact gradients.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> logits = jnp.array([1.0, -1.0])
        >>> labels = jnp.array([1.0, 1.0])
        >>> print(bcejax.sigmoid_focal_loss(logits, labels, reduction="none").round(6))
        [0.022658 0.701868]

    References:
        Lin, Goyal, Girshick, He and Dollár, `Focal Loss for Dense Object Detection
        <https://arxiv.org/abs/1708.02002>`_, ICCV 2017.
    """
    name = "sigmoid_focal_loss"
    logits, labels, weight, where, reduction = _standard_arguments(
        name, logits, labels, weight, where, reduction)
    if alpha is not None:
        alpha = _validation.hyperparameter_value(name, "alpha", alpha, low=0.0, high=1.0)
    gamma = _validation.hyperparameter_value(name, "gamma", gamma, low=0.0)
    return _focal(logits, labels, weight, where, alpha, gamma, reduction=reduction)


# ----------------------------------------------------------------------------------
# Asymmetric loss.
# ----------------------------------------------------------------------------------


def _asymmetric_terms(logits, labels, weight, where, gamma_pos, gamma_neg, clip, shifted):
    x, y, mask = _elementwise.masked_operands(logits, labels, where, fill=0)
    sigmoid, sigmoid_neg, _ = _elementwise.sigmoids(x)
    softplus, softplus_neg, _ = _elementwise.softpluses(x)
    gamma_pos = gamma_pos.astype(x.dtype)
    gamma_neg = gamma_neg.astype(x.dtype)
    # Positive term (1 - p)^gamma_pos * (-log p) = sigmoid(-x)^gamma_pos * softplus(-x).
    positive_focus = _power(sigmoid_neg, gamma_pos)
    positive = times(positive_focus, softplus_neg)
    if shifted:
        clip = clip.astype(x.dtype)
        # p_m = max(p - clip, 0); where p > clip, 1 - p_m = sigmoid(-x) + clip exactly.
        shifted_p = jnp.maximum(sigmoid - clip, 0)
        # -log(1 - p_m): log1p(-p_m) is exact for small p_m and log(sigmoid(-x) + clip)
        # for p_m near 1, so neither branch cancels.
        negative_log = jnp.where(
            shifted_p < 0.5, -jnp.log1p(-shifted_p), -jnp.log(sigmoid_neg + clip))
    else:
        shifted_p = sigmoid
        negative_log = softplus
    negative_focus = _power(shifted_p, gamma_neg)
    negative = times(negative_focus, negative_log)
    w = _elementwise.broadcast(weight, x.shape, x.dtype)
    return dict(x=x, y=y, mask=mask, w=w, sigmoid=sigmoid, sigmoid_neg=sigmoid_neg,
                softplus=softplus, softplus_neg=softplus_neg, gamma_pos=gamma_pos,
                gamma_neg=gamma_neg, clip=clip, positive_focus=positive_focus,
                positive=positive, shifted_p=shifted_p, negative_log=negative_log,
                negative_focus=negative_focus, negative=negative)


@functools.cache
def _asymmetric_elements(shifted: bool, focusing_gradient: bool):
    """Build the element loss for one combination of the static options."""

    def forward(logits, labels, weight, where, gamma_pos, gamma_neg, clip):
        t = _asymmetric_terms(logits, labels, weight, where, gamma_pos, gamma_neg, clip, shifted)
        losses = times(t["y"], t["positive"]) + times(1 - t["y"], t["negative"])
        if t["w"] is not None:
            losses = times(t["w"], losses)
        if t["mask"] is not None:
            losses = jnp.where(t["mask"], losses, 0)
        # Saved for the backward pass: the inputs only.
        return losses, (logits, labels, weight, where, gamma_pos, gamma_neg, clip)

    def backward(residuals, cotangent):
        logits, labels, weight, where, gamma_pos, gamma_neg, clip = residuals
        t = _asymmetric_terms(logits, labels, weight, where, gamma_pos, gamma_neg, clip, shifted)
        x, y, w = t["x"], t["y"], t["w"]
        sigmoid, sigmoid_neg = t["sigmoid"], t["sigmoid_neg"]
        cotangent = cotangent.astype(x.dtype)
        # Without the focusing gradient the weights (1 - p)^gamma_pos and p_m^gamma_neg
        # count as constants, as in the reference implementation's option.
        focusing = 1.0 if focusing_gradient else 0.0

        # d/dx [sigmoid(-x)^g softplus(-x)] = -sigmoid(-x)^g (g sigmoid(x) softplus(-x)
        # + sigmoid(-x)).
        positive_slope = -t["positive_focus"] * (
            focusing * t["gamma_pos"] * times(sigmoid, t["softplus_neg"]) + sigmoid_neg)
        if shifted:
            # d/dx [p_m^g N] = sigmoid(x) sigmoid(-x) p_m^g (g N / p_m + 1 / (1 - p_m))
            # for p > clip, with N = -log(1 - p_m) and N / p_m -> 1 as p_m -> 0.
            shifted_p = t["shifted_p"]
            safe_p = jnp.where(shifted_p == 0, 1, shifted_p)
            log_over_p = jnp.where(shifted_p == 0, 1, t["negative_log"] / safe_p)
            inner = focusing * t["gamma_neg"] * log_over_p + 1 / (sigmoid_neg + t["clip"])
            negative_slope = jnp.where(
                shifted_p > 0, sigmoid * sigmoid_neg * t["negative_focus"] * inner, 0)
        else:
            # d/dx [sigmoid(x)^g softplus(x)] = sigmoid(x)^g (g sigmoid(-x) softplus(x)
            # + sigmoid(x)).
            negative_slope = t["negative_focus"] * (
                focusing * t["gamma_neg"] * times(sigmoid_neg, t["softplus"]) + sigmoid)
        slope = y * positive_slope + (1 - y) * negative_slope
        if w is not None:
            slope = w * slope
        d_logits = cotangent * slope

        label_slope = t["positive"] - t["negative"]
        if w is not None:
            label_slope = times(w, label_slope)
        d_labels = cotangent * label_slope

        mask = t["mask"]
        cotangents = [_elementwise.cotangent(d_logits, mask, logits),
                      _elementwise.cotangent(d_labels, mask, labels)]
        if weight is None:
            cotangents.append(None)
        else:
            unweighted = times(y, t["positive"]) + times(1 - y, t["negative"])
            cotangents.append(_elementwise.cotangent(cotangent * unweighted, mask, weight))
        return (*cotangents, None, None, None, None)

    function, _ = _derivatives.vjp_with_forward_mode(
        forward, backward, constant_argnums=(4, 5, 6))
    return function


@functools.partial(jax.jit, static_argnames=("reduction", "shifted", "focusing_gradient"))
def _asymmetric(logits, labels, weight, where, gamma_pos, gamma_neg, clip, *,
                reduction, shifted, focusing_gradient):
    elements = _asymmetric_elements(shifted, focusing_gradient)
    losses = elements(logits, labels, weight, where, gamma_pos, gamma_neg, clip)
    return _validation.reduce_losses(losses, where, reduction, logits.dtype)


def asymmetric_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    gamma_pos: float = 0.0,
    gamma_neg: float = 4.0,
    clip: float | None = 0.05,
    weight: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
    reduction: str = "mean",
    focusing_gradient: bool = True,
) -> jax.Array:
    r"""Compute the asymmetric loss (ASL), which focuses and shifts the negatives.

    With :math:`p = \sigma(x)` and the shifted probability
    :math:`p_m = \max(p - m, 0)` for the margin :math:`m` = ``clip``, the element
    loss is

    .. math::
        \ell(x, y) = w \left( y\, (1 - p)^{\gamma_+} (-\log p)
        + (1 - y)\, p_m^{\gamma_-} (-\log(1 - p_m)) \right).

    Negatives with :math:`p \le m` contribute exactly 0 to the loss and the gradient.
    For hard labels this is the loss of Ridnik et al.; soft labels mix the two terms
    linearly. Both terms are computed from the logits without an epsilon clamp:
    :math:`-\log p = \operatorname{softplus}(-x)` and
    :math:`1 - p_m = \sigma(-x) + m`. The gradient is the true derivative, finite
    for every logit and every :math:`\gamma \ge 0`.

    Args:
        logits: floating array, typically ``[batch, num_labels]``.
        labels: array of exactly the shape of ``logits``; float, int or bool.
        gamma_pos: focusing exponent of the positive term, ``>= 0``.
        gamma_neg: focusing exponent of the negative term, ``>= 0``.
        clip: probability margin :math:`m` in [0, 1) that shifts the negatives;
            None or 0 disables the shift.
        weight: optional weight that broadcasts to ``logits.shape``.
        where: optional bool mask; masked-out elements contribute exactly 0.
        reduction: ``"mean"`` (over unmasked elements), ``"sum"`` or ``"none"``.
            The reference implementation sums; pass ``"sum"`` to match it.
        focusing_gradient: if False, the focusing weights :math:`(1 - p)^{\gamma_+}`
            and :math:`p_m^{\gamma_-}` are treated as constants in the gradient, the
            option of the reference implementation. The default True gives the true
            derivative.

    Returns:
        With ``"none"``, element losses of ``logits.shape`` and ``logits.dtype``;
        otherwise a scalar accumulated in at least float32.

    Raises:
        ValueError: for mismatched shapes, an unknown reduction, a negative gamma or
            ``clip`` outside [0, 1).

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> logits = jnp.array([-4.0, 0.0, 3.0])
        >>> labels = jnp.zeros(3)
        >>> print(bcejax.asymmetric_loss(logits, labels, reduction="none").round(6))
        [0.       0.024515 1.54539 ]

    References:
        Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter and Zelnik-Manor,
        `Asymmetric Loss For Multi-Label Classification
        <https://arxiv.org/abs/2009.14119>`_, ICCV 2021.
    """
    name = "asymmetric_loss"
    logits, labels, weight, where, reduction = _standard_arguments(
        name, logits, labels, weight, where, reduction)
    gamma_pos = _validation.hyperparameter_value(name, "gamma_pos", gamma_pos, low=0.0)
    gamma_neg = _validation.hyperparameter_value(name, "gamma_neg", gamma_neg, low=0.0)
    if clip is None:
        clip = 0.0
    clip = _validation.hyperparameter_value(name, "clip", clip, low=0.0, high=1.0,
                                            include_high=False)
    # Only a clip known to be exactly 0 disables the shift; a traced clip keeps it.
    shifted = isinstance(clip, jax.core.Tracer) or float(clip) > 0
    return _asymmetric(logits, labels, weight, where, gamma_pos, gamma_neg, clip,
                       reduction=reduction, shifted=shifted,
                       focusing_gradient=bool(focusing_gradient))


# ----------------------------------------------------------------------------------
# Poly-1.
# ----------------------------------------------------------------------------------


def _poly1_terms(logits, labels, weight, where, epsilon):
    x, y, mask = _elementwise.masked_operands(logits, labels, where, fill=0)
    sigmoid, sigmoid_neg, _ = _elementwise.sigmoids(x)
    epsilon = epsilon.astype(x.dtype)
    # Computed as in sigmoid_binary_cross_entropy, so epsilon = 0 reproduces it.
    cross_entropy = _elementwise.cross_entropy(
        x, y, 1 - y, y + (1 - y), _elementwise.log1p_exp_neg_abs(x))
    # 1 - p_t = y * sigmoid(-x) + (1 - y) * sigmoid(x).
    miss = y * sigmoid_neg + (1 - y) * sigmoid
    w = _elementwise.broadcast(weight, x.shape, x.dtype)
    return x, y, mask, w, sigmoid, sigmoid_neg, epsilon, cross_entropy, miss


def _poly1_forward(logits, labels, weight, where, epsilon):
    _, _, mask, w, _, _, epsilon, cross_entropy, miss = _poly1_terms(
        logits, labels, weight, where, epsilon)
    losses = cross_entropy + epsilon * miss
    if w is not None:
        losses = times(w, losses)
    if mask is not None:
        losses = jnp.where(mask, losses, 0)
    # Saved for the backward pass: the inputs only.
    return losses, (logits, labels, weight, where, epsilon)


def _poly1_backward(residuals, cotangent):
    logits, labels, weight, where, epsilon = residuals
    x, y, mask, w, sigmoid, sigmoid_neg, epsilon, cross_entropy, miss = _poly1_terms(
        logits, labels, weight, where, epsilon)
    cotangent = cotangent.astype(x.dtype)
    # d/dx = (1 - y) sigmoid(x) - y sigmoid(-x) + epsilon (1 - 2y) sigmoid(x) sigmoid(-x).
    slope = (_elementwise.cross_entropy_slope(x, y, 1 - y, y + (1 - y))
             + epsilon * (1 - 2 * y) * sigmoid * sigmoid_neg)
    # d/dy = softplus(-x) - softplus(x) + epsilon (sigmoid(-x) - sigmoid(x))
    #      = -x - epsilon tanh(x / 2).
    label_slope = -x - epsilon * jnp.tanh(x / 2)
    if w is not None:
        slope = w * slope
        label_slope = times(w, label_slope)
    cotangents = [_elementwise.cotangent(cotangent * slope, mask, logits),
                  _elementwise.cotangent(cotangent * label_slope, mask, labels)]
    if weight is None:
        cotangents.append(None)
    else:
        cotangents.append(_elementwise.cotangent(
            cotangent * (cross_entropy + epsilon * miss), mask, weight))
    return (*cotangents, None, None)


_poly1_elements, _poly1_elements_vjp = _derivatives.vjp_with_forward_mode(
    _poly1_forward, _poly1_backward, constant_argnums=(4,)
)


@functools.partial(jax.jit, static_argnames=("reduction",))
def _poly1(logits, labels, weight, where, epsilon, *, reduction):
    losses = _poly1_elements(logits, labels, weight, where, epsilon)
    return _validation.reduce_losses(losses, where, reduction, logits.dtype)


def sigmoid_poly1_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    epsilon: float = 1.0,
    weight: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Compute the Poly-1 loss: sigmoid binary cross-entropy plus ``epsilon (1 - p_t)``.

    With :math:`1 - p_t = y\,\sigma(-x) + (1 - y)\,\sigma(x)`, the element loss is

    .. math::
        \ell(x, y) = w \left( \mathrm{CE}(x, y) + \varepsilon (1 - p_t) \right),

    the first polynomial term of the PolyLoss expansion. ``epsilon = 0`` gives plain
    binary cross-entropy; a positive ``epsilon`` pushes harder on confident misses, a
    negative one (down to -1) softens them. The gradient

    .. math::
        \frac{\partial \ell}{\partial x} = w \left( (1 - y)\sigma(x) - y\,\sigma(-x)
        + \varepsilon (1 - 2y)\,\sigma(x)\,\sigma(-x) \right)

    is evaluated without cancellation.

    Args:
        logits: floating array, typically ``[batch, num_labels]``.
        labels: array of exactly the shape of ``logits``; float, int or bool.
        epsilon: coefficient of the Poly-1 term, ``>= -1``.
        weight: optional weight that broadcasts to ``logits.shape``.
        where: optional bool mask; masked-out elements contribute exactly 0.
        reduction: ``"mean"`` (over unmasked elements), ``"sum"`` or ``"none"``.

    Returns:
        With ``"none"``, element losses of ``logits.shape`` and ``logits.dtype``;
        otherwise a scalar accumulated in at least float32.

    Examples:
        >>> import jax.numpy as jnp
        >>> import bcejax
        >>> logits = jnp.array([0.0, 2.0])
        >>> labels = jnp.array([1.0, 0.0])
        >>> print(bcejax.sigmoid_poly1_loss(logits, labels, reduction="none").round(6))
        [1.193147 3.007725]

    References:
        Leng, Xu, Tan, Cheng, Fu, Wang and Chi, `PolyLoss: A Polynomial Expansion
        Perspective of Classification Loss Functions
        <https://arxiv.org/abs/2204.12511>`_, ICLR 2022.
    """
    name = "sigmoid_poly1_loss"
    logits, labels, weight, where, reduction = _standard_arguments(
        name, logits, labels, weight, where, reduction)
    epsilon = _validation.hyperparameter_value(name, "epsilon", epsilon, low=-1.0)
    return _poly1(logits, labels, weight, where, epsilon, reduction=reduction)
