"""Element-wise building blocks shared by the losses: masking, zero coefficients, sigmoids."""

import jax
import jax.numpy as jnp

from bcejax import _validation


def times(coefficient: jax.Array, value: jax.Array) -> jax.Array:
    """Multiply, counting a term with a coefficient of exactly 0 as 0 even if ``value`` is inf."""
    return jnp.where(coefficient == 0, 0, coefficient * value)


def masked_operands(inputs, labels, where, fill):
    """Upcast inputs and labels, and replace masked-out elements by harmless values.

    Masked-out elements may hold NaN or inf (padding, unknown labels). Replacing
    them before any arithmetic keeps NaN out of every derivative, including the
    derivatives of the backward pass itself.
    """
    dtype = _validation.compute_dtype(inputs.dtype)
    x = inputs.astype(dtype)
    y = labels.astype(dtype)
    mask = None
    if where is not None:
        mask = jnp.broadcast_to(where, x.shape)
        x = jnp.where(mask, x, fill)
        y = jnp.where(mask, y, 0)
    return x, y, mask


def broadcast(value, shape, dtype):
    return None if value is None else jnp.broadcast_to(value.astype(dtype), shape)


def cotangent(gradient, mask, primal):
    """Zero masked-out elements, sum over broadcast axes, and cast to the primal's dtype."""
    if mask is not None:
        gradient = jnp.where(mask, gradient, 0)
    return _validation.sum_to_shape(gradient, primal.shape).astype(primal.dtype)


def sigmoid_neg_abs(x: jax.Array) -> jax.Array:
    """Return ``sigmoid(-|x|) = e / (1 + e)`` with e = exp(-|x|), a value in [0, 1/2].

    The sum d = 1 + e is rounded, and its rounding error ``d_error = (1 - d) + e``
    is exact because e <= 1 (XLA keeps this form; it folds ``e - (d - 1)`` to 0).
    Then ``e / (d + d_error) = e / d - e d_error / d**2`` to first order. In float32
    the result is within 1.9 ulps, against 2.3 for ``e / (1 + e)``. Most of the
    remaining error is that of XLA's ``exp`` (up to 1 ulp of e), which counts
    twice where the quotient lies in a lower binade than e.

    Each division has a single user. XLA's CPU backend writes a division with
    several users to memory instead of fusing it, so callers should use the
    result once too.
    """
    e = jnp.exp(-jnp.abs(x))
    d = 1 + e
    d_error = (1 - d) + e
    return e / d - (e * d_error) / (d * d)


def sigmoids(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Return ``(sigmoid(x), sigmoid(-x), exp(-|x|))`` without cancellation.

    sigmoid(-|x|) comes from :func:`sigmoid_neg_abs` and sigmoid(|x|) = 1 -
    sigmoid(-|x|) >= 1/2. The small one is never formed as a difference, so
    sigmoid(-x) keeps full relative precision where sigmoid(x) rounds to 1.
    """
    small = sigmoid_neg_abs(x)
    large = 1 - small
    nonnegative = x >= 0
    sigmoid = jnp.where(nonnegative, large, small)
    sigmoid_neg = jnp.where(nonnegative, small, large)
    return sigmoid, sigmoid_neg, jnp.exp(-jnp.abs(x))


# Power-basis coefficients, constant term first, of the degree-10 polynomial that
# interpolates log(1 + e) / e at 4000 Chebyshev nodes of [0, 1].
# tests/test_elementwise.py recomputes them.
LOG1P_OVER_E = (
    0.9999999992714387, -0.49999981724488834, 0.3333256918212028, -0.2498739275128136,
    0.19891537477319668, -0.16108631926485073, 0.124251029230282, -0.082535331981406,
    0.041557622454519265, -0.013444830953119016, 0.002037690495304036,
)


def log1p_exp_neg_abs(x: jax.Array) -> jax.Array:
    """Return ``log(1 + exp(-|x|))``, a value in [0, log 2], to full relative precision.

    In float32 the logarithm is the polynomial ``e * P(e)`` in e = exp(-|x|) with
    the coefficients :data:`LOG1P_OVER_E`, whose error is below 1e-9 relative.
    XLA's CPU backend computes ``log1p`` about three times slower than ``exp``,
    while it fuses and vectorises products and sums. The result is within 1.9
    float32 ulps of the exact value (``jnp.log1p`` of float32 ``exp``: 2.8).
    Other dtypes use ``jnp.log1p``, because float64 would need a much longer
    polynomial.
    """
    e = jnp.exp(-jnp.abs(x))
    if x.dtype != jnp.float32:
        return jnp.log1p(e)
    polynomial = jnp.full_like(e, LOG1P_OVER_E[-1])
    for coefficient in LOG1P_OVER_E[-2::-1]:
        polynomial = polynomial * e + coefficient
    return e * polynomial


def softpluses(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Return ``(softplus(x), softplus(-x), log1p(exp(-|x|)))``, exact for every x.

    softplus(x) = max(x, 0) + log(1 + exp(-|x|)) = -log(1 - sigmoid(x)), and the
    shared term log(1 + exp(-|x|)) lies in [0, log 2], so nothing overflows.
    """
    log_term = log1p_exp_neg_abs(x)
    return jnp.maximum(x, 0) + log_term, jnp.maximum(-x, 0) + log_term, log_term


def cross_entropy(x, positive, negative, total, log_term):
    """Compute ``positive * softplus(-x) + negative * softplus(x)``, given ``total`` = their sum.

    ``log_term`` is :func:`log1p_exp_neg_abs` of x. With softplus(+-x) = max(+-x, 0)
    + log_term, each element reads log_term once and only the max term that is not
    0. Coefficients of exactly 0 count their term as 0 even where x is infinite.
    """
    return total * log_term + jnp.where(x >= 0, times(negative, x), times(positive, -x))


def cross_entropy_slope(x, positive, negative, total):
    """Compute the derivative of :func:`cross_entropy` in x: ``negative * sigmoid(x) - positive * sigmoid(-x)``.

    With s = sigmoid(-|x|) and sigmoid(|x|) = 1 - s, this is ``negative - total * s``
    for x >= 0 and ``-positive + total * s`` for x < 0: an affine function of s,
    which is used once (see :func:`sigmoid_neg_abs`).
    """
    nonnegative = x >= 0
    offset = jnp.where(nonnegative, negative, -positive)
    slope = jnp.where(nonnegative, -total, total)
    return offset + slope * sigmoid_neg_abs(x)
