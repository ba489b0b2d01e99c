"""Does the compared setting (``model.bias`` by default) change a metric? The report says.

``python -m biaslab.report multirun/2024-06-01/12-00-00`` reads every results.json under the
given paths (or W&B runs with ``--wandb``), groups runs by the other config keys that were
swept, tests each compared value against the baseline with a paired t-test over seeds, and
writes report.md, summary.csv and plots to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import math
import re
import shlex
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biaslab import stats
from biaslab.results import find_results, read_results

ALPHA = 0.05
# An *_over_baseline metric is 1.0 for a trivial predictor; an arm must get clearly below it
# before a difference between arms means anything.
TRIVIAL_CUTOFF = 0.9
# Keys that differ between runs without being part of the experiment's design.
IGNORED_KEYS = {
    "seed",
    "data.shuffle_seed",
    "trainer.default_root_dir",
    "data.data_dir",
    "tags",
    "task_name",
}
IGNORED_PREFIXES = ("paths.", "logger.", "hydra.", "train.parallel_", "_")
WANDB_STATUS = {
    "finished": "completed",
    "crashed": "failed",
    "failed": "failed",
    "killed": "failed",
}
WIDTH = "model.width"


@dataclass
class Run:
    """One run, from a results.json or a W&B run; ``config`` is flattened to dotted keys."""

    source: str
    status: str
    seed: Any
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # where it ran: versions, git commit, device, wall time (results.json only)
    provenance: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- loading


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def from_record(record: dict[str, Any], source: str) -> Run:
    config = flatten(record.get("config") or {})
    error = record.get("error")
    if isinstance(error, dict):
        error = f"{error.get('type', 'Error')}: {error.get('message', '')}"
    seed = record.get("seed", config.get("seed"))
    # a seed-parallel member records its whole job's time: the job is what took it
    job = (record.get("seed_parallel") or {}).get("job_dir") or source
    provenance = {
        "versions": record.get("versions") or {},
        "git_commit": record.get("git_commit"),
        "device": record.get("device"),
        "job": job,
        "total_s": (record.get("timing") or {}).get("total_s"),
    }
    return Run(
        source,
        record.get("status", "unknown"),
        seed,
        config,
        dict(record.get("metrics") or {}),
        dict(record.get("params") or {}),
        error,
        provenance,
    )


def load_files(paths: Iterable[str | Path]) -> list[Run]:
    """Every results.json under ``paths``; an unreadable file becomes a run that is listed in
    the report rather than a crash that hides every other run."""
    runs = []
    for path in find_results(*paths):
        try:
            runs.append(from_record(read_results(path), str(path)))
        except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
            runs.append(Run(str(path), "unreadable", None, {}, error=str(e)))
    return runs


def sweep_commands(paths: Iterable[str | Path]) -> list[str]:
    """The command that launched each Hydra sweep found under ``paths`` (its multirun.yaml)."""
    from omegaconf import OmegaConf

    commands = []
    for p in paths:
        for m in sorted(glob.glob(str(p), recursive=True)):
            found = [Path(m)] if Path(m).name == "multirun.yaml" else Path(m).rglob("multirun.yaml")
            for f in sorted(found):
                task = OmegaConf.select(OmegaConf.load(f), "hydra.overrides.task") or []
                commands.append(shlex.join(["python", "train.py", "-m", *task]))
    return list(dict.fromkeys(commands))


def from_wandb_run(run: Any) -> Run:
    """A W&B public-API run as a :class:`Run`: run.config is the record's config, run.summary
    holds the metrics and the params/* counts (see biaslab.tracking.finish)."""
    config = flatten({k: v for k, v in dict(run.config).items() if not str(k).startswith("_")})
    summary = {k: v for k, v in run.summary.items() if not str(k).startswith("_")}
    params = {k: v for k, v in summary.items() if k.startswith("params/")}
    metrics = {k: v for k, v in summary.items() if k not in params}
    status = WANDB_STATUS.get(run.state, run.state)
    error = None if status == "completed" else f"W&B run state: {run.state}"
    source = getattr(run, "url", None) or f"wandb:{'/'.join(getattr(run, 'path', []))}"
    return Run(source, status, config.get("seed"), config, metrics, params, error)


def load_wandb(path: str, group: str | None = None, api: Any = None) -> list[Run]:
    if api is None:
        import wandb  # only this path needs W&B's client (and a network)

        api = wandb.Api()
    return [from_wandb_run(r) for r in api.runs(path, filters={"group": group} if group else {})]


# ---------------------------------------------------------------- values and metrics


def ident(value: Any) -> str:
    # JSON text as identity: keeps True apart from 1 (Python's == does not) and hashes lists.
    return json.dumps(value, sort_keys=True, default=str)


def fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def sort_key(value: Any) -> tuple[int, float, str]:
    if isinstance(value, (bool, int, float)):
        return (1, float(value), "")
    return (0, 0.0, "") if value is None else (2, 0.0, ident(value))


def lower_is_better(metric: str) -> bool:
    return any(word in metric.lower() for word in ("loss", "mse", "error"))


def scale(metric: str) -> float:
    """Accuracy-like metrics are shown in percentage points, everything else in raw units."""
    return 100.0 if "acc" in metric.lower() and not lower_is_better(metric) else 1.0


def fmt_num(x: float, metric: str, sign: bool = False) -> str:
    if not math.isfinite(x):
        return "—"
    if scale(metric) == 100.0:
        return f"{x * 100:+.1f}" if sign else f"{x * 100:.1f}"
    return f"{x:+.3g}" if sign else f"{x:.3g}"


def fmt_p(p: float) -> str:
    return "p<0.0001" if p < 1e-4 else f"p={p:.2g}"


def fmt_test(test: stats.PairedTest, metric: str) -> str:
    unit = " pts" if scale(metric) == 100.0 else ""
    return (
        f"{fmt_num(test.diff, metric, sign=True)}{unit} [{fmt_num(test.ci_low, metric)}, "
        f"{fmt_num(test.ci_high, metric)}], {fmt_p(test.p)}"
    )


def verdict(
    label: str, test: stats.PairedTest | None, n_pairs: int, metric: str, arm_means: Sequence[float]
) -> str:
    if metric.endswith("_over_baseline") and not any(m < TRIVIAL_CUTOFF for m in arm_means):
        # Two arms that both lose to a constant predictor differ in noise, not in learning.
        detail = f" ({fmt_test(test, metric)})" if test else ""
        return f"inconclusive: no arm beats the trivial baseline{detail}"
    if test is None:
        return f"too few paired seeds (n={n_pairs})"
    if not test.p < ALPHA:
        return f"no significant difference: {fmt_test(test, metric)}"
    better = test.diff < 0 if lower_is_better(metric) else test.diff > 0
    return f"{label} {'helps' if better else 'hurts'}: {fmt_test(test, metric)}"


# ---------------------------------------------------------------- analysis


def is_ignored(key: str) -> bool:
    return key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES)


def swept_keys(runs: Sequence[Run]) -> list[str]:
    """Config keys whose values differ across runs (a key missing from a run counts as a
    value), apart from those that differ for bookkeeping reasons."""
    keys = sorted({k for r in runs for k in r.config if not is_ignored(k)})
    return [k for k in keys if len({ident(r.config.get(k, "<missing>")) for r in runs}) > 1]


def why_unusable(run: Run, metric: str, compare: str) -> str | None:
    if run.status != "completed":
        return run.error or f"status {run.status}"
    if compare not in run.config:
        return f"config has no {compare}"
    if run.seed is None:
        return "no seed"
    value = run.metrics.get(metric)
    if value is None:
        return f"no {metric} in metrics"
    try:
        ok = math.isfinite(float(value))
    except (TypeError, ValueError):
        ok = False
    return None if ok else f"{metric} = {value!r}"


def choose_baseline(values: Sequence[Any], given: str | None) -> Any:
    """``--baseline`` if given, else ``false`` for booleans, else the first value in order."""
    if given is not None:
        for v in values:
            if fmt_value(v) == given:
                return v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                try:
                    if float(given) == v:
                        return v
                except ValueError:
                    pass
        shown = ", ".join(fmt_value(v) for v in values)
        raise ValueError(f"--baseline {given} is not among the compared values ({shown})")
    if any(v is False for v in values):
        return False
    return sorted(values, key=sort_key)[0]


@dataclass
class Arm:
    """The runs of one compared value within a group."""

    value: Any
    by_seed: dict[Any, float]  # metric per seed; repeated runs of a seed are averaged
    duplicates: list[Any]
    params_total: list[float]
    params_bias: list[float]

    @property
    def n(self) -> int:
        return len(self.by_seed)

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.by_seed.values())))

    @property
    def std(self) -> float:
        return float(np.std(list(self.by_seed.values()), ddof=1)) if self.n > 1 else math.nan


@dataclass
class Comparison:
    """One non-baseline value against the baseline, paired by seed."""

    value: Any
    n_pairs: int
    test: stats.PairedTest | None
    only_value: list[Any]  # seeds run with this value only
    only_baseline: list[Any]  # seeds run with the baseline only
    verdict: str


@dataclass
class Group:
    key: tuple[tuple[str, Any], ...]  # (swept key, value) for every key but compare and seed
    arms: list[Arm]
    comparisons: list[Comparison]
    note: str | None = None  # why there is nothing to compare
    batch_norm: bool = False  # every run has a batch norm after each conv

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in self.key) or "all runs"


def _arm(value: Any, runs: Sequence[Run], metric: str) -> Arm:
    per_seed: dict[Any, list[float]] = defaultdict(list)
    for r in runs:
        per_seed[r.seed].append(float(r.metrics[metric]))
    seeds = sorted(per_seed, key=sort_key)

    def counts(name: str) -> list[float]:
        return [float(r.params[name]) for r in runs if r.params.get(name) is not None]

    return Arm(
        value,
        {s: float(np.mean(per_seed[s])) for s in seeds},
        [s for s in seeds if len(per_seed[s]) > 1],
        counts("params/total"),
        counts("params/bias"),
    )


def _label(compare: str, value: Any, baseline: Any) -> str:
    leaf = compare.rsplit(".", 1)[-1]
    return leaf if value is True and baseline is False else f"{leaf}={fmt_value(value)}"


def analyze(
    runs: Sequence[Run], compare: str, metric: str, baseline: Any, group_keys: Sequence[str]
) -> list[Group]:
    buckets: dict[tuple[str, ...], list[Run]] = defaultdict(list)
    for r in runs:
        buckets[tuple(ident(r.config.get(k)) for k in group_keys)].append(r)
    groups = []
    for members in buckets.values():
        key = tuple((k, members[0].config.get(k)) for k in group_keys)
        by_value: dict[str, list[Run]] = defaultdict(list)
        for r in members:
            by_value[ident(r.config[compare])].append(r)
        values = sorted((rs[0].config[compare] for rs in by_value.values()), key=sort_key)
        # Baseline first, so that tables read "baseline, then what is compared to it".
        values.sort(key=lambda v: ident(v) != ident(baseline))
        arms = [_arm(v, by_value[ident(v)], metric) for v in values]
        group = Group(key, arms, *_comparisons(arms, compare, metric, baseline))
        group.batch_norm = all(r.config.get("model.norm") == "batch" for r in members)
        groups.append(group)
    groups.sort(key=lambda g: [sort_key(v) for _, v in g.key])
    return groups


def _comparisons(
    arms: list[Arm], compare: str, metric: str, baseline: Any
) -> tuple[list[Comparison], str | None]:
    base = arms[0] if ident(arms[0].value) == ident(baseline) else None
    if base is None:
        return [], f"no runs with {compare}={fmt_value(baseline)} (the baseline) in this group"
    if len(arms) == 1:
        return [], f"only {compare}={fmt_value(baseline)} in this group: nothing to compare"
    means = [a.mean for a in arms]
    out = []
    for arm in arms[1:]:
        paired = [s for s in arm.by_seed if s in base.by_seed]
        test = None
        if len(paired) >= 2:
            test = stats.paired_test(
                [arm.by_seed[s] for s in paired], [base.by_seed[s] for s in paired]
            )
        label = _label(compare, arm.value, baseline)
        out.append(
            Comparison(
                arm.value,
                len(paired),
                test,
                [s for s in arm.by_seed if s not in base.by_seed],
                [s for s in base.by_seed if s not in arm.by_seed],
                verdict(label, test, len(paired), metric, means),
            )
        )
    return out, None


@dataclass
class Report:
    command: str
    compare: str
    metric: str
    baseline: Any
    n_runs: int
    swept: list[str]
    group_keys: list[str]
    groups: list[Group]
    problems: list[tuple[str, str, str]]  # (source, status, why it was not used)
    plots: list[Path] = field(default_factory=list)
    plot_note: str = ""
    provenance: list[str] = field(default_factory=list)  # lines of the Provenance section
    sweeps: list[str] = field(default_factory=list)  # commands that launched the runs


def build_report(
    runs: Sequence[Run],
    compare: str = "model.bias",
    metric: str = "test/acc",
    baseline: str | None = None,
    command: str = "",
) -> Report:
    if not any(compare in r.config for r in runs):
        raise ValueError(f"no run has the config key {compare!r} (try --compare model.bias)")
    usable, problems = [], []
    for r in runs:
        why = why_unusable(r, metric, compare)
        if why is None:
            usable.append(r)
        else:
            problems.append((r.source, r.status, why))
    swept = swept_keys([r for r in runs if r.config])
    group_keys = [k for k in swept if k != compare]
    values = list({ident(r.config[compare]): r.config[compare] for r in usable}.values())
    base = choose_baseline(values, baseline) if values else None
    groups = analyze(usable, compare, metric, base, group_keys) if usable else []
    return Report(
        command,
        compare,
        metric,
        base,
        len(runs),
        swept,
        group_keys,
        groups,
        problems,
        provenance=provenance(runs),
    )


def _tally(values: Iterable[str]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{v} ({n} runs)" for v, n in sorted(counts.items()))


def provenance(runs: Sequence[Run]) -> list[str]:
    """What the runs ran on, as recorded in their results.json: mixed versions show up."""
    recorded = [r.provenance for r in runs if r.provenance]
    if not recorded:
        return []
    lines = []
    versions = [
        ", ".join(f"{k} {v}" for k, v in p["versions"].items())
        for p in recorded
        if p.get("versions")
    ]
    if versions:
        lines.append(f"- Software: {_tally(versions)}")
    commits = [(p.get("git_commit") or "unknown")[:12] for p in recorded]
    lines.append(f"- Code (git commit): {_tally(commits)}")
    lines.append(f"- Device: {_tally(str(p.get('device') or 'unknown') for p in recorded)}")
    jobs = {
        p.get("job", i): float(p["total_s"])
        for i, p in enumerate(recorded)
        if p.get("total_s") is not None
    }
    if jobs:
        times = list(jobs.values())
        n_runs = sum(p.get("total_s") is not None for p in recorded)
        over = f"{n_runs} runs" if n_runs == len(jobs) else f"{len(jobs)} jobs ({n_runs} runs)"
        each = "run" if n_runs == len(jobs) else "job"
        lines.append(
            f"- Wall time: {sum(times) / 60:.1f} min over {over} "
            f"(median {np.median(times):.1f} s, max {max(times):.1f} s per {each})"
        )
    return lines


# ---------------------------------------------------------------- outputs


def _mean_std(arm: Arm, metric: str) -> str:
    std = fmt_num(arm.std, metric)
    return fmt_num(arm.mean, metric) + ("" if std == "—" else f" ± {std}")


def _counts(values: Sequence[float]) -> str:
    if not values:
        return "—"
    lo, hi = int(min(values)), int(max(values))
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def _seeds(seeds: Iterable[Any]) -> str:
    return ", ".join(str(s) for s in seeds) or "—"


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    def cell(x: Any) -> str:  # a pipe or newline would break the row
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]


def _direction(metric: str) -> str:
    better = "lower is better" if lower_is_better(metric) else "higher is better"
    units = "percentage points" if scale(metric) == 100.0 else "raw units"
    return f"{better}; shown in {units}"


def render_markdown(rep: Report) -> str:
    c, m, base = rep.compare, rep.metric, fmt_value(rep.baseline)
    n_used = rep.n_runs - len(rep.problems)
    out = [
        f"# Does `{c}` change `{m}`?",
        "",
        f"Command: `{rep.command}`",
        "",
        f"- Runs: {rep.n_runs} found, {n_used} used, {len(rep.problems)} not used "
        "(see *Runs not used*)",
        f"- Compared: `{c}`, baseline `{base}`",
        f"- Metric: `{m}` ({_direction(m)})",
        "- Grouped by: "
        + (
            ", ".join(f"`{k}`" for k in rep.group_keys) or "nothing (no other config key was swept)"
        ),
        "",
        "## Verdicts",
        "",
    ]
    for g in rep.groups:
        for cmp in g.comparisons:
            out.append(f"- **{g.label}** — `{c}={fmt_value(cmp.value)}` vs `{base}`: {cmp.verdict}")
        if g.note:
            out.append(f"- **{g.label}** — {g.note}")
    if not rep.groups:
        out.append(f"No usable runs: none completed with a finite `{m}`.")
    out += ["", "## Results by group", ""]
    for g in rep.groups:
        out += [f"### {g.label}", ""]
        out += _md_table(
            [c, "n", f"{m} mean ± std", "seeds", "params/total", "params/bias"],
            [
                [
                    fmt_value(a.value),
                    a.n,
                    _mean_std(a, m),
                    _seeds(a.by_seed),
                    _counts(a.params_total),
                    _counts(a.params_bias),
                ]
                for a in g.arms
            ],
        )
        out.append("")
        for cmp in g.comparisons:
            out.append(
                f"- `{fmt_value(cmp.value)}` − `{base}`, paired over {cmp.n_pairs} "
                f"seeds: {cmp.verdict}"
            )
        out.append("")
    out += _batch_norm_note(rep)
    out += ["## Runs not used", ""]
    if rep.problems:
        out.append("Failed, diverged or incomplete runs, excluded from every statistic above:")
        out.append("")
        out += _md_table(
            ["run", "status", "error"], [[s, st, (why or "")[:300]] for s, st, why in rep.problems]
        )
    else:
        out.append(f"None: every run completed with a finite `{m}`.")
    out += ["", "## Seeds", "", _seeds_note(rep), "", "## Method", "", _method(rep), ""]
    if rep.sweeps or rep.provenance:
        out += ["## Provenance", ""]
        out += [f"- Runs launched by: `{c}`" for c in rep.sweeps]
        out += [*rep.provenance, ""]
    out += ["## Plots", ""]
    out += [f"![{p.stem}]({p.name})" for p in rep.plots] or [rep.plot_note]
    return "\n".join(out) + "\n"


def _batch_norm_note(rep: Report) -> list[str]:
    """Where a batch norm follows every conv, the conv bias is provably inert: say so."""
    labels = [g.label for g in rep.groups if g.batch_norm]
    if rep.compare != "model.bias" or not labels:
        return []
    return [
        "## The batch-norm identity",
        "",
        "In " + ", ".join(f"**{lb}**" for lb in labels) + " every conv is followed by a batch "
        "norm. In training mode the norm subtracts the per-channel batch mean, which contains "
        "the conv's bias, so the output does not depend on the bias and its gradient is zero "
        "(exactly, up to rounding); in eval mode the bias folds into the running mean. "
        "`tests/test_bn_identity.py` checks both on this project's model builder in float64. "
        "There `bias=true` is pure overhead: the extra `params/bias` above, and on a GPU the "
        "throughput a bias add costs. `bias=auto` drops exactly these biases.",
        "",
    ]


def _seeds_note(rep: Report) -> str:
    lines = [
        "Runs are paired by seed: a seed run with one value only counts in that value's "
        "mean ± std but not in the paired difference."
    ]
    for g in rep.groups:
        for cmp in g.comparisons:
            if cmp.only_value:
                lines.append(
                    f"- {g.label}: seeds only with `{fmt_value(cmp.value)}`: "
                    f"{_seeds(cmp.only_value)}"
                )
            if cmp.only_baseline:
                lines.append(
                    f"- {g.label}: seeds only with `{fmt_value(rep.baseline)}` "
                    f"(unpaired against `{fmt_value(cmp.value)}`): "
                    f"{_seeds(cmp.only_baseline)}"
                )
        for a in g.arms:
            if a.duplicates:
                lines.append(
                    f"- {g.label}, `{fmt_value(a.value)}`: seeds run more than once "
                    f"(their results averaged): {_seeds(a.duplicates)}"
                )
    if len(lines) == 1:
        lines.append("Every group ran the same seeds for every compared value.")
    return "\n".join(lines)


def _method(rep: Report) -> str:
    text = (
        f"Each non-baseline value is compared with the baseline by a {stats.METHOD}. "
        f"A difference is significant when p < {ALPHA}. Verdicts need at least 2 paired "
        f"seeds. mean ± std is over the seeds of one arm (std with n-1); the plots' bands "
        f"are each arm's 95% CI of the mean, not of the paired difference. "
        f'For `{rep.metric}` {_direction(rep.metric)}, so "helps" means '
        f"{'lower' if lower_is_better(rep.metric) else 'higher'}. summary.csv holds the "
        f"same numbers in raw metric units."
    )
    if rep.metric.endswith("_over_baseline"):
        text += (
            f" The metric is relative to a trivial predictor (1.0); a group where no arm's "
            f"mean is below {TRIVIAL_CUTOFF} is reported as inconclusive."
        )
    return text


CSV_STATS = [
    "metric",
    "n",
    "mean",
    "std",
    "params_total",
    "params_bias",
    "baseline",
    "n_paired",
    "diff",
    "ci_low",
    "ci_high",
    "p",
    "verdict",
    "seeds",
    "unpaired_seeds",
]


def _count(values: list[float]) -> int | float | str:
    """A parameter count for the CSV: the count when every run agrees, else their mean."""
    if not values:
        return ""
    mean = float(np.mean(values))
    return int(mean) if len(set(values)) == 1 and mean.is_integer() else mean


def write_csv(rep: Report, path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*rep.group_keys, rep.compare, *CSV_STATS])
        for g in rep.groups:
            by_value = {ident(cmp.value): cmp for cmp in g.comparisons}
            for a in g.arms:
                cmp = by_value.get(ident(a.value))
                t = cmp.test if cmp else None
                row = [fmt_value(v) for _, v in g.key] + [
                    fmt_value(a.value),
                    rep.metric,
                    a.n,
                    a.mean,
                    a.std,
                ]
                row += [
                    _count(a.params_total),
                    _count(a.params_bias),
                    fmt_value(rep.baseline),
                    cmp.n_pairs if cmp else "",
                ]
                row += [t.diff, t.ci_low, t.ci_high, t.p] if t else [""] * 4
                verdict_text = cmp.verdict if cmp else ("baseline" if not g.note else g.note)
                unpaired = _seeds(cmp.only_value) if cmp and cmp.only_value else ""
                writer.writerow(row + [verdict_text, _seeds(a.by_seed), unpaired])


def make_plots(rep: Report, out: Path) -> None:
    from biaslab import plots  # matplotlib is only needed when there is something to draw

    s = scale(rep.metric)
    unit = " (%)" if s == 100.0 else ""
    limits = (0.0, 100.0) if s == 100.0 else None  # an accuracy's band stops at 0 and 100 %
    if WIDTH not in rep.group_keys:
        if not rep.groups:
            rep.plot_note = "No plots: no usable runs."
            return
        arms: dict[str, dict[str, tuple[float, float]]] = {}
        for g in rep.groups:
            arms[g.label] = {}
            for a in g.arms:
                mean, half = stats.mean_ci(list(a.by_seed.values()))
                arms[g.label][f"{rep.compare}={fmt_value(a.value)}"] = (mean * s, half * s)
        rep.plots.append(
            plots.groups_figure(
                out / "groups.png",
                arms,
                title=f"{rep.metric} by {rep.compare}",
                ylabel=f"{rep.metric}{unit}, mean and 95% CI",
                limits=limits,
            )
        )
        return
    others = [k for k in rep.group_keys if k != WIDTH]
    figures: dict[str, dict[str, list[plots.Point]]] = defaultdict(lambda: defaultdict(list))
    for g in rep.groups:
        key = dict(g.key)
        if not isinstance(key[WIDTH], (int, float)):  # e.g. a run with explicit channels
            continue
        title = ", ".join(f"{k}={fmt_value(key[k])}" for k in others)
        for a in g.arms:
            mean, half = stats.mean_ci(list(a.by_seed.values()))
            params = float(np.mean(a.params_total)) if a.params_total else math.nan
            label = f"{rep.compare}={fmt_value(a.value)}"
            figures[title][label].append((float(key[WIDTH]), params, mean * s, half * s))
    for i, (title, lines) in enumerate(figures.items()):
        slug = re.sub(r"[^A-Za-z0-9.=-]+", "_", title)[:80]
        name = f"sweep_{i:02d}_{slug}.png" if title else "sweep.png"
        rep.plots.append(
            plots.sweep_figure(
                out / name,
                lines,
                title=title or f"{rep.metric} by {rep.compare}",
                ylabel=f"{rep.metric}{unit}, mean and 95% CI",
                limits=limits,
            )
        )


def print_table(rep: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{rep.metric}: each {rep.compare} vs {rep.compare}={fmt_value(rep.baseline)}"
    )
    for col in ("group", rep.compare, "n", "mean ± std", "verdict"):
        table.add_column(col)
    for g in rep.groups:
        verdicts = {ident(cmp.value): cmp.verdict for cmp in g.comparisons}
        for a in g.arms:
            text = verdicts.get(ident(a.value), "baseline" if not g.note else g.note)
            table.add_row(g.label, fmt_value(a.value), str(a.n), _mean_std(a, rep.metric), text)
    console = Console()
    if not console.is_terminal:  # a log or a pipe: rows whole instead of folded at 80 columns
        console.width = 200
    console.print(table)
    if rep.problems:
        console.print(f"{len(rep.problems)} run(s) not used: see the report's 'Runs not used'.")


def write_outputs(rep: Report, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    make_plots(rep, out)
    write_csv(rep, out / "summary.csv")
    path = out / "report.md"
    path.write_text(render_markdown(rep))
    return path


# ---------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m biaslab.report",
        description="Does the compared config value change the metric? A paired t-test over "
        "seeds for every group of the other swept keys.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="multirun folders, results.json files or glob patterns",
    )
    p.add_argument("--compare", default="model.bias", help="config key compared (model.bias)")
    p.add_argument("--metric", default="test/acc", help="metric to compare (test/acc)")
    p.add_argument(
        "--baseline",
        help="value the others are compared to (default: false for "
        "booleans, else the first value in sorted order)",
    )
    p.add_argument(
        "--out", help="output folder (default: the first PATH if it is a folder, else ./report)"
    )
    p.add_argument("--wandb", metavar="ENTITY/PROJECT", help="read runs from W&B instead")
    p.add_argument("--group", help="W&B group to read (with --wandb)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not args.paths and not args.wandb:
        parser.error("give at least one PATH or --wandb ENTITY/PROJECT")
    if args.group and not args.wandb:
        parser.error("--group needs --wandb")
    runs = load_files(args.paths) if args.paths else []
    if args.wandb:
        runs += load_wandb(args.wandb, args.group)
    if not runs:
        parser.error("no runs found in " + (" ".join(args.paths) or args.wandb))
    if args.out:
        out = Path(args.out)
    elif args.paths and Path(args.paths[0]).is_dir():
        out = Path(args.paths[0])
    else:
        out = Path("report")
    try:
        rep = build_report(
            runs,
            args.compare,
            args.metric,
            args.baseline,
            command=shlex.join(["python", "-m", "biaslab.report", *argv]),
        )
        rep.sweeps = sweep_commands(args.paths)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    path = write_outputs(rep, out)
    print_table(rep)
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
