"""The LightningModule every task shares (optimizer wiring, best validation score, divergence
marks) and the classifier; the sequence tasks are in :mod:`biaslab.tasks.sequence`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from biaslab.models.params import decay_groups
from biaslab.tasks.guards import Diverged

log = logging.getLogger(__name__)


def cheap_cuda_checks() -> bool:
    """Let ``torch.cuda.is_available()`` take its cached path on a machine without a GPU.

    Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (a check that does not poison
    a later fork). ``torch.optim.Adam``/``AdamW`` ask whether CUDA is available on every
    ``step()`` (``_accelerator_graph_capture_health_check``), and with that variable a CUDA
    build of torch on a machine without a GPU answers by trying to ``dlopen`` libnvidia-ml
    each time: 0.2-0.4 ms a step on a 2-core CPU (docs/performance.md), 10 % of a ConvBase
    step. Where no GPU is visible there is nothing a fork could poison, so the variable is
    cleared and the check costs ~2 µs; with a GPU Lightning's setting stays (CUDA caches its
    device count once initialized). Returns whether the variable was cleared.
    """
    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") != "1" or torch.cuda.is_available():
        return False
    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "0"
    return True


cheap_cuda_checks()  # at import: Lightning, imported above, has just set the variable


def log_train_loss(module: L.LightningModule, loss: torch.Tensor) -> None:
    """Log the training loss only on the steps the logger writes (every log_every_n_steps).

    ``self.log`` was the largest per-step cost Lightning added to a small model's step on a CPU
    (docs/performance.md); calling it on the other steps only for Lightning to drop the value
    is pure overhead.
    """
    if logs_this_step(module):
        module.log("train/loss", loss, on_step=True, on_epoch=False)


def logs_this_step(module: Task) -> bool:
    """Whether the logger writes this optimizer step's values: every ``log_every_n_steps``
    steps. With ``steps_per_call`` K the trainer counts training calls, so its interval is
    the step interval / K (:func:`biaslab.run.job.build_trainer`) and the written step is the
    last of a call."""
    every = module.trainer.log_every_n_steps * module.steps_per_call
    return (module.global_step + 1) % every == 0


@dataclass(frozen=True)
class StepSettings:
    """How a task takes its optimizer steps, from ``train.*`` and ``trainer.*`` keys.

    ``no_decay_bias_norm`` (train.no_decay_bias_norm): biases and norm parameters get
    weight_decay 0. ``steps_per_call`` K (train.steps_per_call): K > 1 takes K batches per
    training_step and steps the optimizer on each (manual optimization), so the trainer's
    gradient clipping (``clip_val``, ``clip_algorithm``) moves to the task: Lightning clips only
    what it steps itself."""

    no_decay_bias_norm: bool = False
    steps_per_call: int = 1
    clip_val: float | None = None
    clip_algorithm: str | None = None


class Task(L.LightningModule):
    """What every task shares, for one model or K packed members (:mod:`biaslab.seed_parallel`):
    the optimizer and scheduler partials (Hydra ``_partial_: true``: they take the parameters
    and the optimizer respectively), each member's best validation score (``best_metric``) and
    fate (diverged or not), both of which survive a resume, and each member's metrics.

    Member k's metrics are logged as ``<prefixes[k]><name>``; a lone model's prefix is empty.
    """

    best_metric = "val/acc"
    higher_is_better = True
    # what a run records under val/, so a sweeper's optimized_metric can be checked before it runs
    val_metrics: tuple[str, ...] = ("val/loss", "val/acc")

    def __init__(
        self,
        model: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        prefixes: Sequence[str] = ("",),
        steps: StepSettings | None = None,
    ):
        super().__init__()
        self.model = model
        steps = steps or StepSettings()
        self.no_decay_bias_norm = steps.no_decay_bias_norm
        self.steps_per_call = steps.steps_per_call
        self.automatic_optimization = steps.steps_per_call == 1
        self.clip_val, self.clip_algorithm = steps.clip_val, steps.clip_algorithm
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.prefixes = list(prefixes)
        worst = float("-inf") if self.higher_is_better else float("inf")
        self.best_val = [
            {f"{self.best_metric}_best": worst, f"{self.best_metric}_best_step": -1}
            for _ in self.prefixes
        ]
        # member index -> {"divergence": ..., "metrics": ...} of a member that diverged
        self.retired: dict[int, dict[str, Any]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets _current_fx_name around every hook call (~44 times a training step).
        # nn.Module.__setattr__ checks each value against Parameter, Module and Buffer first
        # (~3-12 µs); a str or None is none of them, so the plain attribute is set directly.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def live(self) -> list[int]:
        return [k for k in range(len(self.prefixes)) if k not in self.retired]

    def _update_best(self, value: float, k: int = 0) -> None:
        best = self.best_val[k][f"{self.best_metric}_best"]
        if value > best if self.higher_is_better else value < best:
            self.best_val[k] = {
                f"{self.best_metric}_best": value,
                f"{self.best_metric}_best_step": self.global_step,
            }

    # The step methods, once for every task: a task says what one evaluation batch logs
    # under val/ or test/ (eval_step) and what a finished validation updates (validated).
    def validation_step(self, batch, batch_idx):
        self.eval_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self.eval_step(batch, "test")

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:  # the sanity check's scores are not a result
            self.validated()

    def eval_step(self, batch, stage: str) -> None:
        raise NotImplementedError

    def validated(self) -> None:
        """After each validation: each member's best score, and one progress line."""
        raise NotImplementedError

    def member_metrics(self, k: int = 0) -> dict[str, float]:
        """Member k's logged metrics under their plain names (``val/acc``, ...), its best
        validation score, ``steps`` and ``epochs``; a diverged member's as they were then."""
        if k in self.retired:
            return dict(self.retired[k]["metrics"])
        prefix = self.prefixes[k]
        out = {
            name.removeprefix(prefix): float(v)
            for name, v in self.trainer.callback_metrics.items()
            if name.startswith(prefix)
        }
        out.update(self.best_val[k])
        out.update({"steps": self.trainer.global_step, "epochs": self.epochs_done()})
        return out

    def epochs_done(self) -> int:
        """The trainer's epoch count: passes over the training data ended, the last partial
        one counted once the fit has ended. With ``steps_per_call`` > 1 the loader has no end
        (:class:`~biaslab.data.base.Chunks`): the trainer's one epoch ends with the fit, and
        the count is made from the steps."""
        if self.steps_per_call == 1:
            return self.trainer.current_epoch
        step = self.trainer.global_step
        if step == 0:
            return self.trainer.current_epoch
        # the epoch of the last step taken (it ends after that step's hooks), one more once
        # the fit has ended, which ends the epoch under way
        under_way = (step - 1) // self.trainer.datamodule.steps_per_epoch
        return under_way + (1 if self.trainer.current_epoch > 0 else 0)

    def train_loss(self, batch) -> torch.Tensor:
        """The training loss of one batch (what one optimizer step minimizes)."""
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        if self.steps_per_call == 1:
            return self.train_loss(batch)
        # K optimizer steps, in the order Lightning's automatic loop takes them: the batch's
        # inputs (made at its own step, as the data's batch hook makes them for one step a
        # call: an image batch's crops are drawn from its step), forward, zero_grad, backward,
        # clip, step, scheduler
        optimizer, scheduler = self.optimizers(), self.lr_schedulers()
        inputs = getattr(self.trainer.datamodule, "training_inputs", None)
        first = self.global_step
        for j, b in enumerate(batch):
            loss = self.train_loss(inputs(b, first + j) if inputs is not None else b)
            optimizer.zero_grad()
            self.manual_backward(loss)
            if self.clip_val:  # through the hook, as Lightning's loop clips
                self.configure_gradient_clipping(optimizer, self.clip_val, self.clip_algorithm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        return loss  # the last step's: what the divergence guard reads

    def mark_diverged(self, k: int, e: Diverged) -> None:
        """Record member k as diverged at ``e.step``, with its metrics as they are now."""
        self.retired[k] = {
            "divergence": {
                "step": e.step,
                "loss": e.loss,
                "last_finite_loss": e.last_finite_loss,
                "message": str(e),
            },
            "metrics": self.member_metrics(k),
        }

    def on_save_checkpoint(self, checkpoint):
        checkpoint["best_val"] = self.best_val
        checkpoint["retired"] = self.retired

    def on_load_checkpoint(self, checkpoint):
        best = checkpoint.get("best_val", self.best_val)
        self.best_val = [best] if isinstance(best, dict) else best
        self.retired = {int(k): v for k, v in checkpoint.get("retired", {}).items()}

    def configure_optimizers(self):
        params = decay_groups(self.model) if self.no_decay_bias_norm else self.parameters()
        optimizer = self.optimizer_factory(params)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


class Classifier(Task):
    """Cross-entropy classification."""

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        steps: StepSettings | None = None,
    ):
        super().__init__(model, optimizer, scheduler, steps=steps)
        # micro average = plain fraction of correct predictions
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    def train_loss(self, batch):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        log_train_loss(self, loss)
        return loss

    def eval_step(self, batch, stage: str):
        acc = self.val_acc if stage == "val" else self.test_acc
        x, y = batch
        logits = self.model(x)
        # sync_dist: the mean over every rank's shard (torchmetrics metrics sync themselves)
        loss = F.cross_entropy(logits, y)
        self.log(f"{stage}/loss", loss, on_epoch=True, batch_size=len(y), sync_dist=True)
        acc.update(logits, y)
        self.log(f"{stage}/acc", acc, on_epoch=True)

    def validated(self):
        acc = float(self.val_acc.compute())
        self._update_best(acc)
        # one line per validation is the run's progress report (no per-step progress bar)
        log.info("step %d/%d  val/acc %.4f", self.global_step, self.trainer.max_steps, acc)
