"""Parity with optax and PyTorch where their numerics are sound, and the known differences."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import bcejax

torch.set_default_dtype(torch.float64)
REDUCTIONS = ["none", "sum", "mean"]


def random_case(shape=(16, 10), scale=4.0, seed=42):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=scale, size=shape)
    hard = rng.integers(0, 2, size=shape).astype(np.float64)
    soft = rng.uniform(size=shape)
    weight = rng.uniform(0.2, 3.0, size=shape[-1:])
    pos_weight = rng.uniform(0.2, 5.0, size=shape[-1:])
    return logits, hard, soft, weight, pos_weight


def bcejax_value_and_grad(x, y, reduction, **kwargs):
    def total(x):
        return jnp.sum(bcejax.sigmoid_binary_cross_entropy(x, y, reduction=reduction, **kwargs))

    value = bcejax.sigmoid_binary_cross_entropy(x, y, reduction=reduction, **kwargs)
    return np.asarray(value, np.float64), np.asarray(jax.grad(total)(x), np.float64)


def torch_value_and_grad(x, y, reduction, weight=None, pos_weight=None):
    x = torch.tensor(np.asarray(x, np.float64), requires_grad=True)
    kwargs = {}
    if weight is not None:
        kwargs["weight"] = torch.tensor(np.asarray(weight, np.float64))
    if pos_weight is not None:
        kwargs["pos_weight"] = torch.tensor(np.asarray(pos_weight, np.float64))
    value = torch.nn.functional.binary_cross_entropy_with_logits(
        x, torch.tensor(np.asarray(y, np.float64)), reduction=reduction, **kwargs)
    value.sum().backward()
    return value.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("labels_kind", ["hard", "soft"])
def test_optax_parity_random(labels_kind):
    logits, hard, soft, _, _ = random_case()
    labels = hard if labels_kind == "hard" else soft
    x, y = jnp.asarray(logits, jnp.float32), jnp.asarray(labels, jnp.float32)
    ours, our_grad = bcejax_value_and_grad(x, y, "none")
    theirs = optax.losses.sigmoid_binary_cross_entropy(x, y)
    their_grad = jax.grad(lambda x: jnp.sum(optax.losses.sigmoid_binary_cross_entropy(x, y)))(x)
    # Both are float32; optax loses relative precision for small losses, so the
    # comparison is absolute at the float32 epsilon scale of an O(1) loss.
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-5, atol=1e-6)


def test_optax_parity_edges_and_known_nan():
    x = jnp.asarray([0.0, 1e-8, -30.0, 30.0, 1e9, -1e9, np.inf, -np.inf], jnp.float32)
    y = jnp.asarray([0, 1, 0, 1, 0, 1, 0, 1], jnp.float32)
    ours = bcejax.sigmoid_binary_cross_entropy(x, y, reduction="none")
    theirs = optax.losses.sigmoid_binary_cross_entropy(x, y)
    np.testing.assert_allclose(ours[:6], theirs[:6], rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(ours[6:], [np.inf, np.inf])
    # optax 0.2.x at the matching infinities, label 0 at -inf and label 1 at +inf:
    # bcejax gives the limit 0 where optax gives NaN.
    matching = bcejax.sigmoid_binary_cross_entropy(x[6:], 1 - y[6:], reduction="none")
    np.testing.assert_array_equal(matching, [0, 0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("labels_kind", ["hard", "soft"])
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_torch_parity_random(reduction, labels_kind, weights):
    logits, hard, soft, weight, pos_weight = random_case()
    labels = hard if labels_kind == "hard" else soft
    kwargs = {}
    if weights in ("weight", "both"):
        kwargs["weight"] = weight
    if weights in ("pos_weight", "both"):
        kwargs["pos_weight"] = pos_weight
    with jax.enable_x64(True):
        ours, our_grad = bcejax_value_and_grad(
            jnp.asarray(logits), jnp.asarray(labels), reduction,
            **{k: jnp.asarray(v) for k, v in kwargs.items()})
    theirs, their_grad = torch_value_and_grad(logits, labels, reduction, **kwargs)
    # Both in float64. PyTorch forms the loss from terms of size |x|, so its absolute
    # error is about eps * |x|, around 1e-14 here: hence the absolute tolerance.
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_torch_parity_per_example_weight_float32(reduction):
    logits, hard, _, _, _ = random_case((8, 5))
    weight = np.random.default_rng(43).uniform(0.5, 2.0, size=(8, 1))
    x, y = jnp.asarray(logits, jnp.float32), jnp.asarray(hard, jnp.float32)
    ours, our_grad = bcejax_value_and_grad(x, y, reduction, weight=jnp.asarray(weight, jnp.float32))
    theirs, their_grad = torch_value_and_grad(
        np.float32(logits), np.float32(hard), reduction, weight=np.float32(weight))
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(our_grad, their_grad, rtol=2e-6, atol=1e-8)


def test_torch_parity_edges_float32():
    x = np.asarray([0.0, -1e9, 8e7, 15.0, 1e-8], np.float32)
    y = np.asarray([1, 1, 0, 1, 0], np.float32)
    ours, our_grad = bcejax_value_and_grad(jnp.asarray(x), jnp.asarray(y), "none")
    x32 = torch.tensor(x, requires_grad=True)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        x32, torch.tensor(y), reduction="none")
    theirs.sum().backward()
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(our_grad, x32.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_torch_float32_known_zero_where_bcejax_exact():
    # PyTorch 2.13 in float32 returns a loss of exactly 0 for label 0 at x = -16.64,
    # and a gradient of exactly 0 for label 1 at x = 20; bcejax keeps both.
    x = torch.tensor([-16.636852, 20.0], dtype=torch.float32, requires_grad=True)
    y = torch.tensor([0.0, 1.0], dtype=torch.float32)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    theirs.sum().backward()
    ours, our_grad = bcejax_value_and_grad(
        jnp.asarray([-16.636852, 20.0], jnp.float32), jnp.asarray([0.0, 1.0], jnp.float32), "none")
    assert theirs[0].item() == 0
    assert x.grad[1].item() == 0
    np.testing.assert_allclose(ours[0], 5.95260366e-08, rtol=1e-6)
    np.testing.assert_allclose(our_grad[1], -2.06115362e-09, rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True])
def test_torch_probability_parity(reduction, use_weight):
    rng = np.random.default_rng(44)
    probs = rng.uniform(0.01, 0.99, size=(12, 6))
    probs[0, :3] = [0.0, 1.0, 1e-50]
    labels = rng.uniform(size=(12, 6))
    weight = rng.uniform(0.5, 2.0, size=(6,)) if use_weight else None
    with jax.enable_x64(True):
        ours = bcejax.binary_cross_entropy(
            jnp.asarray(probs), jnp.asarray(labels),
            weight=None if weight is None else jnp.asarray(weight), reduction=reduction)
        our_grad = jax.grad(lambda q: jnp.sum(bcejax.binary_cross_entropy(
            q, jnp.asarray(labels), weight=None if weight is None else jnp.asarray(weight),
            reduction=reduction)))(jnp.asarray(probs))
    q = torch.tensor(probs, requires_grad=True)
    theirs = torch.nn.functional.binary_cross_entropy(
        q, torch.tensor(labels), weight=None if weight is None else torch.tensor(weight),
        reduction=reduction)
    theirs.sum().backward()
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12)
    # Gradients agree away from the floor; at p = 0 and p = 1 PyTorch's backward is
    # (p - y) / max(p * (1 - p), 1e-12), not the derivative of its floored forward.
    interior = np.ones_like(probs, dtype=bool)
    interior[0, :3] = False
    np.testing.assert_allclose(np.asarray(our_grad)[interior], q.grad.numpy()[interior], rtol=1e-10)
    assert np.all(np.isfinite(np.asarray(our_grad)))
