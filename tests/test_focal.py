"""Focal, asymmetric and Poly-1 losses: known answers, references, peers and edges."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from jax.test_util import check_grads

import bcejax
import mpmath_reference as reference

inf = float("inf")


def f32(values):
    return jnp.asarray(values, jnp.float32)


def value_and_grad(loss_fn, x, y, argnums=0, **kwargs):
    def total(*args):
        return jnp.sum(loss_fn(*args, **kwargs))

    return loss_fn(x, y, **kwargs), jax.grad(total, argnums=argnums)(x, y)


def assert_ulps(actual, expected, ulps=4):
    error = reference.ulp_error(np.asarray(actual, np.float64), expected)
    assert np.all(error <= ulps), f"actual {np.asarray(actual)}, expected {expected}, ulps {error}"


# ----------------------------------------------------------------------------------
# Known answers F01-F03.
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0], ids=["float", "int"])
def test_f01_focal_gamma_zero_equals_bce(gamma):
    x, y = f32([1000, -3, 0.5]), f32([1, 0, 1])
    loss, grad = value_and_grad(bcejax.sigmoid_focal_loss, x, y, gamma=gamma, reduction="none")
    bce, bce_grad = value_and_grad(bcejax.sigmoid_binary_cross_entropy, x, y, reduction="none")
    np.testing.assert_array_equal(loss, bce)
    np.testing.assert_array_equal(grad, bce_grad)
    assert_ulps(loss, [0, 0.0485873516, 0.474076984])
    _, mean_grad = value_and_grad(bcejax.sigmoid_focal_loss, x, y, gamma=gamma)
    assert_ulps(mean_grad, [0, 0.0158086244, -0.12584689])


@pytest.mark.parametrize("logit, expected_loss, expected_grad", [
    (1.0, 0.0226580575, -0.05258113),
    (-1.0, 0.701868303, -0.768234723),
])
def test_f02_focal_true_derivative(logit, expected_loss, expected_grad):
    loss, grad = value_and_grad(bcejax.sigmoid_focal_loss, f32([logit]), f32([1]), gamma=2)
    assert_ulps(loss, expected_loss)
    assert_ulps(grad, [expected_grad])


def test_f03_asymmetric_negative_term():
    x, y = f32([-4, 0, 3]), f32([0, 0, 0])
    loss, grad = value_and_grad(
        bcejax.asymmetric_loss, x, y, gamma_neg=4, clip=0.05, reduction="none")
    np.testing.assert_array_equal(loss[0], 0)
    np.testing.assert_array_equal(grad[0], 0)
    assert_ulps(loss[1:], [0.0245150535, 1.54539054])
    assert_ulps(grad[1:], [0.0731171012, 0.617137589])


# ----------------------------------------------------------------------------------
# References: mpmath, optax, the torchvision formula and the ASL reference formula.
# ----------------------------------------------------------------------------------


LOSSES = {
    "focal": (bcejax.sigmoid_focal_loss, reference.focal_loss,
              [dict(gamma=2.0), dict(gamma=0.5, alpha=0.25), dict(gamma=1.0, alpha=0.8)]),
    "asymmetric": (bcejax.asymmetric_loss, reference.asymmetric_loss,
                   [dict(), dict(gamma_pos=1.0, gamma_neg=2.0, clip=0.1),
                    dict(gamma_pos=0.5, gamma_neg=0.5, clip=0.0)]),
    "poly1": (bcejax.sigmoid_poly1_loss, reference.poly1_loss,
              [dict(epsilon=1.0), dict(epsilon=-0.5)]),
}


def condition_number(name, x, kwargs):
    """Return how much the loss amplifies a relative rounding error of sigmoid(x).

    Only the asymmetric loss is ill-conditioned: p_m = sigmoid(x) - clip cancels
    near the margin, and p_m^gamma_neg multiplies that relative error by
    gamma_neg * p / p_m.
    """
    if name != "asymmetric" or not kwargs.get("clip", 0.05):
        return np.ones_like(x, dtype=np.float64)
    p = 1 / (1 + np.exp(-x.astype(np.float64)))
    shifted = np.maximum(p - kwargs.get("clip", 0.05), 1e-30)
    return 1 + kwargs.get("gamma_neg", 4.0) * p / shifted


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("labels_kind", ["hard", "soft"])
def test_matches_mpmath_loss_and_gradient(name, labels_kind):
    loss_fn, exact_fn, settings = LOSSES[name]
    rng = np.random.default_rng(5)
    x = (rng.uniform(-25, 25, 60)).astype(np.float32)
    y = (rng.integers(0, 2, 60) if labels_kind == "hard" else rng.uniform(size=60)).astype(np.float32)
    for kwargs in settings:
        loss, grad = value_and_grad(loss_fn, f32(x), f32(y), reduction="none", **kwargs)
        # The reference receives the hyperparameters rounded to float32, as the loss does.
        exact_kwargs = {k: float(np.float32(v)) for k, v in kwargs.items()}
        exact_loss = reference.as_array(lambda a, b: exact_fn(a, b, **exact_kwargs), x, y)
        exact_grad = reference.as_array(
            lambda a, b: reference.derivative(exact_fn, a, b, **exact_kwargs), x, y)
        condition = condition_number(name, x, kwargs)
        # A power, a softplus and two sigmoids, each within about 1 ulp in float32:
        # 8 ulps bounds their composition, times the condition number of the loss,
        # with an absolute floor for results in the subnormal range.
        loss_error = np.abs(np.asarray(loss, np.float64) - exact_loss)
        assert np.all(loss_error <= 8 * 1.2e-7 * condition * np.abs(exact_loss) + 1e-37), kwargs
        # mpmath.diff is a high-order finite difference with a relative error near
        # 1e-10. With soft labels the gradient's O(1) terms cancel near its root, so
        # an absolute error of a few float32 epsilons is allowed there.
        floor = 4 * 1.2e-7 if labels_kind == "soft" else 1e-37
        grad_error = np.abs(np.asarray(grad, np.float64) - exact_grad)
        assert np.all(grad_error <= condition * (1e-5 * np.abs(exact_grad) + floor)), (
            kwargs, np.max(grad_error / (np.abs(exact_grad) + floor)))


@pytest.mark.parametrize("alpha", [None, 0.25])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("labels_kind", ["hard", "soft"])
def test_focal_optax_parity(alpha, gamma, labels_kind):
    rng = np.random.default_rng(6)
    x = f32(rng.uniform(-8, 8, (10, 7)))
    y = f32(rng.integers(0, 2, (10, 7)) if labels_kind == "hard" else rng.uniform(size=(10, 7)))
    ours, our_grad = value_and_grad(
        bcejax.sigmoid_focal_loss, x, y, alpha=alpha, gamma=gamma, reduction="none")

    def optax_loss(x, y):
        return optax.losses.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma)

    theirs, their_grad = value_and_grad(optax_loss, x, y)
    # Both float32; optax multiplies probabilities formed in linear space, so its
    # relative error grows for small losses: absolute floor at 1e-6.
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-4, atol=1e-6)


def torchvision_formula(x, y, alpha, gamma):
    """The formula of torchvision.ops.sigmoid_focal_loss 0.2x, written out in torch."""
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (-1, 1.5), (0.75, 3.0)])
def test_focal_torchvision_formula_parity_float64(alpha, gamma):
    rng = np.random.default_rng(7)
    x = rng.uniform(-10, 10, (8, 5))
    y = rng.uniform(size=(8, 5))
    x_torch = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    theirs = torchvision_formula(x_torch, torch.tensor(y, dtype=torch.float64), alpha, gamma)
    theirs.sum().backward()
    with jax.enable_x64(True):
        ours, our_grad = value_and_grad(
            bcejax.sigmoid_focal_loss, jnp.asarray(x), jnp.asarray(y),
            alpha=None if alpha < 0 else alpha, gamma=gamma, reduction="none")
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(our_grad, x_torch.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_focal_fractional_gamma_torch_nan_bcejax_finite():
    # torch's autograd of (1 - p_t) ** 0.5 gives inf * 0 once p_t rounds to 1.
    x = torch.tensor([40.0, -40.0], dtype=torch.float32, requires_grad=True)
    y = torch.tensor([1.0, 0.0])
    torchvision_formula(x, y, -1, 0.5).sum().backward()
    assert torch.isnan(x.grad).any()
    _, grad = value_and_grad(bcejax.sigmoid_focal_loss, f32([40.0, -40.0]), f32([1, 0]), gamma=0.5)
    assert np.all(np.isfinite(grad))


def asl_reference_numpy(x, y, gamma_pos, gamma_neg, clip, eps=1e-8):
    """The reference implementation's formula on probabilities, in float64 NumPy."""
    p = 1 / (1 + np.exp(-x))
    p_neg = np.minimum(1 - p + clip, 1) if clip > 0 else 1 - p
    loss_pos = y * np.log(np.maximum(p, eps))
    loss_neg = (1 - y) * np.log(np.maximum(p_neg, eps))
    p_t = p * y + p_neg * (1 - y)
    gamma = gamma_pos * y + gamma_neg * (1 - y)
    return -(loss_pos + loss_neg) * (1 - p_t) ** gamma


@pytest.mark.parametrize("gamma_pos, gamma_neg, clip", [(0, 4, 0.05), (1, 2, 0.1), (0.5, 3, 0.0)])
def test_asymmetric_reference_parity_float64(gamma_pos, gamma_neg, clip):
    rng = np.random.default_rng(8)
    # Logits where the reference's eps clamp does not bind.
    x = rng.uniform(-15, 15, (12, 6))
    y = rng.integers(0, 2, (12, 6)).astype(np.float64)
    with jax.enable_x64(True):
        ours = bcejax.asymmetric_loss(
            jnp.asarray(x), jnp.asarray(y), gamma_pos=gamma_pos, gamma_neg=gamma_neg,
            clip=clip, reduction="sum")
    np.testing.assert_allclose(ours, asl_reference_numpy(x, y, gamma_pos, gamma_neg, clip).sum(),
                               rtol=1e-10)


def test_asymmetric_constant_focusing_matches_detached_torch():
    x = np.array([-2.0, 0.5, 3.0, 1.0, -1.0])
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0])
    xt = torch.tensor(x, requires_grad=True)
    p = torch.sigmoid(xt)
    p_neg = torch.clamp(1 - p + 0.05, max=1)
    yt = torch.tensor(y)
    log_terms = yt * torch.log(p) + (1 - yt) * torch.log(p_neg)
    with torch.no_grad():
        p_t = p * yt + p_neg * (1 - yt)
        focusing = (1 - p_t) ** (1.0 * yt + 4.0 * (1 - yt))
    (-(log_terms * focusing)).sum().backward()
    with jax.enable_x64(True):
        _, grad = value_and_grad(
            bcejax.asymmetric_loss, jnp.asarray(x), jnp.asarray(y), gamma_pos=1.0,
            focusing_gradient=False, reduction="sum")
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-12)
    with jax.enable_x64(True):
        _, true_grad = value_and_grad(
            bcejax.asymmetric_loss, jnp.asarray(x), jnp.asarray(y), gamma_pos=1.0,
            reduction="sum")
    assert not np.allclose(true_grad, grad)


def test_poly1_epsilon_zero_equals_bce():
    x, y = f32([-3, 0, 2, 30]), f32([0.2, 1, 0, 1])
    loss, grad = value_and_grad(bcejax.sigmoid_poly1_loss, x, y, epsilon=0.0, reduction="none")
    bce, bce_grad = value_and_grad(bcejax.sigmoid_binary_cross_entropy, x, y, reduction="none")
    np.testing.assert_array_equal(loss, bce)
    np.testing.assert_array_equal(grad, bce_grad)


# ----------------------------------------------------------------------------------
# Edges, masks, dtypes, transformations and errors.
# ----------------------------------------------------------------------------------


EDGE_LOGITS = f32([-inf, -1e9, -50, 0, 50, 1e9, inf])


@pytest.mark.parametrize("name, kwargs", [
    ("focal", dict(gamma=0.5)), ("focal", dict(gamma=0.0)), ("focal", dict(gamma=2.0, alpha=0.25)),
    ("asymmetric", dict()), ("asymmetric", dict(gamma_pos=0.5, gamma_neg=0.5, clip=None)),
    ("poly1", dict(epsilon=1.0)),
])
@pytest.mark.parametrize("label", [0.0, 1.0, 0.3])
def test_gradients_finite_at_every_logit(name, kwargs, label):
    loss_fn = LOSSES[name][0]
    y = jnp.full(EDGE_LOGITS.shape, label, jnp.float32)
    loss, (d_logits, d_labels) = value_and_grad(
        loss_fn, EDGE_LOGITS, y, argnums=(0, 1), reduction="none", **kwargs)
    assert not np.any(np.isnan(loss))
    assert np.all(np.isfinite(d_logits))
    finite = np.isfinite(np.asarray(EDGE_LOGITS))
    assert np.all(np.isfinite(np.asarray(d_labels)[finite & (np.abs(np.asarray(EDGE_LOGITS)) < 1e3)]))
    assert not np.any(np.isnan(d_labels))


def test_focal_saturated_fractional_gamma_matches_limit():
    # d/dx [sigmoid(-x)^g softplus(-x)] = -sigmoid(-x)^g (g sigmoid(x) softplus(-x) + sigmoid(-x)).
    _, grad = value_and_grad(bcejax.sigmoid_focal_loss, f32([30.0]), f32([1]), gamma=0.5)
    exact = reference.as_array(
        lambda a: reference.derivative(reference.focal_loss, a, 1.0, gamma=0.5), [30.0])
    assert_ulps(grad, exact, ulps=8)


@pytest.mark.parametrize("name", list(LOSSES))
def test_masked_nan_contributes_nothing(name):
    loss_fn = LOSSES[name][0]
    x, y = f32([jnp.nan, inf, 0.5]), f32([jnp.nan, jnp.nan, 1.0])
    where = jnp.array([False, False, True])
    loss, (d_logits, d_labels) = value_and_grad(loss_fn, x, y, argnums=(0, 1), where=where)
    single, single_grad = value_and_grad(loss_fn, f32([0.5]), f32([1.0]))
    np.testing.assert_array_equal(loss, single)
    np.testing.assert_array_equal(d_logits, [0, 0, single_grad[0]])
    np.testing.assert_array_equal(d_labels[:2], [0, 0])


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_dtype_policy(name, dtype):
    loss_fn = LOSSES[name][0]
    x = jnp.asarray([-2.0, 0.5, 3.0], dtype)
    y = jnp.asarray([0.0, 1.0, 1.0], dtype)
    weight = jnp.ones(3, dtype)
    assert loss_fn(x, y, reduction="none").dtype == dtype
    assert loss_fn(x, y).dtype == jnp.float32
    grads = jax.grad(lambda x, y, w: loss_fn(x, y, weight=w), argnums=(0, 1, 2))(x, y, weight)
    assert [g.dtype for g in grads] == [dtype] * 3
    assert np.all(np.asarray(grads[0], np.float32) != 0)


@pytest.mark.parametrize("name", list(LOSSES))
def test_check_grads_both_modes(name):
    loss_fn, _, settings = LOSSES[name]
    rng = np.random.default_rng(9)
    with jax.enable_x64(True):
        x = rng.uniform(-4, 4, (3, 4))
        y = rng.uniform(0.05, 0.95, (3, 4))
        w = rng.uniform(0.5, 2, (4,))
        for kwargs in settings:
            def loss(x, y, w, kwargs=kwargs):
                return loss_fn(x, y, weight=w, **kwargs)

            check_grads(loss, (x, y, w), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", list(LOSSES))
def test_vmap_jit_and_hessian(name):
    loss_fn = LOSSES[name][0]
    rng = np.random.default_rng(10)
    x = f32(rng.uniform(-4, 4, (5, 3)))
    y = f32(rng.integers(0, 2, (5, 3)))
    batched = jax.vmap(loss_fn)(x, y)
    looped = jnp.stack([loss_fn(a, b) for a, b in zip(x, y)])
    np.testing.assert_allclose(batched, looped, rtol=1e-6)
    np.testing.assert_array_equal(jax.jit(loss_fn)(x, y), loss_fn(x, y))
    hessian = jax.hessian(lambda x: loss_fn(x, y[0]))(x[0])
    assert np.all(np.isfinite(hessian))
    np.testing.assert_allclose(jax.jacfwd(lambda x: loss_fn(x, y[0]))(x[0]),
                               jax.grad(lambda x: loss_fn(x, y[0]))(x[0]), rtol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda x, y: bcejax.sigmoid_focal_loss(x, y, alpha=1.5), r"`alpha` must be in \[0.0, 1.0\], got 1.5"),
    (lambda x, y: bcejax.sigmoid_focal_loss(x, y, gamma=-1), r"`gamma` must be >= 0.0, got -1.0"),
    (lambda x, y: bcejax.asymmetric_loss(x, y, clip=1.0), r"`clip` must be in \[0.0, 1.0\), got 1.0"),
    (lambda x, y: bcejax.asymmetric_loss(x, y, gamma_neg=-2), r"`gamma_neg` must be >= 0.0"),
    (lambda x, y: bcejax.sigmoid_poly1_loss(x, y, epsilon=-2), r"`epsilon` must be >= -1.0"),
    (lambda x, y: bcejax.sigmoid_focal_loss(x, y[0]), r"`labels` has shape \(3,\) but `logits` has shape \(2, 3\)"),
    (lambda x, y: bcejax.asymmetric_loss(x, y, reduction="avg"), r"invalid `reduction` 'avg'"),
    (lambda x, y: bcejax.sigmoid_poly1_loss(x, y, weight=jnp.ones(2)), r"`weight` has shape \(2,\)"),
])
def test_invalid_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call(jnp.zeros((2, 3)), jnp.zeros((2, 3)))
