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


def sigmoids(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Return ``(sigmoid(x), sigmoid(-x), exp(-|x|))`` without cancellation.

    sigmoid(|x|) = 1 / (1 + e) and sigmoid(-|x|) = e / (1 + e) with e = exp(-|x|):
    neither is formed as a difference, so sigmoid(-x) keeps full relative
    precision where sigmoid(x) rounds to 1.
    """
    exp_term = jnp.exp(-jnp.abs(x))
    sigmoid_abs = 1 / (1 + exp_term)
    sigmoid_neg_abs = exp_term * sigmoid_abs
    nonnegative = x >= 0
    sigmoid = jnp.where(nonnegative, sigmoid_abs, sigmoid_neg_abs)
    sigmoid_neg = jnp.where(nonnegative, sigmoid_neg_abs, sigmoid_abs)
    return sigmoid, sigmoid_neg, exp_term


def softpluses(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Return ``(softplus(x), softplus(-x), log1p(exp(-|x|)))``, exact for every x.

    softplus(x) = max(x, 0) + log(1 + exp(-|x|)) = -log(1 - sigmoid(x)), and the
    shared term log(1 + exp(-|x|)) lies in [0, log 2], so nothing overflows.
    """
    log_term = jnp.log1p(jnp.exp(-jnp.abs(x)))
    return jnp.maximum(x, 0) + log_term, jnp.maximum(-x, 0) + log_term, log_term
