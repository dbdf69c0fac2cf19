"""The losses on a batch sharded over 8 forced CPU devices equal the single-device ones."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec

    import bcejax

    assert jax.device_count() == 8, jax.devices()
    mesh = jax.make_mesh((8,), ("data",))
    batch = NamedSharding(mesh, PartitionSpec("data"))
    replicated = NamedSharding(mesh, PartitionSpec())

    rng = np.random.default_rng(0)
    logits = rng.normal(scale=4.0, size=(64, 14)).astype(np.float32)
    labels = rng.uniform(size=(64, 14)).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, size=(64, 1)).astype(np.float32)
    pos_weight = rng.uniform(0.5, 3.0, size=(14,)).astype(np.float32)
    where = rng.uniform(size=(64, 14)) < 0.9

    def loss(x, y, w, p, m, reduction):
        return bcejax.sigmoid_binary_cross_entropy(
            x, y, weight=w, pos_weight=p, where=m, reduction=reduction)

    for reduction in ("mean", "sum", "none"):
        def total(x, y, w, p, m):
            return jnp.sum(loss(x, y, w, p, m, reduction))

        step = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2, 3)))
        single_device = jax.devices()[0]
        single = step(*[jax.device_put(a, single_device)
                        for a in (logits, labels, weight, pos_weight, where)])
        sharded_args = [jax.device_put(logits, batch), jax.device_put(labels, batch),
                        jax.device_put(weight, batch), jax.device_put(pos_weight, replicated),
                        jax.device_put(where, batch)]
        sharded = step(*sharded_args)
        assert sharded[1][0].sharding.is_equivalent_to(batch, 2), sharded[1][0].sharding
        # Sums over shards run in another order than on one device.
        np.testing.assert_allclose(sharded[0], single[0], rtol=1e-6)
        for a, b in zip(sharded[1], single[1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)

        elements = jax.jit(lambda *a: loss(*a, "none"))(*sharded_args)
        assert elements.sharding.is_equivalent_to(batch, 2)

    hessian_diag = jax.jit(jax.vmap(jax.grad(jax.grad(lambda x, y: bcejax.sigmoid_binary_cross_entropy(
        x, y, reduction="sum")))))(jax.device_put(logits[:, 0], batch), jax.device_put(labels[:, 0], batch))
    assert np.all(np.isfinite(hessian_diag))
    print("sharded ok")
""")


@pytest.mark.slow
def test_sharded_batch_matches_single_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    env["JAX_PLATFORMS"] = "cpu"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sharded ok" in result.stdout
