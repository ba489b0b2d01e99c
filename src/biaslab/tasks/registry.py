"""The task each data module's ``task`` attribute names: one registry for the run, the config
checks and the metric a sweep optimizes."""

from __future__ import annotations

import lightning as L

from biaslab.tasks.base import Classifier
from biaslab.tasks.sequence import Regressor, SequenceClassifier

TASKS: dict[str, type[L.LightningModule]] = {
    "classification": Classifier,
    "regression": Regressor,
    "sequence": SequenceClassifier,
}
