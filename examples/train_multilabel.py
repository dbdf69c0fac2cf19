"""Train a multi-label MLP on Yeast with a bcejax loss and optax, and compare with published results.

Run from the repository root (needs the ``examples`` extra: ``pip install -e ".[examples]"``):

    python examples/train_multilabel.py                   # standard split
    python examples/train_multilabel.py --protocol cv10   # 10-fold cross-validation
    python examples/train_multilabel.py --tune            # search the defaults on training rows
    python examples/train_multilabel.py --loss zlpr_loss  # train with another bcejax loss
    python examples/train_multilabel.py --hide-labels 0.3 # train with 30% of the labels unknown

What one run does on each pair of training and test rows:

0. With ``--hide-labels F``, mark a seeded random fraction F of the training rows'
   label entries as unknown (see "Partial labels" below). The test rows keep every label.
1. Standardise the features with the mean and standard deviation of the training rows.
2. Cut the training rows into 5 validation folds. Ensemble member m trains on all folds
   but fold m (mod 5), and keeps the parameters of the epoch with the lowest validation
   loss (early stopping). The ensemble averages the members' logits.
3. Pick the decision threshold with the lowest Hamming loss on the out-of-fold
   predictions, in which each training row is scored by the members that held it out.
4. Score the test rows once, with the metrics of the multi-label literature.

The test rows never influence a choice. The model and optimizer defaults of ``Config``
were chosen with ``--tune``, which runs steps 1 to 3 on the training rows of the
standard split only.

Losses: ``--loss`` offers every bcejax loss on logits. Most return one loss per label
entry with ``reduction="none"`` (sigmoid BCE, focal, asymmetric, Poly-1). Early stopping
then uses the mean of the per-label validation losses, and the per-label report shows
the training objective. ``zlpr_loss`` and ``multilabel_soft_margin_loss`` return one
loss per example instead. For them early stopping uses the mean per-example loss of the
validation rows, and the per-label report shows each label's plain sigmoid BCE, which
is not the training objective.

Partial labels: bcejax marks an unknown label with -1 or NaN, and
``bcejax.known_labels(labels)`` is False there. ``--hide-labels`` writes -1 into the
hidden entries. Training passes ``where=bcejax.known_labels(labels) & padding_mask``
to the loss, so unknown labels add nothing to the loss or its gradient. Everything
else derived from training labels counts known labels only: ``pos_weight``, the
initial output bias, the per-label loss report, the validation loss, the threshold
choice (Hamming loss over known entries), ``--tune``'s validation BCE and the
training positives that the report prints. A NaN label gives the same training as -1.

The script uses no backend-specific code, so it runs on whatever devices JAX finds.
With several devices it trains data-parallel: each batch is sharded over a mesh axis
named ``data``, the parameters are replicated, and XLA inserts the gradient
all-reduce. A short last batch is padded to the full batch size and the padding rows
are masked out of the loss with ``where``.

NOTE: only CPU backends have run it so far, with 1 device and with 8 devices forced by
``XLA_FLAGS=--xla_force_host_platform_device_count=8``. GPU and TPU runs are untested.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import itertools
import json
import math
import pathlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm import tqdm

matplotlib.use("Agg")  # Write PNG files; never open a window.
import matplotlib.pyplot as plt  # noqa: E402  (must follow matplotlib.use)

import bcejax  # noqa: E402
import yeast  # noqa: E402  (this file's directory is sys.path[0] when run as a script)
from bcejax import metrics  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Config:
    """Hyper-parameters of one run.

    The defaults of hidden_width, hidden_layers, dropout, learning_rate and
    weight_decay were chosen with --tune on the standard training rows
    (docs/yeast_results.md shows the search). batch_size, max_epochs, patience and
    members were fixed beforehand, small enough for the default run to take under a
    minute on a 2-core CPU.
    """

    loss: str = "sigmoid_binary_cross_entropy"
    pos_weight: str = "none"
    label_smoothing: float = 0.0
    loss_options: tuple[tuple[str, float | bool | None], ...] = ()
    hide_labels: float = 0.0
    hidden_width: int = 256
    hidden_layers: int = 2
    dropout: float = 0.5
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 64
    max_epochs: int = 60
    patience: int = 15
    members: int = 5
    threshold: float | None = None
    seed: int = 0
    max_steps: int | None = None


VALIDATION_FOLDS = 5
UNKNOWN_LABEL = -1.0
"""Label value that --hide-labels writes into hidden entries. bcejax.known_labels treats it as unknown."""
POS_WEIGHT_MODES = ("none", "balanced", "sqrt")
THRESHOLD_GRID = np.round(np.arange(0.20, 0.801, 0.025), 3)

# Candidates that --tune tries, each combined with every other. Widths and depths
# are limited, like max_epochs, so that the default run fits the one-minute budget
# of this example on a 2-core CPU.
TUNING_GRID = {
    "hidden_width": (128, 256),
    "hidden_layers": (1, 2),
    "dropout": (0.25, 0.5),
    "learning_rate": (3e-4, 1e-3, 3e-3),
    "weight_decay": (0.01, 0.1, 1.0),
}

METRIC_NAMES = (
    "hamming_loss", "one_error", "coverage", "ranking_loss", "average_precision",
    "subset_accuracy", "micro_f1", "macro_f1", "example_f1", "mean_average_precision",
)
# The goal metrics: the five that every reference row of both protocols reports.
GOAL_METRICS = {
    "hamming_loss": "lower", "one_error": "lower", "coverage": "lower",
    "ranking_loss": "lower", "average_precision": "higher",
}
TABLE_COLUMNS = (
    ("hamming_loss", "Hamming↓"), ("one_error", "one-err↓"), ("coverage", "coverage↓"),
    ("ranking_loss", "rank-loss↓"), ("average_precision", "avg-prec↑"),
    ("micro_f1", "micro-F1↑"), ("macro_f1", "macro-F1↑"),
)


# ---------------------------------------------------------------------------
# Losses


def loss_kind(loss: Callable[..., jax.Array]) -> str | None:
    """Classify a loss by the shape of its ``reduction="none"`` result.

    Returns:
        "element" for one loss per label entry, shape [batch, num_labels], as sigmoid
        BCE returns. "example" for one loss per example, shape [batch], as ZLPR and
        the soft-margin loss return. None for any other shape.
    """
    probe = jnp.zeros((1, 2), jnp.float32)
    shape = loss(probe, probe, reduction="none").shape
    if shape == probe.shape:
        return "element"
    if shape == probe.shape[:-1]:
        return "example"
    return None


def available_losses() -> dict[str, Callable[..., jax.Array]]:
    """Map the name of each bcejax loss on logits to the function.

    A loss qualifies when it takes ``logits`` and ``labels`` first, accepts
    ``where`` (to mask padding rows and unknown labels) and ``reduction``, and
    returns one loss per element or one per example with ``reduction="none"`` (see
    :func:`loss_kind`). Losses added to bcejax later appear here without changes to
    this script.
    """
    losses = {}
    for name in getattr(bcejax, "__all__", dir(bcejax)):
        function = getattr(bcejax, name, None)
        if not callable(function):
            continue
        try:
            parameters = list(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            continue
        if parameters[:2] != ["logits", "labels"] or not {"where", "reduction"} <= set(parameters):
            continue
        if loss_kind(function) is not None:
            losses[name] = function
    return losses


def positive_weights(config: Config, train_labels: np.ndarray) -> np.ndarray | None:
    """Compute ``pos_weight`` [num_labels] from the known training labels, or None for "none".

    "balanced" gives label c the weight ``negatives_c / positives_c``, counted over its
    known entries by :func:`bcejax.pos_weight_from_labels`, and "sqrt" its square
    root. A label without known positives or without known negatives gets the
    weight 1, which leaves its loss unchanged.
    """
    if config.pos_weight == "none":
        return None
    known = bcejax.known_labels(train_labels)
    ratio = np.asarray(bcejax.pos_weight_from_labels(train_labels, where=known))
    if config.pos_weight == "sqrt":
        ratio = np.sqrt(ratio)
    return ratio.astype(np.float32)


# ---------------------------------------------------------------------------
# Data


def standardize(features: np.ndarray, train_rows: np.ndarray) -> np.ndarray:
    """Scale every row with the mean and standard deviation of the training rows only.

    Features that are constant on the training rows are only centred.
    """
    mean = features[train_rows].mean(axis=0)
    std = features[train_rows].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return ((features - mean) / std).astype(np.float32)


def hide_labels(labels: np.ndarray, fraction: float, seed: Sequence[int]) -> np.ndarray:
    """Mark a seeded random ``fraction`` of the label entries as unknown (UNKNOWN_LABEL).

    Exactly ``round(fraction * labels.size)`` entries, drawn without replacement,
    become -1. The input array is not changed.

    Returns:
        A float32 copy of ``labels`` [num_rows, num_labels].
    """
    hidden = labels.astype(np.float32)
    count = round(fraction * labels.size)
    # The spawn key gives this draw its own random stream, apart from the member
    # shuffles, which are seeded with the same numbers.
    rng = np.random.default_rng(np.random.SeedSequence(list(seed), spawn_key=(1,)))
    np.put(hidden, rng.choice(labels.size, size=count, replace=False), UNKNOWN_LABEL)
    return hidden


def known_mask(labels: np.ndarray) -> np.ndarray:
    """Compute :func:`bcejax.known_labels` as a NumPy bool array: False where a label is -1 or NaN."""
    return np.asarray(bcejax.known_labels(labels))


def known_label_counts(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count each label's positives and known entries, skipping unknown labels.

    Returns:
        ``(positives, known)``: float32 and int64 arrays of shape [num_labels].
    """
    known = known_mask(labels)
    positives = np.where(known, labels, 0).sum(axis=0, dtype=np.float32)
    return positives, known.sum(axis=0)


def known_label_means(losses: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Average each label's losses over its known entries, float32 [num_labels].

    ``losses`` and ``known`` have shape [num_rows, num_labels]. A label without a
    known entry gets NaN. With every label known this equals ``losses.mean(axis=0)``,
    bit for bit: the same float32 sums, each divided once.
    """
    counts = known.sum(axis=0)
    means = np.full(losses.shape[1], np.nan, np.float32)
    np.divide(np.where(known, losses, 0).sum(axis=0), counts, out=means, where=counts > 0)
    return means


def epoch_batches(
    order: np.ndarray, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a shuffled row order into batches, padding the last one.

    Returns:
        ``(rows, mask)`` of shape [num_batches, batch_size]: row indices, with padding
        slots pointing at ``order[0]``, and True where the slot contains a real row.
    """
    num_batches = math.ceil(len(order) / batch_size)
    rows = np.full(num_batches * batch_size, order[0])
    rows[: len(order)] = order
    mask = np.zeros(num_batches * batch_size, dtype=bool)
    mask[: len(order)] = True
    return rows.reshape(num_batches, batch_size), mask.reshape(num_batches, batch_size)


# ---------------------------------------------------------------------------
# Model: an MLP whose parameters are a list of {"w", "b"} dictionaries.


def init_mlp(
    key: jax.Array, sizes: Sequence[int], output_bias: jax.Array
) -> list[dict[str, jax.Array]]:
    """Initialise an MLP with layer widths ``sizes`` (input first, labels last).

    Hidden weights are Gaussian with variance 2 / fan_in (He et al., 2015), suited to
    ReLU. Output weights have variance 2 / (fan_in + fan_out) (Glorot & Bengio, 2010).
    The output bias starts at the log-odds of each label's training frequency, so the
    first logits are centred on the label priors and a rare label does not start near
    probability 0.5.
    """
    keys = jax.random.split(key, len(sizes) - 1)
    num_hidden = len(sizes) - 2
    params = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if index < num_hidden:
            scale, bias = math.sqrt(2 / fan_in), jnp.zeros(fan_out)
        else:
            scale, bias = math.sqrt(2 / (fan_in + fan_out)), jnp.asarray(output_bias, jnp.float32)
        weights = scale * jax.random.normal(keys[index], (fan_in, fan_out))
        params.append({"w": weights, "b": bias})
    return params


def apply_mlp(
    params: list[dict[str, jax.Array]],
    features: jax.Array,
    *,
    dropout: float = 0.0,
    key: jax.Array | None = None,
) -> jax.Array:
    """Compute the logits [batch, num_labels].

    Dropout with rate ``dropout`` follows each hidden layer when ``key`` is given. The
    rate may be a traced value, and a rate of 0 keeps every unit.
    """
    hidden = features
    for layer in params[:-1]:
        hidden = jax.nn.relu(hidden @ layer["w"] + layer["b"])
        if key is not None:
            key, dropout_key = jax.random.split(key)
            keep = jax.random.bernoulli(dropout_key, 1.0 - dropout, hidden.shape)
            hidden = jnp.where(keep, hidden / (1.0 - dropout), 0.0)
    return hidden @ params[-1]["w"] + params[-1]["b"]


# ---------------------------------------------------------------------------
# Data-parallel layout


def data_parallel_shardings(devices: Sequence[jax.Device]) -> tuple[NamedSharding, NamedSharding]:
    """Build ``(batch_sharding, replicated)`` over a one-axis mesh named ``data``.

    ``batch_sharding`` splits an array's first axis over the devices, and
    ``replicated`` keeps a full copy on each. With one device both are no-ops.
    """
    mesh = Mesh(np.asarray(devices), ("data",))
    return NamedSharding(mesh, PartitionSpec("data")), NamedSharding(mesh, PartitionSpec())


def device_batch_size(batch_size: int, num_devices: int) -> int:
    """Round ``batch_size`` up to a multiple of the device count, so all shards are equal."""
    return math.ceil(batch_size / num_devices) * num_devices


def seeded_key(seed: Sequence[int]) -> jax.Array:
    """Derive a JAX key from a sequence of seeds, such as (run seed, fold, member)."""
    key = jax.random.key(seed[0])
    for part in seed[1:]:
        key = jax.random.fold_in(key, part)
    return key


# ---------------------------------------------------------------------------
# Training


@dataclasses.dataclass(frozen=True)
class Objective:
    """The training loss: a bcejax loss and the options fixed for a whole run.

    Instances are hashable, so the jit-compiled functions take one as a static
    argument. ``pos_weight`` stays a traced argument because it comes from each
    training set's label counts.
    """

    loss: Callable[..., jax.Array]
    label_smoothing: float = 0.0
    options: tuple[tuple[str, float | bool | None], ...] = ()
    """Further keyword arguments of the loss, such as ``(("gamma", 1.0),)``."""
    per_example: bool = False
    """True for a loss that returns one value per example with ``reduction="none"``."""

    def __call__(self, logits: jax.Array, labels: jax.Array, pos_weight: jax.Array | None, **kwargs: Any) -> jax.Array:
        if pos_weight is not None:
            kwargs["pos_weight"] = pos_weight
        if self.label_smoothing:
            kwargs["label_smoothing"] = self.label_smoothing
        return self.loss(logits, labels, **dict(self.options), **kwargs)


def make_optimizer(learning_rate: float | jax.Array, weight_decay: float | jax.Array) -> optax.GradientTransformation:
    """Build AdamW whose decoupled weight decay applies to weight matrices, not biases."""
    return optax.adamw(
        learning_rate,
        weight_decay=weight_decay,
        mask=lambda params: jax.tree.map(lambda leaf: leaf.ndim > 1, params),
    )


@functools.partial(jax.jit, static_argnames="objective")
def train_step(
    params: list[dict[str, jax.Array]],
    opt_state: optax.OptState,
    batch: tuple[jax.Array, jax.Array, jax.Array],
    dropout_key: jax.Array,
    step: int,
    hyper: dict[str, float],
    pos_weight: jax.Array | None,
    *,
    objective: Objective,
) -> tuple[list[dict[str, jax.Array]], optax.OptState, jax.Array]:
    """Take one AdamW step on ``batch = (features, labels, mask)`` and return the new state and loss.

    Rows whose ``mask`` is False are padding, and labels of -1 or NaN are unknown.
    Neither adds to the loss or its gradient. ``hyper`` contains the learning rate,
    weight decay and dropout rate as traced scalars, so runs that differ only in
    those values share one compiled step. The optimizer is rebuilt from them here,
    which is cheap because AdamW's state does not depend on them.
    """
    features, labels, mask = batch
    key = jax.random.fold_in(dropout_key, step)

    def batch_loss(params):
        logits = apply_mlp(params, features, dropout=hyper["dropout"], key=key)
        # Unknown labels and padding rows add nothing. mask[:, None] broadcasts over the labels.
        where = bcejax.known_labels(labels) & mask[:, None]
        return objective(logits, labels, pos_weight, where=where, reduction="mean")

    value, grads = jax.value_and_grad(batch_loss)(params)
    optimizer = make_optimizer(hyper["learning_rate"], hyper["weight_decay"])
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value


@functools.partial(jax.jit, static_argnames="objective")
def evaluation_losses(
    params: list[dict[str, jax.Array]],
    features: jax.Array,
    labels: jax.Array,
    pos_weight: jax.Array | None,
    *,
    objective: Objective,
) -> tuple[jax.Array, jax.Array]:
    """Compute the losses for early stopping and the per-label report, without dropout.

    Returns:
        ``(objective_losses, label_losses)``. ``objective_losses`` is the training
        objective with ``reduction="none"``: [num_rows, num_labels] for an
        element-wise loss, [num_rows] for a per-example loss. ``label_losses``
        [num_rows, num_labels] is the objective itself for an element-wise loss, and
        plain sigmoid BCE for a per-example loss, which has no loss per label.
        Unknown labels add 0 to both.
    """
    logits = apply_mlp(params, features)
    known = bcejax.known_labels(labels)
    objective_losses = objective(logits, labels, pos_weight, where=known, reduction="none")
    if not objective.per_example:
        return objective_losses, objective_losses
    return objective_losses, bcejax.sigmoid_binary_cross_entropy(logits, labels, where=known, reduction="none")


init_params = jax.jit(init_mlp, static_argnums=1)
predict_logits = jax.jit(apply_mlp)


@dataclasses.dataclass
class Member:
    """One trained ensemble member and its history.

    Losses are computed without dropout on known labels only, except
    ``train_losses``: the mean of the training objective over each epoch's batches,
    with dropout. ``validation_losses`` is the training objective. The per-label
    arrays have shape [num_labels] and contain the training objective for an
    element-wise loss, or plain sigmoid BCE for a per-example loss.
    """

    params: list[dict[str, jax.Array]]
    validation_rows: np.ndarray
    train_losses: list[float]
    validation_losses: list[float]
    best_epoch: int
    label_loss_start: np.ndarray
    label_loss_end: np.ndarray
    label_loss_validation: np.ndarray


@dataclasses.dataclass
class Ensemble:
    """Members trained on one set of training rows, with their out-of-fold scores.

    ``out_of_fold_scores[i]`` is the mean logit of training row ``out_of_fold_rows[i]``
    over the members that held that row out.
    """

    members: list[Member]
    threshold: float
    out_of_fold_scores: np.ndarray
    out_of_fold_rows: np.ndarray


class Trainer:
    """Train ensembles with one configuration on the devices that JAX finds."""

    def __init__(self, config: Config):
        self.config = config
        loss = available_losses()[config.loss]
        self.objective = Objective(
            loss, config.label_smoothing, config.loss_options, per_example=loss_kind(loss) == "example"
        )
        self.devices = jax.devices()
        self.batch_sharding, self.replicated = data_parallel_shardings(self.devices)
        self.batch_size = device_batch_size(config.batch_size, len(self.devices))
        self.hyper = {
            "learning_rate": config.learning_rate,
            "weight_decay": config.weight_decay,
            "dropout": config.dropout,
        }

    def fit_ensemble(
        self, features: np.ndarray, labels: np.ndarray, seed: Sequence[int], description: str
    ) -> Ensemble:
        """Train ``config.members`` members on training rows only, and pick the threshold.

        Member m holds out validation fold m mod 5 of ``features``. The threshold is
        ``config.threshold`` when set, else the one that :func:`choose_threshold`
        picks on the out-of-fold scores. ``labels`` may mark unknown labels with -1 or
        NaN.
        """
        config = self.config
        pos_weight = positive_weights(config, labels)
        folds = yeast.kfold_splits(len(features), VALIDATION_FOLDS, seed=config.seed)
        members = []
        total_epochs = config.members * config.max_epochs
        with tqdm(total=total_epochs, desc=description, unit="epoch", leave=False) as progress:
            for index in range(config.members):
                validation_rows = folds[index % VALIDATION_FOLDS][1]
                member = self.train_member(features, labels, validation_rows, pos_weight, (*seed, index), progress)
                members.append(member)

        score_sum = np.zeros(labels.shape, np.float64)
        count = np.zeros(len(labels))
        for member in members:
            score_sum[member.validation_rows] += predict_logits(member.params, features[member.validation_rows])
            count[member.validation_rows] += 1
        rows = np.flatnonzero(count)
        scores = (score_sum[rows] / count[rows, None]).astype(np.float32)
        if config.threshold is not None:
            threshold = config.threshold
        else:
            threshold = choose_threshold(scores, labels[rows])
        return Ensemble(members, threshold, scores, rows)

    def train_member(
        self,
        features: np.ndarray,
        labels: np.ndarray,
        validation_rows: np.ndarray,
        pos_weight: np.ndarray | None,
        seed: Sequence[int],
        progress: tqdm,
    ) -> Member:
        """Train one member on all rows but ``validation_rows``, with early stopping.

        The member keeps the parameters of the epoch with the lowest validation loss.
        Training stops after ``patience`` epochs without a new lowest loss, after
        ``max_epochs``, or after ``max_steps`` optimizer steps.
        """
        config = self.config
        labels = labels.astype(np.float32)
        known = known_mask(labels)
        fit_rows = np.setdiff1d(np.arange(len(features)), validation_rows)
        fit_x, fit_y = features[fit_rows], labels[fit_rows]

        def evaluate_losses(params, rows):
            """Compute the validation objective and the per-label losses [num_labels] on ``rows``."""
            # One call over all rows keeps a single compiled shape per training set.
            objective_losses, label_losses = jax.device_get(
                evaluation_losses(params, features, labels, pos_weight, objective=self.objective)
            )
            per_label = known_label_means(label_losses[rows], known[rows])
            if self.objective.per_example:
                # As in the loss's "mean": an example without a known label does not count.
                values = objective_losses[rows][known[rows].any(axis=1)]
            else:
                values = per_label[~np.isnan(per_label)]
            return float(values.mean()) if values.size else math.nan, per_label

        init_key, dropout_key = jax.random.split(seeded_key(seed))
        positives, known_counts = known_label_counts(fit_y)
        # A label without a known entry starts at probability 0.5.
        frequency = np.full(labels.shape[1], 0.5, np.float32)
        np.divide(positives, known_counts, out=frequency, where=known_counts > 0)
        frequency = np.clip(frequency, 1e-3, 1 - 1e-3)
        sizes = (features.shape[1],) + (config.hidden_width,) * config.hidden_layers + (labels.shape[1],)
        params = init_params(init_key, sizes, np.log(frequency / (1 - frequency)))
        params = jax.device_put(params, self.replicated)
        optimizer = make_optimizer(config.learning_rate, config.weight_decay)
        opt_state = jax.device_put(optimizer.init(params), self.replicated)
        shuffle = np.random.default_rng(seed)

        _, label_loss_start = evaluate_losses(params, fit_rows)
        best_loss, best_params, best_epoch = math.inf, params, 0
        train_losses, validation_losses = [], []
        step = 0
        for epoch in range(1, config.max_epochs + 1):
            order = shuffle.permutation(len(fit_rows))
            batch_rows, batch_masks = epoch_batches(order, self.batch_size)
            epoch_losses = []
            for rows, mask in zip(batch_rows, batch_masks):
                batch = jax.device_put((fit_x[rows], fit_y[rows], mask), self.batch_sharding)
                params, opt_state, value = train_step(
                    params, opt_state, batch, dropout_key, step, self.hyper, pos_weight, objective=self.objective
                )
                epoch_losses.append(value)
                step += 1
                if config.max_steps is not None and step >= config.max_steps:
                    break

            train_losses.append(float(np.mean(jax.device_get(epoch_losses))))
            validation_losses.append(evaluate_losses(params, validation_rows)[0])
            progress.update(1)
            progress.set_postfix(train=f"{train_losses[-1]:.4f}", validation=f"{validation_losses[-1]:.4f}")
            if validation_losses[-1] < best_loss:
                best_loss, best_params, best_epoch = validation_losses[-1], params, epoch
            out_of_patience = epoch - best_epoch >= config.patience
            out_of_steps = config.max_steps is not None and step >= config.max_steps
            if out_of_patience or out_of_steps:
                progress.update(config.max_epochs - epoch)
                break

        return Member(
            params=best_params,
            validation_rows=validation_rows,
            train_losses=train_losses,
            validation_losses=validation_losses,
            best_epoch=best_epoch,
            label_loss_start=label_loss_start,
            label_loss_end=evaluate_losses(best_params, fit_rows)[1],
            label_loss_validation=evaluate_losses(best_params, validation_rows)[1],
        )


# ---------------------------------------------------------------------------
# Metrics


def ensemble_logits(members: Sequence[Member], features: np.ndarray) -> np.ndarray:
    """Average the members' logits, float32 [num_rows, num_labels]."""
    return np.mean([np.asarray(predict_logits(member.params, features)) for member in members], axis=0)


@jax.jit
def threshold_hamming_losses(scores: jax.Array, labels: jax.Array, thresholds: jax.Array) -> jax.Array:
    """Compute the Hamming loss of ``sigmoid(scores) >= t`` for each threshold t, [num_thresholds].

    Only known labels count: an entry whose label is -1 or NaN is neither an error
    nor part of the divisor. With every label known this is
    :func:`bcejax.metrics.hamming_loss`, which has no mask.
    """
    probabilities = jax.nn.sigmoid(scores)
    known = bcejax.known_labels(labels)
    relevant = labels > 0
    num_known = jnp.maximum(jnp.sum(known), 1).astype(jnp.float32)

    def hamming_loss(threshold):
        errors = known & ((probabilities >= threshold) != relevant)
        return jnp.sum(errors).astype(jnp.float32) / num_known

    return jax.vmap(hamming_loss)(thresholds)


def choose_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Pick the probability threshold from THRESHOLD_GRID with the lowest Hamming loss.

    The Hamming loss counts known labels only (see :func:`threshold_hamming_losses`).
    Ties go to the threshold closest to 0.5.
    """
    losses = np.asarray(threshold_hamming_losses(scores, labels, THRESHOLD_GRID))
    best = min(range(len(THRESHOLD_GRID)), key=lambda i: (losses[i], abs(THRESHOLD_GRID[i] - 0.5)))
    return float(THRESHOLD_GRID[best])


@jax.jit
def compute_metrics(scores: jax.Array, labels: jax.Array, threshold: float) -> dict[str, jax.Array]:
    """Compute the metrics of metrics.json from logits and 0/1 labels [num_rows, num_labels].

    Ranking metrics use the logits. Predictions are ``sigmoid(logits) >= threshold``.
    Labels without positives are left out of ``mean_average_precision``.
    """
    predictions = jax.nn.sigmoid(scores) >= threshold
    return {
        "hamming_loss": metrics.hamming_loss(predictions, labels),
        "one_error": metrics.one_error(scores, labels),
        "coverage": metrics.coverage(scores, labels),
        "ranking_loss": metrics.ranking_loss(scores, labels),
        "average_precision": metrics.label_ranking_average_precision(scores, labels),
        "subset_accuracy": metrics.subset_accuracy(predictions, labels),
        "micro_f1": metrics.f1_score(predictions, labels, average="micro"),
        "macro_f1": metrics.f1_score(predictions, labels, average="macro"),
        "example_f1": metrics.f1_score(predictions, labels, average="samples"),
        "mean_average_precision": metrics.mean_average_precision(scores, labels, no_positives="exclude"),
    }


@jax.jit
def compute_per_label(scores: jax.Array, labels: jax.Array, threshold: float) -> dict[str, jax.Array]:
    """Compute each label's average precision and F1 score, float32 [num_labels] each.

    A label without positives gets average precision NaN (undefined) and F1 score 0.
    """
    predictions = jax.nn.sigmoid(scores) >= threshold

    def one_label(score_column, prediction_column, label_column):
        score_column, label_column = score_column[:, None], label_column[:, None]
        return {
            "average_precision": metrics.mean_average_precision(score_column, label_column, no_positives="exclude"),
            "f1": metrics.f1_score(prediction_column[:, None], label_column, average="macro"),
        }

    return jax.vmap(one_label, in_axes=1)(scores, predictions, labels)


def evaluate(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Compute the metrics of metrics.json as Python floats (see :func:`compute_metrics`)."""
    return {name: float(value) for name, value in compute_metrics(scores, labels, threshold).items()}


# ---------------------------------------------------------------------------
# Protocols


@dataclasses.dataclass
class SplitResult:
    """Test metrics of one ensemble trained on one set of training rows."""

    metrics: dict[str, float]
    per_label: dict[str, np.ndarray]
    ensemble: Ensemble
    train_positives: np.ndarray
    """Positives per label among the known training labels [num_labels]."""
    hidden_labels: int
    """Number of training label entries that --hide-labels marked unknown."""


def run_split(
    trainer: Trainer,
    features: np.ndarray,
    labels: np.ndarray,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    seed: Sequence[int],
    description: str,
) -> SplitResult:
    """Train on ``train_rows`` and score ``test_rows`` once.

    ``config.hide_labels`` hides that fraction of the training labels, seeded with
    ``seed``. The test labels are scored as given.
    """
    scaled = standardize(features, train_rows)
    train_labels = hide_labels(labels[train_rows], trainer.config.hide_labels, seed)
    ensemble = trainer.fit_ensemble(scaled[train_rows], train_labels, seed, description)
    scores = ensemble_logits(ensemble.members, scaled[test_rows])
    train_positives, known_counts = known_label_counts(train_labels)
    return SplitResult(
        metrics=evaluate(scores, labels[test_rows], ensemble.threshold),
        per_label=jax.tree.map(np.asarray, compute_per_label(scores, labels[test_rows], ensemble.threshold)),
        ensemble=ensemble,
        train_positives=train_positives,
        hidden_labels=int(train_labels.size - known_counts.sum()),
    )


def run_protocol(trainer: Trainer, protocol: str, features: np.ndarray, labels: np.ndarray) -> list[SplitResult]:
    """Run the standard split (one result) or 10-fold cross-validation (ten results)."""
    seed = trainer.config.seed
    if protocol == yeast.STANDARD_PROTOCOL:
        train_rows, test_rows = yeast.standard_split()
        return [run_split(trainer, features, labels, train_rows, test_rows, (seed,), "training")]

    results = []
    for fold, (train_rows, test_rows) in enumerate(yeast.kfold_splits(len(features), 10, seed=seed)):
        description = f"fold {fold + 1}/10"
        results.append(run_split(trainer, features, labels, train_rows, test_rows, (seed, fold), description))
    return results


def tune(config: Config, features: np.ndarray, labels: np.ndarray, grid: dict[str, Sequence[Any]]) -> list[dict]:
    """Score every combination in ``grid`` on training rows only, best first.

    ``features`` and ``labels`` must hold training rows only. Each candidate trains
    an ensemble as a normal run does and is scored on its out-of-fold predictions.
    Candidates are ranked by the plain sigmoid BCE of those predictions, a proper
    scoring rule that rewards both the ranking and the calibration behind the
    thresholded metrics.

    ``config.hide_labels`` hides the same entries as a standard-split run with the
    same seed. The BCE and the Hamming loss then count known labels only, and the
    ranking metrics, which need every label of an example, are None.
    """
    scaled = standardize(features, np.arange(len(features)))
    labels = hide_labels(labels, config.hide_labels, (config.seed,))
    known = known_mask(labels)
    names = list(grid)
    rows = []
    combinations = list(itertools.product(*(grid[name] for name in names)))
    for index, values in enumerate(combinations):
        candidate = dataclasses.replace(config, **dict(zip(names, values)))
        description = f"candidate {index + 1}/{len(combinations)}"
        started = time.perf_counter()
        ensemble = Trainer(candidate).fit_ensemble(scaled, labels, (candidate.seed,), description)
        seconds = time.perf_counter() - started
        validation_labels = labels[ensemble.out_of_fold_rows]
        validation_known = known[ensemble.out_of_fold_rows]
        loss = bcejax.sigmoid_binary_cross_entropy(
            ensemble.out_of_fold_scores, validation_labels, where=validation_known, reduction="mean"
        )
        if validation_known.all():
            out_of_fold_metrics = evaluate(ensemble.out_of_fold_scores, validation_labels, ensemble.threshold)
        else:
            thresholds = np.array([ensemble.threshold], np.float32)
            hamming = threshold_hamming_losses(ensemble.out_of_fold_scores, validation_labels, thresholds)
            out_of_fold_metrics = {name: None for name in METRIC_NAMES} | {"hamming_loss": float(hamming[0])}
        rows.append({
            **dict(zip(names, values)),
            "validation_bce": float(loss),
            "threshold": ensemble.threshold,
            "mean_best_epoch": float(np.mean([member.best_epoch for member in ensemble.members])),
            "seconds": round(seconds, 1),
            **out_of_fold_metrics,
        })
    return sorted(rows, key=lambda row: row["validation_bce"])


# ---------------------------------------------------------------------------
# Report


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Align the columns of a text table: first column left, the others right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def format_value(name: str, value: float, std: float | None = None) -> str:
    """Format one of our metric values, with its standard deviation when given."""
    digits = 3 if name == "coverage" else 4
    return f"{value:.{digits}f}" + (f"±{std:.{digits}f}" if std is not None else "")


def format_reported(reference: yeast.ReferenceResult, name: str) -> str:
    """Format a reference value as its source reports it, marked ≈ where approximate."""
    if name not in reference.reported:
        return "-"
    return ("≈" if reference.approximate else "") + reference.reported[name]


def summarize(results: list[SplitResult]) -> tuple[dict[str, float], dict[str, float] | None]:
    """Return the metrics (mean over folds) and their standard deviations (None for one split)."""
    table = np.array([[result.metrics[name] for name in METRIC_NAMES] for result in results])
    mean = dict(zip(METRIC_NAMES, table.mean(axis=0).tolist()))
    if len(results) == 1:
        return mean, None
    return mean, dict(zip(METRIC_NAMES, table.std(axis=0).tolist()))


def print_label_losses(results: list[SplitResult], objective: Objective) -> None:
    """Print each label's loss at the start and the end of training, averaged over members.

    The loss is the training objective, or plain sigmoid BCE for a per-example objective.
    """
    members = [member for result in results for member in result.ensemble.members]
    start = np.mean([member.label_loss_start for member in members], axis=0)
    end = np.mean([member.label_loss_end for member in members], axis=0)
    validation = np.mean([member.label_loss_validation for member in members], axis=0)
    positives = np.mean([result.train_positives for result in results], axis=0)
    header = ("label", "train positives", "start (fit rows)", "end (fit rows)", "end (validation rows)")
    rows = [
        (f"Class{label + 1}", f"{positives[label]:.0f}", f"{start[label]:.4f}", f"{end[label]:.4f}",
         f"{validation[label]:.4f}")
        for label in range(len(start))
    ]
    if objective.per_example:
        print(f"\nPer-label loss of plain sigmoid BCE, NOT the training objective: {objective.loss.__name__} "
              "gives one loss per example, not per label. Mean over ensemble members.")
    else:
        print("\nPer-label loss of the training objective, mean over ensemble members.")
    hidden = np.mean([result.hidden_labels for result in results])
    if hidden:
        per_split = " per split" if len(results) > 1 else ""
        print(f"--hide-labels marked {hidden:.0f} training label entries{per_split} unknown. Positives "
              "and losses count known labels only.")
    print("The averaged loss hides how far each label is from its own optimum:")
    print(format_table(header, rows))


def compare_with_reference(name: str, ours: float, reference: yeast.ReferenceResult) -> str:
    """Compare our value of goal metric ``name`` with a reference: "better", "tied" or "worse".

    Our value is first rounded to the decimals that the reference reports, so a
    difference hidden by the reference's rounding counts as a tie.
    """
    rounded = round(ours, reference.decimals(name))
    reported = reference.value(name)
    if rounded == reported:
        return "tied"
    lower_is_better = GOAL_METRICS[name] == "lower"
    return "better" if (rounded < reported) == lower_is_better else "worse"


def goal_comparison(mean: dict[str, float], protocol: str) -> dict[str, dict[str, str]]:
    """Compare our goal metrics with each reference of ``protocol``: {model: {metric: outcome}}."""
    return {
        reference.model: {name: compare_with_reference(name, mean[name], reference) for name in GOAL_METRICS}
        for reference in yeast.reference_results(protocol)
    }


def print_results(protocol: str, config: Config, results: list[SplitResult]) -> None:
    """Print our test metrics beside the reference results of the same protocol."""
    mean, std = summarize(results)
    options = "".join(
        f", {name} {value}"
        for name, value, default in (
            ("pos_weight", config.pos_weight, "none"), ("label_smoothing", config.label_smoothing, 0.0),
            ("hide_labels", config.hide_labels, 0.0),
        )
        if value != default
    ) + "".join(f", {name}={value}" for name, value in config.loss_options)
    ours = (f"this example ({config.loss}{options})",) + tuple(
        format_value(name, mean[name], std[name] if std else None) for name, _ in TABLE_COLUMNS
    )
    references = yeast.reference_results(protocol)
    rows = [ours] + [
        (reference.model,) + tuple(format_reported(reference, name) for name, _ in TABLE_COLUMNS)
        for reference in references
    ]

    spread = ", ± is the standard deviation over folds" if std else ""
    print(f"\nTest metrics, {yeast.PROTOCOL_TITLES[protocol]}{spread}.")
    print("Coverage counts steps down the ranked label list (scikit-learn's coverage_error - 1).")
    print(format_table(("model", *(title for _, title in TABLE_COLUMNS)), rows))
    extra = ", ".join(
        f"{name} {format_value(name, mean[name], std[name] if std else None)}"
        for name in ("subset_accuracy", "example_f1", "mean_average_precision")
    )
    print(f"Also measured (no reference reports them): {extra}.")

    print(f"Goal metrics ({', '.join(GOAL_METRICS)}) at each reference's reported precision:")
    for model, outcomes in goal_comparison(mean, protocol).items():
        counts = []
        for outcome in ("better", "tied", "worse"):
            names = [name for name, value in outcomes.items() if value == outcome]
            counts.append(f"{outcome} on {len(names)}" + (f" ({', '.join(names)})" if names else ""))
        print(f"  vs {model}: {', '.join(counts)}.")
    print("Reference sources (≈: recalled from the paper, approximate):")
    for reference in references:
        print(f"  {reference.model}: {reference.source}")


def save_outputs(
    output_dir: pathlib.Path,
    protocol: str,
    config: Config,
    results: list[SplitResult],
    run_info: dict[str, Any],
) -> list[pathlib.Path]:
    """Write metrics.json and the PNG plots, and return their paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    mean, std = summarize(results)
    report: dict[str, Any] = {**mean, "protocol": protocol, "config": dataclasses.asdict(config), **run_info}
    report["goal_comparison"] = goal_comparison(mean, protocol)
    report["per_label"] = {
        key: [None if math.isnan(value) else value for value in mean_over_folds(results, key).tolist()]
        for key in ("average_precision", "f1")
    }
    report["thresholds"] = [result.ensemble.threshold for result in results]
    report["best_epochs"] = [[member.best_epoch for member in result.ensemble.members] for result in results]
    if std is not None:
        report["std"] = std
        report["folds"] = [result.metrics for result in results]
    metrics_path = output_dir / "metrics.json"
    metrics_path.write_text(json.dumps(report, indent=2) + "\n")
    return [metrics_path, plot_losses(output_dir, results), plot_per_label(output_dir, results)]


def plot_losses(output_dir: pathlib.Path, results: list[SplitResult]) -> pathlib.Path:
    """Plot the training and validation loss per epoch of every member."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    members = [member for result in results for member in result.ensemble.members]
    for index, member in enumerate(members):
        epochs = np.arange(1, len(member.train_losses) + 1)
        first = index == 0
        axes.plot(epochs, member.train_losses, color="tab:blue", alpha=0.5, label="training" if first else None)
        axes.plot(epochs, member.validation_losses, color="tab:orange", alpha=0.5,
                  label="validation" if first else None)
        axes.plot(member.best_epoch, member.validation_losses[member.best_epoch - 1], "k.",
                  label="kept epoch (lowest validation loss)" if first else None)
    axes.set(xlabel="epoch", ylabel="loss (training objective)",
             title=f"Training and validation loss, {len(members)} ensemble members")
    axes.legend()
    path = output_dir / "loss_curves.png"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def mean_over_folds(results: list[SplitResult], key: str) -> np.ndarray:
    """Average one per-label test metric over folds, float64 [num_labels].

    A fold whose test rows have no positive for a label has no average precision for
    it, and is left out of that label's mean. A label without any value gets NaN.
    """
    values = np.ma.masked_invalid(np.array([result.per_label[key] for result in results], np.float64))
    return values.mean(axis=0).filled(np.nan)


def plot_per_label(output_dir: pathlib.Path, results: list[SplitResult]) -> pathlib.Path:
    """Plot each label's test average precision and F1 score as bars (mean ± std over folds)."""
    figure, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    positions = np.arange(yeast.NUM_LABELS)
    for axis, (key, title) in zip(axes, (("average_precision", "average precision"), ("f1", "F1 score"))):
        values = np.ma.masked_invalid(np.array([result.per_label[key] for result in results]))
        errors = values.std(axis=0).filled(np.nan) if len(results) > 1 else None
        axis.bar(positions, mean_over_folds(results, key), yerr=errors, color="tab:blue", capsize=2)
        axis.set(ylabel=title, ylim=(0, 1), title=f"Per-label test {title}")
    axes[-1].set_xticks(positions, [f"Class{label + 1}" for label in positions], rotation=45)
    path = output_dir / "per_label_ap_f1.png"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def print_tuning(rows: list[dict], grid: dict[str, Sequence[Any]]) -> None:
    """Print the candidates of --tune, best first."""
    names = list(grid)
    header = (*names, "val. BCE", "threshold", "epochs", "seconds", *(title for _, title in TABLE_COLUMNS[:5]))
    table = [
        (*(str(row[name]) for name in names), f"{row['validation_bce']:.4f}", f"{row['threshold']:.3f}",
         f"{row['mean_best_epoch']:.1f}", f"{row['seconds']:.0f}",
         *("-" if row[name] is None else format_value(name, row[name]) for name, _ in TABLE_COLUMNS[:5]))
        for row in rows
    ]
    print("\nCandidates scored on out-of-fold predictions of the standard training rows, best first:")
    print(format_table(header, table))


# ---------------------------------------------------------------------------
# Command line


# Loss arguments that the script sets itself, so --loss-option cannot set them.
RESERVED_LOSS_ARGUMENTS = ("logits", "labels", "weight", "pos_weight", "label_smoothing", "where", "reduction")


def parse_loss_option(text: str) -> tuple[str, float | bool | None]:
    """Parse a --loss-option value ``NAME=VALUE`` into ``(name, value)``.

    VALUE is a number, ``true``, ``false`` or ``none``.
    """
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not of the form NAME=VALUE, such as gamma=1.0.")
    keywords = {"none": None, "true": True, "false": False}
    if value.lower() in keywords:
        return name, keywords[value.lower()]
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} has the value {value!r}, expected a number, true, false or none."
        ) from None


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, Config]:
    """Parse the command line into the run options and a Config."""
    defaults = Config()
    losses = available_losses()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=(yeast.STANDARD_PROTOCOL, yeast.CV10_PROTOCOL),
                        default=yeast.STANDARD_PROTOCOL,
                        help="evaluation protocol. standard trains on rows 917..2416 and tests on rows "
                             "0..916. cv10 runs 10-fold cross-validation on all rows (default: %(default)s)")
    parser.add_argument("--tune", action="store_true",
                        help="score the TUNING_GRID candidates on the standard training rows and stop")
    parser.add_argument("--output-dir", type=pathlib.Path,
                        help="folder for metrics.json and the plots (default: runs/yeast-PROTOCOL)")
    parser.add_argument("--loss", choices=sorted(losses), default=defaults.loss,
                        help="bcejax loss to train with. zlpr_loss and multilabel_soft_margin_loss give "
                             "one loss per example, so the per-label report shows plain sigmoid BCE "
                             "for them (default: %(default)s)")
    parser.add_argument("--pos-weight", choices=POS_WEIGHT_MODES, default=defaults.pos_weight,
                        help="per-label pos_weight from the known training labels: negatives/positives "
                             "(balanced) or its square root. A label without positives or without "
                             "negatives gets 1 (default: %(default)s)")
    parser.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing,
                        help="moves labels towards 0.5: y * (1 - s) + s / 2 (default: %(default)s)")
    parser.add_argument("--loss-option", dest="loss_options", action="append", default=[],
                        type=parse_loss_option, metavar="NAME=VALUE",
                        help="further keyword argument of the loss, such as gamma=1.0 for "
                             "sigmoid_focal_loss. VALUE is a number, true, false or none. Repeat "
                             "the option to set several")
    parser.add_argument("--hide-labels", type=float, default=defaults.hide_labels, metavar="FRACTION",
                        help="fraction of the training rows' label entries to mark unknown (-1), drawn "
                             "with --seed, to train with partial labels. The loss skips them through "
                             "where=bcejax.known_labels(labels), and pos_weight, the output bias, the "
                             "validation loss and the threshold count known labels only. Test rows "
                             "keep every label (default: %(default)s)")
    parser.add_argument("--hidden-width", type=int, default=defaults.hidden_width,
                        help="units per hidden layer (default: %(default)s)")
    parser.add_argument("--hidden-layers", type=int, default=defaults.hidden_layers,
                        help="number of hidden layers (default: %(default)s)")
    parser.add_argument("--dropout", type=float, default=defaults.dropout,
                        help="dropout rate after each hidden layer (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate,
                        help="AdamW learning rate (default: %(default)s)")
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay,
                        help="AdamW decoupled weight decay on weight matrices (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help="examples per step, rounded up to a multiple of the device count "
                             "(default: %(default)s)")
    parser.add_argument("--epochs", dest="max_epochs", type=int, default=defaults.max_epochs,
                        help="maximum epochs per member (default: %(default)s)")
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="epochs without a lower validation loss before a member stops "
                             "(default: %(default)s)")
    parser.add_argument("--members", type=int, default=defaults.members,
                        help="number of ensemble members. Member m holds out validation fold m mod 5 "
                             "(default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=defaults.threshold,
                        help="probability threshold for predictions (default: the one with the "
                             "lowest out-of-fold Hamming loss)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: %(default)s)")
    parser.add_argument("--max-steps", type=int, default=defaults.max_steps,
                        help="stop each member after this many optimizer steps, for quick checks")
    args = parser.parse_args(argv)

    loss_parameters = inspect.signature(losses[args.loss]).parameters
    if "pos_weight" not in loss_parameters and args.pos_weight != "none":
        parser.error(f"--pos-weight {args.pos_weight}: loss {args.loss} has no pos_weight argument.")
    if "label_smoothing" not in loss_parameters and args.label_smoothing:
        parser.error(f"--label-smoothing {args.label_smoothing}: loss {args.loss} has no label_smoothing argument.")
    for name, _ in args.loss_options:
        settable = [
            parameter for parameter in loss_parameters
            if parameter not in RESERVED_LOSS_ARGUMENTS and loss_parameters[parameter].kind == inspect.Parameter.KEYWORD_ONLY
        ]
        if name not in settable:
            parser.error(
                f"--loss-option {name}: loss {args.loss} has no such argument. "
                f"Arguments that --loss-option can set: {', '.join(settable) or 'none'}."
            )
    given = {name for name, _ in args.loss_options}
    for name, parameter in loss_parameters.items():
        if name not in ("logits", "labels") and parameter.default is inspect.Parameter.empty and name not in given:
            parser.error(f"--loss {args.loss} needs a value for its argument {name}: add --loss-option {name}=VALUE.")
    args.loss_options = tuple(args.loss_options)
    checks = (
        ("--label-smoothing", args.label_smoothing, 0 <= args.label_smoothing <= 1, "from 0 to 1"),
        ("--hide-labels", args.hide_labels, 0 <= args.hide_labels < 1, "from 0 up to, but not including, 1"),
        ("--dropout", args.dropout, 0 <= args.dropout < 1, "from 0 up to, but not including, 1"),
        ("--hidden-width", args.hidden_width, args.hidden_width >= 1, "at least 1"),
        ("--hidden-layers", args.hidden_layers, args.hidden_layers >= 0, "at least 0"),
        ("--learning-rate", args.learning_rate, args.learning_rate > 0, "greater than 0"),
        ("--weight-decay", args.weight_decay, args.weight_decay >= 0, "at least 0"),
        ("--batch-size", args.batch_size, args.batch_size >= 1, "at least 1"),
        ("--epochs", args.max_epochs, args.max_epochs >= 1, "at least 1"),
        ("--patience", args.patience, args.patience >= 1, "at least 1"),
        ("--members", args.members, args.members >= 1, "at least 1"),
        ("--threshold", args.threshold, args.threshold is None or 0 < args.threshold < 1, "between 0 and 1"),
        ("--max-steps", args.max_steps, args.max_steps is None or args.max_steps >= 1, "at least 1"),
    )
    for option, value, valid, expected in checks:
        if not valid:
            parser.error(f"{option} is {value}, expected a value {expected}.")

    config_fields = {field.name for field in dataclasses.fields(Config)}
    config = Config(**{name: value for name, value in vars(args).items() if name in config_fields})
    return args, config


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example and return the exit status."""
    started = time.perf_counter()
    args, config = parse_args(argv)
    try:
        features, labels = yeast.load_yeast()
    except ModuleNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

    devices = jax.devices()
    trainer = Trainer(config)
    print(f"JAX {jax.__version__} on {len(devices)} {jax.default_backend()} device(s). Each batch of "
          f"{trainer.batch_size} rows is sharded over the 'data' mesh axis; a short last batch is "
          "padded and the padding rows are masked out of the loss.")
    print(f"Configuration: {dataclasses.asdict(config)}")

    if args.tune:
        output_dir = args.output_dir or pathlib.Path("runs/yeast-tune")
        train_rows, _ = yeast.standard_split()
        rows = tune(config, features[train_rows], labels[train_rows], TUNING_GRID)
        print_tuning(rows, TUNING_GRID)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "tuning.json").write_text(json.dumps(rows, indent=2) + "\n")
        print(f"\nWrote {output_dir / 'tuning.json'} in {time.perf_counter() - started:.0f} s.")
        return 0

    results = run_protocol(trainer, args.protocol, features, labels)
    elapsed = time.perf_counter() - started
    print_label_losses(results, trainer.objective)
    print_results(args.protocol, config, results)
    run_info = {
        "elapsed_seconds": round(elapsed, 1),
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "num_devices": len(devices),
        "device_batch_size": trainer.batch_size,
    }
    output_dir = args.output_dir or pathlib.Path(f"runs/yeast-{args.protocol}")
    paths = save_outputs(output_dir, args.protocol, config, results, run_info)
    print(f"\nTrained and evaluated in {elapsed:.1f} s. Wrote {', '.join(str(path) for path in paths)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
