"""Multi-label evaluation metrics that run under `jax.jit` and `jax.vmap`.

Every metric takes two `[num_examples, num_labels]` arrays and returns a scalar.
Ranking metrics take real-valued scores (logits or probabilities) first and labels
second. Prediction metrics take 0/1 or boolean predictions first and labels second.
Labels may be boolean, integer or floating point, and any nonzero label counts as
relevant. Shape and dtype errors raise at trace time. Values are not checked,
but a NaN in any floating-point input makes the result NaN.

Ranking metrics give tied scores the worst rank of their group, as scikit-learn
does. They sort each row (or column) once instead of comparing all pairs, so they
take O(L log L) time and O(L) memory per row of L entries.

Each public function checks its arguments in Python and then calls a jitted
kernel, so an eager call compiles once per input shape and dtype.

NOTE: all counts are int32, so an input with 2**31 or more entries overflows.
"""

from __future__ import annotations

import functools
import math
from typing import Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

_F1_AVERAGES = ("macro", "micro", "samples")
_NO_POSITIVES_RULES = ("exclude", "zero")


def _validate_pair(
    first: ArrayLike,
    second: ArrayLike,
    first_name: str,
    second_name: str,
    function_name: str,
) -> tuple[jax.Array, jax.Array]:
    """Convert both inputs to arrays and raise if a dtype or the shapes are invalid."""
    first_array = jnp.asarray(first)
    second_array = jnp.asarray(second)

    for name, array in ((first_name, first_array), (second_name, second_array)):
        is_real = jnp.issubdtype(array.dtype, jnp.bool_) or jnp.issubdtype(
            array.dtype, jnp.integer
        )
        is_real = is_real or jnp.issubdtype(array.dtype, jnp.floating)
        if not is_real:
            raise TypeError(
                f"{function_name}: `{name}` has dtype {array.dtype}, but a boolean, "
                "integer or real floating-point dtype is expected."
            )

    shapes = (
        f"`{first_name}` has shape {first_array.shape} and `{second_name}` has "
        f"shape {second_array.shape}"
    )
    if first_array.ndim != 2 or second_array.ndim != 2:
        raise ValueError(
            f"{function_name}: {shapes}, but both must be 2-D arrays of shape "
            "[num_examples, num_labels]. Reshape a single example to (1, num_labels)."
        )
    if first_array.shape != second_array.shape:
        raise ValueError(
            f"{function_name}: {shapes}, but both must have the same shape "
            "[num_examples, num_labels]."
        )
    if first_array.size == 0:
        raise ValueError(
            f"{function_name}: {shapes}, but at least one example and one label "
            "are needed."
        )
    return first_array, second_array


def _output_dtype(*arrays: jax.Array) -> jnp.dtype:
    """Pick float64 if an input is float64 (needs x64), else float32."""
    if any(array.dtype == jnp.float64 for array in arrays):
        return jnp.dtype(jnp.float64)
    return jnp.dtype(jnp.float32)


def _nan_if_any_nan(value: jax.Array, *arrays: jax.Array) -> jax.Array:
    """Replace `value` with NaN when a floating-point input contains a NaN."""
    has_nan = jnp.zeros((), dtype=jnp.bool_)
    for array in arrays:
        if jnp.issubdtype(array.dtype, jnp.floating):
            has_nan = has_nan | jnp.any(jnp.isnan(array))
    return jnp.where(has_nan, jnp.asarray(jnp.nan, dtype=value.dtype), value)


def _divide(
    numerator: jax.Array, denominator: jax.Array, dtype: jnp.dtype
) -> jax.Array:
    return numerator.astype(dtype) / denominator.astype(dtype)


@jax.jit
def _sort_and_rank(
    scores: jax.Array, relevant: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Sort each row by score and rank its entries, giving ties the worst rank.

    Takes `[num_rows, num_columns]` scores and boolean relevance. Returns three
    arrays of that shape, all in ascending score order within each row:

    - `rank`: int32 count of the entries scored at least as high as the entry.
    - `relevant_rank`: int32 count of the relevant entries among them.
    - `sorted_relevant`: the relevance of the entry.

    Callers only sum or take maxima over a row, so they need no unsorting.
    Sorting costs O(C log C) time per row of C columns, in place of O(C**2)
    pairwise comparisons.
    """
    num_columns = scores.shape[1]
    order = jnp.argsort(scores, axis=1)
    sorted_scores = jnp.take_along_axis(scores, order, axis=1)
    sorted_relevant = jnp.take_along_axis(relevant, order, axis=1)

    # relevant_below[:, p] is the number of relevant entries among the p lowest scores.
    relevant_below = jnp.cumsum(sorted_relevant, axis=1, dtype=jnp.int32)
    relevant_below = jnp.pad(relevant_below, ((0, 0), (1, 0)))

    # first_tied[:, p] is the first sorted position whose score equals the score at
    # position p, so every entry of a tied group counts the whole group as scored
    # at least as high as itself. Signed zeros tie because -0.0 == 0.0.
    position = jax.lax.broadcasted_iota(jnp.int32, scores.shape, 1)
    starts_group = jnp.concatenate(
        [
            jnp.ones((scores.shape[0], 1), dtype=jnp.bool_),
            sorted_scores[:, 1:] != sorted_scores[:, :-1],
        ],
        axis=1,
    )
    first_tied = jax.lax.cummax(jnp.where(starts_group, position, 0), axis=1)

    rank = num_columns - first_tied
    relevant_rank = relevant_below[:, -1:] - jnp.take_along_axis(
        relevant_below, first_tied, axis=1
    )
    return rank, relevant_rank, sorted_relevant


def _mean_precision_at_relevant(
    scores: jax.Array, relevant: jax.Array, dtype: jnp.dtype
) -> tuple[jax.Array, jax.Array]:
    """Average, per row, the precision at the rank of each relevant entry.

    Returns the per-row mean, 0 for rows without relevant entries, and the number
    of relevant entries per row.
    """
    rank, relevant_rank, sorted_relevant = _sort_and_rank(scores, relevant)
    precision = _divide(relevant_rank, rank, dtype)
    num_relevant = jnp.sum(relevant, axis=1, dtype=jnp.int32)
    precision_sum = jnp.sum(jnp.where(sorted_relevant, precision, 0), axis=1)
    mean_precision = precision_sum / jnp.maximum(num_relevant, 1).astype(dtype)
    return mean_precision, num_relevant


def one_error(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Compute the fraction of examples whose top-ranked label is not relevant.

    For example :math:`i` with relevant label set :math:`Y_i` and scores
    :math:`s_{ij}`, the one-error over :math:`N` examples is

    .. math::
        \frac{1}{N} \sum_{i=1}^{N} [\operatorname{argmax}_j s_{ij} \notin Y_i].

    When several labels share the maximum score, the top-ranked label is the
    first of them (lowest label index), as `jnp.argmax` picks it. An example with
    no relevant labels always counts as an error.

    Args:
      scores: real-valued scores of shape `[num_examples, num_labels]`, such as
        logits or probabilities. Higher means more likely relevant.
      labels: 0/1 labels of shape `[num_examples, num_labels]`, boolean, integer
        or floating point. Nonzero means relevant.

    Returns:
      A scalar in [0, 1], float64 if an input is float64 (needs x64), else float32.

    Note:
      The result is NaN if `scores` or `labels` contains a NaN. Infinite scores
      rank as usual. The metric is piecewise constant in `scores`, so it cannot
      serve as a training loss.

    Examples:
      >>> import jax.numpy as jnp
      >>> from bcejax.metrics import one_error
      >>> scores = jnp.array([[2.0, -1.0, 0.5], [0.1, 0.3, -2.0]])
      >>> labels = jnp.array([[1, 0, 0], [1, 0, 1]])
      >>> print(one_error(scores, labels))
      0.5

    References:
      Min-Ling Zhang and Zhi-Hua Zhou, "A Review on Multi-Label Learning
      Algorithms", IEEE Transactions on Knowledge and Data Engineering 26(8), 2014.
    """
    scores, labels = _validate_pair(scores, labels, "scores", "labels", "one_error")
    return _one_error(scores, labels)


@jax.jit
def _one_error(scores: jax.Array, labels: jax.Array) -> jax.Array:
    dtype = _output_dtype(scores, labels)
    relevant = labels.astype(jnp.bool_)

    top_label = jnp.argmax(scores, axis=1)
    top_is_relevant = jnp.take_along_axis(relevant, top_label[:, None], axis=1)
    num_errors = jnp.sum(~top_is_relevant, dtype=jnp.int32)

    result = num_errors.astype(dtype) / scores.shape[0]
    return _nan_if_any_nan(result, scores, labels)


def coverage(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Compute the steps down the ranked labels needed to cover all relevant labels.

    This is the convention of the multi-label literature, where a perfect ranking
    of one relevant label gives 0. It equals `sklearn.metrics.coverage_error - 1`
    (scikit-learn 1.9) when every example has a relevant label. With
    :math:`\operatorname{rank}_i(j) = |\{k : s_{ik} \ge s_{ij}\}|`, the rank of
    label :math:`j` counted from the top with ties given the worst rank of their
    group (as scikit-learn counts them), the coverage over :math:`N` examples is

    .. math::
        \frac{1}{N} \sum_{i=1}^{N}
        \Bigl(\max_{j \in Y_i} \operatorname{rank}_i(j) - 1\Bigr).

    An example with no relevant labels contributes 0 steps, because there is
    nothing to cover. scikit-learn also gives such an example a coverage error of 0,
    so on such data this function returns `coverage_error - 1` plus the fraction
    of examples without relevant labels.

    Args:
      scores: real-valued scores of shape `[num_examples, num_labels]`, such as
        logits or probabilities. Higher means more likely relevant.
      labels: 0/1 labels of shape `[num_examples, num_labels]`, boolean, integer
        or floating point. Nonzero means relevant.

    Returns:
      A scalar in [0, num_labels - 1], float64 if an input is float64 (needs x64),
      else float32. Divide by `num_labels` for the normalized coverage that some
      papers report.

    Note:
      The result is NaN if `scores` or `labels` contains a NaN. Infinite scores
      rank as usual.

    Examples:
      >>> import jax.numpy as jnp
      >>> from bcejax.metrics import coverage
      >>> scores = jnp.array([[2.0, -1.0, 0.5], [0.1, 0.3, -2.0]])
      >>> labels = jnp.array([[1, 0, 0], [1, 0, 1]])
      >>> print(coverage(scores, labels))
      1.0

    References:
      Min-Ling Zhang and Zhi-Hua Zhou, "A Review on Multi-Label Learning
      Algorithms", IEEE Transactions on Knowledge and Data Engineering 26(8), 2014.
    """
    scores, labels = _validate_pair(scores, labels, "scores", "labels", "coverage")
    return _coverage(scores, labels)


@jax.jit
def _coverage(scores: jax.Array, labels: jax.Array) -> jax.Array:
    dtype = _output_dtype(scores, labels)
    relevant = labels.astype(jnp.bool_)

    rank, _, sorted_relevant = _sort_and_rank(scores, relevant)
    # The lowest-scored relevant label has the largest rank.
    deepest_rank = jnp.max(jnp.where(sorted_relevant, rank, 0), axis=1)
    steps = jnp.where(jnp.any(relevant, axis=1), deepest_rank - 1, 0)
    total_steps = jnp.sum(steps, dtype=jnp.int32)

    result = total_steps.astype(dtype) / scores.shape[0]
    return _nan_if_any_nan(result, scores, labels)


def ranking_loss(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Compute the fraction of (relevant, irrelevant) label pairs ordered wrongly.

    A pair counts as wrong when the irrelevant label scores at least as high as
    the relevant one, so ties count as errors, as in
    `sklearn.metrics.label_ranking_loss`. With :math:`\bar{Y}_i` the irrelevant
    labels of example :math:`i`, the ranking loss over :math:`N` examples is

    .. math::
        \frac{1}{N} \sum_{i=1}^{N} \frac{|\{(j, k) \in Y_i \times \bar{Y}_i :
        s_{ij} \le s_{ik}\}|}{|Y_i| \, |\bar{Y}_i|}.

    An example with no relevant or no irrelevant labels has no pairs and
    contributes 0, but it still counts in :math:`N`, as in scikit-learn 1.9.

    Args:
      scores: real-valued scores of shape `[num_examples, num_labels]`, such as
        logits or probabilities. Higher means more likely relevant.
      labels: 0/1 labels of shape `[num_examples, num_labels]`, boolean, integer
        or floating point. Nonzero means relevant.

    Returns:
      A scalar in [0, 1], float64 if an input is float64 (needs x64), else float32.

    Note:
      The result is NaN if `scores` or `labels` contains a NaN. Infinite scores
      rank as usual. Pairs are counted by sorting each example's scores, not by
      comparing all pairs, so memory stays O(num_examples * num_labels).

    Examples:
      >>> import jax.numpy as jnp
      >>> from bcejax.metrics import ranking_loss
      >>> scores = jnp.array([[2.0, -1.0, 0.5], [0.1, 0.3, -2.0]])
      >>> labels = jnp.array([[1, 0, 0], [1, 0, 1]])
      >>> print(ranking_loss(scores, labels))
      0.5

    References:
      Min-Ling Zhang and Zhi-Hua Zhou, "A Review on Multi-Label Learning
      Algorithms", IEEE Transactions on Knowledge and Data Engineering 26(8), 2014.
    """
    scores, labels = _validate_pair(scores, labels, "scores", "labels", "ranking_loss")
    return _ranking_loss(scores, labels)


@jax.jit
def _ranking_loss(scores: jax.Array, labels: jax.Array) -> jax.Array:
    dtype = _output_dtype(scores, labels)
    relevant = labels.astype(jnp.bool_)
    num_labels = scores.shape[1]

    rank, relevant_rank, sorted_relevant = _sort_and_rank(scores, relevant)
    # For a relevant label, rank - relevant_rank counts the irrelevant labels
    # scored at least as high as it, and each of them forms a wrongly ordered pair.
    irrelevant_at_or_above = jnp.where(sorted_relevant, rank - relevant_rank, 0)
    wrong_pairs = jnp.sum(irrelevant_at_or_above, axis=1, dtype=jnp.int32)
    num_relevant = jnp.sum(relevant, axis=1, dtype=jnp.int32)
    num_pairs = num_relevant * (num_labels - num_relevant)

    pair_error = _divide(wrong_pairs, jnp.maximum(num_pairs, 1), dtype)
    per_example = jnp.where(num_pairs > 0, pair_error, 0)
    result = jnp.mean(per_example)
    return _nan_if_any_nan(result, scores, labels)


def label_ranking_average_precision(scores: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Compute the label ranking average precision, averaged over examples.

    For each relevant label of an example, take the fraction of labels ranked at
    or above it that are relevant, then average over the example's relevant labels
    and over examples. This is the "average precision" of the multi-label ranking
    literature and matches `sklearn.metrics.label_ranking_average_precision_score`
    (scikit-learn 1.9), including its tie rule and its edge cases:

    .. math::
        \frac{1}{N} \sum_{i=1}^{N} \frac{1}{|Y_i|} \sum_{j \in Y_i}
        \frac{|\{k \in Y_i : s_{ik} \ge s_{ij}\}|}{\operatorname{rank}_i(j)},

    with :math:`\operatorname{rank}_i(j) = |\{k : s_{ik} \ge s_{ij}\}|`, so tied
    labels get the worst rank of their group. An example with no relevant labels
    scores 1, because its ranking cannot be wrong. An example whose labels are all
    relevant also scores 1, which the formula gives.

    It is not the per-label mean average precision that many deep-learning papers
    report: use `mean_average_precision` for that.

    Args:
      scores: real-valued scores of shape `[num_examples, num_labels]`, such as
        logits or probabilities. Higher means more likely relevant.
      labels: 0/1 labels of shape `[num_examples, num_labels]`, boolean, integer
        or floating point. Nonzero means relevant.

    Returns:
      A scalar in (0, 1], float64 if an input is float64 (needs x64), else float32.

    Note:
      The result is NaN if `scores` or `labels` contains a NaN. Infinite scores
      rank as usual.

    Examples:
      >>> import jax.numpy as jnp
      >>> from bcejax.metrics import label_ranking_average_precision
      >>> scores = jnp.array([[2.0, -1.0, 0.5], [0.1, 0.3, -2.0]])
      >>> labels = jnp.array([[1, 0, 0], [1, 0, 1]])
      >>> print(label_ranking_average_precision(scores, labels))
      0.7916667

    References:
      Min-Ling Zhang and Zhi-Hua Zhou, "A Review on Multi-Label Learning
      Algorithms", IEEE Transactions on Knowledge and Data Engineering 26(8), 2014.
    """
    scores, labels = _validate_pair(
        scores, labels, "scores", "labels", "label_ranking_average_precision"
    )
    return _label_ranking_average_precision(scores, labels)


@jax.jit
def _label_ranking_average_precision(scores: jax.Array, labels: jax.Array) -> jax.Array:
    dtype = _output_dtype(scores, labels)
    relevant = labels.astype(jnp.bool_)

    mean_precision, num_relevant = _mean_precision_at_relevant(scores, relevant, dtype)
    per_example = jnp.where(num_relevant > 0, mean_precision, 1)
    result = jnp.mean(per_example)
    return _nan_if_any_nan(result, scores, labels)


def mean_average_precision(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    no_positives: Literal["exclude", "zero"] = "exclude",
) -> jax.Array:
    r"""Compute the average precision of each label, then average over labels.

    For label :math:`l` with positive examples :math:`P_l`, the average precision
    is the mean, over its positives, of the precision at each positive's rank:

    .. math::
        \mathrm{AP}_l = \frac{1}{|P_l|} \sum_{i \in P_l}
        \frac{|\{m \in P_l : s_{ml} \ge s_{il}\}|}{|\{m : s_{ml} \ge s_{il}\}|}.

    Examples with tied scores share the worst rank of their group, which is how
    `sklearn.metrics.average_precision_score` steps through distinct thresholds.
    On labels that have positives, the result equals that function with
    `average="macro"` (scikit-learn 1.9).

    A label with no positive example has no defined average precision. With
    `no_positives="exclude"` (the default) such labels are left out of the mean,
    a common choice in research code. With `no_positives="zero"` they count as 0,
    which reproduces scikit-learn's result (scikit-learn also warns).

    Args:
      scores: real-valued scores of shape `[num_examples, num_labels]`, such as
        logits or probabilities. Higher means more likely relevant.
      labels: 0/1 labels of shape `[num_examples, num_labels]`, boolean, integer
        or floating point. Nonzero means relevant.
      no_positives: how to treat labels without positives, `"exclude"` or
        `"zero"`. Under `jax.jit`, pass it as a static argument.

    Returns:
      A scalar in [0, 1], float64 if an input is float64 (needs x64), else float32.
      With `no_positives="exclude"`, the result is NaN when no label has a
      positive, because there is nothing to average.

    Note:
      The result is NaN if `scores` or `labels` contains a NaN. Infinite scores
      rank as usual. Each label sorts its scores over all examples, which costs
      O(N log N) time and O(N) memory per label for N examples.

    Examples:
      >>> import jax.numpy as jnp
      >>> from bcejax.metrics import mean_average_precision
      >>> scores = jnp.array([[0.9, 0.2], [0.4, 0.8], [0.6, 0.1]])
      >>> labels = jnp.array([[1, 0], [0, 0], [1, 0]])
      >>> print(mean_average_precision(scores, labels))
      1.0
      >>> print(mean_average_precision(scores, labels, no_positives="zero"))
      0.5
    """
    if no_positives not in _NO_POSITIVES_RULES:
        raise ValueError(
            f"mean_average_precision: invalid `no_positives` {no_positives!r}. "
            f"Valid values: {', '.join(repr(rule) for rule in _NO_POSITIVES_RULES)}."
        )
    scores, labels = _validate_pair(
        scores, labels, "scores", "labels", "mean_average_precision"
    )
    return _mean_average_precision(scores, labels, no_positives=no_positives)


@functools.partial(jax.jit, static_argnames="no_positives")
def _mean_average_precision(
    scores: jax.Array, labels: jax.Array, *, no_positives: str
) -> jax.Array:
    dtype = _output_dtype(scores, labels)
    relevant = labels.astype(jnp.bool_)

    # Transposed, each row is one label ranked over all examples.
    average_precision, num_positives = _mean_precision_at_relevant(
        scores.T, relevant.T, dtype
    )
    if no_positives == "zero":
        # _mean_precision_at_relevant already gives 0 to labels without positives.
        result = jnp.mean(average_precision)
    else:
        has_positives = num_positives > 0
        included_sum = jnp.sum(jnp.where(has_positives, average_precision, 0))
        num_included = jnp.sum(has_positives, dtype=jnp.int32)
        # 0 / 0 gives NaN when no label has a positive.
        result = included_sum / num_included.astype(dtype)
    return _nan_if_any_nan(result, scores, labels)


def hamming_loss(predictions: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Compute the fraction of entries where prediction and label differ.

    .. math::
        \frac{1}{N L} \sum_{i=1}^{N} \sum_{j=1}^{L} [\hat{y}_{ij} \ne y_{ij}].

    Args:
      predictions: 0/1 predictions of shape `[num_examples, num_labels]`, boolean,
        integer or floating point, such as `scores > 0`. Nonzero means predicted
        relevant.
      labels: 0/1 labels of the same shape and dtypes. Nonzero means relevant.

    Returns:
      A scalar in [0, 1], float64 if an input is float64 (needs x64), else float32.

    Note:
      The result is NaN if `predictions` or `labels` contains a NaN. It matches
      `sklearn.metrics.hamming_loss` (scikit-learn 1.9).

    Examples:
      >>> import jax.numpy as jnp
      >>> from bcejax.metrics import hamming_loss
      >>> predictions = jnp.array([[1, 0, 0], [1, 1, 0]])
      >>> labels = jnp.array([[1, 0, 0], [1, 0, 1]])
      >>> print(hamming_loss(predictions, labels))
      0.33333334
    """
    predictions, labels = _validate_pair(
        predictions, labels, "predictions", "labels", "hamming_loss"
    )
    return _hamming_loss(predictions, labels)


@jax.jit
def _hamming_loss(predictions: jax.Array, labels: jax.Array) -> jax.Array:
    dtype = _output_dtype(predictions, labels)
    predicted = predictions.astype(jnp.bool_)
    relevant = labels.astype(jnp.bool_)

    num_mismatches = jnp.sum(predicted != relevant, dtype=jnp.int32)
    result = num_mismatches.astype(dtype) / predictions.size
    return _nan_if_any_nan(result, predictions, labels)


def subset_accuracy(predictions: ArrayLike, labels: ArrayLike) -> jax.Array:
    r"""Compute the fraction of examples whose predicted label set equals the true one.

    .. math::
        \frac{1}{N} \sum_{i=1}^{N} [\hat{y}_{ij} = y_{ij} \text{ for all } j].

    Args:
      predictions: 0/1 predictions of shape `[num_examples, num_labels]`, boolean,
        integer or floating point, such as `scores > 0`. Nonzero means predicted
        relevant.
      labels: 0/1 labels of the same shape and dtypes. Nonzero means relevant.

    Returns:
      A scalar in [0, 1], float64 if an input is float64 (needs x64), else float32.

    Note:
      The result is NaN if `predictions` or `labels` contains a NaN. It matches
      `sklearn.metrics.accuracy_score` on multi-label input (scikit-learn 1.9).

    Examples:
      >>> import jax.numpy as jnp
      >>> from bcejax.metrics import subset_accuracy
      >>> predictions = jnp.array([[1, 0, 0], [1, 1, 0]])
      >>> labels = jnp.array([[1, 0, 0], [1, 0, 1]])
      >>> print(subset_accuracy(predictions, labels))
      0.5
    """
    predictions, labels = _validate_pair(
        predictions, labels, "predictions", "labels", "subset_accuracy"
    )
    return _subset_accuracy(predictions, labels)


@jax.jit
def _subset_accuracy(predictions: jax.Array, labels: jax.Array) -> jax.Array:
    dtype = _output_dtype(predictions, labels)
    predicted = predictions.astype(jnp.bool_)
    relevant = labels.astype(jnp.bool_)

    exact_matches = jnp.all(predicted == relevant, axis=1)
    num_exact = jnp.sum(exact_matches, dtype=jnp.int32)
    result = num_exact.astype(dtype) / predictions.shape[0]
    return _nan_if_any_nan(result, predictions, labels)


def f1_score(
    predictions: ArrayLike,
    labels: ArrayLike,
    *,
    average: Literal["micro", "macro", "samples"],
    zero_division: float = 0.0,
) -> jax.Array:
    r"""Compute the micro-, macro- or example-averaged F1 score of predictions.

    From counts of true positives :math:`TP`, false positives :math:`FP` and false
    negatives :math:`FN`, the F1 score is

    .. math::
        F_1 = \frac{2\,TP}{2\,TP + FP + FN}.

    `average` selects which entries the counts cover:

    - `"micro"`: all entries together, one F1 score.
    - `"macro"`: each label's column, then the mean of the per-label F1 scores.
    - `"samples"`: each example's row, then the mean of the per-example F1 scores.

    A zero denominator, where the counted entries hold no predicted and no
    relevant labels, gives the value `zero_division`. With `zero_division=nan`,
    such labels or examples are left out of the mean, and the result is NaN if
    all of them are left out. This matches `sklearn.metrics.f1_score`
    (scikit-learn 1.9) with the same `zero_division`. scikit-learn's default,
    `"warn"`, also gives 0 and warns.

    Args:
      predictions: 0/1 predictions of shape `[num_examples, num_labels]`, boolean,
        integer or floating point, such as `scores > 0`. Nonzero means predicted
        relevant.
      labels: 0/1 labels of the same shape and dtypes. Nonzero means relevant.
      average: `"micro"`, `"macro"` or `"samples"`, as described above. Under
        `jax.jit`, pass it as a static argument.
      zero_division: the F1 score of entries with a zero denominator, one of 0.0,
        1.0 or nan. Under `jax.jit`, pass it as a static argument.

    Returns:
      A scalar in [0, 1] or NaN, float64 if an input is float64 (needs x64), else
      float32.

    Note:
      The result is NaN if `predictions` or `labels` contains a NaN.

    Examples:
      >>> import functools
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from bcejax.metrics import f1_score
      >>> predictions = jnp.array([[1, 0, 0], [1, 1, 0]])
      >>> labels = jnp.array([[1, 0, 0], [1, 0, 1]])
      >>> print(f1_score(predictions, labels, average="micro"))
      0.6666667
      >>> macro_f1 = jax.jit(functools.partial(f1_score, average="macro"))
      >>> print(macro_f1(predictions, labels))
      0.33333334
    """
    if average not in _F1_AVERAGES:
        raise ValueError(
            f"f1_score: invalid `average` {average!r}. "
            f"Valid values: {', '.join(repr(name) for name in _F1_AVERAGES)}."
        )
    is_number = isinstance(zero_division, (int, float)) and not isinstance(
        zero_division, bool
    )
    valid_zero_division = is_number and (
        zero_division in (0, 1) or math.isnan(zero_division)
    )
    if not valid_zero_division:
        raise ValueError(
            f"f1_score: invalid `zero_division` {zero_division!r}. "
            "Valid values: 0.0, 1.0, nan (as a Python float, static under jax.jit)."
        )
    predictions, labels = _validate_pair(
        predictions, labels, "predictions", "labels", "f1_score"
    )
    # A static NaN differs from every other NaN object, so each `float("nan")`
    # would retrace the kernel. A flag and a finite fill value hit the jit cache.
    skip_undefined = math.isnan(zero_division)
    undefined_value = 0.0 if skip_undefined else float(zero_division)
    return _f1_score(
        predictions,
        labels,
        average=average,
        skip_undefined=skip_undefined,
        undefined_value=undefined_value,
    )


@functools.partial(
    jax.jit, static_argnames=("average", "skip_undefined", "undefined_value")
)
def _f1_score(
    predictions: jax.Array,
    labels: jax.Array,
    *,
    average: str,
    skip_undefined: bool,
    undefined_value: float,
) -> jax.Array:
    dtype = _output_dtype(predictions, labels)
    predicted = predictions.astype(jnp.bool_)
    relevant = labels.astype(jnp.bool_)

    axis = {"micro": None, "macro": 0, "samples": 1}[average]
    true_positives = jnp.sum(predicted & relevant, axis=axis, dtype=jnp.int32)
    num_predicted = jnp.sum(predicted, axis=axis, dtype=jnp.int32)
    num_relevant = jnp.sum(relevant, axis=axis, dtype=jnp.int32)
    # 2 TP + FP + FN equals the number of predicted plus the number of relevant entries.
    denominator = num_predicted + num_relevant
    defined = denominator > 0

    ratio = _divide(2 * true_positives, jnp.maximum(denominator, 1), dtype)
    f1 = jnp.where(defined, ratio, jnp.asarray(undefined_value, dtype=dtype))
    if skip_undefined:
        defined_sum = jnp.sum(jnp.where(defined, f1, 0))
        num_defined = jnp.sum(defined, dtype=jnp.int32)
        # 0 / 0 gives NaN when no entry has a defined F1 score.
        result = defined_sum / num_defined.astype(dtype)
    else:
        result = jnp.mean(f1)
    return _nan_if_any_nan(result, predictions, labels)
