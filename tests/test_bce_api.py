"""Argument checks, dtype policy, reductions and the value checks of the BCE losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import bcejax

LOSSES = {
    "logits": bcejax.sigmoid_binary_cross_entropy,
    "probs": bcejax.binary_cross_entropy,
}


def inputs(kind, shape=(4, 3), dtype=jnp.float32):
    values = np.linspace(0.1, 0.9, int(np.prod(shape))).reshape(shape)
    if kind == "logits":
        values = (values - 0.5) * 8
    return jnp.asarray(values, dtype), jnp.asarray(np.indices(shape).sum(0) % 2, dtype)


@pytest.mark.parametrize("kind", list(LOSSES))
def test_integer_inputs_raise_type_error(kind):
    with pytest.raises(TypeError, match=rf"`{kind}` must have a floating dtype.*int32"):
        LOSSES[kind](jnp.zeros(3, jnp.int32), jnp.zeros(3))


@pytest.mark.parametrize("kind", list(LOSSES))
def test_unknown_reduction_lists_valid_names(kind):
    x, y = inputs(kind)
    with pytest.raises(ValueError, match=r"invalid `reduction` 'avg'.*'none', 'sum', 'mean'"):
        LOSSES[kind](x, y, reduction="avg")


@pytest.mark.parametrize("kind", list(LOSSES))
@pytest.mark.parametrize("smoothing", [-0.1, 1.5, float("nan")])
def test_label_smoothing_outside_unit_interval_raises(kind, smoothing):
    x, y = inputs(kind)
    with pytest.raises(ValueError, match=r"`label_smoothing` must lie in \[0, 1\]"):
        LOSSES[kind](x, y, label_smoothing=smoothing)


def test_label_smoothing_concrete_array_checked():
    x, y = inputs("logits")
    with pytest.raises(ValueError, match="label_smoothing"):
        bcejax.sigmoid_binary_cross_entropy(x, y, label_smoothing=jnp.float32(2.0))
    with pytest.raises(ValueError, match="float scalar"):
        bcejax.sigmoid_binary_cross_entropy(x, y, label_smoothing=jnp.zeros(2))


@pytest.mark.parametrize("kind", list(LOSSES))
def test_labels_shape_mismatch_raises(kind):
    x, _ = inputs(kind, (4, 3))
    with pytest.raises(ValueError, match=rf"`labels` has shape \(3,\) but `{kind}` has shape \(4, 3\)"):
        LOSSES[kind](x, jnp.zeros(3))


@pytest.mark.parametrize("argument", ["weight", "pos_weight", "where"])
def test_unbroadcastable_argument_names_itself(argument):
    x, y = inputs("logits", (4, 3))
    value = jnp.ones(4, bool) if argument == "where" else jnp.ones(4)
    with pytest.raises(ValueError, match=rf"`{argument}` has shape \(4,\).*\(4, 3\)"):
        bcejax.sigmoid_binary_cross_entropy(x, y, **{argument: value})


def test_argument_that_would_grow_shape_raises():
    x, y = inputs("logits", (4, 3))
    with pytest.raises(ValueError, match=r"`weight` has shape \(2, 4, 3\)"):
        bcejax.sigmoid_binary_cross_entropy(x, y, weight=jnp.ones((2, 4, 3)))


def test_float_mask_raises_type_error():
    x, y = inputs("logits")
    with pytest.raises(TypeError, match=r"`where` must be a bool mask.*float32"):
        bcejax.sigmoid_binary_cross_entropy(x, y, where=jnp.ones_like(x))


def test_string_labels_raise_type_error():
    x = jnp.zeros(2)
    with pytest.raises(TypeError):
        bcejax.sigmoid_binary_cross_entropy(x, np.array(["a", "b"]))


@pytest.mark.parametrize("argument", ["weight", "pos_weight"])
def test_weight_shapes_that_broadcast(argument):
    x, y = inputs("logits", (4, 3))
    full = jnp.asarray(np.arange(1.0, 13.0).reshape(4, 3), jnp.float32)
    per_class = full[0]
    per_example = full[:, :1]
    for value in (per_class, per_example, jnp.float32(2.0)):
        expected = bcejax.sigmoid_binary_cross_entropy(
            x, y, reduction="none", **{argument: jnp.broadcast_to(value, x.shape)})
        actual = bcejax.sigmoid_binary_cross_entropy(x, y, reduction="none", **{argument: value})
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("argument", ["weight", "pos_weight"])
def test_broadcast_weight_gradient_sums_over_axes(argument):
    x, y = inputs("logits", (4, 3))
    per_class = jnp.asarray([0.5, 1.0, 2.0], jnp.float32)

    def loss(value):
        return bcejax.sigmoid_binary_cross_entropy(x, y, **{argument: value})

    grad = jax.grad(loss)(per_class)
    full_grad = jax.grad(loss)(jnp.broadcast_to(per_class, x.shape))
    assert grad.shape == (3,)
    np.testing.assert_allclose(grad, full_grad.sum(0), rtol=1e-6)


def dtype_cases():
    return [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64]


@pytest.mark.parametrize("kind", list(LOSSES))
@pytest.mark.parametrize("dtype", dtype_cases(), ids=lambda d: jnp.dtype(d).name)
def test_output_and_gradient_dtypes(kind, dtype):
    with jax.enable_x64(True):
        x, y = inputs(kind, dtype=dtype)
        weight = jnp.ones(3, dtype)
        reduced_dtype = jnp.float64 if dtype == jnp.float64 else jnp.float32
        assert LOSSES[kind](x, y, weight=weight, reduction="none").dtype == dtype
        for reduction in ("sum", "mean"):
            assert LOSSES[kind](x, y, weight=weight, reduction=reduction).dtype == reduced_dtype
        grads = jax.grad(lambda x, y, w: LOSSES[kind](x, y, weight=w), argnums=(0, 1, 2))(x, y, weight)
        assert [g.dtype for g in grads] == [dtype, dtype, dtype]


def test_float16_sum_accumulates_in_float32():
    # softplus(2) = 2.1269... rounds to 2.127 in float16; 40000 of them exceed the
    # float16 maximum of 65504, so a float16 accumulator would return inf.
    x = jnp.full(40000, -2.0, jnp.float16)
    y = jnp.ones(40000, jnp.float16)
    total = bcejax.sigmoid_binary_cross_entropy(x, y, reduction="sum")
    assert total.dtype == jnp.float32
    np.testing.assert_allclose(total, 85077, rtol=1e-4)


def test_mixed_label_dtype_gradient_keeps_label_dtype():
    x = jnp.linspace(-3, 3, 6, dtype=jnp.float32)
    y = jnp.linspace(0, 1, 6, dtype=jnp.bfloat16)
    grad = jax.grad(lambda y: bcejax.sigmoid_binary_cross_entropy(x, y), argnums=0)(y)
    assert grad.dtype == jnp.bfloat16


def test_empty_input_mean_is_zero():
    x = jnp.zeros((0, 3), jnp.float32)
    assert bcejax.sigmoid_binary_cross_entropy(x, x) == 0
    assert bcejax.sigmoid_binary_cross_entropy(x, x, reduction="sum") == 0
    assert bcejax.sigmoid_binary_cross_entropy(x, x, reduction="none").shape == (0, 3)


def test_masked_probability_nan_stays_out():
    probs = jnp.array([jnp.nan, 2.0, 0.25], jnp.float32)
    labels = jnp.array([jnp.nan, 1.0, 1.0], jnp.float32)
    where = jnp.array([False, False, True])
    value, grad = jax.value_and_grad(
        lambda q: bcejax.binary_cross_entropy(q, labels, where=where))(probs)
    np.testing.assert_allclose(value, np.log(4), rtol=1e-6)
    np.testing.assert_array_equal(grad[:2], [0, 0])
    np.testing.assert_allclose(grad[2], -4, rtol=1e-6)


def test_traced_label_smoothing_accepted_under_jit():
    x, y = inputs("logits")

    @jax.jit
    def loss(smoothing):
        return bcejax.sigmoid_binary_cross_entropy(x, y, label_smoothing=smoothing)

    np.testing.assert_allclose(
        loss(jnp.float32(0.2)), bcejax.sigmoid_binary_cross_entropy(x, y, label_smoothing=0.2),
        rtol=1e-6)


class TestValueChecks:

    def checked(self, function, *args, **kwargs):
        error, _ = jax.jit(checkify.checkify(lambda *a: function(*a, **kwargs)))(*args)
        return error.get()

    def test_valid_labels_pass(self):
        assert self.checked(bcejax.check_labels, jnp.array([0.0, 0.5, 1.0])) is None
        assert self.checked(bcejax.check_labels, jnp.array([True, False])) is None

    @pytest.mark.parametrize("bad, text", [(-0.5, "-0.5"), (1.5, "1.5"), (float("nan"), "nan")])
    def test_invalid_label_reported(self, bad, text):
        message = self.checked(bcejax.check_labels, jnp.array([0.0, 1.0, bad, bad]))
        assert message is not None
        assert "labels: 2 value(s) outside [0, 1] or NaN" in message
        assert text in message
        assert "flat index 2" in message

    def test_masked_invalid_label_ignored(self):
        labels = jnp.array([-1.0, 1.0])
        assert self.checked(bcejax.check_labels, labels, where=labels >= 0) is None

    def test_integer_unknown_label_reported(self):
        message = self.checked(bcejax.check_labels, jnp.array([1, -1, 0]))
        assert message is not None and "flat index 1" in message

    def test_probabilities_outside_unit_interval_reported(self):
        message = self.checked(bcejax.check_probabilities, jnp.array([0.2, 1.0001]))
        assert message is not None and "probs: 1 value(s)" in message

    def test_nan_logits_reported_inf_allowed(self):
        assert self.checked(bcejax.check_logits, jnp.array([jnp.inf, -jnp.inf])) is None
        message = self.checked(bcejax.check_logits, jnp.array([0.0, jnp.nan]))
        assert message is not None and "logits: 1 value(s) are NaN" in message

    def test_check_raises_eagerly_outside_checkify(self):
        with pytest.raises(checkify.JaxRuntimeError, match="labels"):
            bcejax.check_labels(jnp.array([2.0]))

    def test_loss_value_unchanged_by_check(self):
        x, y = inputs("logits")

        def checked_loss(x, y):
            bcejax.check_labels(y)
            return bcejax.sigmoid_binary_cross_entropy(x, y)

        error, value = jax.jit(checkify.checkify(checked_loss))(x, y)
        error.throw()
        np.testing.assert_array_equal(value, bcejax.sigmoid_binary_cross_entropy(x, y))
