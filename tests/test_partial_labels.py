"""Partial labels, checked the same way for every bcejax loss.

The convention under test: a label is unknown where it is -1 (any negative value) or
NaN, and ``where=bcejax.known_labels(labels)`` takes unknown labels out of a loss.
For each loss and both markers, the masked loss must equal the loss computed on the
known labels alone, the gradient must be exactly 0 at unknown entries, and -1 and
NaN must give bit-identical results. Without the mask, unknown labels corrupt the
loss, so the mask is needed.

The reference is the same loss on the known subset: the known elements for an
element-wise loss, and each example's known labels for a per-example loss. Loss-
specific masking cases stay with their losses: NaN and inf logits under the mask,
second derivatives and label gradients in test_multilabel.py, label counts and
``pos_weight`` in test_class_weights.py.
"""

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bcejax

nan = float("nan")

# name: (loss, what reduction="none" returns: one loss per "element" or per "example").
LOSSES = {
    "sigmoid_binary_cross_entropy": (bcejax.sigmoid_binary_cross_entropy, "element"),
    "sigmoid_focal_loss": (bcejax.sigmoid_focal_loss, "element"),
    "asymmetric_loss": (bcejax.asymmetric_loss, "element"),
    "sigmoid_poly1_loss": (bcejax.sigmoid_poly1_loss, "element"),
    "multilabel_soft_margin_loss": (bcejax.multilabel_soft_margin_loss, "example"),
    "zlpr_loss": (bcejax.zlpr_loss, "example"),
    # The one loss on probabilities; the others take logits.
    "binary_cross_entropy": (bcejax.binary_cross_entropy, "element"),
}
REDUCTIONS = ["none", "sum", "mean"]
MARKERS = {"minus_one": -1.0, "nan": nan}

# True where a label is unknown. The second example keeps every label and the third
# none, so the per-example "mean" has an example to skip.
UNKNOWN = np.array([
    [False, True, False, False, True],
    [False, False, False, False, False],
    [True, True, True, True, True],
    [True, False, False, True, False],
])
KNOWN = ~UNKNOWN
# Examples with at least one known label: the ones a per-example "mean" counts.
COUNTED = KNOWN.any(axis=1)


def make_inputs(name, marker):
    """Build (logits or probabilities, labels), float32 [4, 5], with `marker` at UNKNOWN."""
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=UNKNOWN.shape)
    labels = (rng.random(UNKNOWN.shape) < 0.4).astype(np.float32)
    labels[UNKNOWN] = marker
    if name == "binary_cross_entropy":
        return (1 / (1 + np.exp(-logits))).astype(np.float32), labels
    return logits.astype(np.float32), labels


@functools.cache
def masked_loss_function(name, reduction):
    """Build the jitted loss with the mask from known_labels, as a training step computes it."""
    loss = LOSSES[name][0]

    def compute(inputs, labels):
        return loss(inputs, labels, where=bcejax.known_labels(labels), reduction=reduction)

    return jax.jit(compute)


@functools.cache
def masked_gradient_function(name, reduction):
    """Build the jitted gradient of the sum of masked_loss_function's result for the inputs."""
    compute = masked_loss_function(name, reduction)
    return jax.jit(jax.grad(lambda inputs, labels: jnp.sum(compute(inputs, labels))))


def masked_loss(name, inputs, labels, reduction):
    return masked_loss_function(name, reduction)(inputs, labels)


def masked_gradient(name, inputs, labels, reduction):
    return masked_gradient_function(name, reduction)(inputs, labels)


def subset_loss(name, inputs, labels, reduction):
    """Compute the loss on the known labels alone, without a mask.

    For a per-example loss with "none", the result has one entry per COUNTED example.
    """
    loss, kind = LOSSES[name]
    if kind == "element":
        return loss(inputs[KNOWN], labels[KNOWN], reduction=reduction)
    per_example = jnp.stack([
        loss(inputs[row][KNOWN[row]][None], labels[row][KNOWN[row]][None], reduction="none")[0]
        for row in np.flatnonzero(COUNTED)
    ])
    if reduction == "none":
        return per_example
    return jnp.sum(per_example) if reduction == "sum" else jnp.mean(per_example)


def subset_gradient(name, inputs, labels, reduction):
    """Return the gradient of the sum of subset_loss for the logits or probabilities."""
    return jax.grad(lambda x: jnp.sum(subset_loss(name, x, labels, reduction)))(inputs)


def test_losses_table_covers_every_loss():
    exported = set()
    for name in bcejax.__all__:
        function = getattr(bcejax, name)
        if not callable(function):
            continue
        parameters = list(inspect.signature(function).parameters)
        if parameters[1:2] == ["labels"] and {"where", "reduction"} <= set(parameters):
            exported.add(name)
    assert exported == set(LOSSES)


@pytest.mark.parametrize("marker", list(MARKERS))
def test_known_labels_marks_unknown_entries(marker):
    _, labels = make_inputs("sigmoid_binary_cross_entropy", MARKERS[marker])
    np.testing.assert_array_equal(bcejax.known_labels(labels), KNOWN)


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("marker", list(MARKERS))
def test_masked_loss_equals_known_subset(name, reduction, marker):
    inputs, labels = make_inputs(name, MARKERS[marker])
    masked = np.asarray(masked_loss(name, inputs, labels, reduction))
    expected = np.asarray(subset_loss(name, inputs, labels, reduction))

    if reduction == "none":
        # Unknown entries, and examples without a known label, have a loss of exactly 0.
        with_loss = KNOWN if LOSSES[name][1] == "element" else COUNTED
        assert masked.shape == with_loss.shape
        np.testing.assert_array_equal(masked[~with_loss], 0)
        masked = masked[with_loss]
    # Masked elements add exact zeros, so only the summation order of "sum" and "mean"
    # differs from the subset: at most 1.4 float32 eps measured (jax 0.10.2, CPU).
    np.testing.assert_allclose(masked, expected, rtol=5e-7)


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("marker", list(MARKERS))
def test_masked_gradient_equals_known_subset(name, reduction, marker):
    inputs, labels = make_inputs(name, MARKERS[marker])
    gradient = np.asarray(masked_gradient(name, inputs, labels, reduction))
    # The gradient of the subset loss is 0 at the entries that it never reads.
    expected = np.asarray(subset_gradient(name, inputs, labels, reduction))

    assert np.all(np.isfinite(gradient))
    np.testing.assert_array_equal(gradient[UNKNOWN], 0)
    # Bit-identical when measured (jax 0.10.2, CPU). The tolerance leaves room for the
    # summation order inside ZLPR's log-sum-exp, as for the loss values.
    np.testing.assert_allclose(gradient, expected, rtol=5e-7, atol=0)


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_minus_one_and_nan_bit_identical(name, reduction):
    inputs, minus_one = make_inputs(name, -1.0)
    _, with_nan = make_inputs(name, nan)

    for labels in (minus_one, with_nan):
        assert np.all(np.isfinite(masked_loss(name, inputs, labels, reduction)))
    np.testing.assert_array_equal(
        masked_loss(name, inputs, minus_one, reduction), masked_loss(name, inputs, with_nan, reduction)
    )
    np.testing.assert_array_equal(
        masked_gradient(name, inputs, minus_one, reduction), masked_gradient(name, inputs, with_nan, reduction)
    )


@pytest.mark.parametrize("name", list(LOSSES))
def test_unmasked_nan_label_gives_nan(name):
    inputs, labels = make_inputs(name, nan)
    loss, kind = LOSSES[name]

    for reduction in ("sum", "mean"):
        assert np.isnan(loss(inputs, labels, reduction=reduction)), reduction
    elements = np.asarray(loss(inputs, labels, reduction="none"))
    # Every unknown entry poisons its element, or its whole example.
    poisoned = UNKNOWN if kind == "element" else UNKNOWN.any(axis=1)
    np.testing.assert_array_equal(np.isnan(elements), poisoned)


@pytest.mark.parametrize("name", list(LOSSES))
def test_unmasked_minus_one_changes_loss(name):
    # -1 is a valid float, so without the mask it enters the loss as a label value
    # (or gives NaN, for ZLPR) instead of leaving it.
    inputs, labels = make_inputs(name, -1.0)
    unmasked = LOSSES[name][0](inputs, labels, reduction="mean")
    expected = subset_loss(name, inputs, labels, "mean")

    assert not np.isclose(unmasked, expected, rtol=1e-3)
