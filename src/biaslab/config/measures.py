"""The end-of-run measurements of conf/callbacks/ against what they measure: the built bias
needs conv layers, the whole-training-set evaluation a task scored on every example."""

from __future__ import annotations

from omegaconf import DictConfig

from biaslab.config.rules import ConfigError, choice

BUILT_BIAS = "biaslab.callbacks.built_bias.BuiltBias"
TRAIN_EVAL = "biaslab.callbacks.train_eval.TrainEval"
CONV_MODELS = ("biaslab.models.cnn.CNN", "biaslab.models.resnet.ResNet")
COPY = "biaslab.data.sequence.Copy"


def _entries(cfg: DictConfig, target: str) -> list[str]:
    """The names of the ``callbacks`` entries that build ``target``."""
    node = cfg.get("callbacks") or {}
    return [
        name
        for name, c in node.items()
        if isinstance(c, DictConfig) and c.get("_target_") == target
    ]


def measures_fit(cfg: DictConfig) -> None:
    model, data = cfg.get("model"), cfg.get("data")
    for name in _entries(cfg, BUILT_BIAS):
        if model is not None and model.get("_target_") not in CONV_MODELS:
            raise ConfigError(
                "model",
                choice(cfg, "model"),
                f"a conv model (cnn, vgg, resnet) with callbacks.{name} (it measures conv layers)",
            )
    for name in _entries(cfg, TRAIN_EVAL):
        if data is not None and data.get("_target_") == COPY:
            raise ConfigError(
                "data",
                choice(cfg, "data"),
                f"classification or regression data with callbacks.{name} (data=copy scores "
                "only the recalled steps of an example)",
            )
