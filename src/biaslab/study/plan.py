"""A study's plan: everything that decides which runs count and how they are judged, written
to ``plan.yaml`` before any run and never edited after (its hash goes into every run's config
as ``study.plan_hash``; a changed plan.yaml is refused)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from biaslab.study.sequential import best_c2

PLAN = "plan.yaml"
HASH = "plan.sha256"
PROCEDURE = (
    "t-mixture confidence sequence (Wang & Ramdas 2025, Theorem 4.9: Lai's scale-invariant "
    "t-test martingale mixed over N(0, 1/c²)), looked at after every batch; Ville's inequality"
)


class PlanError(ValueError):
    """A plan that cannot be run: one line naming the field, the value and what is allowed."""


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    experiment: str  # the preset: python train.py -m +experiment=<experiment>
    overrides: list[str] = []  # fixed overrides of every run (trainer.max_steps=…)
    compare: str = "model.bias"
    arms: list[str] = Field(min_length=2, max_length=2)  # first vs second: "helps" = first better
    cells: dict[str, list[str]] = {}  # the other swept keys: one cell per combination
    tune: str | None = "optimizer.lr"  # tuned per arm and cell on the tuning seeds
    grid: list[str] = []
    select_by: str = "val/acc_best"
    select_direction: Literal["max", "min"] = "max"
    validation_rule: str
    metric: str = "test/acc"
    direction: Literal["max", "min"] = "max"
    scale: Literal["linear", "log"] = "linear"
    delta: float = Field(gt=0)  # margin: absolute, or a ratio > 1 on the log scale
    alpha: float = Field(gt=0, lt=1)
    procedure: str = PROCEDURE
    c2: float = Field(gt=0)  # mixture precision, chosen for the cap before any run
    batch: int = Field(ge=1)  # seeds per batch
    pack: bool = True  # a batch's seeds packed in one job (train.parallel_seeds), else a job each
    cap: int = Field(ge=1)  # seeds per cell at most (stage 2)
    budget: int = Field(ge=1)  # runs at most, stage 1 and 2 together
    m: int = Field(ge=1)  # cells in the family: each is tested at alpha / m
    tuning_seeds: list[int]  # start seeds of the packed tuning jobs (spaced by batch)
    confirm_start: int = Field(ge=0)  # confirmation seeds: confirm_start + 0 … cap - 1
    failed_rule: str
    fail_metric: str = "val/acc"
    fail_at_most: float | None = None  # a run at or below this (chance) failed
    launcher: list[str] = []  # e.g. hydra/launcher=joblib hydra.launcher.n_jobs=2
    # torch's intra-op threads per run (OMP_NUM_THREADS of every job): a run reproduces bit for
    # bit only at the same count, so a resumed study must not inherit another shell's
    threads: int | None = Field(default=None, ge=1)
    logger: str = "none"

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        if self.cap % self.batch:
            raise PlanError(f"cap={self.cap}: must be a multiple of batch={self.batch}")
        if self.scale == "log" and self.delta <= 1:
            raise PlanError(f"delta={self.delta}: on the log scale a ratio margin > 1 (e.g. 1.25)")
        tuning = self.tuning_seed_list()
        if len(set(tuning)) != len(tuning):
            raise PlanError(f"tuning_seeds={self.tuning_seeds}: packs overlap (space by batch)")
        overlap = set(self.tuning_seed_list()) & set(self.confirm_seeds())
        if overlap:
            raise PlanError(f"confirm_start={self.confirm_start}: overlaps the tuning seeds")
        if self.tune and not self.grid:
            raise PlanError(f"grid: empty, but tune={self.tune} (give a grid or tune: null)")
        if self.m != self.n_cells():
            raise PlanError(f"m={self.m}: the plan has {self.n_cells()} cells")
        return self

    def n_cells(self) -> int:
        return math.prod(len(v) for v in self.cells.values()) if self.cells else 1

    def tuning_seed_list(self) -> list[int]:
        return [s + i for s in self.tuning_seeds for i in range(self.batch)]

    def confirm_seeds(self) -> list[int]:
        return list(range(self.confirm_start, self.confirm_start + self.cap))

    def job_seeds(self, start: int) -> list[list[int]]:
        """The seeds of each job of the batch starting at ``start``: one pack, or one each."""
        seeds = list(range(start, start + self.batch))
        return [seeds] if self.pack else [[s] for s in seeds]

    def looks(self) -> int:
        return self.cap // self.batch

    def alpha_cell(self) -> float:
        return self.alpha / self.m

    def margin(self) -> float:
        """δ on the scale the differences are taken (log of the ratio on the log scale)."""
        return math.log(self.delta) if self.scale == "log" else self.delta

    def cell_list(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = [{}]
        for key, values in self.cells.items():
            out = [{**c, key: v} for c in out for v in values]
        return out

    def stage1_runs(self) -> int:
        return 2 * self.n_cells() * max(1, len(self.grid)) * len(self.tuning_seed_list())


def c2_for(cap: int, alpha: float) -> float:
    return best_c2(cap, alpha)


def text(plan: Plan) -> str:
    header = (
        f"# Study plan '{plan.name}', written before any run. Do not edit: its hash\n"
        f"# ({HASH}) is in every run of the study, and a changed plan is refused.\n"
    )
    return header + yaml.safe_dump(plan.model_dump(), sort_keys=False, allow_unicode=True)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def write(plan: Plan, folder: Path) -> str:
    """Write plan.yaml and its hash into ``folder`` (refused if a plan is already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PLAN
    if path.exists():
        raise PlanError(f"--out={folder}: already holds a plan.yaml (a plan is never replaced)")
    data = text(plan).encode()
    path.write_bytes(data)
    h = digest(data)
    (folder / HASH).write_text(h + "\n")
    return h


def read(folder: Path) -> tuple[Plan, str]:
    """The plan in ``folder`` and its hash; refused if plan.yaml no longer has that hash."""
    path = folder / PLAN
    if not path.is_file():
        raise PlanError(f"DIR={folder}: no plan.yaml (write one with `plan ... --out {folder}`)")
    data = path.read_bytes()
    h = digest(data)
    recorded = (folder / HASH).read_text().strip() if (folder / HASH).is_file() else None
    if recorded != h:
        raise PlanError(
            f"plan.yaml: hash {h}, but {HASH} records {recorded}: a plan is not edited after "
            "it is written (write a new study)"
        )
    return Plan.model_validate(yaml.safe_load(data)), h
