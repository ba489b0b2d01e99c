"""Checks every config value before any training, so a typo costs one clear line, not a run.

Each rule names a dotted key, a test and what is allowed; keys absent from the composed
config (e.g. ``model.kernel_size`` for the MLP) are skipped. Unknown keys are refused by Hydra
(the config is in struct mode), unknown group options by Hydra's composer; a key added with
``+`` must be a parameter of the group's ``_target_``. Combinations that no single value
reveals (a CNN too deep for its input, an LSTM on images, ...) are checked last.

Output locations are checked twice by :func:`check_paths`: by the Hydra callback
:class:`SafeOutputPaths` before Hydra creates any folder, and again by :func:`validate`.
"""

from __future__ import annotations

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from biaslab.config.combinations import COMBINATIONS
from biaslab.config.keys import check_known_keys, check_resolves, check_types
from biaslab.config.paths import SafeOutputPaths, check_paths
from biaslab.config.rules import RULES, ConfigError, check_rules

__all__ = ["RULES", "ConfigError", "SafeOutputPaths", "check_paths", "config_error", "validate"]


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value that cannot work: unresolvable values,
    unsafe output paths, keys the target does not take, each value against :data:`RULES`
    (in their order), then against its constructor's annotation, then the combinations."""
    check_resolves(cfg)
    check_paths(cfg, HydraConfig.get() if HydraConfig.initialized() else None)
    check_known_keys(cfg)
    check_rules(cfg, RULES)
    check_types(cfg)
    for check in COMBINATIONS:
        check(cfg)


def config_error(cfg: DictConfig) -> Exception | None:
    """:func:`validate`'s verdict as a value, for a run that checks its config once and acts on
    the answer where it must (before its folder is touched, or recorded as a failed run)."""
    try:
        validate(cfg)
    except Exception as e:  # whatever validate raises, the run records it as its failure
        return e
    return None
