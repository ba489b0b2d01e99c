"""Test-time input shift: the trained model evaluated again on the test set with every pixel
changed, as a brightness offset and a contrast scale would change it.

Bias-free networks were reported to generalize better to inputs outside the training range
(Mohan et al., ICLR 2020, on denoisers); this measures whether that holds for classification.
A net with no additive constant anywhere (``model.bias=false head_bias=false
norm_shift=false``) is positively homogeneous, so a contrast scale alone cannot change its
predictions; an offset can.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from biaslab.tasks.packed import member_prefix

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_KEYS = ("offset", "scale")


def metric_name(name: str) -> str:
    return f"test_shift/{name}/acc"


def _parse(shifts: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[float, float]]:
    out = {}
    for name, shift in shifts.items():
        where = f"callbacks.shift_eval.shifts.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"{where}: a shift's name must be letters, digits, _ . + -")
        if not isinstance(shift, Mapping) or not set(shift) <= set(_KEYS):
            raise ValueError(f"{where}={shift} is not allowed: expected {{offset: x, scale: y}}")
        values = [shift.get("offset", 0.0), shift.get("scale", 1.0)]
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in values
        ):
            raise ValueError(f"{where}={dict(shift)} is not allowed: expected finite numbers")
        out[name] = (float(values[0]), float(values[1]))
    if not out:
        raise ValueError("callbacks.shift_eval.shifts is empty: expected at least one shift")
    return out


class ShiftEval(L.Callback):
    """After the test epoch, the test accuracy under each of ``shifts``, name →
    ``{offset, scale}``: every pixel p in [0, 1] becomes ``scale * p + offset`` before the
    data module's standardization (values may leave [0, 1]; nothing is clipped). Logged as
    ``test_shift/<name>/acc`` (in ``trainer.callback_metrics``, hence results.json, and the
    logger); in a seed-parallel job per member, ``seed=<s>/test_shift/<name>/acc``.

    ``{offset: 0, scale: 1}`` reproduces ``test/acc`` exactly. Needs an image data module
    (:class:`biaslab.data.vision.ImageDataModule`: pixels are known before standardization).
    """

    def __init__(self, shifts: Mapping[str, Mapping[str, Any]]):
        self.shifts = _parse(shifts)

    def setup(self, trainer, pl_module, stage: str) -> None:
        dm = trainer.datamodule
        for m in getattr(dm, "members", [dm]):
            if not hasattr(m, "shifted_inputs"):
                raise TypeError(
                    f"ShiftEval needs an image dataset (pixels before standardization), got "
                    f"{type(m).__name__}"
                )

    @torch.no_grad()
    def on_test_epoch_end(self, trainer, pl_module) -> None:
        dm = trainer.datamodule
        members = getattr(dm, "members", None)  # biaslab.seed_parallel.data.SeedParallelData
        for name, (offset, scale) in self.shifts.items():
            correct, total = self._count(trainer, pl_module, dm, members, offset, scale)
            # every rank evaluated its shard of the test set: the sums are the whole test set
            counts = trainer.strategy.reduce(torch.stack([correct, total]), reduce_op="sum")
            acc = counts[0] / counts[1]
            if members is None:
                pl_module.log(metric_name(name), acc.item())
                continue
            for k in pl_module.live():
                prefix = member_prefix(pl_module.seeds[k])
                pl_module.log(f"{prefix}{metric_name(name)}", acc[k].item())

    def _count(self, trainer, pl_module, dm, members, offset: float, scale: float):
        """(correct, total) over this rank's test batches: scalars, or (K,) per member."""
        device = pl_module.device
        correct = total = torch.zeros((), dtype=torch.float64, device=device)
        for x, y in dm.test_dataloader():
            x, y = x.to(device), y.to(device)
            if members is None:
                x = dm.shifted_inputs(x, offset, scale)
            else:  # (B, K, ...): member k's slice with member k's standardization
                x = torch.stack(
                    [m.shifted_inputs(x[:, k], offset, scale) for k, m in enumerate(members)], 1
                )
            with trainer.strategy.precision_plugin.test_step_context():
                logits = pl_module(x)
            hits = (logits.argmax(-1) == y).double()
            correct = correct + hits.sum(0)
            total = total + len(y)
        return correct, total.expand_as(correct)
