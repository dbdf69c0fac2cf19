"""Opt-in value checks that work under ``jax.jit`` through ``jax.experimental.checkify``.

The losses never inspect the values of their inputs: a check on the hot path would
cost a reduction and a host round trip, and clipping would hide the bug. These
functions add ``checkify.check`` assertions instead. Call them inside a function
and wrap that function with ``checkify.checkify``; the error comes back as a value
that ``err.throw()`` raises after the jitted call::

    from jax.experimental import checkify

    def checked_loss(logits, labels):
        bcejax.check_logits(logits)
        bcejax.check_labels(labels)
        return bcejax.sigmoid_binary_cross_entropy(logits, labels)

    err, loss = jax.jit(checkify.checkify(checked_loss))(logits, labels)
    err.throw()  # ValueError naming the first bad value and its flat index

Called outside ``checkify.checkify`` on concrete arrays, a failed check raises at
once. Called under ``jax.jit`` without ``checkify.checkify``, JAX raises an error
saying that the function must be wrapped with ``checkify``.
"""

import jax
import jax.numpy as jnp
from jax.experimental import checkify


def _check(name: str, values: jax.Array, valid: jax.Array, expected: str,
           where: jax.typing.ArrayLike | None) -> None:
    if where is not None:
        valid = valid | ~jnp.broadcast_to(jnp.asarray(where, dtype=bool), values.shape)
    invalid = ~valid.ravel()
    first = jnp.argmax(invalid)
    checkify.check(
        ~jnp.any(invalid),
        f"{name}: {{count}} value(s) {expected}; the first is {{value}} at flat index "
        "{index}.",
        count=jnp.sum(invalid),
        value=values.ravel()[first],
        index=first,
    )


def check_labels(labels: jax.typing.ArrayLike, *, where: jax.typing.ArrayLike | None = None) -> None:
    """Assert that every unmasked label lies in [0, 1] (NaN fails), under checkify.

    Args:
        labels: labels of any shape; bool and integer labels are checked too.
        where: optional bool mask; masked-out labels (unknown, padding) are not checked.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from jax.experimental import checkify
        >>> import bcejax
        >>> err, _ = jax.jit(checkify.checkify(bcejax.check_labels))(jnp.array([0.3, 1.2]))
        >>> print(err.get())  # doctest: +ELLIPSIS
        labels: 1 value(s) outside [0, 1] or NaN; the first is 1.2... at flat index 1. ...
    """
    labels = jnp.asarray(labels)
    values = labels if jnp.issubdtype(labels.dtype, jnp.floating) else labels.astype(jnp.float32)
    _check("labels", values, (values >= 0) & (values <= 1), "outside [0, 1] or NaN", where)


def check_probabilities(probs: jax.typing.ArrayLike, *,
                        where: jax.typing.ArrayLike | None = None) -> None:
    """Assert that every unmasked probability lies in [0, 1] (NaN fails), under checkify.

    Args:
        probs: probabilities of any shape, the input of
            :func:`bcejax.binary_cross_entropy`.
        where: optional bool mask; masked-out elements are not checked.
    """
    probs = jnp.asarray(probs)
    _check("probs", probs, (probs >= 0) & (probs <= 1), "outside [0, 1] or NaN", where)


def check_logits(logits: jax.typing.ArrayLike, *, where: jax.typing.ArrayLike | None = None) -> None:
    """Assert that no unmasked logit is NaN, under checkify. Infinite logits are valid.

    Args:
        logits: logits of any shape.
        where: optional bool mask; masked-out elements are not checked.
    """
    logits = jnp.asarray(logits)
    _check("logits", logits, ~jnp.isnan(logits), "are NaN", where)
