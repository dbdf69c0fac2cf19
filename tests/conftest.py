"""Test configuration: strict dtype and rank promotion, so the library never relies on implicit promotion."""

import jax

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
