"""What the end-of-run measurements share: one pass over a whole split as the model takes it,
sums made whole across DDP ranks, and one value per member logged under its own name."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def split_batches(trainer, split: str) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(x, y)`` for every example of ``split`` once, in order, as the model's input: this
    rank's shard of the data module's :meth:`eval_batches`, converted as the test loop
    converts a batch (the precision's input type, then the data module's transfer and batch
    hooks: the image datasets' pixels become standardized floats there). Called while the
    trainer tests, so the hook augments nothing: a training batch gets exactly the test-time
    conversion. A packed job's batches are ``(B, K, ...)``, member k's examples at ``[:, k]``."""
    if trainer.training:  # the image datasets augment what reaches them while training
        raise RuntimeError("split_batches runs outside training (it must not augment)")
    for batch in trainer.datamodule.eval_batches(split):
        batch = trainer.precision_plugin.convert_input(batch)
        yield trainer.strategy.batch_to_device(batch)


def summed(trainer, t: torch.Tensor) -> torch.Tensor:
    """``t`` summed over every rank (every rank passed over its own shard)."""
    return trainer.strategy.reduce(t, reduce_op="sum")


def log_members(pl_module, name: str, values: torch.Tensor) -> None:
    """Member k's ``values[k]`` as ``<prefix of k><name>`` (a lone run: ``name``), for the
    members still training; a diverged member's record keeps its metrics of then. Logged as
    a float64 tensor, which Lightning keeps as it is (a Python float would be stored as
    float32: 52/83 would be recorded as 0.62650603), once (batch_size 1: its mean is itself)."""
    for k in pl_module.live():
        value = values[k].to(torch.float64)
        pl_module.log(f"{pl_module.prefixes[k]}{name}", value, batch_size=1)
