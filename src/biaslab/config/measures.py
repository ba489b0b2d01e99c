"""The ``callbacks`` entries (conf/callbacks/): each one must build a callback, and the end-of-run
measurements must fit what they measure: the built bias needs conv layers, the
whole-training-set evaluation a task scored on every example."""

from __future__ import annotations

from omegaconf import DictConfig

from biaslab.config.keys import target_class
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


def callbacks_build(cfg: DictConfig) -> None:
    """An entry without ``_target_`` (e.g. an option added one level too deep) would be skipped
    and the run would go on without the callback it asked for."""
    node = cfg.get("callbacks") or {}
    for name, c in node.items():
        if c is None:
            continue
        if not isinstance(c, DictConfig) or "_target_" not in c:
            raise ConfigError(
                f"callbacks.{name}",
                c,
                "a callback with a _target_ (an option of conf/callbacks/: callbacks=NAME, or "
                "beside a preset's own: +callbacks@callbacks.NAME=NAME)",
            )
        target_class(f"callbacks.{name}._target_", c._target_)


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
