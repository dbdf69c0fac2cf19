"""Smoke and unit tests of the Yeast training example (examples/train_multilabel.py).

The smoke tests train for a few steps only. They check that the script runs end to
end on the real data and writes what it promises, not how good the model is: the
reached metrics are a benchmark, recorded in docs/yeast_results.md.
"""

import contextlib
import dataclasses
import io
import json
import math
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

import bcejax

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "examples"))
import train_multilabel as example  # noqa: E402
import yeast  # noqa: E402

# One small configuration for every in-process run, so they share compiled code.
TINY = example.Config(hidden_width=16, members=2, max_epochs=2, max_steps=4)
TINY_ARGS = ["--hidden-width", "16", "--members", "2", "--epochs", "2", "--max-steps", "4"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OBJECTIVE = example.Objective(example.available_losses()["sigmoid_binary_cross_entropy"])
HYPER = {"learning_rate": 1e-2, "weight_decay": 0.1, "dropout": 0.0}
METRICS_KEYS = {
    "hamming_loss", "one_error", "coverage", "ranking_loss", "average_precision",
    "subset_accuracy", "micro_f1", "macro_f1", "example_f1", "mean_average_precision",
}
# Every bcejax loss on logits, by what it returns with reduction="none".
LOGIT_LOSS_KINDS = {
    "sigmoid_binary_cross_entropy": "element",
    "sigmoid_focal_loss": "element",
    "asymmetric_loss": "element",
    "sigmoid_poly1_loss": "element",
    "multilabel_soft_margin_loss": "example",
    "zlpr_loss": "example",
}
PER_EXAMPLE_LOSSES = [name for name, kind in LOGIT_LOSS_KINDS.items() if kind == "example"]
HIDDEN_FRACTION = 0.3


@pytest.fixture(scope="module", autouse=True)
def standard_promotion():
    # conftest.py makes dtype promotion strict for the library's tests, but optax
    # 0.2.8 itself mixes Python floats and int32 in AdamW, so the example runs with
    # JAX's default promotion rules, as users run it.
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        yield


@pytest.fixture(scope="module")
def data():
    return yeast.load_yeast()


@pytest.fixture(scope="module")
def standard_run(tmp_path_factory):
    """Run the example in-process for a few steps and return its status, stdout and output folder."""
    output_dir = tmp_path_factory.mktemp("standard")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = example.main([*TINY_ARGS, "--output-dir", str(output_dir)])
    return status, stdout.getvalue(), output_dir


@pytest.fixture(scope="module", params=PER_EXAMPLE_LOSSES)
def per_example_run(request, tmp_path_factory):
    """Run the example for a few steps with a per-example loss: (loss, status, stdout, output folder)."""
    output_dir = tmp_path_factory.mktemp(request.param)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = example.main([*TINY_ARGS, "--loss", request.param, "--output-dir", str(output_dir)])
    return request.param, status, stdout.getvalue(), output_dir


def assert_metrics_valid(report):
    for name in METRICS_KEYS:
        assert math.isfinite(report[name]), name
    for name in METRICS_KEYS - {"coverage"}:
        assert 0.0 <= report[name] <= 1.0, name
    assert 0.0 <= report["coverage"] <= yeast.NUM_LABELS - 1


# ---------------------------------------------------------------------------
# Smoke tests on the real data


def test_standard_run_writes_outputs(standard_run):
    status, _, output_dir = standard_run

    assert status == 0
    report = json.loads((output_dir / "metrics.json").read_text())
    assert METRICS_KEYS <= set(report)
    assert_metrics_valid(report)
    assert report["protocol"] == "standard"
    assert report["config"] == json.loads(json.dumps(dataclasses.asdict(TINY)))
    assert report["num_devices"] == len(jax.devices())
    for name in ("loss_curves.png", "per_label_ap_f1.png"):
        assert (output_dir / name).read_bytes().startswith(PNG_SIGNATURE), name


def test_standard_run_prints_label_losses(standard_run):
    _, stdout, _ = standard_run

    table = stdout.split("Per-label loss")[1].split("Test metrics")[0]
    label_lines = [line for line in table.splitlines() if line.startswith("Class")]
    assert [line.split()[0] for line in label_lines] == [f"Class{label}" for label in range(1, 15)]
    # Training positives of Class1 and Class14 on the standard split.
    assert label_lines[0].split()[1] == "476"
    assert label_lines[13].split()[1] == "21"


def test_per_example_loss_run_writes_metrics(per_example_run):
    loss, status, stdout, output_dir = per_example_run

    assert status == 0
    report = json.loads((output_dir / "metrics.json").read_text())
    assert METRICS_KEYS <= set(report)
    assert_metrics_valid(report)
    assert report["config"]["loss"] == loss
    assert f"this example ({loss})" in stdout
    # The per-label table shows BCE, and its heading states that BCE is not the objective.
    assert f"Per-label loss of plain sigmoid BCE, NOT the training objective: {loss} " in stdout
    table = stdout.split("Per-label loss")[1].split("Test metrics")[0]
    assert len([line for line in table.splitlines() if line.startswith("Class")]) == yeast.NUM_LABELS


def test_standard_run_shows_only_standard_references(standard_run):
    _, stdout, _ = standard_run

    assert "Test metrics, standard split" in stdout
    assert "ML-kNN, k=10 " in stdout
    assert "per-label logistic regression" in stdout
    assert "CAMEL" not in stdout
    assert "BP-MLL" not in stdout
    assert "vs ML-kNN, k=10: better on" in stdout


def padded_batch():
    """Build a batch of 64 rows whose last 4 are padding: (features, labels, mask)."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(64, 103)).astype(np.float32)
    labels = (rng.random((64, 14)) < 0.3).astype(np.float32)
    return features, labels, np.arange(64) < 60


def initial_params():
    return example.init_params(jax.random.key(0), (103, 16, 14), np.zeros(14, np.float32))


def take_one_step(batch):
    """Take one train_step from initial_params(), laid out as a run lays it out.

    The layout and shapes match those of TINY runs, so the compiled step is shared.
    Returns (new params, loss, batch as placed on the devices).
    """
    batch_sharding, replicated = example.data_parallel_shardings(jax.devices())
    params = jax.device_put(initial_params(), replicated)
    opt_state = jax.device_put(example.make_optimizer(1e-2, 0.1).init(params), replicated)
    batch = jax.device_put(batch, batch_sharding)
    new_params, _, loss = example.train_step(
        params, opt_state, batch, jax.random.key(1), 0, HYPER, None, objective=OBJECTIVE
    )
    return new_params, loss, batch


# Runs in a fresh process with 8 forced CPU devices. It takes one train_step with the
# batch sharded over the devices and writes the layout and the new parameters as JSON
# to argv[1]. Then it runs the example script with the remaining arguments, as
# `python examples/train_multilabel.py ...` would, in the same process to save a
# second JAX start-up.
EIGHT_DEVICE_PROBE = """
import json, runpy, sys
import jax, numpy as np
sys.path[:0] = ["examples", "tests"]
from test_train_example import padded_batch, take_one_step

new_params, loss, batch = take_one_step(padded_batch())
facts = {
    "num_devices": len(jax.devices()),
    "feature_shard_shapes": sorted({shard.data.shape for shard in batch[0].addressable_shards}),
    "mask_shard_shapes": sorted({shard.data.shape for shard in batch[2].addressable_shards}),
    "params_replicated": all(leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(new_params)),
    "params": jax.tree.map(lambda leaf: np.asarray(leaf).tolist(), new_params),
    "loss": float(loss),
}
with open(sys.argv[1], "w") as file:
    json.dump(facts, file)
sys.argv = ["examples/train_multilabel.py", *sys.argv[2:]]
runpy.run_path("examples/train_multilabel.py", run_name="__main__")
"""


@pytest.fixture(scope="module")
def eight_device_run(tmp_path_factory):
    """Run the probe and then cv10 with the focal loss on 8 forced CPU devices.

    Returns (completed process, output folder, probe facts or None).
    """
    output_dir = tmp_path_factory.mktemp("cv10")
    probe_path = output_dir / "probe.json"
    # A batch size of 60 is rounded up to 64, so it splits into 8 equal shards.
    script_args = [
        "--protocol", "cv10", "--loss", "sigmoid_focal_loss", "--loss-option", "gamma=1",
        "--members", "1", "--max-steps", "2", "--hidden-width", "16", "--batch-size", "60",
        "--output-dir", str(output_dir),
    ]
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=8")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", EIGHT_DEVICE_PROBE, str(probe_path), *script_args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    facts = json.loads(probe_path.read_text()) if probe_path.exists() else None
    return result, output_dir, facts


@pytest.mark.slow
def test_cv10_script_on_eight_devices(eight_device_run):
    result, output_dir, _ = eight_device_run

    assert result.returncode == 0, result.stderr[-3000:]
    assert "on 8 cpu device(s)" in result.stdout
    report = json.loads((output_dir / "metrics.json").read_text())
    assert report["num_devices"] == 8
    assert report["device_batch_size"] == 64
    assert report["protocol"] == "cv10"
    assert report["config"]["loss"] == "sigmoid_focal_loss"
    assert report["config"]["loss_options"] == [["gamma", 1.0]]
    assert len(report["folds"]) == 10
    assert METRICS_KEYS <= set(report["std"])
    assert_metrics_valid(report)
    assert "this example (sigmoid_focal_loss, gamma=1.0)" in result.stdout
    assert "10-fold cross-validation" in result.stdout
    assert "CAMEL (published)" in result.stdout
    assert "per-label logistic regression" not in result.stdout
    for name in ("loss_curves.png", "per_label_ap_f1.png"):
        assert (output_dir / name).read_bytes().startswith(PNG_SIGNATURE), name


@pytest.mark.slow
def test_train_step_sharded_matches_one_device(eight_device_run):
    result, _, facts = eight_device_run
    assert facts is not None, result.stderr[-3000:]
    expected_params, expected_loss, _ = take_one_step(padded_batch())

    assert facts["num_devices"] == 8
    assert facts["feature_shard_shapes"] == [[8, 103]]
    assert facts["mask_shard_shapes"] == [[8]]
    assert facts["params_replicated"]
    # Only the summation order of the gradient all-reduce differs from one device.
    assert facts["loss"] == pytest.approx(float(expected_loss), rel=1e-6)
    for sharded_layer, single_layer in zip(facts["params"], expected_params):
        for name in ("w", "b"):
            np.testing.assert_allclose(np.array(sharded_layer[name]), single_layer[name], rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------
# Units of the script


def test_training_ignores_test_rows(data):
    features, labels = data
    train_rows, test_rows = yeast.standard_split()
    trainer = example.Trainer(TINY)
    clean = example.run_split(trainer, features, labels, train_rows, test_rows, (0,), "clean")

    spoiled_features, spoiled_labels = features.copy(), labels.copy()
    spoiled_features[test_rows] = np.nan
    spoiled_labels[test_rows] = 1 - spoiled_labels[test_rows]
    spoiled = example.run_split(trainer, spoiled_features, spoiled_labels, train_rows, test_rows, (0,), "spoiled")

    assert spoiled.ensemble.threshold == clean.ensemble.threshold
    # A leak of NaN features or flipped labels would change the parameters by far more
    # than this tolerance, which only absorbs float32 rounding noise between runs.
    for clean_member, spoiled_member in zip(clean.ensemble.members, spoiled.ensemble.members):
        for clean_leaf, spoiled_leaf in zip(jax.tree.leaves(clean_member.params), jax.tree.leaves(spoiled_member.params)):
            np.testing.assert_allclose(clean_leaf, spoiled_leaf, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(clean_member.validation_losses, spoiled_member.validation_losses, rtol=1e-5)
    # The NaN test features reach the evaluation only.
    assert math.isnan(spoiled.metrics["one_error"])
    assert math.isfinite(clean.metrics["one_error"])


def test_training_same_seed_same_params(data):
    features, labels = data
    train_rows, _ = yeast.standard_split()
    scaled = example.standardize(features, train_rows)[train_rows]
    first = example.Trainer(TINY).fit_ensemble(scaled, labels[train_rows], (0,), "first")
    second = example.Trainer(TINY).fit_ensemble(scaled, labels[train_rows], (0,), "second")
    other = example.Trainer(dataclasses.replace(TINY, seed=1)).fit_ensemble(
        scaled, labels[train_rows], (1,), "other"
    )

    for leaf_first, leaf_second in zip(jax.tree.leaves(first.members[0].params), jax.tree.leaves(second.members[0].params)):
        np.testing.assert_array_equal(leaf_first, leaf_second)
    np.testing.assert_array_equal(first.out_of_fold_scores, second.out_of_fold_scores)
    assert not np.array_equal(first.members[0].params[0]["w"], other.members[0].params[0]["w"])


def test_ensemble_out_of_fold_rows(data):
    features, labels = data
    train_rows, _ = yeast.standard_split()
    scaled = example.standardize(features, train_rows)[train_rows]
    ensemble = example.Trainer(TINY).fit_ensemble(scaled, labels[train_rows], (0,), "folds")

    validation_rows = [member.validation_rows for member in ensemble.members]
    # Two members hold out validation folds 0 and 1 of 5: 600 of the 1500 rows.
    assert np.intersect1d(*validation_rows).size == 0
    np.testing.assert_array_equal(ensemble.out_of_fold_rows, np.sort(np.concatenate(validation_rows)))
    assert ensemble.out_of_fold_scores.shape == (600, 14)


@pytest.fixture(scope="module")
def hidden_label_fits(data):
    """Fit TINY ensembles on the standard training rows with 30% of the labels unknown.

    Returns (ensembles, hidden labels, scaled training features). The ensembles
    "minus_one" and "nan" train on the same hidden entries marked -1 and NaN, and
    "full" trains on every label. The hidden labels are keyed "minus_one" and "nan".
    """
    features, labels = data
    train_rows, _ = yeast.standard_split()
    scaled = example.standardize(features, train_rows)[train_rows]
    minus_one = example.hide_labels(labels[train_rows], HIDDEN_FRACTION, (0,))
    with_nan = np.where(minus_one == -1, np.float32(np.nan), minus_one)
    trainer = example.Trainer(TINY)
    fits = {
        name: trainer.fit_ensemble(scaled, train_labels, (0,), name)
        for name, train_labels in (("minus_one", minus_one), ("nan", with_nan), ("full", labels[train_rows]))
    }
    return fits, {"minus_one": minus_one, "nan": with_nan}, scaled


def test_hidden_labels_minus_one_equals_nan(hidden_label_fits):
    fits, _, _ = hidden_label_fits
    minus_one, with_nan = fits["minus_one"], fits["nan"]

    for member_minus_one, member_nan in zip(minus_one.members, with_nan.members):
        for leaf_minus_one, leaf_nan in zip(jax.tree.leaves(member_minus_one.params), jax.tree.leaves(member_nan.params)):
            np.testing.assert_array_equal(leaf_minus_one, leaf_nan)
        assert np.all(np.isfinite(member_nan.validation_losses))
        np.testing.assert_array_equal(member_minus_one.validation_losses, member_nan.validation_losses)
        np.testing.assert_array_equal(member_minus_one.label_loss_end, member_nan.label_loss_end)
    np.testing.assert_array_equal(minus_one.out_of_fold_scores, with_nan.out_of_fold_scores)
    assert minus_one.threshold == with_nan.threshold


def test_hidden_labels_change_training(hidden_label_fits):
    fits, _, _ = hidden_label_fits
    for hidden_member, full_member in zip(fits["minus_one"].members, fits["full"].members):
        # The output bias starts at the known-label frequencies, so it differs too.
        for hidden_leaf, full_leaf in zip(jax.tree.leaves(hidden_member.params), jax.tree.leaves(full_member.params)):
            assert not np.array_equal(hidden_leaf, full_leaf)
        assert hidden_member.validation_losses != full_member.validation_losses


def test_hidden_labels_validation_loss_known_only(hidden_label_fits):
    fits, hidden_labels, scaled = hidden_label_fits
    labels = hidden_labels["nan"]
    known = np.asarray(bcejax.known_labels(labels))
    member = fits["nan"].members[0]
    rows = member.validation_rows

    logits = example.predict_logits(member.params, scaled[rows])
    losses = np.asarray(bcejax.sigmoid_binary_cross_entropy(logits, labels[rows], where=known[rows], reduction="none"))
    expected = np.where(known[rows], losses, 0).sum(axis=0) / known[rows].sum(axis=0)
    # The script computes the logits of all 1500 rows in one product, which can round
    # differently from these 300 rows, so the float32 results agree to a few ulps only.
    np.testing.assert_allclose(member.label_loss_validation, expected, rtol=1e-5)
    assert member.validation_losses[member.best_epoch - 1] == pytest.approx(expected.mean(), rel=1e-5)


def test_per_example_loss_early_stopping_objective(data):
    features, labels = data
    train_rows, _ = yeast.standard_split()
    scaled = example.standardize(features, train_rows)[train_rows]
    train_labels = example.hide_labels(labels[train_rows], HIDDEN_FRACTION, (0,))
    known = np.asarray(bcejax.known_labels(train_labels))
    trainer = example.Trainer(dataclasses.replace(TINY, loss="zlpr_loss", members=1))
    member = trainer.fit_ensemble(scaled, train_labels, (0,), "zlpr").members[0]
    rows = member.validation_rows

    logits = example.predict_logits(member.params, scaled[rows])
    # Early stopping uses the ZLPR mean over the validation rows with a known label.
    objective = bcejax.zlpr_loss(logits, train_labels[rows], where=known[rows], reduction="mean")
    assert member.validation_losses[member.best_epoch - 1] == pytest.approx(float(objective), rel=1e-5)
    # The per-label report shows plain BCE over the known labels of each label.
    bce = np.asarray(bcejax.sigmoid_binary_cross_entropy(
        logits, train_labels[rows], where=known[rows], reduction="none"))
    np.testing.assert_allclose(member.label_loss_validation, bce.sum(axis=0) / known[rows].sum(axis=0), rtol=1e-5)


def test_run_split_hides_training_labels_only(data, hidden_label_fits):
    features, labels = data
    fits, hidden_labels, _ = hidden_label_fits
    train_rows, test_rows = yeast.standard_split()
    labels_before = labels.copy()
    trainer = example.Trainer(dataclasses.replace(TINY, hide_labels=HIDDEN_FRACTION))
    result = example.run_split(trainer, features, labels, train_rows, test_rows, (0,), "hidden")

    np.testing.assert_array_equal(labels, labels_before)
    assert result.hidden_labels == round(HIDDEN_FRACTION * len(train_rows) * yeast.NUM_LABELS)
    # Same entries hidden as hide_labels(..., seed (0,)), so the same parameters.
    for split_member, fit_member in zip(result.ensemble.members, fits["minus_one"].members):
        np.testing.assert_array_equal(split_member.params[-1]["w"], fit_member.params[-1]["w"])
    known_positives = np.where(hidden_labels["minus_one"] == 1, 1, 0).sum(axis=0)
    np.testing.assert_array_equal(result.train_positives, known_positives)
    # The test metrics use every test label: a -1 among them would change them.
    scores = example.ensemble_logits(result.ensemble.members, example.standardize(features, train_rows)[test_rows])
    assert result.metrics == example.evaluate(scores, labels[test_rows], result.ensemble.threshold)


def test_tune_scores_known_labels_only(data, capsys):
    features, labels = data
    train_rows, _ = yeast.standard_split()
    config = dataclasses.replace(TINY, hide_labels=HIDDEN_FRACTION)
    (row,) = example.tune(config, features[train_rows], labels[train_rows], {"dropout": (0.5,)})

    # The same candidate trained by hand on the same hidden labels.
    hidden = example.hide_labels(labels[train_rows], HIDDEN_FRACTION, (config.seed,))
    scaled = example.standardize(features[train_rows], np.arange(len(train_rows)))
    ensemble = example.Trainer(config).fit_ensemble(scaled, hidden, (config.seed,), "by hand")
    out_of_fold = hidden[ensemble.out_of_fold_rows]
    known = np.asarray(bcejax.known_labels(out_of_fold))
    expected_bce = bcejax.sigmoid_binary_cross_entropy(ensemble.out_of_fold_scores, out_of_fold, where=known)
    predictions = jax.nn.sigmoid(ensemble.out_of_fold_scores) >= ensemble.threshold
    errors = known & (np.asarray(predictions) != (out_of_fold == 1))

    assert row["validation_bce"] == pytest.approx(float(expected_bce), rel=1e-6)
    assert row["hamming_loss"] == pytest.approx(errors.sum() / known.sum(), rel=1e-6)
    # Ranking metrics need every label of an example, so tune leaves them out.
    assert row["one_error"] is None
    example.print_tuning([row], {"dropout": (0.5,)})
    assert capsys.readouterr().out.splitlines()[-1].split()[-4:] == ["-", "-", "-", "-"]


def test_hide_labels_exact_seeded_fraction():
    labels = (np.random.default_rng(0).random((40, 5)) < 0.5).astype(np.int32)
    hidden = example.hide_labels(labels, 0.25, (3,))

    assert hidden.dtype == np.float32
    assert np.count_nonzero(hidden == -1) == 50
    np.testing.assert_array_equal(hidden[hidden != -1], labels[hidden != -1])
    np.testing.assert_array_equal(example.hide_labels(labels, 0.25, (3,)), hidden)
    assert not np.array_equal(example.hide_labels(labels, 0.25, (4,)), hidden)
    np.testing.assert_array_equal(example.hide_labels(labels, 0.0, (3,)), labels)


def test_padding_rows_do_not_count():
    features, labels, mask = padded_batch()
    changed_features, changed_labels = features.copy(), labels.copy()
    changed_features[60:] = 100.0
    changed_labels[60:] = 1 - changed_labels[60:]

    new_params, loss, _ = take_one_step((features, labels, mask))
    changed_params, changed_loss, _ = take_one_step((changed_features, changed_labels, mask))

    assert float(changed_loss) == float(loss)
    for leaf, changed_leaf in zip(jax.tree.leaves(new_params), jax.tree.leaves(changed_params)):
        np.testing.assert_array_equal(changed_leaf, leaf)
    # The mean divides by the 60 real rows, not by the batch of 64.
    logits = np.asarray(example.predict_logits(initial_params(), features[:60]), np.float64)
    softplus = lambda x: np.logaddexp(0.0, x)  # noqa: E731
    expected = labels[:60] * softplus(-logits) + (1 - labels[:60]) * softplus(logits)
    assert float(loss) == pytest.approx(expected.mean(), rel=1e-5)


def test_epoch_batches_pad_and_mask():
    order = np.array([7, 3, 9, 0, 5, 1, 8, 2, 6, 4])
    rows, mask = example.epoch_batches(order, 4)

    assert rows.shape == (3, 4)
    np.testing.assert_array_equal(rows[mask], order)
    np.testing.assert_array_equal(mask[-1], [True, True, False, False])
    np.testing.assert_array_equal(rows[-1, 2:], [7, 7])


@pytest.mark.parametrize("batch_size, num_devices, expected", [(64, 1, 64), (64, 8, 64), (60, 8, 64), (5, 3, 6)])
def test_device_batch_size_rounds_up(batch_size, num_devices, expected):
    assert example.device_batch_size(batch_size, num_devices) == expected


def test_positive_weights_from_counts():
    labels = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]])
    balanced = example.positive_weights(dataclasses.replace(TINY, pos_weight="balanced"), labels)
    root = example.positive_weights(dataclasses.replace(TINY, pos_weight="sqrt"), labels)

    # Label 3 has no positives, so bcejax.pos_weight_from_labels gives it the neutral 1.
    np.testing.assert_allclose(balanced, [1 / 3, 3.0, 1.0])
    np.testing.assert_allclose(root, np.sqrt([1 / 3, 3.0, 1.0]))
    assert balanced.dtype == np.float32
    assert example.positive_weights(TINY, labels) is None


@pytest.mark.parametrize("unknown", [-1.0, np.nan], ids=["minus_one", "nan"])
def test_positive_weights_count_known_labels(unknown):
    labels = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 1], [0, 0, 1]], np.float32)
    labels[[0, 2, 3], [0, 1, 2]] = unknown
    balanced = example.positive_weights(dataclasses.replace(TINY, pos_weight="balanced"), labels)

    # Known entries per label: 2 positives of 4, 1 of 4, 2 of 4.
    np.testing.assert_allclose(balanced, [1.0, 3.0, 1.0])


def test_standardize_uses_training_rows_only():
    rng = np.random.default_rng(0)
    features = rng.normal(3.0, 2.0, size=(40, 5)).astype(np.float32)
    features[:, 4] = 1.5
    train_rows = np.arange(10, 40)
    changed = features.copy()
    changed[:10] = 1e6

    scaled = example.standardize(features, train_rows)
    np.testing.assert_array_equal(example.standardize(changed, train_rows)[train_rows], scaled[train_rows])
    np.testing.assert_allclose(scaled[train_rows].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled[train_rows, :4].std(axis=0), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(scaled[:, 4], 0.0)


def test_choose_threshold_separating_value():
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    # Positives at probability 0.34 and negatives at 0.31: only 0.325 separates them.
    probabilities = np.where(labels == 1, 0.34, 0.31)
    scores = np.log(probabilities / (1 - probabilities)).astype(np.float32)
    assert example.choose_threshold(scores, labels) == 0.325


@pytest.mark.parametrize("unknown", [-1.0, np.nan], ids=["minus_one", "nan"])
def test_choose_threshold_ignores_unknown_labels(unknown):
    labels = np.array([[1, 0, unknown], [0, 1, unknown], [1, 1, unknown], [0, 0, unknown]], np.float32)
    # Known positives at 0.34 and negatives at 0.31, so only 0.325 separates them. The
    # unknown column scores 0.33. Counted as negatives, it would add 4 errors at 0.325,
    # tying with every threshold above 0.34, and the tie would go to 0.5.
    probabilities = np.where(labels == 1, 0.34, 0.31)
    probabilities[:, 2] = 0.33
    scores = np.log(probabilities / (1 - probabilities)).astype(np.float32)

    assert example.choose_threshold(scores, labels) == 0.325
    losses = np.asarray(example.threshold_hamming_losses(scores, labels, example.THRESHOLD_GRID))
    # 8 known entries: at 0.5 the 4 positives are wrong.
    assert losses[example.THRESHOLD_GRID.tolist().index(0.5)] == 0.5


def test_choose_threshold_tie_prefers_half():
    labels = np.array([[1, 0], [0, 1]])
    scores = np.array([[10.0, -10.0], [-10.0, 10.0]], dtype=np.float32)
    assert example.choose_threshold(scores, labels) == 0.5


def test_compute_metrics_conventions():
    # Imported here so that the sharding probe, which imports this module, starts faster.
    from sklearn import metrics as sklearn_metrics

    # The shape of the standard test set, so the compiled metrics are shared with the runs.
    rng = np.random.default_rng(1)
    labels = (rng.random((917, 14)) < 0.3).astype(np.int32)
    labels[np.arange(917), rng.integers(0, 14, 917)] = 1  # Every example has a relevant label.
    scores = rng.normal(size=(917, 14)).astype(np.float32)
    predictions = 1 / (1 + np.exp(-scores)) >= 0.6

    values = example.evaluate(scores, labels, 0.6)
    expected = {
        "hamming_loss": sklearn_metrics.hamming_loss(labels, predictions),
        "coverage": sklearn_metrics.coverage_error(labels, scores) - 1,
        "ranking_loss": sklearn_metrics.label_ranking_loss(labels, scores),
        "average_precision": sklearn_metrics.label_ranking_average_precision_score(labels, scores),
        "subset_accuracy": sklearn_metrics.accuracy_score(labels, predictions),
        "micro_f1": sklearn_metrics.f1_score(labels, predictions, average="micro"),
        "macro_f1": sklearn_metrics.f1_score(labels, predictions, average="macro", zero_division=0.0),
        "example_f1": sklearn_metrics.f1_score(labels, predictions, average="samples", zero_division=0.0),
        "mean_average_precision": sklearn_metrics.average_precision_score(labels, scores, average="macro"),
        "one_error": float(np.mean(labels[np.arange(917), scores.argmax(axis=1)] == 0)),
    }
    assert set(values) == METRICS_KEYS
    for name, value in expected.items():
        # bcejax computes the metrics in float32, scikit-learn in float64.
        assert values[name] == pytest.approx(value, rel=1e-5), name


@pytest.mark.parametrize(
    "name, ours, expected",
    [
        ("one_error", 215 / 917, "tied"),  # 0.23446 rounds to the reported 0.2345.
        ("one_error", 214 / 917, "better"),
        ("one_error", 216 / 917, "worse"),
        ("average_precision", 0.75856, "better"),
        ("average_precision", 0.75849, "tied"),
        ("coverage", 6.4144, "tied"),
        ("coverage", 6.4135, "better"),
    ],
)
def test_compare_with_reference_precision(name, ours, expected):
    mlknn = {result.model: result for result in yeast.reference_results("standard")}["ML-kNN, k=10"]
    assert example.compare_with_reference(name, ours, mlknn) == expected


def test_available_losses_lists_logit_losses():
    losses = example.available_losses()
    # binary_cross_entropy takes probabilities, and check_* functions are not losses.
    assert set(losses) == set(LOGIT_LOSS_KINDS)
    assert {name: example.loss_kind(loss) for name, loss in losses.items()} == LOGIT_LOSS_KINDS


@pytest.mark.parametrize(
    "args, message",
    [
        (["--loss", "sigmoid_focal_loss", "--pos-weight", "balanced"],
         "--pos-weight balanced: loss sigmoid_focal_loss has no pos_weight argument."),
        (["--loss", "sigmoid_focal_loss", "--loss-option", "beta=1"],
         "--loss-option beta: loss sigmoid_focal_loss has no such argument. "
         "Arguments that --loss-option can set: alpha, gamma."),
        (["--loss-option", "where=1"], "--loss-option where: loss sigmoid_binary_cross_entropy has no such argument."),
        (["--loss-option", "gamma"], "'gamma' is not of the form NAME=VALUE"),
        (["--loss-option", "gamma=high"], "'gamma=high' has the value 'high', expected a number, true, false or none."),
        (["--dropout", "1.0"], "--dropout is 1.0, expected a value from 0 up to, but not including, 1."),
        (["--members", "0"], "--members is 0, expected a value at least 1."),
        (["--threshold", "1.5"], "--threshold is 1.5, expected a value between 0 and 1."),
        (["--hide-labels", "1"], "--hide-labels is 1.0, expected a value from 0 up to, but not including, 1."),
        (["--loss", "zlpr_loss", "--pos-weight", "sqrt"], "--pos-weight sqrt: loss zlpr_loss has no pos_weight argument."),
        (["--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
    ],
)
def test_cli_rejects_invalid_option(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        example.parse_args(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_parse_args_loss_options():
    _, config = example.parse_args(
        ["--loss", "asymmetric_loss", "--loss-option", "gamma_neg=2", "--loss-option", "clip=none",
         "--loss-option", "focusing_gradient=false"]
    )
    assert config.loss == "asymmetric_loss"
    assert config.loss_options == (("gamma_neg", 2.0), ("clip", None), ("focusing_gradient", False))


def test_parse_args_required_loss_argument(monkeypatch, capsys):
    def margin_loss(logits, labels, *, margin, where=None, reduction="mean"):
        raise AssertionError("parse_args must not call the loss")

    monkeypatch.setattr(example, "available_losses", lambda: {"margin_loss": margin_loss})
    _, config = example.parse_args(["--loss", "margin_loss", "--loss-option", "margin=0.5"])
    assert config.loss_options == (("margin", 0.5),)
    with pytest.raises(SystemExit):
        example.parse_args(["--loss", "margin_loss"])
    assert "--loss margin_loss needs a value for its argument margin: add --loss-option margin=VALUE." in (
        capsys.readouterr().err
    )


def test_missing_river_exits_with_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "river", None)
    status = example.main([*TINY_ARGS, "--output-dir", str(tmp_path)])

    assert status == 1
    assert "pip install river" in capsys.readouterr().err
    assert not (tmp_path / "metrics.json").exists()
