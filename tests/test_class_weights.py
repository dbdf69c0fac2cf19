"""Label counts, pos_weight, class-balanced weights and the unknown-label mask.

Expected values are exact counts and ratios worked out by hand, or the float64 NumPy
formula of Cui et al. (2019) written out in `class_balanced_reference`.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bcejax

nan = float("nan")

# 5 examples, 4 labels. Label 2 has no positive example and label 3 no negative one.
LABELS = np.asarray([
    [1, 0, 0, 1],
    [0, 1, 0, 1],
    [1, 0, 0, 1],
    [0, 0, 0, 1],
    [1, 1, 0, 1],
])


def class_balanced_reference(counts, beta):
    """Return (1 - beta) / (1 - beta**n), normalised to sum to len(counts), in float64."""
    n = np.maximum(np.asarray(counts, np.float64), 1)
    weight = (1 - beta) / (1 - beta ** n)
    return weight * len(weight) / weight.sum()


# ----------------------------------------------------------------------------------
# label_counts
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int32, np.float32, bool], ids=["int32", "float32", "bool"])
def test_label_counts_hard_labels(dtype):
    positives, negatives = bcejax.label_counts(LABELS.astype(dtype))
    np.testing.assert_array_equal(positives, [3, 2, 0, 5])
    np.testing.assert_array_equal(negatives, [2, 3, 5, 0])
    assert positives.dtype == jnp.float32
    assert negatives.dtype == jnp.float32


def test_label_counts_soft_labels_count_fractionally():
    labels = np.asarray([[0.25, 1.0], [0.5, 0.0], [1.0, 0.75]], np.float32)
    positives, negatives = bcejax.label_counts(labels)
    np.testing.assert_array_equal(positives, [1.75, 1.75])
    np.testing.assert_array_equal(negatives, [1.25, 1.25])


@pytest.mark.parametrize("unknown", [-1.0, nan], ids=["minus_one", "nan"])
def test_label_counts_skip_unknown_labels(unknown):
    labels = LABELS.astype(np.float32)
    labels[0, 0] = labels[3, 1] = labels[4, 3] = unknown
    positives, negatives = bcejax.label_counts(labels, where=bcejax.known_labels(labels))
    np.testing.assert_array_equal(positives, [2, 2, 0, 4])
    np.testing.assert_array_equal(negatives, [2, 2, 5, 0])


def test_label_counts_integer_unknowns_masked():
    labels = LABELS.copy()
    labels[1, :] = -1
    positives, negatives = bcejax.label_counts(labels, where=labels >= 0)
    np.testing.assert_array_equal(positives, [3, 1, 0, 4])
    np.testing.assert_array_equal(negatives, [1, 3, 4, 0])


def test_label_counts_sum_over_leading_axes():
    stacked = np.stack([LABELS, 1 - LABELS])  # shape (2, 5, 4)
    positives, negatives = bcejax.label_counts(stacked)
    np.testing.assert_array_equal(positives, [5, 5, 5, 5])
    np.testing.assert_array_equal(negatives, [5, 5, 5, 5])


def test_label_counts_without_labels_or_examples():
    positives, negatives = bcejax.label_counts(np.zeros((5, 0)))
    assert positives.shape == (0,)
    assert negatives.shape == (0,)
    positives, negatives = bcejax.label_counts(np.zeros((0, 3)))
    np.testing.assert_array_equal(positives, [0, 0, 0])
    np.testing.assert_array_equal(negatives, [0, 0, 0])


def test_label_counts_float64_under_x64():
    with jax.enable_x64(True):
        positives, _ = bcejax.label_counts(LABELS.astype(np.float64))
    assert positives.dtype == jnp.float64


def test_label_counts_under_jit():
    counts = jax.jit(lambda y: bcejax.label_counts(y, where=y >= 0))(jnp.asarray(LABELS))
    np.testing.assert_array_equal(counts[0], [3, 2, 0, 5])


def test_label_counts_argument_errors():
    with pytest.raises(ValueError, match=r"label_counts: `labels` has shape \(\)"):
        bcejax.label_counts(1)
    with pytest.raises(TypeError, match=r"label_counts: `labels` must have a floating, integer "
                                        r"or bool dtype"):
        bcejax.label_counts(np.asarray([["a", "b"]]))
    with pytest.raises(ValueError, match=r"`where` has shape \(5,\).*\(5, 4\) of `labels`"):
        bcejax.label_counts(LABELS, where=np.ones(5, bool))
    with pytest.raises(TypeError, match=r"`where` must be a bool mask"):
        bcejax.label_counts(LABELS, where=np.ones((5, 4)))


# ----------------------------------------------------------------------------------
# pos_weight_from_labels
# ----------------------------------------------------------------------------------


def test_pos_weight_negatives_over_positives():
    pos_weight = bcejax.pos_weight_from_labels(LABELS)
    # 2/3 and 3/2; labels 2 (no positive) and 3 (no negative) get 1.0.
    np.testing.assert_allclose(pos_weight, [2 / 3, 3 / 2, 1, 1], rtol=1e-7)
    assert pos_weight.shape == (4,)
    assert pos_weight.dtype == jnp.float32


def test_pos_weight_single_class_labels_get_one():
    all_negative = np.zeros((6, 2), np.int32)
    all_negative[:, 1] = 1
    np.testing.assert_array_equal(bcejax.pos_weight_from_labels(all_negative), [1, 1])
    empty = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(bcejax.pos_weight_from_labels(empty), [1, 1, 1])


def test_pos_weight_rare_label_exact_ratio():
    labels = np.zeros((1000, 2), np.int32)
    labels[:1, 0] = 1
    labels[:500, 1] = 1
    np.testing.assert_array_equal(bcejax.pos_weight_from_labels(labels), [999, 1])


@pytest.mark.parametrize("unknown", [-1.0, nan], ids=["minus_one", "nan"])
def test_pos_weight_skips_unknown_labels(unknown):
    labels = LABELS.astype(np.float32)
    labels[0, 0] = labels[1, 1] = unknown
    pos_weight = bcejax.pos_weight_from_labels(labels, where=bcejax.known_labels(labels))
    # Label 0: 2 positives, 2 negatives. Label 1: 1 positive, 3 negatives.
    np.testing.assert_allclose(pos_weight, [1, 3, 1, 1], rtol=1e-7)
    assert np.all(np.isfinite(pos_weight))


def test_pos_weight_all_unknown_label_gets_one():
    labels = np.full((3, 2), -1.0, np.float32)
    labels[:, 1] = [1, 0, 0]
    pos_weight = bcejax.pos_weight_from_labels(labels, where=bcejax.known_labels(labels))
    np.testing.assert_array_equal(pos_weight, [1, 2])


def test_pos_weight_plugs_into_bce():
    logits = jnp.asarray(np.linspace(-2, 2, 20).reshape(5, 4), jnp.float32)
    labels = jnp.asarray(LABELS, jnp.float32)
    pos_weight = bcejax.pos_weight_from_labels(labels)
    loss = bcejax.sigmoid_binary_cross_entropy(logits, labels, pos_weight=pos_weight,
                                               reduction="none")
    x, y, p = (np.asarray(a, np.float64) for a in (logits, labels, pos_weight))
    expected = p * y * np.log1p(np.exp(-x)) + (1 - y) * np.log1p(np.exp(x))
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    # Weighted by N / P, each label's positive terms weigh as much as its negatives
    # at x = 0, where both softplus terms are log 2.
    at_zero = bcejax.sigmoid_binary_cross_entropy(jnp.zeros((5, 4)), labels,
                                                  pos_weight=pos_weight, reduction="none")
    totals = np.asarray(at_zero, np.float64)
    positive_total = np.sum(np.where(LABELS == 1, totals, 0), axis=0)
    negative_total = np.sum(np.where(LABELS == 0, totals, 0), axis=0)
    np.testing.assert_allclose(positive_total[:2], negative_total[:2], rtol=1e-6)


def test_pos_weight_under_jit():
    pos_weight = jax.jit(bcejax.pos_weight_from_labels)(jnp.asarray(LABELS))
    np.testing.assert_allclose(pos_weight, [2 / 3, 3 / 2, 1, 1], rtol=1e-7)


def test_pos_weight_argument_errors():
    with pytest.raises(ValueError, match=r"pos_weight_from_labels: `labels` has shape \(\)"):
        bcejax.pos_weight_from_labels(0)
    with pytest.raises(ValueError, match=r"pos_weight_from_labels: `where` has shape \(3,\)"):
        bcejax.pos_weight_from_labels(LABELS, where=np.ones(3, bool))


# ----------------------------------------------------------------------------------
# class_balanced_weight
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99, 0.999, 0.9999])
def test_class_balanced_matches_float64_formula(beta):
    counts = np.asarray([1, 7, 60, 500, 20000])
    weight = bcejax.class_balanced_weight(counts, beta=beta)
    expected = class_balanced_reference(counts, beta)
    # 1 - beta is formed in float64 and 1 - beta**n with expm1, so the float32 result
    # is within a few ulps of the float64 formula even for beta close to 1.
    np.testing.assert_allclose(weight, expected, rtol=4e-7)
    np.testing.assert_allclose(np.sum(np.asarray(weight, np.float64)), 5, rtol=1e-6)
    assert weight.dtype == jnp.float32


def test_class_balanced_known_values():
    # counts [4, 1, 1] with beta 0.9: weights 0.1 / (1 - 0.9**4) = 0.29078..., 1, 1,
    # normalised by 3 / 2.29078...
    weight = bcejax.class_balanced_weight(np.asarray([4, 1, 1]), beta=0.9)
    np.testing.assert_allclose(weight, [0.3808073115, 1.309596344, 1.309596344], rtol=2e-7)


def test_class_balanced_beta_zero_gives_equal_weights():
    weight = bcejax.class_balanced_weight(np.asarray([1, 10, 1000]), beta=0.0)
    np.testing.assert_array_equal(weight, [1, 1, 1])


def test_class_balanced_beta_near_one_approaches_inverse_frequency():
    counts = np.asarray([1, 2, 4, 8])
    weight = bcejax.class_balanced_weight(counts, beta=1 - 1e-9)
    inverse = (1 / counts) * 4 / np.sum(1 / counts)
    np.testing.assert_allclose(weight, inverse, rtol=1e-6)


def test_class_balanced_zero_count_treated_as_one():
    weight = bcejax.class_balanced_weight(np.asarray([0, 1, 100]), beta=0.99)
    assert np.all(np.isfinite(weight))
    assert weight[0] == weight[1]
    np.testing.assert_allclose(weight, class_balanced_reference([1, 1, 100], 0.99), rtol=4e-7)


def test_class_balanced_float_counts_and_float64():
    with jax.enable_x64(True):
        weight = bcejax.class_balanced_weight(np.asarray([2.5, 40.0, 900.0]), beta=0.999)
        assert weight.dtype == jnp.float64
        np.testing.assert_allclose(weight, class_balanced_reference([2.5, 40, 900], 0.999),
                                   rtol=1e-13)


def test_class_balanced_traced_beta_under_jit():
    counts = jnp.asarray([3, 30, 300])
    weight = jax.jit(lambda beta: bcejax.class_balanced_weight(counts, beta=beta))(
        jnp.float32(0.99))
    # A traced beta forms 1 - beta in float32, which costs some digits at 0.99.
    np.testing.assert_allclose(weight, class_balanced_reference([3, 30, 300], 0.99), rtol=1e-5)


def test_class_balanced_plugs_into_bce_weight():
    labels = jnp.asarray(LABELS, jnp.float32)
    positives, _ = bcejax.label_counts(labels)
    weight = bcejax.class_balanced_weight(positives, beta=0.9)
    logits = jnp.asarray(np.linspace(-1, 1, 20).reshape(5, 4), jnp.float32)
    weighted = bcejax.sigmoid_binary_cross_entropy(logits, labels, weight=weight,
                                                   reduction="none")
    plain = bcejax.sigmoid_binary_cross_entropy(logits, labels, reduction="none")
    np.testing.assert_allclose(weighted, np.asarray(plain) * np.asarray(weight), rtol=1e-6)
    # The label with no positive example gets the largest weight, like a count of 1.
    assert int(np.argmax(weight)) == 2


@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5])
def test_class_balanced_beta_outside_range_raises(beta):
    with pytest.raises(ValueError, match=rf"class_balanced_weight: `beta` must lie in \[0, 1\), "
                                         rf"got {beta}"):
        bcejax.class_balanced_weight(np.asarray([1, 2]), beta=beta)


def test_class_balanced_beta_array_errors():
    with pytest.raises(ValueError, match=r"`beta` must lie in \[0, 1\), got 1.0"):
        bcejax.class_balanced_weight(np.asarray([1, 2]), beta=jnp.float32(1.0))
    with pytest.raises(ValueError, match=r"`beta` must be a float scalar.*shape \(2,\)"):
        bcejax.class_balanced_weight(np.asarray([1, 2]), beta=jnp.asarray([0.9, 0.9]))


def test_class_balanced_counts_shape_and_dtype_errors():
    with pytest.raises(ValueError) as info:
        bcejax.class_balanced_weight(LABELS)
    message = str(info.value)
    assert "`counts` has shape (5, 4)" in message
    assert "[num_labels]" in message
    assert "bcejax.label_counts(labels)[0]" in message
    with pytest.raises(TypeError, match=r"`counts` must have an integer or floating dtype, got "
                                        r"dtype bool"):
        bcejax.class_balanced_weight(np.asarray([True, False]))


# ----------------------------------------------------------------------------------
# known_labels and the partial-label convention
# ----------------------------------------------------------------------------------


def test_known_labels_float_marks_negative_and_nan():
    labels = np.asarray([[1.0, -1.0, 0.0], [nan, 0.5, -0.5]], np.float32)
    np.testing.assert_array_equal(bcejax.known_labels(labels),
                                  [[True, False, True], [False, True, False]])


def test_known_labels_integer_and_bool():
    np.testing.assert_array_equal(bcejax.known_labels(np.asarray([1, -1, 0, 2])),
                                  [True, False, True, True])
    mask = bcejax.known_labels(np.asarray([[True, False]]))
    np.testing.assert_array_equal(mask, [[True, True]])
    assert mask.dtype == jnp.bool_


def test_known_labels_under_jit_and_rejects_strings():
    mask = jax.jit(bcejax.known_labels)(jnp.asarray([0.0, -1.0, jnp.nan]))
    np.testing.assert_array_equal(mask, [True, False, False])
    with pytest.raises(TypeError, match=r"known_labels: `labels` must have a floating"):
        bcejax.known_labels(np.asarray(["1", "-1"]))


@pytest.mark.parametrize("unknown", [-1.0, nan], ids=["minus_one", "nan"])
def test_unknown_labels_leave_bce_and_gradients(unknown):
    logits = jnp.asarray([[2.0, -1.0, 0.5], [0.0, 1.5, -2.0]], jnp.float32)
    labels = jnp.asarray([[1, unknown, 0], [unknown, 1, 0]], jnp.float32)
    known = bcejax.known_labels(labels)

    def loss(x, y):
        return bcejax.sigmoid_binary_cross_entropy(x, y, where=known)

    value, (d_logits, d_labels) = jax.value_and_grad(loss, argnums=(0, 1))(logits, labels)
    subset = bcejax.sigmoid_binary_cross_entropy(
        jnp.asarray([2.0, 0.5, 1.5, -2.0]), jnp.asarray([1.0, 0.0, 1.0, 0.0]))
    # The mean runs over the 4 known labels only.
    np.testing.assert_allclose(value, subset, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(d_logits)[~np.asarray(known)], 0)
    np.testing.assert_array_equal(np.asarray(d_labels)[~np.asarray(known)], 0)
    assert np.all(np.isfinite(d_logits))
    assert np.all(np.isfinite(d_labels))


def test_unknown_labels_without_mask_give_nan():
    # The convention needs the mask: a NaN label reaches the loss unmasked.
    labels = jnp.asarray([[1.0, nan]], jnp.float32)
    assert np.isnan(bcejax.sigmoid_binary_cross_entropy(jnp.zeros((1, 2)), labels))
    assert np.isfinite(bcejax.sigmoid_binary_cross_entropy(
        jnp.zeros((1, 2)), labels, where=bcejax.known_labels(labels)))
