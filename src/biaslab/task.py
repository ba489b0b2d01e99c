"""The LightningModule: loss, metrics, optimizer wiring, parameter counts."""

from __future__ import annotations

import logging
from collections.abc import Callable

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from biaslab.models.params import count_params

log = logging.getLogger(__name__)


class Classifier(L.LightningModule):
    """Cross-entropy classification. ``optimizer`` and ``scheduler`` are partials (Hydra
    ``_partial_: true``) that take the parameters and the optimizer respectively."""

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
    ):
        super().__init__()
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        # micro average = plain fraction of correct predictions
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.params = count_params(model)
        self.best_val = {"val/acc_best": float("-inf"), "val/acc_best_step": -1}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("train/loss", loss, on_step=True, on_epoch=False)
        return loss

    def _eval_step(self, batch, stage: str, acc: MulticlassAccuracy):
        x, y = batch
        logits = self.model(x)
        self.log(f"{stage}/loss", F.cross_entropy(logits, y), on_epoch=True, batch_size=len(y))
        acc.update(logits, y)
        self.log(f"{stage}/acc", acc, on_epoch=True)

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "val", self.val_acc)

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test", self.test_acc)

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            return
        acc = float(self.val_acc.compute())
        if acc > self.best_val["val/acc_best"]:
            self.best_val = {"val/acc_best": acc, "val/acc_best_step": self.global_step}
        # one line per validation is the run's progress report (no per-step progress bar)
        log.info("step %d/%d  val/acc %.4f", self.global_step, self.trainer.max_steps, acc)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
