"""Seed-parallel training: ``train.parallel_seeds=K`` trains seeds ``seed … seed+K-1`` of one
config in one job, as K members packed into one model (:mod:`biaslab.models.packed`).

Each member starts from exactly the weights a normal run with its seed starts from, draws its
own batch order from its own seed, gets exactly its own gradient (the loss is the sum of the
members' mean losses) and leaves its own ``<output dir>/seed=<s>/results.json`` and W&B run,
so the report treats the members as K ordinary runs.

- :mod:`.data`: the members' batches side by side
- :mod:`.task`: the LightningModule (per-member losses, metrics, divergence)
- :mod:`.loggers`: each member's metrics to its own logger
- :mod:`.run`: the job: member configs, fit and test, one results.json per member
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

KEY = "train.parallel_seeds"


def parallel_seeds(cfg: DictConfig) -> int:
    """K of ``train.parallel_seeds``; 1 when absent or not an integer > 1 (an invalid value
    is then refused by :func:`biaslab.config.validate` like any other)."""
    k = OmegaConf.select(cfg, KEY, default=1, throw_on_resolution_failure=False)
    return k if isinstance(k, int) and not isinstance(k, bool) and k > 1 else 1
