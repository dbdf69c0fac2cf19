"""Known-answer cases, parity, errors and transformations of the soft-margin and ZLPR losses.

The expected values in the tables were computed with `zlpr_reference` and
`soft_margin_reference` below (mpmath at 60 digits) and rounded to 10 significant
digits. Inputs are float32 values, so the references see exactly what the losses see.

Most known-answer, edge and property tests go through `rows_value_and_grad`, which
pads every batch to one shape: XLA compiles the losses slowly on CPU, and one
compiled program per loss keeps this file fast.
"""

import functools

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from jax._src.ad_checkpoint import saved_residuals
from jax.test_util import check_grads

import bcejax
import mpmath_reference

mpmath.mp.dps = 60
nan, inf = float("nan"), float("inf")
LOSSES = {
    "soft_margin": bcejax.multilabel_soft_margin_loss,
    "zlpr": bcejax.zlpr_loss,
}
REDUCTIONS = ["none", "sum", "mean"]


def zlpr_reference(logits, labels, weight=None, mask=None):
    """Return the ZLPR loss of one example and its gradients for logits and labels.

    The loss is log(1 + sum_i m w (1 - y) e^s) + log(1 + sum_i m w y e^-s).
    `zlpr_weight_gradient` returns its gradient for the weights.
    """
    count = len(logits)
    weight = [1.0] * count if weight is None else weight
    mask = [1.0] * count if mask is None else mask
    s = [mpmath.mpf(float(v)) for v in logits]
    y = [mpmath.mpf(float(v)) for v in labels]
    c = [mpmath.mpf(float(m)) * mpmath.mpf(float(w)) for m, w in zip(mask, weight)]
    negative = 1 + sum(c[i] * (1 - y[i]) * mpmath.exp(s[i]) for i in range(count))
    positive = 1 + sum(c[i] * y[i] * mpmath.exp(-s[i]) for i in range(count))
    loss = mpmath.log(negative) + mpmath.log(positive)
    d_logits = [c[i] * ((1 - y[i]) * mpmath.exp(s[i]) / negative
                        - y[i] * mpmath.exp(-s[i]) / positive) for i in range(count)]
    d_labels = [c[i] * (mpmath.exp(-s[i]) / positive - mpmath.exp(s[i]) / negative)
                for i in range(count)]
    return loss, d_logits, d_labels


def zlpr_weight_gradient(logits, labels, weight, mask):
    """Return d loss / d w_i = m ((1 - y) e^s / N + y e^-s / P) for one example."""
    s = [mpmath.mpf(float(v)) for v in logits]
    y = [mpmath.mpf(float(v)) for v in labels]
    c = [mpmath.mpf(float(m)) * mpmath.mpf(float(w)) for m, w in zip(mask, weight)]
    negative = 1 + sum(ci * (1 - yi) * mpmath.exp(si) for ci, yi, si in zip(c, y, s))
    positive = 1 + sum(ci * yi * mpmath.exp(-si) for ci, yi, si in zip(c, y, s))
    return [float(m) * ((1 - yi) * mpmath.exp(si) / negative + yi * mpmath.exp(-si) / positive)
            for m, yi, si in zip(mask, y, s)]


def su_reference(logits, labels):
    """Return Su's hard-label formula log(1 + sum_neg e^s) + log(1 + sum_pos e^-s)."""
    s = [mpmath.mpf(float(v)) for v in logits]
    negative = sum(mpmath.exp(v) for v, label in zip(s, labels) if label == 0)
    positive = sum(mpmath.exp(-v) for v, label in zip(s, labels) if label == 1)
    return mpmath.log(1 + negative) + mpmath.log(1 + positive)


def soft_margin_reference(logits, labels, weight=None, pos_weight=None, mask=None):
    """Return the mean over unmasked labels of the element BCE, and its logit gradient."""
    count = len(logits)
    weight = [1.0] * count if weight is None else weight
    pos_weight = [1.0] * count if pos_weight is None else pos_weight
    mask = [1.0] * count if mask is None else mask
    known = max(sum(mask), 1)
    columns = list(zip(logits, labels, weight, pos_weight, mask))
    losses = [m * mpmath_reference.logits_loss(x, y, w, p) for x, y, w, p, m in columns]
    grads = [m * mpmath_reference.logits_gradient(x, y, w, p) / known
             for x, y, w, p, m in columns]
    return sum(losses) / known, grads


def f32(values):
    return jnp.asarray(values, dtype=jnp.float32)


def assert_ulps(actual, expected, ulps=4, dtype=np.float32):
    error = mpmath_reference.ulp_error(np.asarray(actual, np.float64), expected, dtype)
    assert np.all(error <= ulps), f"actual {np.asarray(actual)}, expected {expected}, ulps {error}"


def value_and_grad(loss_fn, x, y, argnums=0, **kwargs):
    """Return the loss and the gradient of its sum (the reduced loss when not "none")."""

    def reduced(*args):
        loss = loss_fn(*args, **kwargs)
        return jnp.sum(loss), loss

    (_, loss), grad = jax.value_and_grad(reduced, argnums=argnums, has_aux=True)(x, y)
    return loss, grad


ROWS, COLUMNS = 8, 3


@functools.partial(jax.jit, static_argnames=("name",))
def _padded_value_and_grad(name, logits, labels, weight, pos_weight, where):
    kwargs = {"pos_weight": pos_weight} if name == "soft_margin" else {}

    def total(x, y):
        losses = LOSSES[name](x, y, weight=weight, where=where, reduction="none", **kwargs)
        return jnp.sum(losses), losses

    (_, losses), grads = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(logits, labels)
    return losses, grads


def rows_value_and_grad(name, logits, labels, weight=None, pos_weight=None, where=None):
    """Return per-example losses and the logit and label gradients of their sum.

    The batch (at most 8 examples of at most 3 labels) is padded to that shape with
    masked-out entries, and absent arguments become neutral full-shape ones: weights
    of 1 and a mask of True.
    """
    logits = np.asarray(logits, np.float32)
    rows, columns = logits.shape

    def pad(value, fill, dtype):
        full = np.full((ROWS, COLUMNS), fill, dtype)
        full[:rows, :columns] = np.broadcast_to(np.asarray(value, dtype), (rows, columns))
        return full

    losses, (d_logits, d_labels) = _padded_value_and_grad(
        name, pad(logits, 0, np.float32), pad(labels, 0, np.float32),
        pad(1.0 if weight is None else weight, 1, np.float32),
        pad(1.0 if pos_weight is None else pos_weight, 1, np.float32),
        pad(True if where is None else where, False, bool))
    return losses[:rows], d_logits[:rows, :columns], d_labels[:rows, :columns]


def random_inputs(shape=(4, 3), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=shape).astype(dtype)
    labels = rng.uniform(size=shape).astype(dtype)
    weight = rng.uniform(0.5, 2.0, size=shape[-1:]).astype(dtype)
    where = rng.uniform(size=shape) < 0.8
    return logits, labels, weight, where


# ----------------------------------------------------------------------------------
# Multi-label soft-margin loss: known-answer cases and PyTorch parity.
# ----------------------------------------------------------------------------------

SOFT_MARGIN_CASES = {
    # name: (logits, labels, keyword arguments, per-example loss, logit gradient)
    "plain": ([2, -1, 0], [1, 0, 1], {}, 0.3777789597,
              [-0.03973430734, 0.08964714046, -0.1666666667]),
    "weight": ([2, -1, 0], [1, 0, 1], {"weight": [0.5, 2, 3]}, 0.9231429741,
               [-0.01986715367, 0.1792942809, -0.5]),
    "pos_weight": ([2, -1, 0], [1, 0, 1], {"pos_weight": [4, 1, 0.5]}, 0.3891824407,
                   [-0.1589372294, 0.08964714046, -0.08333333333]),
    "where": ([2, -1, 0], [1, 0, 1], {"where": [True, True, False]}, 0.2200948493,
              [-0.05960146101, 0.1344707107, 0]),
    "huge_logits": ([-1e9, 8e7, 3], [1, 0, 1], {}, 360000000.0,
                    [-0.3333333333, 0.3333333333, -0.01580862439]),
}


@pytest.mark.parametrize("case", list(SOFT_MARGIN_CASES))
def test_soft_margin_known_answers(case):
    logits, labels, kwargs, expected_loss, expected_grad = SOFT_MARGIN_CASES[case]
    loss, grad, _ = rows_value_and_grad("soft_margin", [logits], [labels], **kwargs)
    assert_ulps(loss, [expected_loss])
    assert_ulps(grad, [expected_grad])


def test_soft_margin_label_smoothing_answer():
    loss, grad = value_and_grad(bcejax.multilabel_soft_margin_loss, f32([[2, -1, 0]]),
                                f32([[1, 0, 1]]), label_smoothing=0.2, reduction="none")
    # Smoothing 0.2 maps the labels to 0.9, 0.1, 0.9, rounded in float32 arithmetic.
    assert_ulps(loss, [0.4777789364])
    assert_ulps(grad, [[-0.006400985928, 0.05631380663, -0.1333333453]])
    eps = np.float32(0.2)
    labels = np.float32([1, 0, 1]) * (1 - eps) + eps / 2
    exact_loss, exact_grad = soft_margin_reference([2, -1, 0], labels)
    np.testing.assert_allclose(float(exact_loss), 0.4777789364, rtol=1e-9)
    np.testing.assert_allclose([float(g) for g in exact_grad],
                               [-0.006400985928, 0.05631380663, -0.1333333453], rtol=1e-9)


def test_soft_margin_table_matches_reference():
    for logits, labels, kwargs, expected_loss, expected_grad in SOFT_MARGIN_CASES.values():
        mask = kwargs.get("where")
        loss, grad = soft_margin_reference(
            np.float32(logits), labels, kwargs.get("weight"), kwargs.get("pos_weight"),
            None if mask is None else [float(m) for m in mask])
        np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-9)
        np.testing.assert_allclose([float(g) for g in grad], expected_grad, rtol=1e-9)


def test_soft_margin_infinite_logits_give_limits():
    loss, grad, _ = rows_value_and_grad(
        "soft_margin", [[-inf, inf, 0], [inf, 0, -inf]], [[0, 1, 1], [0, 1, 0]])
    assert_ulps(loss[0], 0.2310490602)  # softplus(0) / 3: the infinite logits add 0.
    assert loss[1] == inf
    np.testing.assert_array_equal(grad[0, :2], [0, 0])
    np.testing.assert_array_equal(grad[1], np.float32([1 / 3, -0.5 / 3, 0]))


def test_soft_margin_mean_skips_empty_examples():
    logits, labels = f32([[2, -1, 0], [5, 5, 5], [0.5, 3, -2]]), f32([[1, 0, 1], [1, 1, 1],
                                                                      [0, 1, 0]])
    where = jnp.array([[True, True, False], [False, False, False], [True, True, True]])
    per_example, grad = value_and_grad(
        bcejax.multilabel_soft_margin_loss, logits, labels, where=where, reduction="none")
    assert_ulps(per_example, [0.2200948493, 0, 0.3831974489])
    np.testing.assert_array_equal(grad[1], [0, 0, 0])
    mean, mean_grad = value_and_grad(
        bcejax.multilabel_soft_margin_loss, logits, labels, where=where)
    # Two examples keep a label; the one without any does not count.
    assert_ulps(mean, (0.2200948493 + 0.3831974489) / 2)
    np.testing.assert_allclose(mean_grad, grad / 2, rtol=1e-6)
    total = bcejax.multilabel_soft_margin_loss(logits, labels, where=where, reduction="sum")
    assert_ulps(total, 0.2200948493 + 0.3831974489)


def test_soft_margin_equals_bce_mean_without_mask():
    logits, labels, weight, _ = random_inputs((6, 5))
    ours = bcejax.multilabel_soft_margin_loss(logits, labels, weight=weight, pos_weight=2.0)
    core = bcejax.sigmoid_binary_cross_entropy(logits, labels, weight=weight, pos_weight=2.0)
    # The same float32 element losses, summed in another order.
    np.testing.assert_allclose(ours, core, rtol=1e-6)
    rows = bcejax.multilabel_soft_margin_loss(logits, labels, reduction="none")
    core_rows = bcejax.sigmoid_binary_cross_entropy(logits, labels, reduction="none").mean(-1)
    np.testing.assert_allclose(rows, core_rows, rtol=1e-6)


def torch_soft_margin(logits, labels, weight, reduction):
    x = torch.tensor(logits, requires_grad=True)
    kwargs = {} if weight is None else {"weight": torch.tensor(weight)}
    value = torch.nn.functional.multilabel_soft_margin_loss(
        x, torch.tensor(labels), reduction=reduction, **kwargs)
    value.sum().backward()
    return value.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("use_weight", [False, True], ids=["no_weight", "weight"])
def test_soft_margin_torch_parity_float64(reduction, use_weight):
    rng = np.random.default_rng(5)
    logits = rng.normal(scale=4.0, size=(6, 5))
    labels = rng.integers(0, 2, size=(6, 5)).astype(np.float64)
    labels[0] = rng.uniform(size=5)  # PyTorch accepts soft targets too.
    weight = rng.uniform(0.2, 3.0, size=5) if use_weight else None
    theirs, their_grad = torch_soft_margin(logits, labels, weight, reduction)
    with jax.enable_x64(True):
        kwargs = {} if weight is None else {"weight": jnp.asarray(weight)}
        ours, our_grad = value_and_grad(
            bcejax.multilabel_soft_margin_loss, jnp.asarray(logits), jnp.asarray(labels),
            reduction=reduction, **kwargs)
    # Both in float64; PyTorch forms each term from log-sigmoids of size |x|, so the
    # absolute error of either is about eps * |x| <= 1e-14 here.
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-10, atol=1e-15)


def test_soft_margin_torch_parity_float32_one_example():
    logits = np.asarray([0.0, -30.0, 12.0, 1e-8], np.float32)
    labels = np.asarray([1, 0, 1, 0], np.float32)
    theirs, their_grad = torch_soft_margin(logits, labels, None, "none")
    ours, our_grad = value_and_grad(
        bcejax.multilabel_soft_margin_loss, jnp.asarray(logits), jnp.asarray(labels),
        reduction="none")
    # A 1-D input is one example, and "none" returns a scalar in both libraries.
    assert ours.shape == ()
    assert theirs.shape == ()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-5, atol=1e-9)


# ----------------------------------------------------------------------------------
# ZLPR: known-answer cases, parity with Su's formula, accuracy and properties.
# ----------------------------------------------------------------------------------

ZLPR_CASES = {
    # name: (logits, labels, keyword arguments, loss, logit gradient, label gradient)
    "hard": ([2, -1, 0], [1, 0, 1], {}, 1.071885363,
             [-0.06337893833, 0.2689414214, -0.4683105308],
             [-5.338453911, 1.004058585, -0.2627480478]),
    "all_positive": ([1, -2, 0.5], [1, 1, 1], {}, 2.236815542,
                     [-0.03928880965, -0.7891368369, -0.06477629617],
                     [-2.678993019, 0.6538015536, -1.583944975]),
    "all_negative": ([1, -2, 0.5], [0, 0, 0], {}, 1.705173162,
                     [0.4940230207, 0.02459595791, 0.2996401086],
                     [-0.1261435795, 7.364460141, 0.3068905511]),
    "small_loss": ([-30, -25, 40], [0, 0, 1], {}, 1.398152434e-11,
                   [9.357622969e-14, 1.388794386e-11, -4.248354255e-18],
                   [1.068647458e+13, 7.200489934e+10, -2.353852668e+17]),
    "soft": ([1.5, -0.5, 0.25], [0.8, 0.3, 0.5], {}, 1.810104902,
             [0.215971605, -0.09651672909, 0.02788401573],
             [-1.404407789, 0.5946649677, -0.05576803146]),
    "weight": ([2, -1, 0], [1, 0, 1], {"weight": [0.5, 2, 3]}, 1.954514488,
               [-0.01663548932, 0.4238831152, -0.737523383],
               [-2.111844501, 0.9126478248, -0.9908272713]),
    "where": ([2, -1, 0], [1, 0, 1], {"where": [True, True, False]}, 0.4401896986,
              [-0.119202922, 0.2689414214, 0], [-5.282629927, 2.12531327, 0]),
}


@pytest.mark.parametrize("case", list(ZLPR_CASES))
def test_zlpr_known_answers(case):
    logits, labels, kwargs, expected_loss, expected_grad, expected_label_grad = ZLPR_CASES[case]
    loss, grad, label_grad = rows_value_and_grad("zlpr", [logits], [labels], **kwargs)
    assert_ulps(loss, [expected_loss])
    # With hard labels each logit gradient is one softmax weight, within a few ulps.
    # A soft label puts its logit in both sums, and the difference of the two
    # weights loses relative precision where they nearly cancel.
    assert_ulps(grad, [expected_grad], ulps=4 if case != "soft" else 16)
    # The label gradient e^-s / P - e^s / N is such a difference for every label.
    np.testing.assert_allclose(label_grad, [expected_label_grad], rtol=1e-5)


def test_zlpr_table_matches_reference():
    for logits, labels, kwargs, expected_loss, expected_grad, expected_label_grad in (
            ZLPR_CASES.values()):
        mask = kwargs.get("where")
        loss, grad, label_grad = zlpr_reference(
            np.float32(logits), np.float32(labels), kwargs.get("weight"),
            None if mask is None else [float(m) for m in mask])
        np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-9)
        np.testing.assert_allclose([float(g) for g in grad], expected_grad, rtol=1e-9)
        np.testing.assert_allclose([float(g) for g in label_grad], expected_label_grad,
                                   rtol=1e-9)


def test_zlpr_huge_logits_no_overflow():
    loss, grad, _ = rows_value_and_grad(
        "zlpr", [[1e4, -1e4, 0], [1e9, -1e9, 0], [1e4, -1e4, 0], [1e9, -1e9, 0]],
        [[0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]])
    # A negative label at +x and a positive one at -x: each log-sum-exp is
    # x + log(1 + e^-x + e^(0 - x)), exactly x in float32.
    np.testing.assert_array_equal(loss[:2], [2e4, 2e9])
    np.testing.assert_array_equal(grad[:2], [[1, -1, 0], [1, -1, 0]])
    # On the side of their labels the same logits drop out; the third label is a
    # negative at 0, which adds log(1 + e^0) = log 2.
    assert_ulps(loss[2:], [0.6931471806, 0.6931471806])
    np.testing.assert_array_equal(grad[2:, :2], [[0, 0], [0, 0]])
    np.testing.assert_array_equal(grad[2:, 2], [0.5, 0.5])


def test_zlpr_infinite_logits_give_limits():
    loss, grad, _ = rows_value_and_grad(
        "zlpr", [[inf, 2, -inf], [inf, inf, -inf], [-inf, inf, 1]],
        [[0, 1, 1], [0, 0, 1], [0, 1, 1]])
    assert loss[0] == inf
    assert loss[1] == inf
    assert_ulps(loss[2], 0.3132616875)  # softplus(-1): the infinite logits drop out.
    # One infinite term takes the whole softmax weight; two share it equally.
    np.testing.assert_array_equal(grad[0], [1, 0, -1])
    np.testing.assert_array_equal(grad[1], [0.5, 0.5, -1])
    np.testing.assert_array_equal(grad[2, :2], [0, 0])
    assert_ulps(grad[2, 2], -0.2689414214)


def test_zlpr_out_of_domain_memberships_give_nan():
    # Labels outside [0, 1] or a negative weight make a membership negative.
    loss, grad, _ = rows_value_and_grad(
        "zlpr", [[1.0, 2.0, 3.0]] * 4, [[1.2, 0, 1], [-0.2, 0, 1], [1, 0, 1], [1, 0, 1]],
        weight=[[1, 1, 1], [1, 1, 1], [-1, 1, 1], [1, 1, 1]])
    assert np.all(np.isnan(loss[:3]))
    assert np.all(np.isnan(grad[:3]))
    assert np.isfinite(loss[3])


def test_zlpr_single_label_equals_bce():
    logits = np.linspace(-40, 40, 24, dtype=np.float32).reshape(8, 3)
    for label in (0.0, 1.0):
        labels = np.full((8, 3), label, np.float32)
        core, core_grad = value_and_grad(
            bcejax.sigmoid_binary_cross_entropy, f32(logits), f32(labels), reduction="none")
        for column in range(3):
            # Masking the other two labels leaves a one-label example.
            where = np.arange(3) == column
            loss, grad, _ = rows_value_and_grad("zlpr", logits, labels, where=where)
            # Both are one rounding away from softplus(-+x) and its derivative.
            assert_ulps(loss, np.asarray(core[:, column], np.float64))
            assert_ulps(grad[:, column], np.asarray(core_grad[:, column], np.float64))


def test_zlpr_hard_labels_match_su_formula():
    rng = np.random.default_rng(11)
    logits = rng.normal(scale=5.0, size=(20, 6))
    labels = rng.integers(0, 2, size=(20, 6))
    with jax.enable_x64(True):
        as_float = bcejax.zlpr_loss(jnp.asarray(logits), jnp.asarray(labels, jnp.float64),
                                    reduction="none")
        as_bool = bcejax.zlpr_loss(jnp.asarray(logits), jnp.asarray(labels, bool),
                                   reduction="none")
    np.testing.assert_array_equal(as_float, as_bool)
    exact = [float(su_reference(row, row_labels)) for row, row_labels in zip(logits, labels)]
    # float64 throughout: a few ulps of the loss, which is at least log(2) here.
    np.testing.assert_allclose(as_float, exact, rtol=1e-14)


def test_zlpr_soft_labels_parity_float64():
    rng = np.random.default_rng(12)
    logits = rng.normal(scale=5.0, size=(12, 5))
    labels = rng.uniform(size=(12, 5))
    labels[0] = [0, 1, 1, 0, 1]  # The generalisation at hard labels, with weights.
    weight = rng.uniform(0.2, 3.0, size=5)
    mask = rng.uniform(size=(12, 5)) < 0.8
    with jax.enable_x64(True):
        loss, (grad, label_grad, weight_grad) = jax.value_and_grad(
            lambda x, y, w: bcejax.zlpr_loss(x, y, weight=w, where=jnp.asarray(mask),
                                             reduction="sum"), argnums=(0, 1, 2))(
            jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(weight))
        loss = bcejax.zlpr_loss(jnp.asarray(logits), jnp.asarray(labels),
                                weight=jnp.asarray(weight), where=jnp.asarray(mask),
                                reduction="none")
    exact_weight_grad = np.zeros(5)
    for i in range(12):
        exact_loss, exact_grad, exact_label_grad = zlpr_reference(
            logits[i], labels[i], weight, mask[i].astype(float))
        np.testing.assert_allclose(loss[i], float(exact_loss), rtol=1e-14)
        # Soft labels put a logit in both sums, so its gradient is a difference of two
        # weights in [0, 1]: the error is relative to 1, not to the difference.
        np.testing.assert_allclose(grad[i], [float(g) for g in exact_grad], rtol=0, atol=1e-15)
        np.testing.assert_allclose(
            label_grad[i], [float(g) for g in exact_label_grad], rtol=1e-13, atol=1e-15)
        exact_weight_grad += [float(g) for g in zlpr_weight_gradient(
            logits[i], labels[i], weight, mask[i].astype(float))]
    # A per-label weight collects the gradient of every example.
    np.testing.assert_allclose(weight_grad, exact_weight_grad, rtol=1e-13)


def test_zlpr_float32_accuracy_against_mpmath():
    rng = np.random.default_rng(13)
    magnitude = 10 ** rng.uniform(-6, 2.5, size=(200, 5))
    logits = (magnitude * rng.choice([-1, 1], size=(200, 5))).astype(np.float32)
    labels = rng.integers(0, 2, size=(200, 5)).astype(np.float32)
    loss, grad = value_and_grad(bcejax.zlpr_loss, jnp.asarray(logits), jnp.asarray(labels),
                                reduction="none")
    exact_loss = np.zeros(200)
    exact_grad = np.zeros((200, 5))
    for i in range(200):
        value, d_logits, _ = zlpr_reference(logits[i], labels[i])
        exact_loss[i] = float(value)
        exact_grad[i] = [float(g) for g in d_logits]
    # Each term is one exp of an exponent whose rounding error is restored, and each
    # sum has at most 6 positive terms. On XLA:CPU the worst errors measured were 1.3
    # ulps (loss) and 2.2 ulps (gradient), so 4 leaves a margin for other backends'
    # exp and log1p. Values below 1e-37 are compared in absolute terms because XLA
    # flushes subnormals to zero.
    tiny = 16 * float(np.finfo(np.float32).tiny)
    loss_error = mpmath_reference.ulp_error(loss, exact_loss)
    grad_error = mpmath_reference.ulp_error(grad, exact_grad)
    loss_ok = (loss_error <= 4) | (np.abs(np.asarray(loss) - exact_loss) <= tiny)
    grad_ok = (grad_error <= 4) | (np.abs(np.asarray(grad) - exact_grad) <= tiny)
    assert np.all(loss_ok), loss_error[~loss_ok]
    assert np.all(grad_ok), grad_error[~grad_ok]


def test_zlpr_single_label_minimum_at_half_logit():
    labels = np.asarray([0.1, 0.3, 0.5, 0.8, 0.95], np.float32)[:, None]
    minimum = 0.5 * np.log(labels / (1 - labels))
    _, grad, _ = rows_value_and_grad("zlpr", minimum, labels)
    # Both weights are about 1/3 or smaller, and each is accurate to a few float32
    # ulps, so their difference is 0 to within 1e-7.
    np.testing.assert_allclose(grad[:, 0], np.zeros(5), atol=1e-7)


def test_zlpr_mean_skips_empty_examples():
    logits, labels = f32([[2, -1, 0], [5, 5, 5], [0.5, 3, -2]]), f32([[1, 0, 1], [0, 0, 0],
                                                                      [0, 1, 0]])
    where = jnp.array([[True, True, False], [False, False, False], [True, True, True]])
    per_example = bcejax.zlpr_loss(logits, labels, where=where, reduction="none")
    assert_ulps(per_example, [0.4401896986, 0, 1.072496408])
    mean, grad = value_and_grad(bcejax.zlpr_loss, logits, labels, where=where)
    # Two examples keep a label; the one without any does not count.
    assert_ulps(mean, (0.4401896986 + 1.072496408) / 2)
    _, rows_grad, _ = rows_value_and_grad("zlpr", logits, labels, where=where)
    np.testing.assert_allclose(grad, rows_grad / 2, rtol=1e-6)
    np.testing.assert_array_equal(grad[1], [0, 0, 0])


def test_zlpr_label_gradient_at_large_margin():
    # Lowering a hard positive label at logit s adds (1 - y) e^s to the negative
    # sum, so its gradient is -e^s / (1 + ...): exact below the cap of e^88 ...
    _, _, label_grad = rows_value_and_grad("zlpr", [[60.0, -3.0, 0.5]], [[1.0, 0.0, 1.0]])
    _, _, exact = zlpr_reference([60.0, -3.0, 0.5], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(label_grad, [[float(g) for g in exact]], rtol=1e-6)
    # ... and finite beyond it, where the exact value overflows float32.
    _, _, far = rows_value_and_grad("zlpr", [[200.0, -3.0, 0.5]], [[1.0, 0.0, 1.0]])
    assert np.all(np.isfinite(far))
    assert far[0, 0] < -1e37


def grid(values):
    """Shape 24 hypothesis values as the 8 x 3 batch of `rows_value_and_grad`."""
    return np.asarray(values, np.float32).reshape(ROWS, COLUMNS)


finite_floats = st.floats(-1e9, 1e9, allow_nan=False, width=32)


@settings(max_examples=30, deadline=None)
@given(st.lists(finite_floats, min_size=24, max_size=24),
       st.lists(st.booleans(), min_size=24, max_size=24))
def test_zlpr_property_finite_bounded_gradient(logits, labels):
    loss, grad, _ = rows_value_and_grad("zlpr", grid(logits), grid(labels))
    assert np.all(np.isfinite(loss))
    assert np.all(loss >= 0)
    assert np.all(np.isfinite(grad))
    # The gradient contains the softmax weights of two sums that include the "1 +".
    # The weights on each example's negatives, and those on its positives, add up to
    # at most 1.
    grad, positive = np.asarray(grad), grid(labels) == 1
    assert np.all(grad[~positive] >= 0)
    assert np.all(grad[positive] <= 0)
    assert np.all(np.sum(np.where(positive, 0, grad), axis=1) <= 1 + 1e-6)
    assert np.all(np.sum(np.where(positive, grad, 0), axis=1) >= -1 - 1e-6)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=24, max_size=24),
       st.lists(st.booleans(), min_size=24, max_size=24),
       st.lists(st.booleans(), min_size=24, max_size=24))
def test_zlpr_property_label_flip_symmetry(logits, labels, mask):
    x, y, where = grid(logits), grid(labels), grid(mask).astype(bool)
    loss, grad, _ = rows_value_and_grad("zlpr", x, y, where=where)
    flipped, flipped_grad, _ = rows_value_and_grad("zlpr", -x, 1 - y, where=where)
    # Flipping logits and hard labels swaps the two sums, which are computed alike.
    np.testing.assert_array_equal(loss, flipped)
    np.testing.assert_array_equal(grad, -flipped_grad)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-50, 50, width=32), min_size=24, max_size=24),
       st.lists(st.floats(0, 1, width=32), min_size=24, max_size=24),
       st.permutations(range(COLUMNS)))
def test_zlpr_property_label_order_irrelevant(logits, labels, order):
    x, y = grid(logits), grid(labels)
    loss, grad, _ = rows_value_and_grad("zlpr", x, y)
    shuffled, shuffled_grad, _ = rows_value_and_grad("zlpr", x[:, order], y[:, order])
    # The same terms, summed in another order. A soft label's gradient is the
    # difference of two weights in [0, 1], so its error is relative to 1.
    np.testing.assert_allclose(shuffled, loss, rtol=1e-6)
    np.testing.assert_allclose(shuffled_grad, np.asarray(grad)[:, order], rtol=1e-5, atol=5e-7)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False, width=32), min_size=24, max_size=24),
       st.lists(st.floats(0, 1, width=32), min_size=24, max_size=24),
       st.lists(st.booleans(), min_size=24, max_size=24))
def test_soft_margin_property_matches_bce_rows(logits, labels, mask):
    x, y, where = grid(logits), grid(labels), grid(mask).astype(bool)
    loss, grad, _ = rows_value_and_grad("soft_margin", x, y, where=where)
    elements, element_grad = value_and_grad(
        bcejax.sigmoid_binary_cross_entropy, f32(x), f32(y), where=where, reduction="none")
    count = np.maximum(where.sum(axis=1), 1).astype(np.float64)
    # The element losses and gradients of the core loss, divided by the number of
    # unmasked labels of each example.
    elements, element_grad = np.asarray(elements, np.float64), np.asarray(element_grad, np.float64)
    np.testing.assert_allclose(loss, np.sum(elements, axis=1) / count, rtol=1e-6)
    np.testing.assert_allclose(grad, element_grad / count[:, None], rtol=1e-6, atol=1e-30)


# ----------------------------------------------------------------------------------
# Both losses: argument checks and dtypes.
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
def test_integer_logits_raise_type_error(name):
    function = LOSSES[name].__name__
    with pytest.raises(TypeError, match=rf"{function}: `logits` must have a floating dtype.*int32"):
        LOSSES[name](jnp.zeros((2, 3), jnp.int32), jnp.zeros((2, 3)))


@pytest.mark.parametrize("name", list(LOSSES))
def test_scalar_logits_raise_without_label_axis(name):
    with pytest.raises(ValueError, match=r"`logits` has shape \(\).*\[\.\.\., num_labels\]"):
        LOSSES[name](jnp.float32(1.0), jnp.float32(1.0))


@pytest.mark.parametrize("name", list(LOSSES))
def test_labels_shape_mismatch_raises(name):
    with pytest.raises(ValueError) as info:
        LOSSES[name](jnp.zeros((4, 3)), jnp.zeros(3))
    message = str(info.value)
    assert message.startswith(LOSSES[name].__name__)
    assert "`labels` has shape (3,)" in message
    assert "`logits` has shape (4, 3)" in message
    assert "never broadcast" in message


@pytest.mark.parametrize("name", list(LOSSES))
def test_per_example_weight_vector_raises(name):
    with pytest.raises(ValueError) as info:
        LOSSES[name](jnp.zeros((2, 3)), jnp.zeros((2, 3)), weight=jnp.ones(2))
    message = str(info.value)
    assert "`weight` has shape (2,)" in message
    assert "(2, 3)" in message
    assert "(2, 1)" in message


@pytest.mark.parametrize("name", list(LOSSES))
def test_float_mask_raises_type_error(name):
    with pytest.raises(TypeError, match=r"`where` must be a bool mask.*float32"):
        LOSSES[name](jnp.zeros((2, 3)), jnp.zeros((2, 3)), where=jnp.ones((2, 3)))


@pytest.mark.parametrize("name", list(LOSSES))
def test_unbroadcastable_mask_raises(name):
    with pytest.raises(ValueError, match=r"`where` has shape \(4,\).*\(2, 3\)"):
        LOSSES[name](jnp.zeros((2, 3)), jnp.zeros((2, 3)), where=jnp.ones(4, bool))


@pytest.mark.parametrize("name", list(LOSSES))
def test_unknown_reduction_lists_valid_names(name):
    with pytest.raises(ValueError, match=r"invalid `reduction` 'avg'.*'none', 'sum', 'mean'"):
        LOSSES[name](jnp.zeros((2, 3)), jnp.zeros((2, 3)), reduction="avg")


@pytest.mark.parametrize("name", list(LOSSES))
def test_label_smoothing_outside_unit_interval_raises(name):
    with pytest.raises(ValueError, match=r"`label_smoothing` must lie in \[0, 1\], got 1.5"):
        LOSSES[name](jnp.zeros((2, 3)), jnp.zeros((2, 3)), label_smoothing=1.5)


def test_soft_margin_pos_weight_shape_raises():
    with pytest.raises(ValueError, match=r"`pos_weight` has shape \(4,\)"):
        bcejax.multilabel_soft_margin_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3)),
                                           pos_weight=jnp.ones(4))


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64],
                         ids=lambda d: jnp.dtype(d).name)
def test_output_and_gradient_dtypes(name, dtype):
    @jax.jit
    def outputs(x, y, w):
        reduced = [LOSSES[name](x, y, weight=w, reduction=r) for r in REDUCTIONS]
        grads = jax.grad(lambda x, y, w: LOSSES[name](x, y, weight=w), argnums=(0, 1, 2))(x, y, w)
        return reduced, grads

    logits = np.asarray([[3.0, -1.5, 0.25], [7.0, 0.5, -2.0]])
    labels = np.asarray([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    with jax.enable_x64(True):
        x, y, w = (jnp.asarray(a, dtype) for a in (logits, labels, np.ones(3)))
        (none, total, mean), grads = outputs(x, y, w)
    assert none.shape == (2,)
    assert none.dtype == dtype
    reduced_dtype = jnp.float64 if dtype == jnp.float64 else jnp.float32
    assert total.dtype == reduced_dtype
    assert mean.dtype == reduced_dtype
    assert [g.dtype for g in grads] == [dtype, dtype, dtype]
    if dtype in (jnp.float16, jnp.bfloat16):
        # Computed in float32 from the 16-bit inputs, then rounded once.
        reference = zlpr_reference if name == "zlpr" else soft_margin_reference
        exact = [float(reference(row, row_labels)[0])
                 for row, row_labels in zip(np.asarray(x, np.float64), labels)]
        np.testing.assert_array_equal(np.asarray(none, np.float64),
                                      np.asarray(jnp.asarray(exact, dtype), np.float64))


@pytest.mark.parametrize("name", list(LOSSES))
def test_empty_inputs(name):
    no_examples = jnp.zeros((0, 3), jnp.float32)
    assert LOSSES[name](no_examples, no_examples) == 0
    assert LOSSES[name](no_examples, no_examples, reduction="none").shape == (0,)
    no_labels = jnp.zeros((2, 0), jnp.float32)
    np.testing.assert_array_equal(LOSSES[name](no_labels, no_labels, reduction="none"), [0, 0])


# ----------------------------------------------------------------------------------
# Both losses: masks and unknown labels.
# ----------------------------------------------------------------------------------

MASK = jnp.array([[False, False, True], [True, False, True]])


@pytest.mark.parametrize("name", list(LOSSES))
def test_masked_nan_and_inf_stay_out(name):
    x = f32([[nan, inf, 1.0], [0.5, -inf, -2.0]])
    y = f32([[nan, -1.0, 1.0], [0.0, nan, 1.0]])
    clean_x = f32([[0.0, 0.0, 1.0], [0.5, 0.0, -2.0]])
    clean_y = f32([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])

    def loss(x, y):
        return LOSSES[name](x, y, where=MASK)

    value_and_grads = jax.value_and_grad(loss, argnums=(0, 1))
    expected, (expected_logits, expected_labels) = value_and_grads(clean_x, clean_y)
    batched = jax.vmap(value_and_grads)(jnp.stack([clean_x, x]), jnp.stack([clean_y, y]))
    results = {
        "eager": value_and_grads(x, y),
        "jit": jax.jit(value_and_grads)(x, y),
        "vmap": jax.tree.map(lambda a: a[1], batched),
    }
    masked_out = ~np.asarray(MASK)
    for transform, (value, (d_logits, d_labels)) in results.items():
        np.testing.assert_allclose(value, expected, rtol=1e-6, err_msg=transform)
        np.testing.assert_array_equal(np.asarray(d_logits)[masked_out], 0, err_msg=transform)
        np.testing.assert_array_equal(np.asarray(d_labels)[masked_out], 0, err_msg=transform)
        np.testing.assert_allclose(d_logits, expected_logits, rtol=1e-6, err_msg=transform)
        np.testing.assert_allclose(d_labels, expected_labels, rtol=1e-6, err_msg=transform)


@pytest.mark.parametrize("name", list(LOSSES))
def test_masked_second_derivative_is_zero(name):
    x = f32([[nan, inf, 1.0], [0.5, -inf, -2.0]])
    y = f32([[nan, -1.0, 1.0], [0.0, nan, 1.0]])
    hessian = np.asarray(jax.hessian(lambda x: LOSSES[name](x, y, where=MASK))(x)).reshape(6, 6)
    masked_out = ~np.asarray(MASK).ravel()
    np.testing.assert_array_equal(hessian[masked_out], 0)
    np.testing.assert_array_equal(hessian[:, masked_out], 0)
    assert np.all(np.isfinite(hessian))


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("unknown", [-1.0, nan], ids=["minus_one", "nan"])
def test_unknown_labels_equal_known_subset(name, unknown):
    logits = [[2.0, -1.0, 0.5], [0.0, 1.5, -2.0], [3.0, 0.25, 1.0]]
    labels = f32([[1, unknown, 0], [unknown, 1, unknown], [unknown, unknown, unknown]])
    known = bcejax.known_labels(labels)
    np.testing.assert_array_equal(known, [[True, False, True], [False, True, False],
                                          [False, False, False]])
    loss, d_logits, d_labels = rows_value_and_grad(name, logits, labels, where=known)
    # Each example equals the loss of its known labels alone.
    first = LOSSES[name](f32([[2.0, 0.5]]), f32([[1, 0]]), reduction="none")
    second = LOSSES[name](f32([[1.5]]), f32([[1]]), reduction="none")
    np.testing.assert_allclose(loss, [first[0], second[0], 0], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(d_logits)[~np.asarray(known)], 0)
    np.testing.assert_array_equal(np.asarray(d_labels)[~np.asarray(known)], 0)
    assert np.all(np.isfinite(d_labels))
    # The example without a known label does not count in the mean.
    mean = LOSSES[name](f32(logits), labels, where=known)
    np.testing.assert_allclose(mean, (first[0] + second[0]) / 2, rtol=1e-6)


# ----------------------------------------------------------------------------------
# Both losses: transformations.
# ----------------------------------------------------------------------------------


def full_loss(name, logits, labels, weight, where, reduction="mean"):
    return LOSSES[name](logits, labels, weight=weight, where=where, reduction=reduction)


@pytest.mark.parametrize("name", list(LOSSES))
def test_jit_matches_eager_every_reduction(name):
    args = random_inputs()
    jitted = jax.jit(lambda *args: [full_loss(name, *args, reduction=r) for r in REDUCTIONS])(
        *args)
    # One program for the three reductions lets XLA order the sums differently from
    # the eager calls, so the values may differ in the last bit.
    for reduction, value in zip(REDUCTIONS, jitted):
        np.testing.assert_allclose(full_loss(name, *args, reduction=reduction), value, rtol=1e-6)


@pytest.mark.parametrize("name", list(LOSSES))
def test_vmap_over_batches_matches_loop(name):
    logits, labels, weight, where = random_inputs((5, 4, 3))
    loss = functools.partial(full_loss, name)
    values, grads = jax.vmap(jax.value_and_grad(loss), in_axes=(0, 0, None, 0))(
        logits, labels, weight, where)
    for i in (0, 4):
        value, grad = jax.value_and_grad(loss)(logits[i], labels[i], weight, where[i])
        np.testing.assert_allclose(values[i], value, rtol=1e-6)
        np.testing.assert_allclose(grads[i], grad, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(LOSSES))
def test_forward_mode_matches_reverse_mode(name):
    logits, labels, weight, where = random_inputs()

    def loss(x, y, w):
        return full_loss(name, x, y, w, where)

    reverse = jax.grad(loss, argnums=(0, 1, 2))(logits, labels, weight)
    forward = jax.jacfwd(loss, argnums=(0, 1, 2))(logits, labels, weight)
    for reverse_grad, forward_grad in zip(reverse, forward):
        np.testing.assert_allclose(forward_grad, reverse_grad, rtol=1e-5, atol=1e-7)
    tangents = tuple(jnp.ones_like(a) for a in (logits, labels, weight))
    _, jvp_out = jax.jvp(loss, (logits, labels, weight), tangents)
    np.testing.assert_allclose(jvp_out, sum(jnp.sum(g) for g in reverse), rtol=1e-5)


def test_zlpr_hessian_matches_softmax_covariance():
    with jax.enable_x64(True):
        rng = np.random.default_rng(14)
        logits = rng.normal(scale=2.0, size=(2, 4))
        labels = np.asarray([[1, 0, 0, 1], [0, 0, 1, 0]], np.float64)
        hessian = np.asarray(jax.hessian(
            lambda x: bcejax.zlpr_loss(x, jnp.asarray(labels), reduction="sum"))(
            jnp.asarray(logits))).reshape(8, 8)
    # Each log(1 + sum_k e^(a_k)) has the Hessian diag(p) - p p^T of its softmax
    # weights p; a positive label enters with a_k = -s_k, and the two sign flips
    # cancel in its block. Examples do not interact.
    expected = np.zeros((8, 8))
    for n in range(2):
        for sign, members in ((1, labels[n] == 0), (-1, labels[n] == 1)):
            exponentials = np.exp(np.where(members, sign * logits[n], -np.inf))
            p = exponentials / (1 + np.sum(exponentials))
            expected[4 * n:4 * n + 4, 4 * n:4 * n + 4] += np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(hessian, expected, rtol=1e-12, atol=1e-15)
    assert np.all(np.linalg.eigvalsh(hessian) >= -1e-15)  # The loss is convex in the logits.


def test_soft_margin_hessian_is_diagonal():
    logits, labels, weight, where = random_inputs((2, 3))
    hessian = np.asarray(jax.hessian(
        lambda x: full_loss("soft_margin", x, labels, weight, where))(logits)).reshape(6, 6)
    np.testing.assert_array_equal(hessian - np.diag(np.diag(hessian)), np.zeros((6, 6)))
    assert np.all(np.diag(hessian) >= 0)


@pytest.mark.parametrize("name", list(LOSSES))
def test_check_grads_both_modes_second_order(name):
    with jax.enable_x64(True):
        logits, labels, weight, where = random_inputs((3, 4), np.float64)

        def loss(x, y):
            return full_loss(name, x, y, weight, where)

        # The weight gradient is compared with an exact one elsewhere: with the
        # reference for ZLPR, and in the tests of the shared element loss for the
        # soft-margin loss.
        check_grads(loss, (logits, labels), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", list(LOSSES))
def test_grad_through_label_smoothing(name):
    logits, labels, _, _ = random_inputs()

    def loss(smoothing):
        return LOSSES[name](logits, labels, label_smoothing=smoothing)

    # d/d(eps) of y * (1 - eps) + eps / 2 is 1/2 - y, times d loss / d y at the
    # smoothed labels. The mean over the 4 examples divides the per-example sum.
    smoothed = labels * np.float32(0.7) + np.float32(0.15)
    _, _, d_labels = rows_value_and_grad(name, logits, smoothed)
    expected = np.sum(np.asarray(d_labels, np.float64) * (0.5 - labels)) / 4
    np.testing.assert_allclose(jax.grad(loss)(jnp.float32(0.3)), expected, rtol=1e-5)


@pytest.mark.parametrize("name", list(LOSSES))
def test_scan_and_checkpoint_keep_gradient(name):
    logits, labels, _, _ = random_inputs((3, 4, 3))

    def step(total, batch):
        x, y = batch
        return total + LOSSES[name](x, y, reduction="sum"), None

    def scanned(x):
        total, _ = jax.lax.scan(step, jnp.float32(0), (jnp.tanh(x) * 5, labels))
        return total

    def direct(x):
        return LOSSES[name](jnp.tanh(x) * 5, labels, reduction="sum")

    value, grad = jax.value_and_grad(jax.checkpoint(scanned))(logits)
    expected_value, expected_grad = jax.value_and_grad(direct)(logits)
    np.testing.assert_allclose(value, expected_value, rtol=1e-6)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-6)


@pytest.mark.parametrize("name", list(LOSSES))
def test_reverse_mode_saves_only_inputs(name):
    logits = jnp.ones((8, 5), jnp.bfloat16)
    labels = jnp.ones((8, 5), jnp.bfloat16)
    weight = jnp.ones(5, jnp.float32)
    residuals = saved_residuals(lambda x: LOSSES[name](x, labels, weight=weight), logits)
    large = [aval for aval, _ in residuals if aval.shape == logits.shape]
    # The logits and the labels in their own dtype: no float32 copy and no array of
    # exponentials kept for the backward pass.
    assert len(large) == 2
    assert all(aval.dtype == jnp.bfloat16 for aval in large)
