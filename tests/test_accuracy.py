"""Accuracy against mpmath over the whole float range, edge points, and exact properties."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bcejax
import mpmath_reference as reference

# Subnormal intermediates such as exp(-90) are flushed to zero on XLA's CPU and GPU
# backends, so exact values below 16 times the smallest normal float32 (pos_weight
# can scale a flushed value up to that size) are compared in absolute terms.
TINY = 16 * float(np.finfo(np.float32).tiny)
EPS32 = float(np.finfo(np.float32).eps)


def log_uniform_logits(rng, size, low=-8, high=4):
    magnitude = 10 ** rng.uniform(low, high, size)
    return (magnitude * rng.choice([-1, 1], size)).astype(np.float32)


def loss_and_grads(x, y, pos_weight=None, dtype=jnp.float32):
    def total(x, y):
        return bcejax.sigmoid_binary_cross_entropy(
            x, y, pos_weight=pos_weight, reduction="sum")

    x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
    losses = bcejax.sigmoid_binary_cross_entropy(x, y, pos_weight=pos_weight, reduction="none")
    d_logits, d_labels = jax.grad(total, argnums=(0, 1))(x, y)
    return np.asarray(losses, np.float64), np.asarray(d_logits, np.float64), np.asarray(
        d_labels, np.float64)


def assert_within_ulps(actual, exact, ulps):
    error = reference.ulp_error(actual, exact)
    accurate = (error <= ulps) | (np.abs(np.asarray(actual) - exact) <= TINY)
    worst = np.argmax(np.where(accurate, 0, error))
    assert np.all(accurate), (
        f"{np.sum(~accurate)} values off by more than {ulps} ulps; worst {error[worst]:.1f} "
        f"ulps: {actual[worst]!r} against {exact[worst]!r} at index {worst}")


@pytest.mark.parametrize("use_pos_weight", [False, True], ids=["plain", "pos_weight"])
def test_hard_labels_float32_within_ulp_bounds(use_pos_weight):
    rng = np.random.default_rng(7)
    x = log_uniform_logits(rng, 3000)
    y = rng.integers(0, 2, 3000).astype(np.float32)
    p = rng.uniform(0.1, 10, 3000).astype(np.float32) if use_pos_weight else None
    losses, d_logits, d_labels = loss_and_grads(x, y, p)
    p_exact = np.ones(3000) if p is None else p
    # benchmarks/accuracy.py measures at most 1.9 ulps (loss) and 1.6 (gradient) on
    # 50000 points, and 2.4 with a pos_weight, which adds one rounded product.
    ulps = 2 if p is None else 2.5
    assert_within_ulps(losses, reference.as_array(reference.logits_loss, x, y, 1.0, p_exact), ulps)
    assert_within_ulps(d_logits, reference.as_array(reference.logits_gradient, x, y, 1.0, p_exact), ulps)
    exact_d_labels = reference.as_array(reference.labels_gradient, x, 1.0, p_exact)
    assert_within_ulps(d_labels, exact_d_labels, 4 if p is None else 128)


def test_soft_labels_float32_backward_stable():
    rng = np.random.default_rng(8)
    x = log_uniform_logits(rng, 2000)
    y = rng.uniform(size=2000).astype(np.float32)
    p = rng.uniform(0.1, 10, 2000).astype(np.float32)
    losses, d_logits, _ = loss_and_grads(x, y, p)
    assert_within_ulps(losses, reference.as_array(reference.logits_loss, x, y, 1.0, p), 4)
    # Near a root of (1 - y) * sigmoid(x) - p * y * sigmoid(-x) the two terms cancel,
    # so the bound is relative to their magnitudes: the error of a backward-stable sum.
    exact = reference.as_array(reference.logits_gradient, x, y, 1.0, p)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        scale = (1 - y) / (1 + np.exp(-x64)) + p * y / (1 + np.exp(x64))
    assert np.all(np.abs(d_logits - exact) <= 4 * EPS32 * scale + TINY)


def test_float64_hard_labels_within_four_ulps():
    rng = np.random.default_rng(9)
    x = (10 ** rng.uniform(-8, 4, 1000) * rng.choice([-1, 1], 1000))
    y = rng.integers(0, 2, 1000).astype(np.float64)
    with jax.enable_x64(True):
        losses, d_logits, _ = loss_and_grads(x, y, dtype=jnp.float64)
    for actual, function in [(losses, reference.logits_loss), (d_logits, reference.logits_gradient)]:
        exact = reference.as_array(function, x, y)
        error = reference.ulp_error(actual, exact, np.float64)
        assert np.all((error <= 4) | (np.abs(actual - exact) <= 1e-300)), error.max()


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_within_one_ulp(dtype):
    rng = np.random.default_rng(10)
    x = np.asarray(jnp.asarray(rng.uniform(-12, 12, 500), dtype), np.float64)
    y = rng.integers(0, 2, 500).astype(np.float64)
    losses, d_logits, _ = loss_and_grads(x, y, dtype=dtype)
    for actual, function in [(losses, reference.logits_loss), (d_logits, reference.logits_gradient)]:
        exact = reference.as_array(function, x, y)
        error = reference.ulp_error(actual, exact, dtype)
        # Computed in float32 and rounded once: at most half an ulp plus float32 noise.
        assert np.all(error <= 1), error.max()
        assert np.all((actual != 0) | (exact == 0) | (np.abs(exact) < 1e-7))


EDGE_LOGITS = {
    "zero": 0.0,
    "plus_1e9": 1e9,
    "minus_1e9": -1e9,
    "plus_inf": np.inf,
    "minus_inf": -np.inf,
}


@pytest.mark.parametrize("label", [0.0, 1.0])
@pytest.mark.parametrize("name", list(EDGE_LOGITS))
def test_edge_point_matches_limit(name, label):
    x = EDGE_LOGITS[name]
    losses, d_logits, d_labels = loss_and_grads([x], [label])
    # Each limit is exact after one rounding to float32.
    for actual, function, args in [
        (losses, reference.logits_loss, ([x], [label])),
        (d_logits, reference.logits_gradient, ([x], [label])),
        (d_labels, reference.labels_gradient, ([x],)),
    ]:
        exact = reference.as_array(function, *args, dtype=np.float32)
        np.testing.assert_array_equal(actual, exact.astype(np.float64))


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_edge_point_nan_propagates(label):
    losses, d_logits, d_labels = loss_and_grads([np.nan], [label])
    assert np.isnan(losses[0])
    assert np.isnan(d_logits[0])
    assert np.isnan(d_labels[0])


def test_edge_point_all_masked_every_reduction():
    x = jnp.array([np.nan, np.inf, -np.inf], jnp.float32)
    y = jnp.array([np.nan, 0.0, 1.0], jnp.float32)
    where = jnp.zeros(3, bool)
    for reduction in ("sum", "mean"):
        value, grad = jax.value_and_grad(lambda x: bcejax.sigmoid_binary_cross_entropy(
            x, y, where=where, reduction=reduction))(x)
        assert value == 0
        np.testing.assert_array_equal(grad, np.zeros(3))
    np.testing.assert_array_equal(
        bcejax.sigmoid_binary_cross_entropy(x, y, where=where, reduction="none"), np.zeros(3))


def test_probability_loss_accuracy():
    rng = np.random.default_rng(11)
    # Probabilities close to 0 and to 1 (both ends carry the log's sensitivity).
    tiny = 10 ** rng.uniform(-30, 0, 1000)
    probs = np.concatenate([tiny, 1 - tiny / 2]).astype(np.float32).astype(np.float64)
    probs = probs[(probs > 0) & (probs < 1)]
    labels = rng.integers(0, 2, probs.size).astype(np.float64)
    values = bcejax.binary_cross_entropy(
        jnp.asarray(probs, jnp.float32), jnp.asarray(labels, jnp.float32), reduction="none")
    grads = jax.grad(lambda q: bcejax.binary_cross_entropy(
        q, jnp.asarray(labels, jnp.float32), reduction="sum"))(jnp.asarray(probs, jnp.float32))
    import mpmath

    def exact_loss(q, y):
        q = mpmath.mpf(q)
        return -(y * max(mpmath.log(q), -100) + (1 - y) * max(mpmath.log(1 - q), -100))

    def exact_grad(q, y):
        q = mpmath.mpf(q)
        return (1 - y) / (1 - q) - y / q

    assert_within_ulps(np.asarray(values, np.float64), reference.as_array(exact_loss, probs, labels), 4)
    assert_within_ulps(np.asarray(grads, np.float64), reference.as_array(exact_grad, probs, labels), 4)


def test_probability_loss_endpoints_finite():
    probs = jnp.array([0.0, 1.0, 0.0, 1.0], jnp.float32)
    labels = jnp.array([1.0, 0.0, 0.0, 1.0], jnp.float32)
    values = bcejax.binary_cross_entropy(probs, labels, reduction="none")
    np.testing.assert_array_equal(values, [100, 100, 0, 0])
    grads = jax.grad(lambda q: bcejax.binary_cross_entropy(q, labels, reduction="sum"))(probs)
    # At p = 0 with y = 1 the floor is active, so the derivative of the forward is 0.
    np.testing.assert_array_equal(grads, [0, 0, 1, -1])


finite_floats = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite_floats | st.sampled_from([np.inf, -np.inf]), min_size=1, max_size=12))
def test_property_label_symmetry_exact(logits):
    x = jnp.asarray(logits, jnp.float32)
    ones, zeros = jnp.ones_like(x), jnp.zeros_like(x)
    positive = bcejax.sigmoid_binary_cross_entropy(x, ones, reduction="none")
    negative = bcejax.sigmoid_binary_cross_entropy(-x, zeros, reduction="none")
    np.testing.assert_array_equal(positive, negative)
    grad_positive = jax.grad(lambda x: bcejax.sigmoid_binary_cross_entropy(x, ones, reduction="sum"))(x)
    grad_negative = jax.grad(lambda x: bcejax.sigmoid_binary_cross_entropy(-x, zeros, reduction="sum"))(x)
    np.testing.assert_array_equal(grad_positive, grad_negative)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite_floats, st.floats(0, 1, width=32)), min_size=1, max_size=12))
def test_property_unit_weight_equals_no_weight(pairs):
    x = jnp.asarray([p[0] for p in pairs], jnp.float32)
    y = jnp.asarray([p[1] for p in pairs], jnp.float32)
    elements = bcejax.sigmoid_binary_cross_entropy(x, y, reduction="none")
    weighted_elements = bcejax.sigmoid_binary_cross_entropy(
        x, y, weight=jnp.ones_like(x), pos_weight=jnp.float32(1), reduction="none")
    np.testing.assert_array_equal(elements, weighted_elements)
    # The two programs may add the same elements in another order, so their sums may
    # differ by one rounding, which the division by the count can round up to 2 ulps.
    mean = bcejax.sigmoid_binary_cross_entropy(x, y)
    weighted_mean = bcejax.sigmoid_binary_cross_entropy(
        x, y, weight=jnp.ones_like(x), pos_weight=jnp.float32(1))
    np.testing.assert_allclose(weighted_mean, mean, rtol=2 * np.finfo(np.float32).eps, atol=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite_floats, st.floats(0, 1, width=32), st.booleans()),
                min_size=1, max_size=40))
def test_property_sum_of_none_equals_sum(rows):
    x = jnp.asarray([r[0] for r in rows], jnp.float32)
    y = jnp.asarray([r[1] for r in rows], jnp.float32)
    where = jnp.asarray([r[2] for r in rows])
    elements = bcejax.sigmoid_binary_cross_entropy(x, y, where=where, reduction="none")
    total = bcejax.sigmoid_binary_cross_entropy(x, y, where=where, reduction="sum")
    # Both sum the same float32 values, possibly in another order inside XLA.
    np.testing.assert_allclose(jnp.sum(elements), total, rtol=1e-6)
    count = max(int(jnp.sum(where)), 1)
    mean = bcejax.sigmoid_binary_cross_entropy(x, y, where=where)
    np.testing.assert_allclose(mean, total / count, rtol=1e-6)
