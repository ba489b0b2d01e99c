"""The final model evaluated on the whole training split: whether it interpolates its
training data (``train_full/acc`` ≥ 0.999) and its training loss on every example, not the
running mean over the batches it trained on (those were augmented, and the model moved
between them)."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from biaslab.callbacks.split_pass import log_members, split_batches, summed
from biaslab.tasks.base import Classifier
from biaslab.tasks.packed import SeedParallelClassifier
from biaslab.tasks.sequence import Regressor

TASKS = (Classifier, SeedParallelClassifier, Regressor)


def batch_sums(task, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(3, K) float64 per member: the summed loss (cross-entropy; squared error for a
    regression), the number of correct predictions (0 for a regression), the examples."""
    if isinstance(task, Regressor):
        squared = (task._predict(x).double() - y.double()).square().sum()
        n = squared.new_tensor(len(y))
        return torch.stack([squared, torch.zeros_like(squared), n])[:, None]
    logits = task(x)
    if logits.dim() == 2:  # one model: as a packed job of one member, (B, 1, C)
        logits, y = logits[:, None], y[:, None]
    losses = F.cross_entropy(logits.transpose(1, 2).float(), y, reduction="none").double()
    correct = (logits.argmax(-1) == y).double()
    return torch.stack([losses.sum(0), correct.sum(0), torch.full_like(losses[0], len(y))])


class TrainEval(L.Callback):
    """After the test epoch (the fit is over: the model the fit ended with), every example of
    the training split once, in order, in eval mode, without augmentation
    (:func:`~biaslab.callbacks.split_pass.split_batches`): ``train_full/acc`` (correct / all,
    counted exactly) and ``train_full/loss`` (the mean cross-entropy over all examples) in
    ``trainer.callback_metrics`` (hence results.json) and the logger; per member of a
    seed-parallel job, ``seed=<s>/train_full/acc``. A regression (data=adding) logs
    ``train_full/mse`` and ``train_full/loss``, the same number, as its task does for val/ and
    test/. The sequence classification (data=copy) is refused: its accuracy counts only some
    steps of each example."""

    def setup(self, trainer, pl_module, stage: str) -> None:
        if not isinstance(pl_module, TASKS):
            raise TypeError(
                "TrainEval needs a classification or regression task, got "
                f"{type(pl_module).__name__}"
            )

    @torch.no_grad()
    def on_test_epoch_end(self, trainer, pl_module) -> None:
        k = len(pl_module.prefixes)
        sums = torch.zeros(3, k, dtype=torch.float64, device=pl_module.device)
        with trainer.strategy.precision_plugin.test_step_context():
            for x, y in split_batches(trainer, "train"):
                sums += batch_sums(pl_module, x, y)
        # every rank evaluated its shard of the training split: the sums are all of it
        loss, correct, n = summed(trainer, sums)
        log_members(pl_module, "train_full/loss", loss / n)
        if isinstance(pl_module, Regressor):
            log_members(pl_module, "train_full/mse", loss / n)
        else:
            log_members(pl_module, "train_full/acc", correct / n)
