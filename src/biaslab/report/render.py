"""The report as markdown."""

from __future__ import annotations

import math

from biaslab.report import interaction, learned, same_value, stats
from biaslab.report.build import Report
from biaslab.report.compare import Comparison
from biaslab.report.markdown import counts, direction, md_table, mean_std, n_tests, seeds
from biaslab.report.notes import batch_norm_note, method, seeds_note, selection
from biaslab.report.values import (
    fmt_num,
    fmt_p,
    fmt_value,
    ident,
)
from biaslab.report.verdict import ALPHA, fmt_did_not_learn, fmt_holm, fmt_margin, fmt_test


def _pct(ci: tuple[float, float]) -> str:
    return f"[{ci[0] * 100:.0f}, {ci[1] * 100:.0f} %]"


def _details(cmp: Comparison, metric: str, base: str) -> list[str]:
    """The lines under one comparison: what was excluded and every test beside the verdict."""
    out = [
        f"- `{fmt_value(cmp.value)}` − `{base}`, paired over {cmp.n_pairs} seeds "
        f"({len(cmp.usable)} usable): {cmp.verdict}"
    ]
    for seed, why in cmp.not_learned:
        out.append(f"  - seed {seed} did not learn, pair excluded: {why}")
    if cmp.all_pairs is not None:
        out.append(
            f"  - every paired seed kept (those that did not learn too): paired t "
            f"{fmt_test(cmp.all_pairs, metric)}; {fmt_did_not_learn(cmp)}"
        )
    if cmp.test is not None:
        t = f"paired t: {fmt_test(cmp.test, metric, cmp.p_holm)}"
        lo, hi = cmp.bootstrap
        out.append(
            f"  - {t}; Wilcoxon signed-rank {fmt_p(cmp.wilcoxon_p)}"
            + (
                f" (the smallest possible with {len(cmp.usable)} pairs is "
                f"{stats.wilcoxon_floor(len(cmp.usable)):.2g}"
                ")"
                if stats.wilcoxon_floor(len(cmp.usable)) >= ALPHA
                else ""
            )
            + f"; BCa bootstrap 95 % CI [{fmt_num(lo, metric)}, {fmt_num(hi, metric)}]"
        )
        eq = cmp.equivalence
        if eq is not None:
            need = (
                f"; {cmp.seeds_needed} seeds for 80 % power at the observed difference"
                if cmp.seeds_needed and cmp.kind == "inconclusive"
                else ""
            )
            out.append(
                f"  - TOST within {fmt_margin(eq.margin, metric)}: 90 % CI "
                f"[{fmt_num(eq.ci_low, metric)}, {fmt_num(eq.ci_high, metric)}], {fmt_p(eq.p)}"
                f"{fmt_holm(eq.p_holm)}; "
                f"paired SD {fmt_num(cmp.sd, metric)}{need}"
            )
    if cmp.solve is not None:
        s = cmp.solve
        out.append(
            f"  - solved (below {learned.TRIVIAL_CUTOFF}): `{fmt_value(cmp.value)}` "
            f"{s.solved}/{s.n} {_pct(s.ci)}, `{base}` {s.solved_base}/{s.n} {_pct(s.ci_base)} "
            f"(Clopper-Pearson 95 %); exact paired test on {s.only_value + s.only_base} "
            f"discordant pairs ({s.only_value} vs {s.only_base}): {fmt_p(s.p)}"
            + ("" if math.isnan(s.p_holm) else f" (Holm {fmt_p(s.p_holm)})")
        )
    out += [f"  - ⚠ {f}" for f in cmp.flags]
    return out


def render_markdown(rep: Report) -> str:
    out = _header(rep)
    out += ["", "## Verdicts", ""]
    out += _verdicts(rep)
    out += interaction.render(rep.interaction_key, rep.interactions, rep.interactions_skipped)
    out += ["## Results by group", ""]
    out += _results_by_group(rep)
    out += selection(rep)
    if rep.select:
        out += same_value.render(rep.at_same_value, rep.select, rep.metric)
    out += batch_norm_note(rep)
    out += ["## Runs not used", ""]
    out += _runs_not_used(rep)
    out += ["", "## Seeds", "", seeds_note(rep), ""]
    out += ["## Sources", "", *(rep.sources or ["No runs."]), ""]
    out += ["## Method", "", method(rep), ""]
    if rep.sweeps or rep.provenance:
        out += ["## Provenance", ""]
        out += [f"- Runs launched by: `{cmd}`" for cmd in rep.sweeps]
        out += [*rep.provenance, ""]
    out += ["## Plots", ""]
    out += [f"![{p.stem}]({p.name})" for p in rep.plots] or [rep.plot_note]
    return "\n".join(out) + "\n"


def _header(rep: Report) -> list[str]:
    """The title, the command and what the report compares, how and over which family."""
    c, m, base = rep.compare, rep.metric, fmt_value(rep.baseline)
    n_used = rep.n_runs - len(rep.problems)
    margin = fmt_margin(rep.margin, m) if rep.margin is not None else "none (give --margin)"
    out = [
        f"# Does `{c}` change `{m}`?",
        "",
        f"Command: `{rep.command}`",
        "",
        f"- Runs: {rep.n_runs} found, {n_used} used, {len(rep.problems)} not used "
        f"(see *Runs not used*); {rep.not_learned} of the used runs did not learn",
        f"- Compared: `{c}`, baseline `{base}`",
        f"- Metric: `{m}` ({direction(m)})",
        f"- Equivalence margin δ: {margin}",
        f"- Family for Holm's correction: {n_tests(rep.family_size)}"
        + (
            f", and the {n_tests(rep.eq_family_size, 'equivalence')} as a separate family"
            if rep.eq_family_size
            else ""
        )
        + " (see *Method*)",
        "- Grouped by: "
        + (
            ", ".join(f"`{k}`" for k in rep.group_keys) or "nothing (no other config key was swept)"
        ),
    ]
    if rep.select:
        out.append(
            f"- Tuned: each arm at its own best `{rep.select}` by mean `{rep.by}` "
            f"({direction(rep.by).split(';')[0]}), per group; see *Tuned selection*"
        )
    return out


def _verdicts(rep: Report) -> list[str]:
    """One line per comparison: its arms (at their tuned values) and its verdict."""
    c, m, base = rep.compare, rep.metric, fmt_value(rep.baseline)
    out: list[str] = []
    chosen = {(s.group_label, ident(s.arm)): s.chosen for s in rep.selections}

    def at(g, value) -> str:  # the arm's tuned value, when there is one
        if not rep.select:
            return ""
        return f" at `{rep.select}={fmt_value(chosen.get((g.label, ident(value))))}`"

    for g in rep.groups:
        for cmp in g.comparisons:
            out.append(
                f"- **{g.label}** — `{c}={fmt_value(cmp.value)}`{at(g, cmp.value)} vs "
                f"`{base}`{at(g, rep.baseline)}: {cmp.verdict}"
            )
            out += [f"  - ⚠ {f}" for f in cmp.flags]
        if g.note:
            out.append(f"- **{g.label}** — {g.note}")
    if not rep.groups:
        out.append(f"No usable runs: none completed with a finite `{m}`.")
    out.append("")
    return out


def _results_by_group(rep: Report) -> list[str]:
    """Each group's arms in a table, then each comparison's details."""
    c, m, base = rep.compare, rep.metric, fmt_value(rep.baseline)
    out: list[str] = []
    for g in rep.groups:
        out += [f"### {g.label}", ""]
        out += md_table(
            [c, "n", f"{m} mean ± std", "seeds", "params/total", "params/bias"],
            [
                [
                    fmt_value(a.value),
                    a.n,
                    mean_std(a, m),
                    seeds(a.by_seed),
                    counts(a.params_total),
                    counts(a.params_bias),
                ]
                for a in g.arms
            ],
        )
        out.append("")
        for cmp in g.comparisons:
            out += _details(cmp, m, base)
        out.append("")
    return out


def _runs_not_used(rep: Report) -> list[str]:
    m = rep.metric
    out: list[str] = []
    if rep.problems:
        out.append("Failed, diverged or incomplete runs, excluded from every statistic above:")
        out.append("")
        out += md_table(
            ["run", "status", "error"], [[s, st, (why or "")[:300]] for s, st, why in rep.problems]
        )
    else:
        out.append(f"None: every run completed with a finite `{m}`.")
    return out
