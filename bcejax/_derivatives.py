"""One hand-written backward pass that serves reverse and forward mode.

A bare ``jax.custom_vjp`` function cannot be differentiated in forward mode, so
``jax.jvp``, ``jax.jacfwd`` and ``jax.hessian`` fail on it. The losses of bcejax
still want a hand-written backward pass: it is exact where autodiff of the stable
forward pass loses precision or produces ``0 * inf``. :func:`vjp_with_forward_mode`
keeps that backward pass as the single definition of the derivative and builds
both modes from it:

* The result is a ``jax.custom_jvp`` function. Its tangent map is the transpose of
    the backward pass, obtained with ``jax.linear_transpose``: the pullback is linear
    in the output cotangent, so its transpose is the pushforward.
* Reverse mode transposes that tangent map once more, which gives back the
    operations of the hand-written backward pass.
* The tangent map runs under ``jax.checkpoint``. Reverse mode then saves only the
    inputs of the loss for the backward pass and recomputes the rest there, which is
    the same memory a plain ``custom_vjp`` with input residuals needs.

The same forward and backward functions are also registered as a ``custom_vjp``
(returned beside the shell), so tests can check that the shell reproduces the plain
``custom_vjp`` gradients exactly.
"""

from collections.abc import Callable
from typing import Any

import jax
from jax.custom_derivatives import SymbolicZero

Forward = Callable[..., tuple[jax.Array, Any]]
Backward = Callable[[Any, jax.Array], tuple[Any, ...]]


def vjp_with_forward_mode(
    forward: Forward, backward: Backward, constant_argnums: tuple[int, ...] = ()
) -> tuple[Callable[..., jax.Array], Callable[..., jax.Array]]:
    """Build a function differentiable in both modes from a hand-written VJP.

    Args:
        forward: ``forward(*args) -> (output, residuals)``. The output is one array.
        backward: ``backward(residuals, output_cotangent) -> input_cotangents``, a
            tuple with one entry per argument: an array of the argument's shape and
            dtype, or ``None`` for an argument that is ``None`` or not differentiable.
            It must be linear in ``output_cotangent``.
        constant_argnums: positions of array arguments that receive no gradient
            (hyperparameters such as a focusing exponent). ``backward`` returns
            ``None`` for them, and their tangents are ignored in forward mode.

    Returns:
        ``(function, vjp_function)``. ``function`` supports ``jax.grad``, ``jax.jvp``
        and every composition of them. ``vjp_function`` is the plain
        ``jax.custom_vjp`` registration of the same pair, which supports reverse mode
        only.
    """

    def primal(*args):
        output, _ = forward(*args)
        return output

    vjp_function = jax.custom_vjp(primal)
    vjp_function.defvjp(forward, backward)

    function = jax.custom_jvp(vjp_function)

    def jvp(primals, tangents):
        # Calling `function` itself, not `vjp_function`, lets a higher-order derivative
        # of this rule use the rule again.
        output = function(*primals)
        active = tuple(
            i for i, tangent in enumerate(tangents)
            if tangent is not None and i not in constant_argnums
            and not isinstance(tangent, SymbolicZero)
        )
        if not active:
            return output, SymbolicZero(jax.typeof(output))
        active_tangents = tuple(tangents[i] for i in active)
        output_tangent = jax.checkpoint(_pushforward, static_argnums=(0, 1, 2))(
            forward, backward, active, primals, active_tangents
        )
        return output, output_tangent

    function.defjvp(jvp, symbolic_zeros=True)
    return function, vjp_function


def _pushforward(forward, backward, active, primals, active_tangents):
    """Apply the transpose of ``backward`` to the tangents of the ``active`` inputs."""
    output, residuals = forward(*primals)

    def pullback(cotangent):
        cotangents = backward(residuals, cotangent)
        return tuple(cotangents[i] for i in active)

    output_type = jax.ShapeDtypeStruct(output.shape, output.dtype)
    (output_tangent,) = jax.linear_transpose(pullback, output_type)(active_tangents)
    return output_tangent
