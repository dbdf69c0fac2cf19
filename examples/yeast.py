"""Load the Yeast multi-label data set and the published results on it.

Yeast (Elisseeff & Weston, "A kernel method for multi-labelled classification",
NeurIPS 2001) describes 2417 genes by 103 numeric features and marks each gene with
some of 14 functional classes. The PyPI package ``river`` ships the MULAN version of
it as ``river/datasets/yeast.csv.gz``: one header row (``Att1..Att103``,
``Class1..Class14``), then one row per gene.

The file lists the standard test set first. Rows 0..916 are MULAN's
``yeast-test.arff`` and rows 917..2416 its ``yeast-train.arff``, both in file order.
Taking the first 1500 rows as training data mixes the two sets, and the metrics still
look plausible, so use :func:`standard_split` instead of slicing by hand.

Examples:
    >>> features, labels = load_yeast()
    >>> train_rows, test_rows = standard_split()
    >>> features[train_rows].shape, labels[test_rows].shape
    ((1500, 103), (917, 14))
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.resources
from collections.abc import Mapping

import numpy as np

NUM_ROWS = 2417
NUM_FEATURES = 103
NUM_LABELS = 14
NUM_TEST_ROWS = 917
"""Size of the standard test set, which fills rows 0..916 of the file."""

INSTALL_COMMANDS = 'pip install river  (or, in a bcejax checkout: pip install -e ".[examples]")'


def load_yeast() -> tuple[np.ndarray, np.ndarray]:
    """Read Yeast from the copy that the ``river`` package ships, without network access.

    Returns:
        ``(features, labels)`` in file order (test rows first, see
        :func:`standard_split`): ``features`` float32 of shape [2417, 103] and
        ``labels`` int32 of shape [2417, 14] with values 0 and 1.

    Raises:
        ModuleNotFoundError: if ``river`` is not installed. The message gives the
            command that installs it.
        ValueError: if the file does not have the expected shape or label values.

    Examples:
        >>> features, labels = load_yeast()
        >>> features.dtype, labels.dtype, int(labels.sum())
        (dtype('float32'), dtype('int32'), 10241)
    """
    try:
        # Anchored at the top-level package because importing river.datasets loads
        # pandas and every dataset class: 2.6 s with river 0.26.1 on a 2-core CPU.
        path = importlib.resources.files("river") / "datasets" / "yeast.csv.gz"
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "The Yeast data set is read from the 'river' package, which is not "
            f"installed. Install it with: {INSTALL_COMMANDS}",
            name="river",
        ) from error
    with path.open("rb") as compressed, gzip.open(compressed, "rt") as text:
        table = np.loadtxt(text, delimiter=",", skiprows=1, dtype=np.float64)

    expected_shape = (NUM_ROWS, NUM_FEATURES + NUM_LABELS)
    if table.shape != expected_shape:
        raise ValueError(
            f"{path} has a table of shape {table.shape}, expected {expected_shape} "
            "(genes, 103 features + 14 labels)."
        )
    labels = table[:, NUM_FEATURES:]
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"{path} has label values {np.unique(labels)}, expected only 0 and 1.")
    return table[:, :NUM_FEATURES].astype(np.float32), labels.astype(np.int32)


def standard_split() -> tuple[np.ndarray, np.ndarray]:
    """Return the row indices of MULAN's standard training and test sets.

    Returns:
        ``(train_rows, test_rows)``: int64 arrays of shape [1500] (rows 917..2416) and
        [917] (rows 0..916), each in file order.

    Examples:
        >>> train_rows, test_rows = standard_split()
        >>> int(train_rows[0]), int(test_rows[-1])
        (917, 916)
    """
    return np.arange(NUM_TEST_ROWS, NUM_ROWS), np.arange(NUM_TEST_ROWS)


def kfold_splits(
    num_rows: int = NUM_ROWS, num_folds: int = 10, *, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split the rows into seeded folds for k-fold cross-validation.

    A seeded permutation of the rows is cut into ``num_folds`` folds whose sizes
    differ by at most one. Each fold is the test set once, and the other folds form
    its training set. The folds are not stratified by label, as in the 10-fold
    protocol of the ML-kNN and BP-MLL papers.

    Args:
        num_rows: number of rows to split.
        num_folds: number of folds, from 2 to ``num_rows``.
        seed: seed of the permutation. The same seed gives the same folds.

    Returns:
        A list of ``num_folds`` pairs ``(train_rows, test_rows)`` of sorted int64 index
        arrays. The test rows of all folds are disjoint and together cover every row.

    Raises:
        ValueError: if ``num_folds`` is outside 2..``num_rows``.

    Examples:
        >>> folds = kfold_splits(num_folds=10, seed=0)
        >>> len(folds), folds[0][0].shape, folds[0][1].shape
        (10, (2175,), (242,))
    """
    if not 2 <= num_folds <= num_rows:
        raise ValueError(f"num_folds is {num_folds}, expected a value from 2 to num_rows={num_rows}.")
    permutation = np.random.default_rng(seed).permutation(num_rows)
    splits = []
    for test_rows in np.array_split(permutation, num_folds):
        is_test = np.zeros(num_rows, dtype=bool)
        is_test[test_rows] = True
        splits.append((np.flatnonzero(~is_test), np.flatnonzero(is_test)))
    return splits


# Reference results. Metric names are the keys of the example's metrics.json:
# hamming_loss, one_error, coverage (steps down the ranked label list, i.e.
# scikit-learn's coverage_error - 1), ranking_loss, average_precision (example-based
# label-ranking AP, not the per-label mAP), micro_f1, macro_f1. Values are strings as
# the source prints them, so that their precision is kept.

STANDARD_PROTOCOL = "standard"
CV10_PROTOCOL = "cv10"
PROTOCOL_TITLES = {
    STANDARD_PROTOCOL: "standard split (train rows 917..2416, test rows 0..916)",
    CV10_PROTOCOL: "10-fold cross-validation on all 2417 rows, mean over folds",
}

MLKNN_PAPER = (
    'Zhang & Zhou, "ML-KNN: A lazy learning approach to multi-label learning", '
    "Pattern Recognition 40(7), 2007"
)
BPMLL_PAPER = (
    'Zhang & Zhou, "Multilabel neural networks with applications to functional '
    'genomics and text categorization", IEEE TKDE 18(10), 2006'
)
CAMEL_PAPER = 'Feng, An & He, "Collaboration based multi-label learning", AAAI 2019'
MEASURED_STANDARD = "measured for bcejax on the standard split, threshold 0.5, 2-core CPU"


@dataclasses.dataclass(frozen=True)
class ReferenceResult:
    """Published or measured results of one model under one evaluation protocol."""

    model: str
    protocol: str
    source: str
    reported: Mapping[str, str]
    approximate: bool = False
    """True where the numbers were recalled from the paper and could not be re-read."""

    def value(self, name: str) -> float | None:
        """Return the reported value of metric ``name``, or None if the source has none."""
        return float(self.reported[name]) if name in self.reported else None

    def decimals(self, name: str) -> int:
        """Return the number of decimals that the source reports for metric ``name``."""
        return len(self.reported[name].partition(".")[2])


REFERENCE_RESULTS = (
    ReferenceResult(
        model="constant scores (training label frequency)",
        protocol=STANDARD_PROTOCOL,
        source=MEASURED_STANDARD,
        reported={
            "hamming_loss": "0.3037", "one_error": "0.2497", "coverage": "6.790",
            "ranking_loss": "0.2100", "average_precision": "0.7050",
            "micro_f1": "0", "macro_f1": "0",
        },
    ),
    ReferenceResult(
        model="ML-kNN, k=10",
        protocol=STANDARD_PROTOCOL,
        source=f"{MEASURED_STANDARD}; method of {MLKNN_PAPER}",
        reported={
            "hamming_loss": "0.1980", "one_error": "0.2345", "coverage": "6.414",
            "ranking_loss": "0.1715", "average_precision": "0.7585",
            "micro_f1": "0.625", "macro_f1": "0.336",
        },
    ),
    ReferenceResult(
        model="per-label logistic regression",
        protocol=STANDARD_PROTOCOL,
        source=MEASURED_STANDARD,
        reported={
            "hamming_loss": "0.2108", "one_error": "0.2585", "coverage": "6.688",
            "ranking_loss": "0.1863", "average_precision": "0.7420",
            "micro_f1": "0.625", "macro_f1": "0.399",
        },
    ),
    ReferenceResult(
        model="MLP 103-256-14, sigmoid BCE, Adam (5 seeds, untuned)",
        protocol=STANDARD_PROTOCOL,
        source=MEASURED_STANDARD,
        reported={
            "hamming_loss": "0.2027", "one_error": "0.244", "coverage": "6.547",
            "ranking_loss": "0.1758", "average_precision": "0.7513",
            "micro_f1": "0.631", "macro_f1": "0.371",
        },
    ),
    ReferenceResult(
        model="ML-kNN, k=10 (measured)",
        protocol=CV10_PROTOCOL,
        source=(
            "measured for bcejax with 10-fold cross-validation on a 2-core CPU, with "
            f"folds other than this example's; method of {MLKNN_PAPER}"
        ),
        reported={
            "hamming_loss": "0.195", "one_error": "0.233", "coverage": "6.27",
            "ranking_loss": "0.168", "average_precision": "0.763",
        },
    ),
    ReferenceResult(
        model="ML-kNN (published)",
        protocol=CV10_PROTOCOL,
        source=MLKNN_PAPER,
        reported={
            "hamming_loss": "0.194", "one_error": "0.230", "coverage": "6.275",
            "ranking_loss": "0.167", "average_precision": "0.765",
        },
        approximate=True,
    ),
    ReferenceResult(
        model="BP-MLL (published)",
        protocol=CV10_PROTOCOL,
        source=BPMLL_PAPER,
        reported={
            "hamming_loss": "0.206", "one_error": "0.233", "coverage": "6.4",
            "ranking_loss": "0.171", "average_precision": "0.756",
        },
        approximate=True,
    ),
    ReferenceResult(
        model="CAMEL (published)",
        protocol=CV10_PROTOCOL,
        # The paper reports coverage divided by the 14 labels: 0.446 * 14 = 6.24.
        source=CAMEL_PAPER,
        reported={
            "hamming_loss": "0.190", "one_error": "0.218", "coverage": "6.24",
            "ranking_loss": "0.162", "average_precision": "0.775",
            "micro_f1": "0.655", "macro_f1": "0.411",
        },
    ),
)


def reference_results(protocol: str) -> list[ReferenceResult]:
    """Return the reference results measured under ``protocol`` ("standard" or "cv10").

    Results of different protocols are not comparable, so a table shows one protocol.

    Raises:
        ValueError: if ``protocol`` is not "standard" or "cv10".

    Examples:
        >>> [result.model for result in reference_results("cv10")][-1]
        'CAMEL (published)'
    """
    if protocol not in PROTOCOL_TITLES:
        raise ValueError(f"protocol is {protocol!r}, expected one of {sorted(PROTOCOL_TITLES)}.")
    return [result for result in REFERENCE_RESULTS if result.protocol == protocol]
