"""Tests of the element-wise building blocks that every loss shares (bcejax/_elementwise.py).

The losses' own tests check these through the public functions. Here each block is
checked alone against float64, so a regression points at its cause.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import chebyshev

from bcejax import _elementwise
from bcejax import _validation


def float32_grid() -> np.ndarray:
    """Logits in float32: a dense linear grid over [-30, 30] and log-spaced magnitudes up to 80."""
    magnitudes = np.logspace(-8, np.log10(80), 100_001)
    return np.concatenate([np.linspace(-30, 30, 600_001), magnitudes, -magnitudes]).astype(np.float32)


def ulp_error(actual: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Error of float32 results in units of the float32 spacing at the exact value."""
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(np.asarray(actual, np.float64) - exact) / spacing


def test_log1p_coefficients_reproduce_chebyshev_fit():
    count = 4000
    nodes = 0.5 + 0.5 * np.cos(np.pi * (np.arange(count) + 0.5) / count)
    fit = chebyshev.chebfit(2 * nodes - 1, np.log1p(nodes) / nodes, 10)
    # Substitute z = 2e - 1 into the power series in z.
    in_z = chebyshev.cheb2poly(fit)
    in_e = np.zeros(len(in_z))
    power = np.array([1.0])
    for degree, coefficient in enumerate(in_z):
        if degree:
            power = np.polynomial.polynomial.polymul(power, [-1.0, 2.0])
        in_e[: len(power)] += coefficient * power
    np.testing.assert_allclose(_elementwise.LOG1P_OVER_E, in_e, rtol=1e-9, atol=1e-12)


def test_log1p_exp_neg_abs_float32_within_two_ulps():
    x = float32_grid()
    exact = np.log1p(np.exp(-np.abs(x.astype(np.float64))))
    actual = jax.jit(_elementwise.log1p_exp_neg_abs)(jnp.asarray(x))
    # Below 16 float32 tiny, XLA:CPU flushes subnormal intermediates to zero.
    normal = exact > 16 * np.finfo(np.float32).tiny
    assert actual.dtype == jnp.float32
    assert ulp_error(actual, exact)[normal].max() <= 2
    np.testing.assert_array_less(np.abs(np.asarray(actual)[~normal] - exact[~normal]), 1e-36)


def test_log1p_exp_neg_abs_limits():
    values = _elementwise.log1p_exp_neg_abs(jnp.asarray([0.0, jnp.inf, -jnp.inf, jnp.nan], jnp.float32))
    np.testing.assert_allclose(values[0], np.log(2), rtol=2 ** -23)
    np.testing.assert_array_equal(values[1:3], [0, 0])
    assert np.isnan(values[3])


def test_log1p_exp_neg_abs_float64_uses_log1p():
    with jax.enable_x64(True):
        x = jnp.asarray([-700.0, -3.0, 0.25, 40.0])
        values = _elementwise.log1p_exp_neg_abs(x)
        assert values.dtype == jnp.float64
        np.testing.assert_allclose(values, np.log1p(np.exp(-np.abs(np.asarray(x)))), rtol=5e-16)


def test_sigmoid_neg_abs_float32_accuracy():
    x = float32_grid()
    exact = 1 / (1 + np.exp(np.abs(x.astype(np.float64))))
    actual = jax.jit(_elementwise.sigmoid_neg_abs)(jnp.asarray(x))
    normal = exact > 16 * np.finfo(np.float32).tiny
    # Measured: 1.83 ulps. Without the correction for the rounding of 1 + e, 2.25 ulps.
    assert ulp_error(actual, exact)[normal].max() <= 2


def test_sigmoids_are_complementary():
    x = jnp.asarray([-50.0, -2.0, 0.0, 0.5, 50.0, jnp.inf, -jnp.inf])
    sigmoid, sigmoid_neg, exp_term = _elementwise.sigmoids(x)
    np.testing.assert_array_equal(sigmoid[2], 0.5)
    np.testing.assert_allclose(sigmoid + sigmoid_neg, 1, rtol=2 ** -24)
    # sigmoid(x) equals sigmoid(-y) at y = -x, bit for bit.
    np.testing.assert_array_equal(sigmoid, _elementwise.sigmoids(-x)[1])
    np.testing.assert_array_equal(sigmoid[-2:], [1, 0])
    np.testing.assert_array_equal(sigmoid_neg[-2:], [0, 1])
    # The small sigmoid keeps relative precision: sigmoid(-50) = e**-50 / (1 + e**-50).
    np.testing.assert_allclose(sigmoid[0], np.exp(-50.0), rtol=2e-7)
    np.testing.assert_allclose(exp_term, np.exp(-np.abs(np.asarray(x, np.float64))), rtol=2e-7)


@pytest.mark.parametrize("label, pos_weight, weight", [(1.0, 1.0, 1.0), (0.0, 1.0, 1.0), (0.3, 2.5, 0.7)])
def test_cross_entropy_and_slope_match_float64(label, pos_weight, weight):
    x = np.asarray([-40.0, -3.5, -0.25, 0.0, 0.25, 3.5, 40.0], np.float32)
    positive, negative = weight * pos_weight * label, weight * (1 - label)
    f32 = lambda value: jnp.full(x.shape, value, jnp.float32)  # noqa: E731
    losses = _elementwise.cross_entropy(
        jnp.asarray(x), f32(positive), f32(negative), f32(positive + negative),
        _elementwise.log1p_exp_neg_abs(jnp.asarray(x)))
    slopes = _elementwise.cross_entropy_slope(jnp.asarray(x), f32(positive), f32(negative), f32(positive + negative))

    x64 = x.astype(np.float64)
    softplus = np.logaddexp(0, x64)
    softplus_neg = np.logaddexp(0, -x64)
    sigmoid = 1 / (1 + np.exp(-x64))
    np.testing.assert_allclose(losses, positive * softplus_neg + negative * softplus, rtol=1e-6, atol=1e-30)
    sigmoid_neg = 1 / (1 + np.exp(x64))
    np.testing.assert_allclose(slopes, negative * sigmoid - positive * sigmoid_neg, rtol=1e-6, atol=1e-30)


def test_cross_entropy_zero_coefficient_infinite_logit():
    x = jnp.asarray([jnp.inf, -jnp.inf])
    ones, zeros = jnp.ones(2), jnp.zeros(2)
    # Label 1 against +inf and label 0 against -inf: a perfect prediction costs 0.
    losses = _elementwise.cross_entropy(x, jnp.asarray([1.0, 0.0]), jnp.asarray([0.0, 1.0]), ones,
                                        _elementwise.log1p_exp_neg_abs(x))
    np.testing.assert_array_equal(losses, zeros)


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5), (2, 3, 4), (1, 0, 3)])
def test_sum_all_equals_jnp_sum(shape):
    values = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
    total = jax.jit(_validation.sum_all)(values)
    assert total.shape == ()
    np.testing.assert_allclose(total, np.sum(np.asarray(values, np.float64)), rtol=1e-6, atol=1e-6)


def test_sum_all_large_array_accurate():
    values = np.random.default_rng(1).uniform(0, 1, size=(512, 3000)).astype(np.float32)
    total = jax.jit(_validation.sum_all)(jnp.asarray(values))
    np.testing.assert_allclose(total, values.astype(np.float64).sum(), rtol=1e-6)


def test_sum_all_under_grad_vmap_and_jvp():
    values = jnp.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(jax.grad(_validation.sum_all)(values), jnp.ones((3, 4)))
    np.testing.assert_array_equal(jax.vmap(_validation.sum_all)(values), [6.0, 22.0, 38.0])
    _, tangent = jax.jvp(_validation.sum_all, (values,), (jnp.full((3, 4), 2.0),))
    assert float(tangent) == 24.0
