"""Measure compile times of sigmoid BCE, and check that repeated calls do not compile again.

The compile counts come from JAX's monitoring events: each backend compilation emits
``/jax/core/compile/backend_compile_duration``. The script exits with status 1 when a
repeated call compiles, so CI catches a recompilation.

    python benchmarks/compilation.py            # shape (4096, 1000)
    python benchmarks/compilation.py --smoke    # shape (8, 16)
"""

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import bcejax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import machine_description, markdown_table  # noqa: E402

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
REPEATS = 10


class CompileCounter:
    """Count backend compilations and their total duration, from JAX's monitoring events."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._record)

    def _record(self, event: str, seconds: float, **kwargs) -> None:
        if event == COMPILE_EVENT:
            self.count += 1
            self.seconds += seconds


def inputs(shape, count: int, seed: int = 0) -> list[tuple[jax.Array, jax.Array]]:
    """Make ``count`` pairs of (logits, labels) with the same shape and dtype and new values."""
    rng = np.random.default_rng(seed)
    return [(jnp.asarray(rng.normal(size=shape), jnp.float32), jnp.asarray(rng.random(shape) < 0.3, jnp.float32))
            for _ in range(count)]


def cases():
    """Map each case to a function of (logits, labels, index) that returns arrays to wait for.

    The index lets a case vary traced arguments, such as the value of label_smoothing,
    between calls.
    """
    def bcejax_mean(x, y):
        return bcejax.sigmoid_binary_cross_entropy(x, y)

    def optax_mean(x, y):
        return jnp.mean(optax.losses.sigmoid_binary_cross_entropy(x, y))

    bcejax_step = jax.jit(jax.value_and_grad(bcejax_mean))
    optax_step = jax.jit(jax.value_and_grad(optax_mean))
    return {
        "bcejax, called without jit": lambda x, y, i: bcejax.sigmoid_binary_cross_entropy(x, y),
        "bcejax, new label_smoothing and pos_weight values each call": lambda x, y, i: (
            bcejax.sigmoid_binary_cross_entropy(
                x, y, label_smoothing=0.1 + 0.01 * i, pos_weight=jnp.full(x.shape[-1], 1.0 + i))),
        "bcejax, jit(value_and_grad(mean))": lambda x, y, i: bcejax_step(x, y),
        "optax, jit(value_and_grad(mean))": lambda x, y, i: optax_step(x, y),
    }


def run(shape) -> tuple[str, bool]:
    """Time the first call of each case, then count compilations over REPEATS more calls."""
    counter = CompileCounter()
    rows, recompiled = [], False
    batches = inputs(shape, REPEATS + 1)
    for name, call in cases().items():
        first_count, first_seconds = counter.count, counter.seconds
        start = time.perf_counter()
        jax.block_until_ready(call(*batches[0], 0))
        first_call = time.perf_counter() - start
        compiles, compile_seconds = counter.count - first_count, counter.seconds - first_seconds

        before = counter.count
        for index, (x, y) in enumerate(batches[1:], start=1):
            jax.block_until_ready(call(x, y, index))
        repeated = counter.count - before
        recompiled |= repeated > 0
        rows.append([name, f"{1e3 * first_call:.0f}", str(compiles), f"{1e3 * compile_seconds:.0f}", str(repeated)])
    header = ["case", "first call ms", "compilations in first call", "backend compile ms",
              f"compilations in {REPEATS} more calls"]
    return markdown_table(header, rows), recompiled


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny shape, to check that the script runs")
    args = parser.parse_args(argv)
    shape = (8, 16) if args.smoke else (4096, 1000)
    print(f"## Compilation, float32 logits of shape {shape}\n")
    print(machine_description() + "\n")
    table, recompiled = run(shape)
    print(table)
    if recompiled:
        print("\nerror: a repeated call compiled again; see the last column.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
