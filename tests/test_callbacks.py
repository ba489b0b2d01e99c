"""The callbacks seam: config (conf/callbacks/, +callbacks.NAME) and train(cfg, callbacks=...)
both reach the Trainer, for a lone run and for a packed job."""

from __future__ import annotations

import lightning as L
import pytest

from biaslab.run.train import train

FIT_STARTS: list[str] = []


class Seen(L.Callback):
    """Records the fit it saw (by the name given in the config)."""

    def __init__(self, name: str = "configured"):
        self.name = name

    def on_fit_start(self, trainer, pl_module):
        FIT_STARTS.append(self.name)


class Steps(L.Callback):
    def __init__(self):
        self.steps = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps += 1


@pytest.mark.parametrize("k", [1, 2])
def test_configured_and_passed_callbacks_both_run(make_cfg, k):
    FIT_STARTS.clear()
    steps = Steps()
    cfg = make_cfg(
        f"train.parallel_seeds={k}",
        "trainer.max_steps=12",
        "trainer.val_check_interval=6",
        "model.width=4",
        f"+callbacks.seen._target_={__name__}.Seen",
        "+callbacks.seen.name=from-config",
    )
    out = train(cfg, callbacks=[steps])
    assert out["status"] == "completed"
    assert FIT_STARTS == ["from-config"]
    assert steps.steps == 12


def test_the_lr_monitor_option_composes_into_a_callback(make_cfg):
    from lightning.pytorch.callbacks import LearningRateMonitor

    from biaslab.run.job import configured_callbacks

    cfg = make_cfg("callbacks=lr_monitor")
    (cb,) = configured_callbacks(cfg)
    assert isinstance(cb, LearningRateMonitor) and cb.logging_interval == "step"
    assert configured_callbacks(make_cfg()) == []


@pytest.mark.parametrize("name", ["lr_monitor", "shift_eval", "built_bias", "train_eval"])
def test_every_option_builds_alone_and_beside_another(make_cfg, name):
    """``callbacks=NAME`` and ``+callbacks@callbacks.NAME=NAME`` (next to a preset's own) give
    the same entry; the second form once nested it one level deeper, where it was skipped."""
    from biaslab.run.job import configured_callbacks

    alone = make_cfg(f"callbacks={name}").callbacks
    beside = make_cfg("callbacks=default", f"+callbacks@callbacks.{name}={name}").callbacks
    assert list(alone) == list(beside) == [name]
    assert alone[name] == beside[name] and "_target_" in alone[name]
    assert len(configured_callbacks(make_cfg(f"+callbacks@callbacks.{name}={name}"))) == 1


def test_an_entry_that_builds_nothing_is_refused(make_cfg):
    from biaslab.config import ConfigError, validate

    nested = make_cfg("+callbacks.monitor.inner._target_=lightning.pytorch.callbacks.Timer")
    refused = r"^callbacks.monitor=\{'inner'.* a callback with a _target_"
    with pytest.raises(ConfigError, match=refused):
        validate(nested)
    typo = make_cfg("+callbacks.timer._target_=lightning.pytorch.callbacks.Timr")
    refused = r"^callbacks.timer._target_=.*Timr .* an importable class"
    with pytest.raises(ConfigError, match=refused):
        validate(typo)
    validate(make_cfg("+callbacks.timer._target_=lightning.pytorch.callbacks.Timer"))
