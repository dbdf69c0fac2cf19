"""Measure the error of sigmoid BCE and its gradient in bcejax, optax and PyTorch against mpmath.

For each input dtype, label kind (hard 0/1 or soft in [0, 1]) and with or without a
``pos_weight``, every implementation computes the element losses and the gradient of
their sum with respect to the logits. The logits are spread log-uniformly over
+-1e-8 .. +-1e4. The exact values come from mpmath at 50 significant digits, from
the same (rounded) inputs.

Errors are in ulps of the result's dtype at the exact value: float32 ulps for float32
inputs, bfloat16 ulps for bfloat16 inputs. Exact values below 16 times the smallest
normal float32 are compared in absolute terms instead, because XLA's CPU backend
flushes subnormal intermediate results to zero. Such a value counts as correct
when the result is within that distance. The "tiny" columns count those that are
not.

    python benchmarks/accuracy.py               # 50000 points per row
    python benchmarks/accuracy.py --smoke       # 200 points
"""

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import optax

import bcejax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import machine_description, markdown_table  # noqa: E402

TINY = 16 * float(np.finfo(np.float32).tiny)
MANTISSA_BITS = {"float32": 23, "bfloat16": 7}


def sample(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Draw logits, hard and soft labels and positive weights, as float64 arrays."""
    rng = np.random.default_rng(seed)
    magnitude = 10 ** rng.uniform(-8, 4, count)
    return {
        "logits": np.where(rng.random(count) < 0.5, -magnitude, magnitude),
        "hard": rng.integers(0, 2, count).astype(np.float64),
        "soft": rng.random(count),
        "pos_weight": rng.uniform(0.1, 10, count),
    }


def round_to(values: np.ndarray, dtype: str) -> np.ndarray:
    """Round float64 values to ``dtype`` and return them as float64 again."""
    return np.asarray(jnp.asarray(values, jnp.float32).astype(dtype).astype(jnp.float32), np.float64)


def logit_terms(logits) -> list[tuple]:
    """Return ``(softplus(x), softplus(-x), sigmoid(x), sigmoid(-x))`` in mpmath for each logit."""
    mpmath.mp.dps = 50
    terms = []
    for value in logits:
        x = mpmath.mpf(float(value))
        softplus = mpmath.log1p(mpmath.exp(x))  # -log(1 - sigmoid(x))
        terms.append((softplus, softplus - x, 1 / (1 + mpmath.exp(-x)), 1 / (1 + mpmath.exp(x))))
    return terms


def exact_values(terms, labels, pos_weight) -> tuple[np.ndarray, np.ndarray]:
    """Return the exact element losses and derivatives in the logits, rounded to float64."""
    losses, gradients = np.empty(len(terms)), np.empty(len(terms))
    for i, ((softplus, softplus_neg, sigmoid, sigmoid_neg), y, p) in enumerate(zip(terms, labels, pos_weight)):
        y, p = mpmath.mpf(float(y)), mpmath.mpf(float(p))
        losses[i] = float(p * y * softplus_neg + (1 - y) * softplus)
        gradients[i] = float((1 - y) * sigmoid - p * y * sigmoid_neg)
    return losses, gradients


def bcejax_values(logits, labels, pos_weight):
    def total(x):
        return bcejax.sigmoid_binary_cross_entropy(x, labels, pos_weight=pos_weight, reduction="sum")

    losses = bcejax.sigmoid_binary_cross_entropy(logits, labels, pos_weight=pos_weight, reduction="none")
    return losses, jax.grad(total)(logits)


def optax_values(logits, labels, pos_weight):
    if pos_weight is not None:
        return None  # optax's sigmoid_binary_cross_entropy has no pos_weight.
    losses = optax.losses.sigmoid_binary_cross_entropy(logits, labels)
    gradients = jax.grad(lambda x: jnp.sum(optax.losses.sigmoid_binary_cross_entropy(x, labels)))(logits)
    return losses, gradients


def torch_values(logits, labels, pos_weight):
    import torch

    def tensor(array):
        return None if array is None else torch.from_numpy(np.array(array.astype(jnp.float32))).to(
            {"float32": torch.float32, "bfloat16": torch.bfloat16}[str(array.dtype)])

    x = tensor(logits).requires_grad_(True)
    losses = torch.nn.functional.binary_cross_entropy_with_logits(
        x, tensor(labels), pos_weight=tensor(pos_weight), reduction="none")
    losses.sum().backward()
    return losses.detach().float().numpy(), x.grad.float().numpy()


IMPLEMENTATIONS = {"bcejax": bcejax_values, "optax": optax_values, "PyTorch": torch_values}


def ulp_errors(actual: np.ndarray, exact: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the errors in ulps of ``dtype`` where |exact| >= TINY, and the mask of tiny values that fail."""
    actual = np.asarray(actual, np.float64)
    normal = np.abs(exact) >= TINY
    exponent = np.floor(np.log2(np.abs(exact[normal])))
    spacing = 2.0 ** (exponent - MANTISSA_BITS[dtype])
    errors = np.abs(actual[normal] - exact[normal]) / spacing
    errors = np.where(np.isnan(errors), np.inf, errors)
    tiny_failures = ~normal & ~(np.abs(actual - exact) <= TINY)
    return errors, tiny_failures


def summary(errors: np.ndarray, tiny_failures: np.ndarray) -> list[str]:
    return [f"{errors.max():.3g}", f"{np.percentile(errors, 99):.3g}", f"{100 * np.mean(errors > 2):.2f}",
            str(int(tiny_failures.sum()))]


def run(count: int) -> str:
    data = sample(count)
    rows = []
    for dtype in ("float32", "bfloat16"):
        logits = round_to(data["logits"], dtype)
        terms = logit_terms(logits)
        pos_weight_values = round_to(data["pos_weight"], dtype)
        for kind in ("hard", "soft"):
            labels = round_to(data[kind], dtype)
            for weighted in (False, True):
                pos_weight = pos_weight_values if weighted else np.ones(count)
                exact_losses, exact_gradients = exact_values(terms, labels, pos_weight)
                inputs = [jnp.asarray(logits, dtype), jnp.asarray(labels, dtype),
                          jnp.asarray(pos_weight, dtype) if weighted else None]
                for name, implementation in IMPLEMENTATIONS.items():
                    values = implementation(*inputs)
                    prefix = [dtype, kind, "yes" if weighted else "no", name]
                    if values is None:
                        rows.append(prefix + ["n/a"] * 8)
                        continue
                    losses, gradients = values
                    rows.append(prefix + summary(*ulp_errors(losses, exact_losses, dtype))
                                + summary(*ulp_errors(gradients, exact_gradients, dtype)))
                print(f"  measured {dtype} {kind} pos_weight={weighted}", file=sys.stderr)
    header = ["dtype", "labels", "pos_weight", "library",
              "loss max ulps", "loss p99", "loss % > 2 ulps", "loss tiny",
              "grad max ulps", "grad p99", "grad % > 2 ulps", "grad tiny"]
    return markdown_table(header, rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="200 points, to check that the script runs")
    parser.add_argument("--points", type=int, default=50_000, help="points per row (default: %(default)s)")
    args = parser.parse_args(argv)
    count = 200 if args.smoke else args.points
    print("## Accuracy: element loss and gradient against mpmath\n")
    print(machine_description())
    print(f"- Points per row: {count}, logits log-uniform over +-1e-8 .. +-1e4\n")
    print(run(count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
