"""``run DIR``: stage 1 (tune), the choice frozen into ``choice.yaml`` with its own hash, then
stage 2 round by round until every cell is decided or the cap or the budget stops it. Every
step starts from the plan and the records on disk, so a killed study is resumed by running the
same command again."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from biaslab.study import launch, progress, records
from biaslab.study.plan import Plan, PlanError, digest, read

CHOICE = "choice.yaml"
CHOICE_HASH = "choice.sha256"
log = logging.getLogger(__name__)


def read_choice(folder: Path, plan_hash: str) -> dict[str, dict[str, str]] | None:
    path = folder / CHOICE
    if not path.is_file():
        return None
    data = path.read_bytes()
    recorded = (folder / CHOICE_HASH).read_text().strip() if (folder / CHOICE_HASH).exists() else ""
    if digest(data) != recorded:
        raise PlanError(f"{CHOICE}: hash {digest(data)}, but {CHOICE_HASH} records {recorded!r}")
    frozen = yaml.safe_load(data)
    if frozen.get("plan_hash") != plan_hash:
        raise PlanError(f"{CHOICE}: made for plan {frozen.get('plan_hash')}, not {plan_hash}")
    return frozen["choice"]


def freeze_choice(folder: Path, plan_hash: str, choice: dict[str, dict[str, str]]) -> str:
    head = (
        "# Stage 1's choice per cell and arm, on the tuning seeds' validation metric; frozen\n"
        "# before stage 2 ran a fresh seed. Not edited: its hash is in choice.sha256.\n"
    )
    body = yaml.safe_dump({"plan_hash": plan_hash, "choice": choice}, sort_keys=False)
    data = (head + body).encode()
    (folder / CHOICE).write_bytes(data)
    (folder / CHOICE_HASH).write_text(digest(data) + "\n")
    return digest(data)


def _check_progress(before: list, after: list, where: str) -> None:
    """A launch whose jobs left no outcome would be launched forever: stop and say where."""
    if after and after == before:
        raise RuntimeError(
            f"the jobs of {where} left no results.json (see launch.log in {where}'s sweep "
            "folders under runs/); fix the cause and run the study again"
        )


def stage1(plan: Plan, plan_hash: str, folder: Path) -> dict[str, dict[str, str]]:
    frozen = read_choice(folder, plan_hash)
    if frozen is not None:
        return frozen
    if not plan.tune:
        choice = {progress.label(tuple(c.items())): {} for c in plan.cell_list()}
        freeze_choice(folder, plan_hash, choice)
        return choice
    while True:
        rec = records.read(plan, plan_hash, folder)
        choice, missing = progress.choose(plan, rec)
        if not missing:
            freeze_choice(folder, plan_hash, choice)
            return choice
        log.info("stage 1: %d jobs to run", len(missing))
        launch.launch(plan, plan_hash, folder, "tune", missing)
        _, after = progress.choose(plan, records.read(plan, plan_hash, folder))
        _check_progress(missing, after, "tune")


def run(folder: Path) -> progress.Progress:
    """Run the study in ``folder`` to its end (or resume it) and return where it ended."""
    plan, plan_hash = read(folder)
    choice = stage1(plan, plan_hash, folder)
    while True:
        state = progress.replay(plan, records.read(plan, plan_hash, folder), choice)
        if not state.missing:
            return state
        log.info("stage 2, %s: %d jobs to run", state.tag, len(state.missing))
        launch.launch(plan, plan_hash, folder, state.tag, state.missing)
        after = progress.replay(plan, records.read(plan, plan_hash, folder), choice)
        _check_progress(state.missing, after.missing, state.tag)
