"""Known-answer cases C01-C27 for the binary cross-entropy family.

Each expected value was computed with mpmath at 60 digits. Each case stands for a
kind of failure that widely used libraries have shipped: NaN, a gradient that
rounds to 0, a silent broadcast, or a wrong convention.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import bcejax
import mpmath_reference

loss_fn = bcejax.sigmoid_binary_cross_entropy
nan, inf = float("nan"), float("inf")


def f32(values):
    return jnp.asarray(values, dtype=jnp.float32)


def assert_ulps(actual, expected, ulps=4, dtype=np.float32):
    """Assert that ``actual`` is within ``ulps`` units in the last place of ``expected``."""
    error = mpmath_reference.ulp_error(np.asarray(actual, dtype=np.float64), expected, dtype)
    assert np.all(error <= ulps), f"actual {np.asarray(actual)}, expected {expected}, ulps {error}"


def value_and_grad(x, y, argnums=0, **kwargs):
    """Return the loss and the gradient of its sum (the reduced loss when not "none")."""

    def reduced(*args):
        loss = loss_fn(*args, **kwargs)
        return jnp.sum(loss), loss

    (_, loss), grad = jax.value_and_grad(reduced, argnums=argnums, has_aux=True)(x, y)
    return loss, grad


def test_c01_unit_pos_weight_equals_none():
    x, y = f32([0, -120]), f32([0, 1])
    loss, grad = value_and_grad(x, y, pos_weight=f32([1, 1]))
    assert_ulps(loss, 60.3465736)
    assert_ulps(grad, [0.25, -0.5])
    plain_loss, plain_grad = value_and_grad(x, y)
    np.testing.assert_array_equal(loss, plain_loss)
    np.testing.assert_array_equal(grad, plain_grad)


def test_c02_pos_weight_two():
    loss, grad = value_and_grad(f32([0, -120]), f32([0, 1]), pos_weight=f32([2, 2]))
    assert_ulps(loss, 120.346574)
    assert_ulps(grad, [0.25, -1.0])


def test_c03_pos_weight_three_saturated():
    loss, grad = value_and_grad(
        f32([-14.913008]), f32([1]), pos_weight=f32([3]), reduction="none"
    )
    exact_loss = mpmath_reference.as_array(mpmath_reference.logits_loss, -14.913008, 1, 1, 3)
    exact_grad = mpmath_reference.as_array(mpmath_reference.logits_gradient, -14.913008, 1, 1, 3)
    assert_ulps(loss, exact_loss)
    assert_ulps(grad, exact_grad)
    np.testing.assert_allclose(loss, [44.7390250], rtol=1e-7)
    np.testing.assert_allclose(grad, [-2.999999], rtol=1e-6)


def test_c04_pos_weight_scales_soft_positive_term_only():
    loss, grad = value_and_grad(
        f32([0.5, 0.5]), f32([0.5, 0.5]),
        weight=f32([0.5, 0.5]), pos_weight=f32([1, 2]), reduction="none",
    )
    assert_ulps(loss, [0.362038492, 0.480557738])
    assert_ulps(grad, [0.0612296656, -0.0331555016])


C05_LOGITS = [[0, 1, -1], [2, 0, -2]]
C05_LABELS = [[1, 0, 1], [0, 1, 1]]


def test_c05_per_example_weight_column():
    loss, grad = value_and_grad(
        f32(C05_LOGITS), f32(C05_LABELS), weight=f32([[1], [2]])
    )
    assert_ulps(loss, 2.20227949)
    assert_ulps(grad, [[-0.0833333333, 0.121843096, -0.121843096],
                       [0.293599026, -0.166666667, -0.293599026]])


def test_c06_per_example_weight_vector_raises():
    with pytest.raises(ValueError) as info:
        loss_fn(f32(C05_LOGITS), f32(C05_LABELS), weight=f32([1, 2]))
    message = str(info.value)
    assert "`weight`" in message
    assert "(2,)" in message
    assert "(2, 3)" in message
    assert "(2, 1)" in message


def test_c07_column_logits_flat_labels_raises():
    with pytest.raises(ValueError) as info:
        loss_fn(f32([[0], [2]]), f32([0, 1]))
    message = str(info.value)
    assert "(2,)" in message
    assert "(2, 1)" in message
    assert "`labels`" in message
    assert "`logits`" in message


def test_c07_reshaped_labels_give_mean():
    loss, grad = value_and_grad(f32([[0], [2]]), f32([[0], [1]]))
    assert_ulps(loss, 0.410037596)
    assert_ulps(grad, [[0.25], [-0.059601461]])


def test_c08_negative_infinity_label_zero():
    loss, grad = value_and_grad(f32([-inf]), f32([0]))
    assert loss == 0
    np.testing.assert_array_equal(grad, [0.0])


def test_c09_positive_infinity_label_one_in_mean():
    loss, grad = value_and_grad(f32([inf, 1.0]), f32([1, 0]))
    assert_ulps(loss, 0.656630844)
    assert_ulps(grad, [0.0, 0.365529289])


def test_c10_infinite_logits_give_limits():
    loss, grad = value_and_grad(f32([-inf, -inf, inf, inf]), f32([0, 1, 0, 1]), reduction="none")
    np.testing.assert_array_equal(loss, [0, inf, inf, 0])
    np.testing.assert_array_equal(grad, [0, -1, 1, 0])


@pytest.mark.parametrize("label, expected_grad", [(0.0, 0.5), (0.5, 0.0), (1.0, -0.5)])
def test_c11_zero_logit_exact(label, expected_grad):
    loss, grad = value_and_grad(f32([0]), f32([label]))
    assert_ulps(loss, 0.693147181, ulps=1)
    assert grad[0] == expected_grad


@pytest.mark.parametrize("logit, label, sign", [(-100.0, 0.0, 1.0), (100.0, 1.0, -1.0)])
def test_c12_subnormal_loss_and_gradient(logit, label, sign):
    loss, grad = value_and_grad(f32([logit]), f32([label]))
    exact = 3.720075976020836e-44
    # A flush to zero is fine in the subnormal range; inf, NaN or a wrong sign is not.
    assert np.isfinite(loss)
    assert np.isfinite(grad[0])
    assert loss == 0 or abs(float(loss) - exact) <= 4 * np.finfo(np.float32).smallest_subnormal
    assert grad[0] == 0 or abs(float(grad[0]) - sign * exact) <= 4 * np.finfo(
        np.float32).smallest_subnormal


@pytest.mark.parametrize("logit, expected", [(20.0, -2.06115362e-09), (17.0, -4.13993755e-08)])
def test_c13_saturated_positive_gradient_not_zero(logit, expected):
    _, grad = value_and_grad(f32([logit]), f32([1]))
    assert_ulps(grad, [expected])


def test_c13_small_negative_loss_not_zero():
    loss, _ = value_and_grad(f32([-16.636852]), f32([0]))
    assert_ulps(loss, 5.95260366e-08)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_c14_half_precision_saturated_positives(dtype):
    x, y = jnp.asarray([7, 10], dtype), jnp.ones(2, dtype)
    loss, grad = value_and_grad(x, y, reduction="none")
    assert loss.dtype == dtype
    assert grad.dtype == dtype
    # "Rounded once": the exact value rounded to the 16-bit dtype, bit for bit.
    exact_loss = mpmath_reference.as_array(mpmath_reference.logits_loss, [7, 10], 1)
    exact_grad = mpmath_reference.as_array(mpmath_reference.logits_gradient, [7, 10], 1)
    np.testing.assert_array_equal(np.asarray(loss, np.float64),
                                  np.asarray(jnp.asarray(exact_loss, dtype), np.float64))
    np.testing.assert_array_equal(np.asarray(grad, np.float64),
                                  np.asarray(jnp.asarray(exact_grad, dtype), np.float64))
    np.testing.assert_allclose(np.asarray(loss, np.float64), [9.11466e-04, 4.53989e-05], rtol=1e-2)
    np.testing.assert_allclose(np.asarray(grad, np.float64), [-9.11051e-04, -4.53979e-05], rtol=1e-2)
    assert np.all(np.asarray(loss) != 0)
    assert np.all(np.asarray(grad) != 0)


def test_c15_bfloat16_elements_and_mean():
    x = jnp.asarray([0.375, -1.5, 2.75, -1.5], jnp.bfloat16)
    y = jnp.asarray([1, 0, 1, 1], jnp.bfloat16)
    elements = loss_fn(x, y, reduction="none")
    assert elements.dtype == jnp.bfloat16
    assert_ulps(np.asarray(elements, np.float64),
                [0.523123264, 0.201413278, 0.061967589, 1.70141328],
                ulps=1, dtype=jnp.bfloat16)
    mean = loss_fn(x, y)
    assert mean.dtype == jnp.float32
    assert_ulps(mean, 0.621979352)


def test_c16_bfloat16_mean_of_thousand_accumulates_in_float32():
    mean = loss_fn(jnp.zeros(1000, jnp.bfloat16), jnp.ones(1000, jnp.bfloat16))
    assert mean.dtype == jnp.float32
    assert_ulps(mean, 0.693147181, ulps=16)  # 1000 float32 additions of one rounded value.


@pytest.mark.parametrize("label, expected_loss, expected_grad", [
    (1.0, 0.226928011, -0.069202922),
    (0.0, 2.02692801, 0.830797078),
])
def test_c17_label_smoothing(label, expected_loss, expected_grad):
    loss, grad = value_and_grad(f32([2]), f32([label]), label_smoothing=0.1)
    assert_ulps(loss, expected_loss)
    assert_ulps(grad, [expected_grad])


C18_LOGITS, C18_LABELS = [0, 1, -1, 2], [1, 0, 1, 1]


def test_c18_weight_does_not_change_divisor():
    loss, grad = value_and_grad(f32(C18_LOGITS), f32(C18_LABELS), weight=f32([1, 3, 0, 1]))
    assert_ulps(loss, 1.18996506)
    assert_ulps(grad, [-0.125, 0.548293934, 0, -0.0298007305])


def test_c19_where_divides_by_unmasked_count():
    loss, grad = value_and_grad(
        f32(C18_LOGITS), f32(C18_LABELS), where=jnp.array([True, True, False, True])
    )
    assert_ulps(loss, 0.711112293)
    assert_ulps(grad, [-0.166666667, 0.243686193, 0, -0.0397343073])


def test_c20_all_masked_mean_is_zero():
    loss, grad = value_and_grad(f32([0.5, -1]), f32([1, 0]), where=jnp.array([False, False]))
    assert loss == 0
    np.testing.assert_array_equal(grad, [0.0, 0.0])


def test_c20_one_unmasked_element():
    loss, grad = value_and_grad(f32([0.5, -1]), f32([1, 0]), where=jnp.array([True, False]))
    assert_ulps(loss, 0.474076984)
    assert_ulps(grad, [-0.377540669, 0])


C21_MASK = jnp.array([False, False, True])


@pytest.mark.parametrize("labels", [[0, 0, 1], [nan, nan, 1]], ids=["finite", "nan"])
@pytest.mark.parametrize("transform", ["eager", "jit", "vmap"])
def test_c21_masked_nan_and_inf_stay_out(labels, transform):
    x, y = f32([nan, inf, 1]), f32(labels)

    def loss(x, y):
        return loss_fn(x, y, where=C21_MASK)

    value_and_grads = jax.value_and_grad(loss, argnums=(0, 1))
    if transform == "jit":
        value_and_grads = jax.jit(value_and_grads)
    if transform == "vmap":
        batched = jax.vmap(value_and_grads)
        value, (d_logits, d_labels) = batched(jnp.stack([x, x]), jnp.stack([y, y]))
        value, d_logits, d_labels = value[1], d_logits[1], d_labels[1]
    else:
        value, (d_logits, d_labels) = value_and_grads(x, y)
    assert_ulps(value, 0.313261688)
    np.testing.assert_array_equal(d_logits[:2], [0.0, 0.0])
    assert_ulps(d_logits[2], -0.268941421)
    np.testing.assert_array_equal(d_labels[:2], [0.0, 0.0])
    assert np.isfinite(d_labels[2])


def test_c21_masked_second_derivative_is_zero():
    hessian = jax.hessian(lambda x: loss_fn(x, f32([nan, nan, 1]), where=C21_MASK))(f32([nan, inf, 1]))
    np.testing.assert_array_equal(hessian[:2], np.zeros((2, 3)))
    np.testing.assert_array_equal(hessian[:, :2], np.zeros((3, 2)))
    assert_ulps(hessian[2, 2], 0.196611933)  # sigmoid(1) * sigmoid(-1); one unmasked element.


C22_LOGITS, C22_LABELS = [-2, 0, 3], [0.2, 0.5, 1]


def test_c22_soft_labels_loss_and_label_gradient():
    loss, d_labels = value_and_grad(f32(C22_LOGITS), f32(C22_LABELS), argnums=1, reduction="none")
    assert_ulps(loss, [0.526928011, 0.693147181, 0.0485873516])
    np.testing.assert_array_equal(d_labels, [2, 0, -3])


def test_c22_label_gradient_with_pos_weight():
    _, d_labels = value_and_grad(
        f32(C22_LOGITS), f32(C22_LABELS), argnums=1, pos_weight=f32([2, 2, 2]), reduction="none"
    )
    assert_ulps(d_labels, [4.12692801, 0.693147181, -2.95141265])


def test_c22_label_gradient_through_smoothing():
    _, d_labels = value_and_grad(
        f32(C22_LOGITS), f32(C22_LABELS), argnums=1, label_smoothing=0.1, reduction="none"
    )
    assert_ulps(d_labels, [1.8, 0, -2.7])


def test_c23_positive_labels_across_logits():
    loss, grad = value_and_grad(f32([-50, -10, -5, -2, 0, 2, 5, 10]), jnp.ones(8, jnp.float32))
    assert_ulps(loss, 8.49506559)
    assert_ulps(grad, [-0.125, -0.124994325, -0.124163394, -0.110099635, -0.0625,
                       -0.0149003653, -0.000836606366, -5.67473359e-06])


def test_c24_huge_logits_not_capped():
    loss, grad = value_and_grad(f32([-1e9, 8e7]), f32([1, 0]), reduction="none")
    np.testing.assert_array_equal(loss, [1e9, 8e7])
    np.testing.assert_array_equal(grad, [-1, 1])


def test_c25_forward_mode_and_hessian():
    x, y = f32([0, 2]), f32([1, 0])

    def loss(x):
        return loss_fn(x, y)

    value, grad = jax.value_and_grad(loss)(x)
    assert_ulps(value, 1.4100376)
    assert_ulps(grad, [-0.25, 0.440398539])
    hessian = jax.hessian(loss)(x)
    assert_ulps(jnp.diag(hessian), [0.125, 0.0524967927])
    assert hessian[0, 1] == 0
    assert hessian[1, 0] == 0
    np.testing.assert_array_equal(jax.jacfwd(loss)(x), grad)
    for i in range(2):
        _, tangent = jax.jvp(loss, (x,), (jnp.eye(2, dtype=jnp.float32)[i],))
        assert tangent == grad[i]


@pytest.mark.parametrize("labels", [
    jnp.array([1, 0], jnp.int32), jnp.array([True, False])
], ids=["int32", "bool"])
def test_c26_integer_and_bool_labels(labels):
    loss, grad = value_and_grad(f32([0.3, -0.7]), labels)
    assert_ulps(loss, 0.478770647)
    assert_ulps(grad, [-0.212778742, 0.165906114])


def test_c26_python_scalars():
    loss, grad = jax.value_and_grad(lambda x: loss_fn(x, 1))(2.0)
    assert_ulps(loss, 0.126928011)
    assert_ulps(grad, -0.119202922)


C27_LOGITS, C27_LABELS = [[-0.8, 1.2, 0.7]], [[0.3, 0.8, 1.2]]


def test_c27_label_above_one_not_clipped():
    loss = loss_fn(f32(C27_LOGITS), f32(C27_LABELS), reduction="none")
    exact = mpmath_reference.as_array(
        mpmath_reference.logits_loss, np.float32(C27_LOGITS), np.float32(C27_LABELS)
    )
    assert_ulps(loss, exact)
    clipped = mpmath_reference.as_array(mpmath_reference.logits_loss, np.float32(0.7), 1.0)
    assert loss[0, 2] != pytest.approx(clipped)


def test_c27_label_above_one_reported_by_check():
    def checked(logits, labels):
        bcejax.check_labels(labels)
        return loss_fn(logits, labels)

    error, _ = jax.jit(checkify.checkify(checked))(f32(C27_LOGITS), f32(C27_LABELS))
    message = error.get()
    assert message is not None
    assert "labels" in message
    assert "1.2" in message
    assert "flat index 2" in message
    with pytest.raises(checkify.JaxRuntimeError):
        error.throw()
