"""One Lightning logger that hands each member's metrics to that member's own logger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers import Logger


class MemberLoggers(Logger):
    """Routes a metric named ``<prefix><name>`` to the logger of that prefix as ``<name>``
    (prefixes: :func:`biaslab.tasks.packed.member_prefix`); a metric without a member
    prefix (Lightning's ``epoch``) goes to every member. The members' loggers are made, given
    their configs and closed by the caller (:func:`biaslab.run.tracking.make_logger`, ``finish``).
    """

    def __init__(self, loggers: Mapping[str, Logger]):
        super().__init__()
        self.loggers = dict(loggers)

    @property
    def name(self) -> str:
        return "seed_parallel"

    @property
    def version(self) -> str | None:
        return None

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass  # each member's logger got its own config when it was made

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        routed: dict[str, dict[str, float]] = {p: {} for p in self.loggers}
        for key, value in metrics.items():
            prefix = next((p for p in self.loggers if key.startswith(p)), None)
            if prefix is None:
                for out in routed.values():
                    out[key] = value
            else:
                routed[prefix][key.removeprefix(prefix)] = value
        for prefix, out in routed.items():
            if out:
                self.loggers[prefix].log_metrics(out, step=step)

    def save(self) -> None:
        for logger in self.loggers.values():
            logger.save()

    def finalize(self, status: str) -> None:
        for logger in self.loggers.values():
            logger.finalize(status)
