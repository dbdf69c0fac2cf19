"""Trace-time argument checks and the reductions shared by every loss.

Every check here looks at shapes, dtypes and static Python values only, so it runs
once while JAX traces the loss and costs nothing in the compiled program. Values
inside arrays (labels outside [0, 1], NaN) are not checked here: see
:mod:`bcejax._checks` for the opt-in value checks.
"""

import numbers

import jax
import jax.numpy as jnp
import numpy as np

REDUCTIONS = ("none", "sum", "mean")


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """Return the dtype a loss computes in: ``dtype``, but at least float32."""
    dtype = jnp.dtype(dtype)
    return dtype if dtype.itemsize >= 4 else jnp.dtype(jnp.float32)


def floating_array(function: str, name: str, value: jax.typing.ArrayLike) -> jax.Array:
    """Convert ``value`` to an array and raise TypeError unless it is floating."""
    array = jnp.asarray(value)
    if not jnp.issubdtype(array.dtype, jnp.floating):
        raise TypeError(
            f"{function}: `{name}` must have a floating dtype (float16, bfloat16, "
            f"float32 or float64), got dtype {array.dtype}. Convert it first, for "
            f"example with `{name}.astype(jnp.float32)`."
        )
    return array


def labels_array(function: str, labels: jax.typing.ArrayLike, inputs: jax.Array,
                 inputs_name: str) -> jax.Array:
    """Convert ``labels`` to an array of the inputs' exact shape.

    Bool and integer labels become the inputs' dtype (0 and 1 are exact in every
    floating dtype). Floating labels keep their dtype, so their gradient has it too.
    """
    array = jnp.asarray(labels)
    if array.shape != inputs.shape:
        raise ValueError(
            f"{function}: `labels` has shape {array.shape} but `{inputs_name}` has "
            f"shape {inputs.shape}; they must have exactly the same shape, and "
            f"labels are never broadcast. Reshape one of them, for example "
            f"`labels.reshape({inputs.shape})`."
        )
    if jnp.issubdtype(array.dtype, jnp.floating):
        return array
    if jnp.issubdtype(array.dtype, jnp.integer) or array.dtype == jnp.bool_:
        return array.astype(inputs.dtype)
    raise TypeError(
        f"{function}: `labels` must have a floating, integer or bool dtype, got "
        f"dtype {array.dtype}."
    )


def broadcastable_array(function: str, name: str, value: jax.typing.ArrayLike | None,
                        shape: tuple[int, ...], *, inputs_name: str = "logits",
                        mask: bool = False) -> jax.Array | None:
    """Convert an optional ``weight``, ``pos_weight`` or ``where`` argument.

    The argument must broadcast to ``shape`` by NumPy rules without changing it.
    A ``mask`` argument must be bool. Other arguments must be floating; integer and
    bool ones are converted to float32 because they cannot carry a gradient anyway.
    """
    if value is None:
        return None
    array = jnp.asarray(value)
    try:
        broadcast = np.broadcast_shapes(array.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        hint = ""
        if array.ndim == 1 and len(shape) >= 2 and array.shape[0] == shape[0]:
            hint = (f" A per-example {name} of length {shape[0]} must be passed with "
                    f"shape ({shape[0]}, 1).")
        raise ValueError(
            f"{function}: `{name}` has shape {array.shape}, which does not broadcast "
            f"to the shape {tuple(shape)} of `{inputs_name}` by NumPy rules. Pass a shape that "
            f"broadcasts to it: the full shape, a per-class vector of shape "
            f"({shape[-1] if shape else 1},) or a scalar.{hint}"
        )
    if mask:
        if array.dtype != jnp.bool_:
            raise TypeError(
                f"{function}: `{name}` must be a bool mask, got dtype {array.dtype}. "
                f"Convert it first, for example with `{name} > 0`."
            )
        return array
    if jnp.issubdtype(array.dtype, jnp.floating):
        return array
    if jnp.issubdtype(array.dtype, jnp.integer) or array.dtype == jnp.bool_:
        return array.astype(jnp.float32)
    raise TypeError(f"{function}: `{name}` must be floating, got dtype {array.dtype}.")


def check_reduction(function: str, reduction: object) -> str:
    """Raise ValueError unless ``reduction`` is one of :data:`REDUCTIONS`."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(
            f"{function}: invalid `reduction` {reduction!r}; expected one of "
            f"{', '.join(repr(r) for r in REDUCTIONS)}."
        )
    return reduction


def label_smoothing_value(function: str, value: jax.typing.ArrayLike) -> jax.Array | None:
    """Check ``label_smoothing`` and return it as an array, or None when it is 0.

    A Python number or a concrete array is checked against [0, 1] here. A traced
    value (a smoothing schedule inside ``jax.jit``) cannot be checked at trace time
    and is passed on unchecked.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(
                f"{function}: `label_smoothing` must lie in [0, 1], got {value}."
            )
        return None if value == 0 else jnp.asarray(float(value))
    array = jnp.asarray(value)
    if array.shape != () or not jnp.issubdtype(array.dtype, jnp.floating):
        raise ValueError(
            f"{function}: `label_smoothing` must be a float scalar in [0, 1], got "
            f"shape {array.shape} and dtype {array.dtype}."
        )
    if not isinstance(array, jax.core.Tracer):
        if not 0.0 <= float(array) <= 1.0:
            raise ValueError(
                f"{function}: `label_smoothing` must lie in [0, 1], got {float(array)}."
            )
    return array


def smooth_labels(labels: jax.Array, label_smoothing: jax.Array, dtype: jnp.dtype) -> jax.Array:
    """Map labels ``y`` to ``y * (1 - eps) + eps / 2``, in ``dtype``."""
    eps = label_smoothing.astype(dtype)
    return labels.astype(dtype) * (1 - eps) + eps / 2


def _sum_by_matrix_vector_product(values: jax.Array) -> jax.Array:
    rows = values.reshape(-1, values.shape[-1])
    ones = jnp.ones(values.shape[-1], values.dtype)
    return jnp.sum(jnp.dot(rows, ones, precision=jax.lax.Precision.HIGHEST))


def sum_all(values: jax.Array) -> jax.Array:
    """Sum all elements of ``values``, on the CPU as a product with a vector of ones.

    XLA's CPU backend hands a sum to a library kernel (YNNPACK) together with the
    element-wise operations that produce its input, and that kernel evaluates
    them several times slower than XLA's own fused loops, with extra arrays
    written to memory. A matrix-vector product is not fused that way: the element
    losses are computed in one vectorised, multi-threaded loop and then summed.
    HIGHEST precision rules out reduced-precision products. Other platforms
    use ``jnp.sum``.
    """
    if values.ndim == 0 or values.size == 0:
        return jnp.sum(values)
    return jax.lax.platform_dependent(values, cpu=_sum_by_matrix_vector_product, default=jnp.sum)


def reduce_losses(losses: jax.Array, where: jax.Array | None, reduction: str,
                  dtype: jnp.dtype) -> jax.Array:
    """Reduce element losses computed in at least float32.

    "none" rounds once to ``dtype``, the dtype of the inputs. "sum" and "mean" keep
    the compute dtype, so 16-bit inputs return float32. The mean divides by the
    number of unmasked elements, or by 1 when there are none, so an all-masked
    mean is 0 with a zero gradient.
    """
    if reduction == "none":
        return losses.astype(dtype)
    total = sum_all(losses)
    if reduction == "sum":
        return total
    if where is None:
        count = jnp.asarray(losses.size, dtype=losses.dtype)
    else:
        # An integer count stays exact past 2**24 elements, where float32 would not.
        count = jnp.count_nonzero(jnp.broadcast_to(where, losses.shape)).astype(losses.dtype)
    return total / jnp.maximum(count, 1)


def sum_to_shape(gradient: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Sum a full-shape gradient over the axes along which an argument was broadcast."""
    leading = gradient.ndim - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape)
        if size == 1 and gradient.shape[leading + i] != 1
    )
    if axes:
        gradient = jnp.sum(gradient, axis=axes)
    return gradient.reshape(shape)


def hyperparameter_value(function: str, name: str, value: jax.typing.ArrayLike, *,
                         low: float, high: float | None = None,
                         include_high: bool = True) -> jax.Array:
    """Check a scalar hyperparameter such as ``gamma`` and return it as a float array.

    A Python number or a concrete array is checked against its range at trace time.
    A traced value (a schedule inside ``jax.jit``) is passed on unchecked.
    """
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or hasattr(value, "shape")):
        raise TypeError(f"{function}: `{name}` must be a real scalar, got {value!r}.")
    array = jnp.asarray(value)
    if array.shape != ():
        raise ValueError(f"{function}: `{name}` must be a scalar, got shape {array.shape}.")
    if not jnp.issubdtype(array.dtype, jnp.floating):
        array = array.astype(jnp.float32)
    if not isinstance(array, jax.core.Tracer):
        number = float(array)
        if high is None:
            valid, expected = number >= low, f">= {low}"
        elif include_high:
            valid, expected = low <= number <= high, f"in [{low}, {high}]"
        else:
            valid, expected = low <= number < high, f"in [{low}, {high})"
        if not valid:
            raise ValueError(f"{function}: `{name}` must be {expected}, got {number}.")
    return array
