"""The members of a job: who they are (seed, config, output folder) and what packing needs.

Member k of a K-seed job is the run ``seed=<seed+k>`` would be: its config is the job's with
that seed (so ``data.shuffle_seed: ${seed}`` follows), and its record lands in
``<output dir>/seed=<s>/`` with that seed in ``seed``, ``overrides`` and ``config``. A job
of one seed has one member: the run itself, writing to the output folder.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.config import ConfigError
from biaslab.config.hydra_job import job_name
from biaslab.config.rules import loss_scaled
from biaslab.seed_parallel import KEY

PACKABLE_MODELS = ("biaslab.models.cnn.CNN", "biaslab.models.mlp.MLP")
# Their update of an element depends on that element's gradient history alone, so packed
# members keep separate optimizer states.
ELEMENTWISE_OPTIMIZERS = tuple(
    f"torch.optim.{name}"
    for name in ("Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam")
)
_SEED_OVERRIDE = re.compile(r"^(\+\+|\+|~)?seed(=|$)")


@dataclass
class Member:
    seed: Any
    cfg: DictConfig
    out_dir: Path
    overrides: list[str]


def member_dir(out_dir: Path, seed: int) -> Path:
    return out_dir / f"seed={seed}"


def member_overrides(overrides: list[str], seed: int) -> list[str]:
    """The job's overrides with ``seed=<seed>`` in place of any seed override."""
    out = [o for o in overrides if not _SEED_OVERRIDE.match(o)]
    return [*out, f"seed={seed}"]


def member_name(base: str | None, seed: int) -> str:
    """The W&B run name: the job's (its overrides by default) with ``seed=<seed>``."""
    # split at the commas that start a new key=value, not those inside a list value
    items = re.split(r",(?=[^,=\[\]]+=)", base) if base else []
    return ",".join([*(i for i in items if not _SEED_OVERRIDE.match(i)), f"seed={seed}"])


def member_config(cfg: DictConfig, seed: int, out_dir: Path) -> DictConfig:
    """The job's config as the run with ``seed`` would have it, writing to ``out_dir``."""
    member = copy.deepcopy(cfg)
    with open_dict(member):
        member.seed = seed
        member.paths.output_dir = str(out_dir)
        if str(member.logger.get("_target_", "")).endswith("WandbLogger"):
            member.logger.name = member_name(cfg.logger.get("name") or job_name(), seed)
    return member


def members(cfg: DictConfig, k: int, overrides: list[str]) -> list[Member]:
    """The job's K members; one (the run itself) when K is 1 or the seeds are not all valid
    (validation refuses that, and the one failed record goes where a run's would)."""
    out_dir = Path(cfg.paths.output_dir)
    # a seed that does not resolve is validation's to report, in the record this makes
    base = OmegaConf.select(cfg, "seed", throw_on_resolution_failure=False)
    if k == 1 or not isinstance(base, int) or isinstance(base, bool) or base + k > 2**32:
        return [Member(base, cfg, out_dir, overrides)]
    seeds = [base + i for i in range(k)]
    return [
        Member(s, member_config(cfg, s, member_dir(out_dir, s)), member_dir(out_dir, s), o)
        for s, o in ((s, member_overrides(overrides, s)) for s in seeds)
    ]


def check(cfg: DictConfig, k: int) -> None:
    """Refuse what cannot be packed or would couple the members, before any work."""
    target = str(cfg.model.get("_target_"))
    if target not in PACKABLE_MODELS:
        raise ConfigError(
            KEY,
            k,
            f"1 with model {target.rsplit('.', 1)[-1]}: seed-parallel "
            "training packs the CNN and MLP models only",
        )
    target = str(cfg.optimizer.get("_target_"))
    if target not in ELEMENTWISE_OPTIMIZERS:
        raise ConfigError(
            "optimizer._target_",
            target,
            f"an elementwise optimizer with {KEY}={k} "
            f"({', '.join(ELEMENTWISE_OPTIMIZERS)}): others couple the members",
        )
    precision = OmegaConf.select(cfg, "trainer.precision")
    if loss_scaled(precision):
        raise ConfigError(
            "trainer.precision",
            precision,
            f"another precision with {KEY}={k}: 16-mixed's loss scaler skips "
            "every member's step when one member's gradients overflow",
        )


def same_splits(a: DictConfig, b: DictConfig) -> bool:
    """Whether two members load the same splits: data configs equal but for the batch order."""

    def identity(cfg: DictConfig) -> Any:
        data = OmegaConf.to_container(cfg.data, resolve=True)
        data.pop("shuffle_seed", None)
        return data

    return identity(a) == identity(b)
