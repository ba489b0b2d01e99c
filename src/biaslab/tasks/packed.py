"""The LightningModule of a seed-parallel job: K classifiers in one packed model, trained on
the sum of their mean losses, each with its own metrics, best validation score and fate."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from biaslab.models.packed import PackedModel
from biaslab.tasks.base import StepSettings, Task, logs_this_step
from biaslab.tasks.guards import Diverged, check_due

log = logging.getLogger(__name__)


def member_prefix(seed: int) -> str:
    """How a member's metrics are named inside the job: ``seed=<s>/val/acc``."""
    return f"seed={seed}/"


def member_losses(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each member's mean cross-entropy, shape (K,), from logits (B, K, C) and labels (B, K)."""
    return F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(0)


class SeedParallelClassifier(Task):
    """Cross-entropy classification of K members at once.

    The training loss is the SUM of the members' mean losses, so the gradient of member k's
    weights is exactly that of its own loss. A member whose loss becomes NaN/inf is retired
    (:meth:`retire`, called by :class:`MemberGuard`): its weights and optimizer state are
    zeroed and its loss is left out, so it stays finite and inert while the others train on.
    """

    def __init__(
        self,
        model: PackedModel,
        seeds: Sequence[int],
        num_classes: int,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        steps: StepSettings | None = None,
    ):
        seeds = [int(s) for s in seeds]
        super().__init__(model, optimizer, scheduler, [member_prefix(s) for s in seeds], steps)
        self.seeds = seeds
        k = len(self.seeds)
        self.val_acc = nn.ModuleList(
            MulticlassAccuracy(num_classes, average="micro") for _ in range(k)
        )
        self.test_acc = nn.ModuleList(
            MulticlassAccuracy(num_classes, average="micro") for _ in range(k)
        )
        self.register_buffer("alive", torch.ones(k, dtype=torch.bool), persistent=False)
        self.member_losses: torch.Tensor | None = None

    def train_loss(self, batch):
        x, y = batch
        losses = member_losses(self.model(x), y)
        self.member_losses = losses.detach()
        # the loss is logged only on the steps the logger writes (see biaslab.tasks.base)
        if logs_this_step(self):
            for k in self.live():
                self.log(f"{self.prefixes[k]}train/loss", losses[k], on_step=True, on_epoch=False)
        # where(), not a product: a retired member's NaN must not reach the sum
        return torch.where(self.alive, losses, torch.zeros_like(losses)).sum()

    def eval_step(self, batch, stage: str):
        accs = self.val_acc if stage == "val" else self.test_acc
        x, y = batch
        logits = self.model(x)
        losses = member_losses(logits, y)
        for k in self.live():
            prefix = self.prefixes[k]
            self.log(f"{prefix}{stage}/loss", losses[k], on_epoch=True, batch_size=len(y))
            accs[k].update(logits[:, k], y[:, k])
            self.log(f"{prefix}{stage}/acc", accs[k], on_epoch=True)

    def validated(self):
        shown = []
        for k in self.live():
            acc = float(self.val_acc[k].compute())
            self._update_best(acc, k)
            shown.append(f"{self.seeds[k]}: {acc:.4f}")
        log.info(
            "step %d/%d  val/acc by seed  %s",
            self.global_step,
            self.trainer.max_steps,
            "  ".join(shown) or "(every member diverged)",
        )

    @torch.no_grad()
    def retire(self, k: int, step: int, loss: float, last_finite_loss: float | None) -> None:
        """Record member k as diverged at ``step``, then zero its weights, norm statistics
        and optimizer state (every packed tensor has the member as its leading dimension)
        and leave its loss out of the sum: it computes finite zeros with zero gradients."""
        e = Diverged(step, loss, last_finite_loss)
        self.mark_diverged(k, e)
        self.model.retire(k)
        for optimizer in self.trainer.optimizers:
            for p, state in optimizer.state.items():
                for value in state.values():
                    if isinstance(value, torch.Tensor) and value.shape == p.shape:
                        value[k] = 0.0
        self.alive[k] = False
        log.warning("seed %d diverged: %s; the other members train on", self.seeds[k], e)

    def configure_gradient_clipping(
        self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None
    ):
        """Clipping by norm is done per member, exactly as ``clip_grad_norm_`` on that
        member's gradients alone; a global norm would couple the members. Clipping by value
        is elementwise and left to Lightning."""
        if not gradient_clip_val:
            return
        # None means the trainer's choice, whose own default is norm (as in clip_gradients)
        algorithm = gradient_clip_algorithm or self.trainer.gradient_clip_algorithm or "norm"
        if algorithm == "value":
            self.clip_gradients(optimizer, gradient_clip_val, "value")
            return
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if not grads:
            return
        # per parameter and member, then over parameters: (K,)
        norms = torch.stack([g.flatten(1).norm(2, dim=1) for g in grads]).norm(2, dim=0)
        coef = (gradient_clip_val / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))).to(g.dtype))

    def on_save_checkpoint(self, checkpoint):
        super().on_save_checkpoint(checkpoint)
        checkpoint["seeds"] = self.seeds

    def on_load_checkpoint(self, checkpoint):
        seeds = checkpoint.get("seeds", self.seeds)
        if seeds != self.seeds:
            raise ValueError(f"the checkpoint holds seeds {seeds}, this job {self.seeds}")
        super().on_load_checkpoint(checkpoint)
        for k in self.retired:
            self.alive[k] = False


class MemberGuard(L.Callback):
    """:class:`biaslab.tasks.guards.DivergenceGuard` per member: every ``every_n_steps`` steps (one
    device sync) a member whose loss is NaN/inf is retired; when none is left the job stops
    with :class:`Diverged`."""

    def __init__(self, every_n_steps: int = 10):
        self.every_n_steps = every_n_steps
        self.last_finite: dict[int, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if not check_due(step, self.every_n_steps, pl_module, trainer) or (
            pl_module.member_losses is None
        ):
            return
        losses = pl_module.member_losses.tolist()
        for k in pl_module.live():
            if math.isfinite(losses[k]):
                self.last_finite[k] = losses[k]
            else:
                pl_module.retire(k, step, losses[k], self.last_finite.get(k))
        if not pl_module.live():
            worst = next(v for v in losses if not math.isfinite(v))
            raise Diverged(step, worst, None)
