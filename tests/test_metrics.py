"""Tests for bcejax.metrics against scikit-learn 1.9 and hand-computed values.

scikit-learn takes (y_true, y_pred or y_score), while bcejax.metrics takes
scores or predictions first and labels second.
"""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics as skm

from bcejax import metrics

# float32 results are compared with float64 references. Each result is one
# integer count divided once, or a float32 mean of ratios that are each rounded
# once. For the sizes tested here that keeps the error within a few float32 ulps
# (1.2e-7 at 1.0), under this bound.
RTOL_FLOAT32 = 1e-6
# Under x64 the same computation runs in float64 (ulp 2.2e-16).
RTOL_FLOAT64 = 1e-12
# vmap compiles a batched program, whose reductions may round differently from
# the unbatched one by an ulp or two.
MAX_ULP_VMAP_VS_LOOP = 4

SEEDS = (0, 1, 2)
SHAPES = ((1, 5), (50, 14), (200, 30))

RANKING_FUNCTIONS = {
    "one_error": metrics.one_error,
    "coverage": metrics.coverage,
    "ranking_loss": metrics.ranking_loss,
    "label_ranking_average_precision": metrics.label_ranking_average_precision,
    "map_exclude": functools.partial(
        metrics.mean_average_precision, no_positives="exclude"
    ),
    "map_zero": functools.partial(metrics.mean_average_precision, no_positives="zero"),
}

PREDICTION_FUNCTIONS = {
    "hamming_loss": metrics.hamming_loss,
    "subset_accuracy": metrics.subset_accuracy,
}
for _average in ("micro", "macro", "samples"):
    for _zero_division in (0.0, 1.0, float("nan")):
        PREDICTION_FUNCTIONS[f"f1_{_average}_zero_division_{_zero_division}"] = (
            functools.partial(
                metrics.f1_score, average=_average, zero_division=_zero_division
            )
        )

ALL_FUNCTIONS = {**RANKING_FUNCTIONS, **PREDICTION_FUNCTIONS}


def ignore_warnings(function, *args, **kwargs):
    """Call a scikit-learn function with its undefined-metric warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def reference_one_error(scores, labels):
    # np.argmax also picks the first of tied maxima.
    top_label = np.argmax(scores, axis=1)
    return np.mean(labels[np.arange(len(labels)), top_label] == 0)


def reference_coverage(scores, labels):
    # scikit-learn gives an example without relevant labels a coverage error of 0,
    # which subtracting 1 would turn into -1. bcejax gives it 0 steps.
    without_labels = np.mean(~labels.any(axis=1))
    return skm.coverage_error(labels, scores) - 1 + without_labels


def reference_map_exclude(scores, labels):
    labels_with_positives = np.flatnonzero(labels.any(axis=0))
    if labels_with_positives.size == 0:
        return np.nan
    per_label = [
        skm.average_precision_score(labels[:, j], scores[:, j])
        for j in labels_with_positives
    ]
    return np.mean(per_label)


def reference_map_zero(scores, labels):
    return ignore_warnings(skm.average_precision_score, labels, scores, average="macro")


def reference_ranking_loss(scores, labels):
    return skm.label_ranking_loss(labels, scores)


def reference_label_ranking_average_precision(scores, labels):
    return skm.label_ranking_average_precision_score(labels, scores)


RANKING_REFERENCES = {
    "one_error": reference_one_error,
    "coverage": reference_coverage,
    "ranking_loss": reference_ranking_loss,
    "label_ranking_average_precision": reference_label_ranking_average_precision,
    "map_exclude": reference_map_exclude,
    "map_zero": reference_map_zero,
}


def reference_prediction_metric(name, predictions, labels):
    if name == "hamming_loss":
        return skm.hamming_loss(labels, predictions)
    if name == "subset_accuracy":
        return skm.accuracy_score(labels, predictions)
    function = PREDICTION_FUNCTIONS[name]
    return ignore_warnings(
        skm.f1_score,
        labels,
        predictions,
        average=function.keywords["average"],
        zero_division=function.keywords["zero_division"],
    )


def make_case(seed, shape, tied):
    """Build float32 scores, int32 labels and boolean predictions for one test case.

    With at least three examples, label 0 has no positives and no predictions,
    example 1 has no labels and no predictions, and example 2 has all labels.
    """
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=shape).astype(np.float32)
    if tied:
        # Half steps leave about 15 distinct values, so most rows contain ties.
        scores = np.round(scores * 2) / 2
    labels = rng.random(shape) < 0.3
    predictions = scores > 0.5
    if shape[0] >= 3:
        labels[:, 0] = False
        predictions[:, 0] = False
        labels[1, :] = False
        predictions[1, :] = False
        labels[2, :] = True
    return scores, labels.astype(np.int32), predictions


CASES = [
    pytest.param(seed, shape, tied, id=f"seed{seed}-{shape[0]}x{shape[1]}-{kind}")
    for seed in SEEDS
    for shape in SHAPES
    for tied, kind in ((False, "distinct"), (True, "tied"))
]


@pytest.mark.parametrize("name", list(RANKING_FUNCTIONS))
@pytest.mark.parametrize("seed, shape, tied", CASES)
def test_ranking_metric_matches_reference(name, seed, shape, tied):
    scores, labels, _ = make_case(seed, shape, tied)
    if tied and shape[0] >= 3:
        assert any(len(np.unique(row)) < len(row) for row in scores)

    result = RANKING_FUNCTIONS[name](scores, labels)
    expected = RANKING_REFERENCES[name](scores.astype(np.float64), labels)

    assert result.shape == ()
    assert result.dtype == jnp.float32
    np.testing.assert_allclose(result, expected, rtol=RTOL_FLOAT32)


@pytest.mark.parametrize("name", list(PREDICTION_FUNCTIONS))
@pytest.mark.parametrize("seed, shape, tied", CASES)
def test_prediction_metric_matches_sklearn(name, seed, shape, tied):
    _, labels, predictions = make_case(seed, shape, tied)

    result = PREDICTION_FUNCTIONS[name](predictions, labels)
    expected = reference_prediction_metric(name, predictions, labels)

    assert result.shape == ()
    assert result.dtype == jnp.float32
    np.testing.assert_allclose(result, expected, rtol=RTOL_FLOAT32)


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_float64_under_x64_matches_reference(name):
    scores, labels, predictions = make_case(seed=3, shape=(50, 14), tied=True)
    scores = scores.astype(np.float64)
    first = scores if name in RANKING_FUNCTIONS else predictions.astype(np.float64)

    with jax.enable_x64(True):
        result = ALL_FUNCTIONS[name](first, labels)

    if name in RANKING_FUNCTIONS:
        expected = RANKING_REFERENCES[name](scores, labels)
    else:
        expected = reference_prediction_metric(name, predictions, labels)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=RTOL_FLOAT64)


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_label_dtypes_give_same_result(name):
    scores, labels, predictions = make_case(seed=4, shape=(50, 14), tied=True)
    first = scores if name in RANKING_FUNCTIONS else predictions
    function = ALL_FUNCTIONS[name]

    from_int = function(first, labels)
    from_bool = function(first, labels.astype(bool))
    from_float = function(first, labels.astype(np.float32))

    np.testing.assert_array_equal(from_bool, from_int)
    np.testing.assert_array_equal(from_float, from_int)


@pytest.mark.parametrize("name", list(PREDICTION_FUNCTIONS))
def test_prediction_dtypes_give_same_result(name):
    _, labels, predictions = make_case(seed=5, shape=(50, 14), tied=False)
    function = PREDICTION_FUNCTIONS[name]

    from_bool = function(predictions, labels)
    from_int = function(predictions.astype(np.int32), labels)
    from_float = function(predictions.astype(np.float32), labels)

    np.testing.assert_array_equal(from_int, from_bool)
    np.testing.assert_array_equal(from_float, from_bool)


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_jit_matches_eager(name):
    scores, labels, predictions = make_case(seed=6, shape=(50, 14), tied=True)
    first = scores if name in RANKING_FUNCTIONS else predictions
    function = ALL_FUNCTIONS[name]

    eager = function(first, labels)
    jitted = jax.jit(function)(first, labels)

    # Eager calls run the same jitted kernel, so the results are bit-identical.
    assert jitted.dtype == eager.dtype
    np.testing.assert_array_equal(jitted, eager)


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_vmap_matches_loop(name):
    cases = [make_case(seed, (50, 14), tied=True) for seed in (7, 8, 9)]
    index = 0 if name in RANKING_FUNCTIONS else 2
    first = np.stack([case[index] for case in cases])
    labels = np.stack([case[1] for case in cases])
    function = ALL_FUNCTIONS[name]

    batched = jax.vmap(function)(first, labels)
    looped = [function(first[i], labels[i]) for i in range(len(cases))]

    assert batched.shape == (len(cases),)
    for i, expected in enumerate(looped):
        np.testing.assert_array_max_ulp(
            batched[i], expected, maxulp=MAX_ULP_VMAP_VS_LOOP
        )


@pytest.mark.parametrize("name", list(RANKING_FUNCTIONS))
def test_integer_scores_match_reference(name):
    rng = np.random.default_rng(12)
    scores = rng.integers(0, 4, size=(30, 6)).astype(np.int32)
    labels = (rng.random((30, 6)) < 0.4).astype(np.int32)

    result = RANKING_FUNCTIONS[name](scores, labels)
    expected = RANKING_REFERENCES[name](scores, labels)

    assert result.dtype == jnp.float32
    np.testing.assert_allclose(result, expected, rtol=RTOL_FLOAT32)


def test_one_error_tie_takes_first_label():
    scores = np.array([[1.0, 1.0, 0.0]], dtype=np.float32)

    second_relevant = metrics.one_error(scores, np.array([[0, 1, 0]]))
    first_relevant = metrics.one_error(scores, np.array([[1, 0, 0]]))

    assert float(second_relevant) == 1.0
    assert float(first_relevant) == 0.0


def test_ranking_metrics_all_scores_tied():
    scores = np.zeros((2, 4), dtype=np.float32)
    labels = np.array([[1, 0, 1, 0], [0, 0, 0, 1]])

    # Every label has rank 4, so covering takes 3 steps and every pair is wrong.
    assert float(metrics.coverage(scores, labels)) == 3.0
    assert float(metrics.ranking_loss(scores, labels)) == 1.0
    # Example 0: 2 relevant of 4 at each rank. Example 1: 1 of 4.
    lrap = metrics.label_ranking_average_precision(scores, labels)
    assert float(lrap) == pytest.approx((2 / 4 + 1 / 4) / 2, rel=RTOL_FLOAT32)
    # The first tied label (index 0) is relevant only in example 0.
    assert float(metrics.one_error(scores, labels)) == 0.5
    expected_lrap = skm.label_ranking_average_precision_score(labels, scores)
    np.testing.assert_allclose(lrap, expected_lrap, rtol=RTOL_FLOAT32)


def test_signed_zero_scores_tie():
    # -0.0 == 0.0, so in example 0 the relevant label at 0.0 ties with the
    # irrelevant one at -0.0 and counts as a wrong pair.
    scores = np.array([[-0.0, 0.0, -1.0], [0.0, -0.0, 1.0]], dtype=np.float32)
    labels = np.array([[0, 1, 0], [0, 1, 1]])

    assert float(metrics.ranking_loss(scores, labels)) == 0.5
    np.testing.assert_allclose(
        metrics.ranking_loss(scores, labels),
        skm.label_ranking_loss(labels, scores),
        rtol=RTOL_FLOAT32,
    )
    np.testing.assert_allclose(
        metrics.coverage(scores, labels),
        skm.coverage_error(labels, scores) - 1,
        rtol=RTOL_FLOAT32,
    )
    np.testing.assert_allclose(
        metrics.label_ranking_average_precision(scores, labels),
        skm.label_ranking_average_precision_score(labels, scores),
        rtol=RTOL_FLOAT32,
    )

    # One label over two examples: the positive at 0.0 ties with the negative at -0.0.
    column_scores = np.array([[-0.0], [0.0]], dtype=np.float32)
    column_labels = np.array([[0], [1]])
    assert float(metrics.mean_average_precision(column_scores, column_labels)) == 0.5


def test_infinite_scores_rank_at_ends():
    # scikit-learn rejects infinite scores, so these values are computed by hand.
    scores = np.array([[-np.inf, np.inf, 0.0], [np.inf, np.inf, 0.0]], dtype=np.float32)
    labels = np.array([[1, 0, 0], [0, 1, 0]])

    # Example 0: the relevant label is last. Example 1: it ties with an irrelevant
    # label at +inf, and the first of the tied maxima (label 0) is irrelevant.
    assert float(metrics.one_error(scores, labels)) == 1.0
    assert float(metrics.coverage(scores, labels)) == (2 + 1) / 2
    assert float(metrics.ranking_loss(scores, labels)) == pytest.approx((1 + 0.5) / 2)
    lrap = metrics.label_ranking_average_precision(scores, labels)
    assert float(lrap) == pytest.approx((1 / 3 + 1 / 2) / 2, rel=RTOL_FLOAT32)


def test_example_without_labels_conventions():
    scores = np.array([[0.3, -1.2, 2.0, 0.7]], dtype=np.float32)
    labels = np.zeros((1, 4), dtype=np.int32)

    assert float(metrics.one_error(scores, labels)) == 1.0
    assert float(metrics.coverage(scores, labels)) == 0.0
    assert float(metrics.ranking_loss(scores, labels)) == skm.label_ranking_loss(
        labels, scores
    )
    assert float(metrics.ranking_loss(scores, labels)) == 0.0
    assert float(metrics.label_ranking_average_precision(scores, labels)) == 1.0
    assert skm.label_ranking_average_precision_score(labels, scores) == 1.0


def test_example_with_all_labels_conventions():
    scores = np.array([[0.3, -1.2, 2.0, 0.7]], dtype=np.float32)
    labels = np.ones((1, 4), dtype=np.int32)

    assert float(metrics.one_error(scores, labels)) == 0.0
    assert float(metrics.coverage(scores, labels)) == 3.0
    assert float(metrics.ranking_loss(scores, labels)) == 0.0
    assert float(metrics.label_ranking_average_precision(scores, labels)) == 1.0


def test_map_label_without_positives():
    scores = np.array([[0.9, 0.2], [0.4, 0.8], [0.6, 0.1]], dtype=np.float32)
    labels = np.array([[1, 0], [0, 0], [1, 0]])

    excluded = metrics.mean_average_precision(scores, labels, no_positives="exclude")
    zeroed = metrics.mean_average_precision(scores, labels, no_positives="zero")

    assert float(excluded) == 1.0
    assert float(zeroed) == 0.5
    assert float(zeroed) == reference_map_zero(scores, labels)
    assert float(metrics.mean_average_precision(scores, labels)) == float(excluded)


def test_map_no_label_has_positives():
    scores = np.array([[0.9, 0.2], [0.4, 0.8]], dtype=np.float32)
    labels = np.zeros((2, 2), dtype=np.int32)

    excluded = metrics.mean_average_precision(scores, labels, no_positives="exclude")
    zeroed = metrics.mean_average_precision(scores, labels, no_positives="zero")

    assert np.isnan(excluded)
    assert float(zeroed) == 0.0
    assert float(zeroed) == reference_map_zero(scores, labels)


def test_map_tied_scores_use_worst_rank():
    # Label 0: the positive ties with a negative at 0.5, so its precision is 1/2.
    scores = np.array([[0.5], [0.5], [0.1]], dtype=np.float32)
    labels = np.array([[1], [0], [0]])

    result = metrics.mean_average_precision(scores, labels)

    assert float(result) == 0.5
    assert float(result) == skm.average_precision_score(labels[:, 0], scores[:, 0])


@pytest.mark.parametrize("average", ["micro", "macro", "samples"])
@pytest.mark.parametrize("zero_division", [0.0, 1.0, float("nan")])
def test_f1_all_denominators_zero(average, zero_division):
    predictions = np.zeros((2, 3), dtype=bool)
    labels = np.zeros((2, 3), dtype=np.int32)

    result = metrics.f1_score(
        predictions, labels, average=average, zero_division=zero_division
    )
    expected = ignore_warnings(
        skm.f1_score, labels, predictions, average=average, zero_division=zero_division
    )

    np.testing.assert_array_equal(result, np.float32(zero_division))
    np.testing.assert_array_equal(result, np.float32(expected))


def test_f1_nan_zero_division_skips_entries():
    # Label 1 has no predictions and no positives. Labels 0 and 2 score 1 and 0.
    predictions = np.array([[1, 0, 1], [0, 0, 0]])
    labels = np.array([[1, 0, 0], [0, 0, 1]])

    skipped = metrics.f1_score(
        predictions, labels, average="macro", zero_division=float("nan")
    )
    zeroed = metrics.f1_score(predictions, labels, average="macro", zero_division=0.0)

    assert float(skipped) == 0.5
    assert float(zeroed) == pytest.approx(1 / 3, rel=RTOL_FLOAT32)


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
@pytest.mark.parametrize("nan_in", ["first", "labels"])
def test_nan_input_gives_nan(name, nan_in):
    scores, labels, predictions = make_case(seed=10, shape=(5, 4), tied=False)
    first = scores if name in RANKING_FUNCTIONS else predictions.astype(np.float32)
    labels = labels.astype(np.float32)
    if nan_in == "first":
        first[3, 2] = np.nan
    else:
        labels[3, 2] = np.nan

    result = ALL_FUNCTIONS[name](first, labels)

    assert np.isnan(result)


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_strict_dtype_promotion_accepted(name):
    scores, labels, predictions = make_case(seed=11, shape=(20, 6), tied=True)
    first = scores if name in RANKING_FUNCTIONS else predictions
    function = ALL_FUNCTIONS[name]

    with jax.numpy_dtype_promotion("standard"):
        standard = function(first, labels)
    with jax.numpy_dtype_promotion("strict"):
        strict = function(first, labels.astype(np.float32))

    np.testing.assert_array_equal(strict, standard)


SHAPE_ERROR_CASES = [
    pytest.param((3, 4), (3, 5), "same shape", id="mismatch"),
    pytest.param((4,), (4,), "2-D", id="one_dimensional"),
    pytest.param((2, 3, 4), (2, 3, 4), "2-D", id="three_dimensional"),
    pytest.param((0, 4), (0, 4), "at least one example", id="empty"),
]


@pytest.mark.parametrize("first_shape, labels_shape, expected_words", SHAPE_ERROR_CASES)
@pytest.mark.parametrize("name", list(RANKING_FUNCTIONS))
def test_ranking_shape_error_names_arguments(
    name, first_shape, labels_shape, expected_words
):
    function = RANKING_FUNCTIONS[name]
    function_name = getattr(function, "func", function).__name__
    scores = np.zeros(first_shape, dtype=np.float32)
    labels = np.zeros(labels_shape, dtype=np.int32)

    for call in (function, jax.jit(function)):
        with pytest.raises(ValueError) as error:
            call(scores, labels)
        message = str(error.value)
        assert message.startswith(f"{function_name}: ")
        assert f"`scores` has shape {first_shape}" in message
        assert f"`labels` has shape {labels_shape}" in message
        assert expected_words in message


@pytest.mark.parametrize("first_shape, labels_shape, expected_words", SHAPE_ERROR_CASES)
@pytest.mark.parametrize("name", list(PREDICTION_FUNCTIONS))
def test_prediction_shape_error_names_arguments(
    name, first_shape, labels_shape, expected_words
):
    function = PREDICTION_FUNCTIONS[name]
    function_name = getattr(function, "func", function).__name__
    predictions = np.zeros(first_shape, dtype=bool)
    labels = np.zeros(labels_shape, dtype=np.int32)

    for call in (function, jax.jit(function)):
        with pytest.raises(ValueError) as error:
            call(predictions, labels)
        message = str(error.value)
        assert message.startswith(f"{function_name}: ")
        assert f"`predictions` has shape {first_shape}" in message
        assert f"`labels` has shape {labels_shape}" in message
        assert expected_words in message


@pytest.mark.parametrize("name", list(ALL_FUNCTIONS))
def test_complex_input_raises_type_error(name):
    first = np.zeros((2, 3), dtype=np.complex64)
    labels = np.zeros((2, 3), dtype=np.int32)
    argument = "scores" if name in RANKING_FUNCTIONS else "predictions"

    with pytest.raises(TypeError, match=f"`{argument}` has dtype complex64"):
        ALL_FUNCTIONS[name](first, labels)


@pytest.mark.parametrize("average", ["weighted", "binary", None, "Macro"])
def test_f1_invalid_average_lists_valid(average):
    predictions = np.zeros((2, 3), dtype=bool)

    with pytest.raises(ValueError) as error:
        metrics.f1_score(predictions, predictions, average=average)

    message = str(error.value)
    assert f"invalid `average` {average!r}" in message
    assert "'macro', 'micro', 'samples'" in message


@pytest.mark.parametrize("zero_division", [0.5, -1.0, "warn", None, True])
def test_f1_invalid_zero_division_raises(zero_division):
    predictions = np.zeros((2, 3), dtype=bool)

    with pytest.raises(ValueError) as error:
        metrics.f1_score(
            predictions, predictions, average="micro", zero_division=zero_division
        )

    message = str(error.value)
    assert f"invalid `zero_division` {zero_division!r}" in message
    assert "0.0, 1.0, nan" in message


@pytest.mark.parametrize("no_positives", ["ignore", "nan", None])
def test_map_invalid_no_positives_raises(no_positives):
    scores = np.zeros((2, 3), dtype=np.float32)

    with pytest.raises(ValueError) as error:
        metrics.mean_average_precision(scores, scores, no_positives=no_positives)

    message = str(error.value)
    assert f"invalid `no_positives` {no_positives!r}" in message
    assert "'exclude', 'zero'" in message


def test_public_names_sorted_and_callable():
    assert metrics.__all__ == sorted(metrics.__all__)
    assert set(metrics.__all__) == {
        "coverage",
        "f1_score",
        "hamming_loss",
        "label_ranking_average_precision",
        "mean_average_precision",
        "one_error",
        "ranking_loss",
        "subset_accuracy",
    }
    for name in metrics.__all__:
        assert callable(getattr(metrics, name))
