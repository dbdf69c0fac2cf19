"""Measure the memory that sigmoid BCE keeps for its backward pass, in bcejax and in optax.

Two views:

1. Residuals. Between a forward pass and its backward pass, reverse mode keeps the
   residuals: arrays that the backward pass reads. The table lists those of the
   size of the logits, each with its source. A residual that is the
   logits or the labels costs nothing extra in a standalone call, while in a
   network the logits are an activation that the loss alone keeps alive. Any
   other residual is a new array.
2. Compiled memory. XLA's memory analysis of the jitted ``value_and_grad`` of the
   mean loss: argument, output and temporary buffer sizes, and their sum as an
   estimate of the peak.

    python benchmarks/memory.py            # shape (64, 1_000_000), as on the results page
    python benchmarks/memory.py --smoke    # a tiny shape
"""

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp
import optax
from jax._src.ad_checkpoint import saved_residuals  # NOTE: private; JAX has no public API that returns them.

import bcejax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import machine_description, markdown_table  # noqa: E402

SHAPE = (64, 1_000_000)
SMOKE_SHAPE = (4, 32)
DTYPES = ("float32", "bfloat16")


def mean_losses():
    """Map each implementation to its mean loss ``f(logits, labels)``."""
    return {
        "bcejax": lambda logits, labels: bcejax.sigmoid_binary_cross_entropy(logits, labels),
        "optax": lambda logits, labels: jnp.mean(optax.losses.sigmoid_binary_cross_entropy(logits, labels)),
    }


def residual_row(name, mean_loss, shape, dtype) -> list[str]:
    """Describe the residuals of ``mean_loss`` with the size of the logits, differentiated in the logits."""
    logits = jnp.zeros(shape, dtype)
    labels = jnp.ones(shape, dtype)
    residuals = saved_residuals(lambda x: mean_loss(x, labels), logits)
    large = [(aval, source) for aval, source in residuals if aval.size == logits.size]
    inputs = [aval for aval, source in large if "argument" in source or "constant" in source]
    new = [aval for aval, source in large if not ("argument" in source or "constant" in source)]
    new_bytes = sum(aval.dtype.itemsize for aval in new)
    small = sum(aval.size * aval.dtype.itemsize for aval, _ in residuals if aval.size != logits.size)
    dtypes = ", ".join(sorted({str(aval.dtype) for aval, _ in large})) or "-"
    return [name, dtype, str(len(large)), str(len(inputs)), str(len(new)), str(new_bytes), dtypes, str(small)]


def compiled_row(name, mean_loss, shape, dtype) -> list[str]:
    """Report XLA's memory analysis of the jitted value and gradient at ``shape``."""
    argument = jax.ShapeDtypeStruct(shape, jnp.dtype(dtype))
    compiled = jax.jit(jax.value_and_grad(mean_loss)).lower(argument, argument).compile()
    stats = compiled.memory_analysis()
    elements = shape[0] * shape[1]
    peak = stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
    peak -= stats.alias_size_in_bytes
    megabytes = lambda size: f"{size / 2**20:.1f}"  # noqa: E731
    return [name, dtype, megabytes(stats.argument_size_in_bytes), megabytes(stats.output_size_in_bytes),
            megabytes(stats.temp_size_in_bytes), f"{stats.temp_size_in_bytes / elements:.2f}", megabytes(peak)]


def run(shape) -> str:
    residual_rows, compiled_rows = [], []
    for dtype in DTYPES:
        for name, mean_loss in mean_losses().items():
            residual_rows.append(residual_row(name, mean_loss, shape, dtype))
            compiled_rows.append(compiled_row(name, mean_loss, shape, dtype))
    residual_table = markdown_table(
        ["loss", "dtype", "residuals of logits size", "of which inputs", "new arrays",
         "new bytes per element", "residual dtypes", "other residual bytes"],
        residual_rows)
    compiled_table = markdown_table(
        ["loss", "dtype", "arguments MiB", "outputs MiB", "temporaries MiB", "temporary bytes per element",
         "peak estimate MiB"],
        compiled_rows)
    return (f"### Residuals kept for the backward pass, logits of shape {shape}\n\n{residual_table}\n\n"
            f"### XLA memory analysis of jit(value_and_grad(mean loss)), shape {shape}\n\n{compiled_table}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny shape, to check that the script runs")
    args = parser.parse_args(argv)
    print("## Memory\n")
    print(machine_description() + "\n")
    print(run(SMOKE_SHAPE if args.smoke else SHAPE))
    return 0


if __name__ == "__main__":
    sys.exit(main())
