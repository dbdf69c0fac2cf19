"""Multi-label evaluation metrics that run under `jax.jit` and `jax.vmap`.

Ranking metrics take real-valued scores first, then labels: `coverage`,
`label_ranking_average_precision`, `mean_average_precision`, `one_error` and
`ranking_loss`. Prediction metrics take 0/1 or boolean predictions first, then
labels: `f1_score`, `hamming_loss` and `subset_accuracy`. Every input has shape
`[num_examples, num_labels]` and every result is a scalar.
"""

from bcejax._metrics import (
    coverage,
    f1_score,
    hamming_loss,
    label_ranking_average_precision,
    mean_average_precision,
    one_error,
    ranking_loss,
    subset_accuracy,
)

__all__ = [
    "coverage",
    "f1_score",
    "hamming_loss",
    "label_ranking_average_precision",
    "mean_average_precision",
    "one_error",
    "ranking_loss",
    "subset_accuracy",
]
