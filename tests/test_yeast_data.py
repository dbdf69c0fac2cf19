"""Tests of the Yeast loader, its splits and its reference results (examples/yeast.py)."""

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
import yeast  # noqa: E402

# Label counts of MULAN's yeast-train.arff and yeast-test.arff.
TRAIN_LABEL_COUNTS = [476, 645, 598, 532, 441, 378, 261, 289, 98, 161, 198, 1128, 1116, 21]
TEST_LABEL_COUNTS = [286, 393, 385, 330, 281, 219, 167, 191, 80, 92, 91, 688, 683, 13]


@pytest.fixture(scope="module")
def data():
    return yeast.load_yeast()


def test_load_shapes_and_dtypes(data):
    features, labels = data
    assert features.shape == (2417, 103)
    assert labels.shape == (2417, 14)
    assert features.dtype == np.float32
    assert labels.dtype == np.int32


def test_load_labels_are_binary(data):
    _, labels = data
    assert set(np.unique(labels).tolist()) == {0, 1}


def test_load_features_are_finite(data):
    features, _ = data
    assert np.isfinite(features).all()


def test_load_label_statistics(data):
    _, labels = data
    # Label cardinality 4.237, density 0.303 and 198 distinct label sets, the known
    # statistics of the MULAN version of Yeast.
    assert labels.sum(axis=1).mean() == pytest.approx(4.237, abs=5e-4)
    assert labels.mean() == pytest.approx(0.303, abs=5e-4)
    assert len({tuple(row) for row in labels.tolist()}) == 198
    assert labels.sum(axis=1).min() >= 1
    assert labels[:, 13].sum() == 34


def test_standard_split_row_ranges():
    train_rows, test_rows = yeast.standard_split()
    np.testing.assert_array_equal(train_rows, np.arange(917, 2417))
    np.testing.assert_array_equal(test_rows, np.arange(917))


def test_standard_split_first_rows(data):
    features, _ = data
    train_rows, test_rows = yeast.standard_split()
    # The file is test-first: these are the first rows of yeast-test.arff and yeast-train.arff.
    np.testing.assert_allclose(features[test_rows[0], :3], [0.004168, -0.170975, -0.156748], rtol=1e-6)
    np.testing.assert_allclose(features[train_rows[0], :3], [0.0937, 0.139771, 0.062774], rtol=1e-6)


def test_standard_split_label_counts(data):
    _, labels = data
    train_rows, test_rows = yeast.standard_split()
    np.testing.assert_array_equal(labels[train_rows].sum(axis=0), TRAIN_LABEL_COUNTS)
    np.testing.assert_array_equal(labels[test_rows].sum(axis=0), TEST_LABEL_COUNTS)


def test_kfold_splits_partition_rows():
    folds = yeast.kfold_splits(yeast.NUM_ROWS, 10, seed=0)
    test_rows = [test for _, test in folds]
    assert len(folds) == 10
    np.testing.assert_array_equal(np.sort(np.concatenate(test_rows)), np.arange(yeast.NUM_ROWS))
    assert sorted({len(rows) for rows in test_rows}) == [241, 242]
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        assert len(train) + len(test) == yeast.NUM_ROWS


def test_kfold_splits_are_sorted():
    for train, test in yeast.kfold_splits(50, 5, seed=3):
        assert (np.diff(train) > 0).all()
        assert (np.diff(test) > 0).all()


def test_kfold_splits_same_seed_same_folds():
    first = yeast.kfold_splits(100, 4, seed=7)
    second = yeast.kfold_splits(100, 4, seed=7)
    for (train_a, test_a), (train_b, test_b) in zip(first, second):
        np.testing.assert_array_equal(train_a, train_b)
        np.testing.assert_array_equal(test_a, test_b)


def test_kfold_splits_other_seed_other_folds():
    first = yeast.kfold_splits(100, 4, seed=7)
    second = yeast.kfold_splits(100, 4, seed=8)
    assert not np.array_equal(first[0][1], second[0][1])


@pytest.mark.parametrize("num_folds", [1, 0, 101])
def test_kfold_splits_invalid_num_folds(num_folds):
    with pytest.raises(ValueError, match=f"num_folds is {num_folds}, expected a value from 2 to num_rows=100"):
        yeast.kfold_splits(100, num_folds)


def test_missing_river_names_install_command(monkeypatch):
    # A None entry in sys.modules makes `import river` raise ModuleNotFoundError.
    monkeypatch.setitem(sys.modules, "river", None)
    with pytest.raises(ModuleNotFoundError) as error:
        yeast.load_yeast()
    assert "pip install river" in str(error.value)
    assert 'pip install -e ".[examples]"' in str(error.value)
    assert error.value.name == "river"


def test_reference_results_filter_by_protocol():
    standard = yeast.reference_results("standard")
    cv10 = yeast.reference_results("cv10")
    assert {result.protocol for result in standard} == {"standard"}
    assert {result.protocol for result in cv10} == {"cv10"}
    assert len(standard) + len(cv10) == len(yeast.REFERENCE_RESULTS)


def test_reference_results_unknown_protocol():
    with pytest.raises(ValueError, match="protocol is 'cv5', expected one of"):
        yeast.reference_results("cv5")


def test_reference_results_goal_rows():
    goal = ("hamming_loss", "one_error", "coverage", "ranking_loss", "average_precision")
    standard = {result.model: result for result in yeast.reference_results("standard")}
    cv10 = {result.model: result for result in yeast.reference_results("cv10")}
    mlknn = standard["ML-kNN, k=10"]
    camel = cv10["CAMEL (published)"]
    assert [mlknn.value(name) for name in goal] == [0.1980, 0.2345, 6.414, 0.1715, 0.7585]
    assert [camel.value(name) for name in goal] == [0.190, 0.218, 6.24, 0.162, 0.775]


def test_reference_result_keeps_precision():
    camel = {result.model: result for result in yeast.reference_results("cv10")}["CAMEL (published)"]
    assert camel.reported["hamming_loss"] == "0.190"
    assert camel.decimals("hamming_loss") == 3
    assert camel.decimals("coverage") == 2
    assert camel.value("subset_accuracy") is None


def test_reference_results_recalled_rows_are_approximate():
    approximate = {result.model for result in yeast.REFERENCE_RESULTS if result.approximate}
    assert approximate == {"ML-kNN (published)", "BP-MLL (published)"}


def test_reference_results_cite_papers():
    sources = {result.model: result.source for result in yeast.REFERENCE_RESULTS}
    assert "Pattern Recognition" in sources["ML-kNN (published)"]
    assert "IEEE TKDE" in sources["BP-MLL (published)"]
    assert "AAAI 2019" in sources["CAMEL (published)"]
