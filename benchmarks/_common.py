"""Helpers shared by the benchmark scripts: timing, tables and a description of the machine."""

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from importlib import metadata

import jax


def median_seconds(run: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Call ``run`` ``warmup`` times, then ``repeats`` times, and return the median wall time.

    ``run`` must wait for its own result, for example with ``jax.block_until_ready``.
    """
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Format a Markdown table: first column left-aligned, the others right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def version(package: str) -> str:
    """Return the installed version of ``package``, or "not installed"."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_description() -> str:
    """Describe the machine and the library versions in a few Markdown lines."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    devices = jax.devices()
    packages = ", ".join(f"{name} {version(name)}" for name in ("bcejax", "jax", "jaxlib", "optax", "torch", "mpmath"))
    return "\n".join([
        f"- Machine: {cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}",
        f"- JAX backend: {jax.default_backend()}, {len(devices)} device(s): {devices[0].device_kind}",
        f"- Packages: {packages}",
        f"- XLA_FLAGS: {os.environ.get('XLA_FLAGS', '(not set)')}",
    ])
