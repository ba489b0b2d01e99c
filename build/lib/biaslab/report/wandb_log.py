"""``--log-wandb``: the verdicts as one W&B run (``job_type=report``) in the sweep's group, so
that W&B shows the answer next to the runs it came from. Offline unless WANDB_MODE says
otherwise, like every run of this project; only this path imports wandb."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from biaslab.report.build import Report
from biaslab.report.load import Run
from biaslab.report.values import fmt_value

COLUMNS = [
    "group",
    "value",
    "baseline",
    "kind",
    "n_pairs",
    "n_usable",
    "diff",
    "ci_low",
    "ci_high",
    "p",
    "p_holm",
    "verdict",
]


def _common(runs: Sequence[Run], key: str, default: str | None) -> str | None:
    """The value every run's config agrees on (the sweep's project or group), else default."""
    values = {r.config.get(key) for r in runs if r.config.get(key)}
    return values.pop() if len(values) == 1 else default


def log_report(rep: Report, out: Path, runs: Sequence[Run]) -> str:
    """Log the verdict table, the summary and the plots; returns the run's folder."""
    import wandb

    run = wandb.init(
        project=_common(runs, "logger.project", "biaslab"),
        group=_common(runs, "logger.group", None),
        job_type="report",
        name=f"report: {rep.compare} on {rep.metric}",
        mode=os.environ.get("WANDB_MODE", "offline"),
        dir=str(out),
        config={
            "compare": rep.compare,
            "metric": rep.metric,
            "baseline": fmt_value(rep.baseline),
            "margin": rep.margin,
            "family_size": rep.family_size,
            "command": rep.command,
        },
        settings=wandb.Settings(silent=True),
        reinit="create_new",
    )
    table = wandb.Table(columns=COLUMNS)
    summary: dict[str, object] = {"family_size": rep.family_size, "runs": rep.n_runs}
    for g in rep.groups:
        for c in g.comparisons:
            t = c.test
            table.add_data(
                g.label,
                fmt_value(c.value),
                fmt_value(rep.baseline),
                c.kind,
                c.n_pairs,
                len(c.usable),
                t.diff if t else None,
                t.ci_low if t else None,
                t.ci_high if t else None,
                t.p if t else None,
                None if c.p_holm != c.p_holm else c.p_holm,  # nan: not in the family
                c.verdict,
            )
            summary[f"verdict/{g.label}/{fmt_value(c.value)}"] = c.kind
    logged: dict[str, object] = {"verdicts": table}
    logged.update({f"plots/{p.stem}": wandb.Image(str(p)) for p in rep.plots})
    run.log(logged)
    run.summary.update(summary)
    folder = run.dir
    run.finish()
    return str(Path(folder).parent)
