"""Time the forward and backward pass of sigmoid BCE in bcejax, optax and PyTorch, against a floor.

Each row times one step of ``value_and_grad`` of the mean loss over logits and labels
of one shape and dtype, with the labels 0 or 1:

- bcejax: ``jax.jit(jax.value_and_grad(mean of bcejax.sigmoid_binary_cross_entropy))``.
- optax: the same with ``optax.losses.sigmoid_binary_cross_entropy(...).mean()`` and
  JAX's automatic derivative.
- PyTorch: ``torch.nn.BCEWithLogitsLoss()`` forward, then ``backward()``, on the CPU
  with PyTorch's default thread count.
- floor: a jitted kernel that only reads the logits and the labels and writes one
  array of their size (``logits + labels``). No loss with a gradient can move less
  memory.

The table gives the median over ``--repeats`` calls after two warm-up calls.

    python benchmarks/speed.py            # the shapes of the results page
    python benchmarks/speed.py --smoke    # tiny shapes, to check that the script runs
"""

import argparse
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

import bcejax

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import machine_description, markdown_table, median_seconds  # noqa: E402

SHAPES = ((256, 1000), (4096, 1000), (1024, 20000), (64, 1_000_000))
SMOKE_SHAPES = ((8, 16),)
DTYPES = ("float32", "bfloat16")


def make_inputs(shape: tuple[int, int], dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw logits N(0, 3**2) and labels that are 1 with probability 0.2, as float32 NumPy arrays."""
    rng = np.random.default_rng(seed)
    logits = (3 * rng.standard_normal(shape, dtype=np.float32))
    labels = (rng.random(shape, dtype=np.float32) < 0.2).astype(np.float32)
    return logits, labels


def jax_step(loss: str):
    """Return the jitted value-and-gradient step of one JAX implementation, or the floor kernel."""
    if loss == "floor":
        return jax.jit(lambda logits, labels: logits + labels)
    if loss == "bcejax":
        def mean_loss(logits, labels):
            return bcejax.sigmoid_binary_cross_entropy(logits, labels)
    else:
        import optax

        def mean_loss(logits, labels):
            return jnp.mean(optax.losses.sigmoid_binary_cross_entropy(logits, labels))
    return jax.jit(jax.value_and_grad(mean_loss))


def time_jax(loss: str, logits: np.ndarray, labels: np.ndarray, dtype: str, repeats: int) -> float:
    step = jax_step(loss)
    x = jnp.asarray(logits, dtype)
    y = jnp.asarray(labels, dtype)
    return median_seconds(lambda: jax.block_until_ready(step(x, y)), repeats)


def time_torch(logits: np.ndarray, labels: np.ndarray, dtype: str, repeats: int) -> float | None:
    """Time BCEWithLogitsLoss forward and backward, or return None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    x = torch.tensor(logits).to(torch_dtype).requires_grad_(True)
    y = torch.tensor(labels).to(torch_dtype)
    loss_function = torch.nn.BCEWithLogitsLoss()

    def step():
        x.grad = None
        loss = loss_function(x, y)
        loss.backward()
        return loss

    return median_seconds(step, repeats)


def run(shapes, repeats: int) -> str:
    """Time every implementation on every shape and dtype and return the Markdown table."""
    rows = []
    for shape in shapes:
        logits, labels = make_inputs(shape, "float32")
        for dtype in DTYPES:
            seconds = {name: time_jax(name, logits, labels, dtype, repeats) for name in ("bcejax", "optax", "floor")}
            seconds["torch"] = time_torch(logits, labels, dtype, repeats)
            ours = seconds["bcejax"]

            def ms(name):
                return "n/a" if seconds[name] is None else f"{1e3 * seconds[name]:.2f}"

            def ratio(name):
                return "n/a" if seconds[name] is None else f"{seconds[name] / ours:.2f}"

            rows.append([
                f"({shape[0]}, {shape[1]})", dtype, ms("bcejax"), ms("optax"), ms("torch"), ms("floor"),
                ratio("optax"), ratio("torch"), f"{ours / seconds['floor']:.2f}",
            ])
            print(f"  timed {shape} {dtype}: bcejax {ms('bcejax')} ms", file=sys.stderr)
    header = ["shape", "dtype", "bcejax ms", "optax ms", "PyTorch ms", "floor ms",
              "optax / bcejax", "PyTorch / bcejax", "bcejax / floor"]
    return markdown_table(header, rows)


def building_blocks(shape: tuple[int, int], repeats: int) -> str:
    """Time jitted element-wise kernels at ``shape`` in float32: what the loss is made of.

    Each kernel reads the logits and writes one array, so the difference to the copy
    is the cost of the arithmetic.
    """
    from bcejax import _elementwise

    logits, _ = make_inputs(shape, "float32")
    x = jnp.asarray(logits)
    kernels = {
        "2 * x (memory only)": lambda x: 2 * x,
        "exp(-abs(x))": lambda x: jnp.exp(-jnp.abs(x)),
        "jnp.log1p(exp(-abs(x)))": lambda x: jnp.log1p(jnp.exp(-jnp.abs(x))),
        "bcejax log term (polynomial)": _elementwise.log1p_exp_neg_abs,
        "bcejax sigmoid(-abs(x))": _elementwise.sigmoid_neg_abs,
        "jnp.sum(jnp.log1p(exp(-abs(x))))": lambda x: jnp.sum(jnp.log1p(jnp.exp(-jnp.abs(x)))),
    }
    rows = []
    for name, kernel in kernels.items():
        step = jax.jit(kernel)
        seconds = median_seconds(lambda: jax.block_until_ready(step(x)), repeats)
        rows.append([name, f"{1e3 * seconds:.2f}"])
    return markdown_table(["kernel on float32 " + str(shape), "ms"], rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes and 2 repeats, to check that the script runs")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per cell (default: %(default)s)")
    args = parser.parse_args(argv)
    shapes, repeats = (SMOKE_SHAPES, 2) if args.smoke else (SHAPES, args.repeats)
    try:
        import torch
        threads = f"PyTorch threads: {torch.get_num_threads()}"
    except ImportError:
        threads = "PyTorch: not installed"
    print("## Speed: value and gradient of the mean loss, median wall time\n")
    print(machine_description())
    print(f"- {threads}; repeats per cell: {repeats}\n")
    print(run(shapes, repeats))
    print("\n### Element-wise building blocks\n")
    print(building_blocks(shapes[-1] if args.smoke else (4096, 1000), repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
