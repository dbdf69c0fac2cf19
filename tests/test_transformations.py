"""The losses under jit, vmap, grad, higher-order and forward-mode differentiation."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src.ad_checkpoint import saved_residuals
from jax.test_util import check_grads

import bcejax
from bcejax import _binary_cross_entropy

RNG = np.random.default_rng(20261204)


def random_inputs(shape=(6, 5), dtype=np.float32):
    logits = RNG.normal(scale=3.0, size=shape).astype(dtype)
    labels = RNG.uniform(size=shape).astype(dtype)
    weight = RNG.uniform(0.5, 2.0, size=shape[-1:]).astype(dtype)
    pos_weight = RNG.uniform(0.5, 3.0, size=shape[-1:]).astype(dtype)
    where = RNG.uniform(size=shape) < 0.8
    return logits, labels, weight, pos_weight, where


def full_loss(logits, labels, weight, pos_weight, where, reduction="mean"):
    return bcejax.sigmoid_binary_cross_entropy(
        logits, labels, weight=weight, pos_weight=pos_weight, where=where, reduction=reduction
    )


def probability_loss(probs, labels, weight, where, reduction="mean"):
    return bcejax.binary_cross_entropy(
        probs, labels, weight=weight, where=where, reduction=reduction
    )


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_jit_matches_eager(reduction):
    args = random_inputs()
    eager = full_loss(*args, reduction=reduction)
    jitted = jax.jit(functools.partial(full_loss, reduction=reduction))(*args)
    np.testing.assert_array_equal(eager, jitted)


def test_jit_compiles_once_per_reduction():
    logits, labels, *_ = random_inputs((3, 7))
    loss = jax.jit(functools.partial(bcejax.sigmoid_binary_cross_entropy, reduction="sum"))
    loss(logits, labels)
    loss(logits + 1, labels)
    loss(logits, 1 - labels)
    assert loss._cache_size() == 1


def test_eager_calls_compile_once():
    logits, labels, *_ = random_inputs((3, 11))
    implementation = _binary_cross_entropy._sigmoid_bce
    before = implementation._cache_size()
    for shift in range(3):
        bcejax.sigmoid_binary_cross_entropy(logits + shift, labels, reduction="sum")
    assert implementation._cache_size() == before + 1
    for smoothing in (0.1, 0.2, 0.3):
        bcejax.sigmoid_binary_cross_entropy(logits, labels, label_smoothing=smoothing)
    # A new label_smoothing value is an argument, not a new compilation.
    assert implementation._cache_size() == before + 2


def test_vmap_over_every_argument():
    logits, labels, _, _, where = random_inputs((4, 6))
    weight = RNG.uniform(0.5, 2.0, size=(4, 6)).astype(np.float32)
    pos_weight = RNG.uniform(0.5, 3.0, size=(4, 6)).astype(np.float32)
    batched = jax.vmap(full_loss)(logits, labels, weight, pos_weight, where)
    looped = [full_loss(*args) for args in zip(logits, labels, weight, pos_weight, where)]
    np.testing.assert_allclose(batched, looped, rtol=1e-6)


def test_vmap_of_grad_over_weights():
    logits, labels, _, _, where = random_inputs((4, 6))
    weight = RNG.uniform(0.5, 2.0, size=(4, 6)).astype(np.float32)
    pos_weight = RNG.uniform(0.5, 3.0, size=(4, 6)).astype(np.float32)
    grad = jax.grad(full_loss, argnums=(0, 1, 2, 3))
    batched = jax.vmap(grad)(logits, labels, weight, pos_weight, where)
    for i, args in enumerate(zip(logits, labels, weight, pos_weight, where)):
        for batched_grad, looped_grad in zip(batched, grad(*args)):
            np.testing.assert_allclose(batched_grad[i], looped_grad, rtol=1e-6, atol=1e-7)


def test_second_derivative_matches_closed_form():
    with jax.enable_x64(True):
        logits = np.linspace(-30, 30, 61)
        labels = RNG.uniform(size=61)
        pos_weight = 2.5

        def loss(x, y):
            return bcejax.sigmoid_binary_cross_entropy(
                x, y, pos_weight=pos_weight, reduction="none")

        second = jax.vmap(jax.grad(jax.grad(loss)))(logits, labels)
        # d2/dx2 = sigmoid(x) * sigmoid(-x) * (p * y + 1 - y), with sigmoid(-x) taken
        # directly: 1 - sigmoid(x) would lose digits in the reference itself.
        sigmoid, sigmoid_neg = 1 / (1 + np.exp(-logits)), 1 / (1 + np.exp(logits))
        expected = sigmoid * sigmoid_neg * (pos_weight * labels + 1 - labels)
        np.testing.assert_allclose(second, expected, rtol=1e-12, atol=1e-300)


def test_forward_mode_matches_reverse_mode():
    args = random_inputs((3, 4))

    def loss(logits, labels, weight, pos_weight):
        return full_loss(logits, labels, weight, pos_weight, args[4])

    primals = args[:4]
    reverse = jax.grad(loss, argnums=(0, 1, 2, 3))(*primals)
    forward = jax.jacfwd(loss, argnums=(0, 1, 2, 3))(*primals)
    for reverse_grad, forward_grad in zip(reverse, forward):
        np.testing.assert_allclose(forward_grad, reverse_grad, rtol=1e-6, atol=1e-8)
    tangents = tuple(jnp.ones_like(a) for a in primals)
    _, jvp_out = jax.jvp(loss, primals, tangents)
    expected = sum(jnp.sum(g) for g in reverse)
    np.testing.assert_allclose(jvp_out, expected, rtol=1e-5)


def test_hessian_over_logits_is_diagonal():
    logits, labels, weight, pos_weight, where = random_inputs((2, 3))
    hessian = jax.hessian(lambda x: full_loss(x, labels, weight, pos_weight, where))(logits)
    chex.assert_shape(hessian, (2, 3, 2, 3))
    flat = np.asarray(hessian).reshape(6, 6)
    np.testing.assert_array_equal(flat - np.diag(np.diag(flat)), np.zeros((6, 6)))
    assert np.all(np.diag(flat) >= 0)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_check_grads_logits_loss_both_modes(reduction):
    with jax.enable_x64(True):
        logits, labels, weight, pos_weight, where = random_inputs((3, 4), np.float64)

        def loss(x, y, w, p):
            return full_loss(x, y, w, p, where, reduction=reduction)

        check_grads(loss, (logits, labels, weight, pos_weight), order=2, modes=("fwd", "rev"))


def test_check_grads_label_smoothing_both_modes():
    with jax.enable_x64(True):
        logits, labels, *_ = random_inputs((3, 4), np.float64)

        def loss(x, y, smoothing):
            return bcejax.sigmoid_binary_cross_entropy(x, y, label_smoothing=smoothing)

        check_grads(loss, (logits, labels, np.float64(0.2)), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_check_grads_probability_loss_both_modes(reduction):
    with jax.enable_x64(True):
        probs = RNG.uniform(0.2, 0.8, size=(3, 4))
        labels = RNG.uniform(size=(3, 4))
        weight = RNG.uniform(0.5, 2.0, size=(3, 1))
        where = RNG.uniform(size=(3, 4)) < 0.8

        def loss(q, y, w):
            return probability_loss(q, y, w, where, reduction=reduction)

        check_grads(loss, (probs, labels, weight), order=2, modes=("fwd", "rev"))


def test_shell_gradients_equal_custom_vjp_gradients():
    logits, labels, weight, pos_weight, where = random_inputs((5, 7))
    shell = _binary_cross_entropy._sigmoid_bce_elements
    vjp_only = _binary_cross_entropy._sigmoid_bce_elements_vjp

    def total(function):
        return lambda *args: jnp.sum(function(*args, where))

    argnums = (0, 1, 2, 3)
    from_shell = jax.jit(jax.grad(total(shell), argnums))(logits, labels, weight, pos_weight)
    from_vjp = jax.jit(jax.grad(total(vjp_only), argnums))(logits, labels, weight, pos_weight)
    for a, b in zip(from_shell, from_vjp):
        np.testing.assert_array_equal(a, b)


def test_custom_vjp_alone_rejects_forward_mode():
    vjp_only = _binary_cross_entropy._sigmoid_bce_elements_vjp
    x = jnp.ones(3)
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda x: vjp_only(x, x, None, None, None), (x,), (x,))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32])
def test_reverse_mode_saves_only_inputs(dtype):
    logits = jnp.ones((8, 5), dtype)
    labels = jnp.ones((8, 5), dtype)
    weight = jnp.ones(5, jnp.float32)
    residuals = saved_residuals(
        lambda x: bcejax.sigmoid_binary_cross_entropy(x, labels, weight=weight), logits
    )
    large = [aval for aval, _ in residuals if aval.shape == logits.shape]
    # The logits and the labels, both in the input dtype: no float32 copy, no
    # sigmoid or softplus array kept for the backward pass.
    assert len(large) == 2
    assert all(aval.dtype == dtype for aval in large)


def test_scan_over_batches_sums_to_total():
    logits, labels, *_ = random_inputs((4, 6, 3))

    def step(carry, batch):
        x, y = batch
        return carry + bcejax.sigmoid_binary_cross_entropy(x, y, reduction="sum"), None

    def scanned(x):
        total, _ = jax.lax.scan(step, jnp.float32(0), (x, labels))
        return total

    def direct(x):
        return bcejax.sigmoid_binary_cross_entropy(x, labels, reduction="sum")

    np.testing.assert_allclose(scanned(logits), direct(logits), rtol=1e-6)
    np.testing.assert_allclose(jax.grad(scanned)(logits), jax.grad(direct)(logits), rtol=1e-6)


def test_checkpoint_keeps_gradient():
    logits, labels, weight, pos_weight, where = random_inputs()

    def loss(x):
        return full_loss(jnp.tanh(x) * 5, labels, weight, pos_weight, where)

    np.testing.assert_allclose(
        jax.grad(jax.checkpoint(loss))(logits), jax.grad(loss)(logits), rtol=1e-6
    )


def test_grad_through_label_smoothing_to_eps():
    logits, labels, *_ = random_inputs((2, 3))

    def loss(smoothing):
        return bcejax.sigmoid_binary_cross_entropy(logits, labels, label_smoothing=smoothing)

    # d/d(eps) of y * (1 - eps) + eps / 2 is 1/2 - y, times d loss / d y.
    d_labels = jax.grad(lambda y: bcejax.sigmoid_binary_cross_entropy(
        logits, y, label_smoothing=0.3))(labels)
    grad_eps = jax.grad(loss)(jnp.float32(0.3))
    expected = jnp.sum(d_labels / 0.7 * (0.5 - labels))
    np.testing.assert_allclose(grad_eps, expected, rtol=1e-5)
