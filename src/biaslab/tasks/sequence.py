"""The LightningModules of the sequence problems (an LSTM on the adding problem or a sequence
classification): the trivial predictor's loss as a baseline, metrics over it, and for the
adding problem the steps until the model beats a tenth of it."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric, MeanSquaredError
from torchmetrics.classification import MulticlassAccuracy

from biaslab.tasks.base import Task, log_train_loss

log = logging.getLogger(__name__)


class _SequenceTask(Task):
    """Shared wiring of the sequence-problem tasks: optimizer/scheduler partials, the model's
    output mode, and the trivial predictor's loss (``baseline``: given, else the data module's
    ``spec.baseline``) that ``*_over_baseline`` metrics divide by."""

    output = "last"  # what an LSTM built with output=auto should produce for this task

    def __init__(self, model, optimizer, scheduler=None, baseline: float | None = None, steps=None):
        super().__init__(model, optimizer, scheduler, steps=steps)
        if getattr(model, "output", None) == "auto":
            model.output = self.output
        self._baseline = baseline

    @property
    def baseline(self) -> float | None:
        if self._baseline is None:
            datamodule = getattr(self._trainer, "datamodule", None) if self._trainer else None
            spec = getattr(datamodule, "spec", None)
            self._baseline = getattr(spec, "baseline", None)
        return self._baseline

    def _log_ratio(self, name: str, value: float) -> float | None:
        if not self.baseline:
            return None
        ratio = value / self.baseline
        self.log(name, ratio, sync_dist=True)  # equal on all ranks; spares a DDP warning
        return ratio


class Regressor(_SequenceTask):
    """Mean squared error on one output per example (the adding problem). Logs train/loss,
    {val,test}/loss and /mse (the same number) and {val,test}/mse_over_baseline."""

    best_metric = "val/mse"
    val_metrics = ("val/loss", "val/mse", "val/mse_over_baseline")
    higher_is_better = False
    # learning speed: the first validation step with val MSE / baseline below this, logged as
    # val/steps_to_<threshold> from then on and recorded (null when never reached)
    threshold = 0.1
    steps_metric = f"val/steps_to_{threshold:g}"

    def __init__(self, model, num_classes, optimizer, scheduler=None, baseline=None, steps=None):
        super().__init__(model, optimizer, scheduler, baseline, steps)
        self.val_mse = MeanSquaredError()
        self.test_mse = MeanSquaredError()
        self.steps_to: int | None = None

    def _predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).reshape(len(x))

    def train_loss(self, batch):
        x, y = batch
        loss = F.mse_loss(self._predict(x), y)
        log_train_loss(self, loss)
        return loss

    def eval_step(self, batch, stage: str):
        mse = self.val_mse if stage == "val" else self.test_mse
        x, y = batch
        pred = self._predict(x)
        loss = F.mse_loss(pred, y)
        self.log(f"{stage}/loss", loss, on_epoch=True, batch_size=len(y), sync_dist=True)
        mse.update(pred, y)
        self.log(f"{stage}/mse", mse, on_epoch=True)

    def validated(self):
        mse = float(self.val_mse.compute())
        ratio = self._log_ratio("val/mse_over_baseline", mse)
        self._update_best(mse)
        if self.steps_to is None and ratio is not None and ratio < self.threshold:
            self.steps_to = self.global_step
        if self.steps_to is not None:
            self.log(self.steps_metric, float(self.steps_to), sync_dist=True)
        log.info(
            "step %d/%d  val/mse %.4f  (%s of the trivial baseline)",
            self.global_step,
            self.trainer.max_steps,
            mse,
            "n/a" if ratio is None else f"{ratio:.3f}",
        )

    def on_test_epoch_end(self):
        self._log_ratio("test/mse_over_baseline", float(self.test_mse.compute()))

    def member_metrics(self, k: int = 0) -> dict[str, float]:
        out = super().member_metrics(k)
        if k not in self.retired:  # a diverged run's snapshot already holds it
            out[self.steps_metric] = self.steps_to
        return out

    def on_save_checkpoint(self, checkpoint):
        super().on_save_checkpoint(checkpoint)
        checkpoint["steps_to"] = self.steps_to

    def on_load_checkpoint(self, checkpoint):
        super().on_load_checkpoint(checkpoint)
        self.steps_to = checkpoint.get("steps_to")


class SequenceClassifier(_SequenceTask):
    """Cross-entropy at every step (the copy problem). ``{val,test}/acc`` counts only the
    steps whose target is not class 0 (the blank): the recalled symbols. Logs train/loss,
    {val,test}/loss (mean per-step CE) and {val,test}/loss_over_baseline."""

    output = "sequence"
    val_metrics = ("val/loss", "val/acc", "val/loss_over_baseline")

    def __init__(self, model, num_classes, optimizer, scheduler=None, baseline=None, steps=None):
        super().__init__(model, optimizer, scheduler, baseline, steps)
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_loss = MeanMetric()
        self.test_loss = MeanMetric()

    def _loss(self, x, y):
        logits = self.model(x)
        if logits.dim() != 3:
            raise ValueError(
                f"per-step targets need per-step outputs (N, T, C), got {tuple(logits.shape)}:"
                " use model.output=sequence (or auto)"
            )
        return logits, F.cross_entropy(logits.flatten(0, 1), y.flatten())

    def train_loss(self, batch):
        _, loss = self._loss(*batch)
        log_train_loss(self, loss)
        return loss

    def eval_step(self, batch, stage: str):
        acc, mean = (
            (self.val_acc, self.val_loss) if stage == "val" else (self.test_acc, self.test_loss)
        )
        x, y = batch
        logits, loss = self._loss(x, y)
        mean.update(loss, weight=len(y))
        self.log(f"{stage}/loss", mean, on_epoch=True)
        recalled = y != 0
        acc.update(logits[recalled], y[recalled])
        self.log(f"{stage}/acc", acc, on_epoch=True)

    def validated(self):
        acc = float(self.val_acc.compute())
        ratio = self._log_ratio("val/loss_over_baseline", float(self.val_loss.compute()))
        self._update_best(acc)
        log.info(
            "step %d/%d  val/acc %.4f  val/loss %s of the memoryless baseline",
            self.global_step,
            self.trainer.max_steps,
            acc,
            "n/a" if ratio is None else f"{ratio:.3f}",
        )

    def on_test_epoch_end(self):
        self._log_ratio("test/loss_over_baseline", float(self.test_loss.compute()))


# The LightningModule for each DataSpec.task; every one takes (model, num_classes, optimizer,
# scheduler) and logs test/loss, val/loss and its own metrics.
