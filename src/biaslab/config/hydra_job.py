"""What Hydra says of the running job, for names: its command-line overrides."""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig


def job_name() -> str | None:
    """The job's command-line overrides, e.g. ``model.bias=false,model.width=8``."""
    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().job.override_dirname or None
