"""The report's explanatory sections: the tuned selection, the batch-norm identity, how seeds
were paired, and the method."""

from __future__ import annotations

from biaslab.report import learned, stats
from biaslab.report.build import Report
from biaslab.report.compare import MIN_PAIRS
from biaslab.report.markdown import direction, md_table, n_tests, seeds
from biaslab.report.select import TIE_RULE
from biaslab.report.values import fmt_num, fmt_value, ident, lower_is_better, sort_key
from biaslab.report.verdict import ALPHA


def selection(rep: Report) -> list[str]:
    """The grid of the tuned key and the value chosen for each arm of each group."""
    if not rep.select:
        return []
    key, by = rep.select, rep.by
    out = [
        "## Tuned selection",
        "",
        f"For each group and each arm (`{rep.compare}` value), every value of `{key}` was "
        f"scored by the mean of `{by}` over its runs that did not fail "
        f"({direction(by).split(';')[0]}); the "
        f"arm is compared at its chosen value, paired by seed. Rule: {TIE_RULE}. The test "
        f"metric `{rep.metric}` is never read for the choice.",
        "",
        "The choice and the comparison use the same seeds: a seed that trains well at a value "
        "scores well on validation and on test alike, so an arm's test mean at its chosen "
        "value is biased in its favour by the choice, the more so where its grid's validation "
        f"means lie close together. *Arms at the same `{key}`* below compares the arms free of the "
        f"choice. `{by}` is read as the run recorded it"
        + (
            " (the best validation score during training), while the test score is read "
            "at the end of training"
            if by.endswith("_best")
            else ""
        )
        + ".",
        "",
    ]
    grid = sorted(
        {ident(c.value): c.value for s in rep.selections for c in s.candidates}.values(),
        key=sort_key,
    )
    out.append(f"Grid of `{key}`: " + ", ".join(f"`{fmt_value(v)}`" for v in grid))
    out.append("")
    rows = []
    for s in rep.selections:
        cells = [
            f"{fmt_value(c.value)}: {fmt_num(c.mean, by)} (n={c.n}"
            + (f", {c.failed} failed" if c.failed else "")
            + ")"
            for c in s.candidates
        ]
        rows.append(
            [s.group_label, fmt_value(s.arm), "; ".join(cells), f"**{fmt_value(s.chosen)}**"]
        )
    out += md_table(["group", rep.compare, f"mean {by} per {key}", f"chosen {key}"], rows)
    edge = [
        f"{s.group_label}, `{fmt_value(s.arm)}`: {fmt_value(s.chosen)}"
        for s in rep.selections
        if s.at_edge
    ]
    if edge:
        out += ["", edge_warning(key, edge, len(rep.selections))]
    return [*out, ""]


def edge_warning(key: str, edge: list[str], arms: int) -> str:
    """The warning for the arms (``edge``: "group, `arm`: value") tuned to an end of their
    grid, out of ``arms``: a sweep report's and a study report's."""
    return (
        f"⚠ Chosen at an end of the grid in {len(edge)} of {arms} arms: the best `{key}` may "
        "lie outside it, so those arms may not be at their best; a wider grid would tell. "
        + "; ".join(edge)
    )


def batch_norm_note(rep: Report) -> list[str]:
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
        "throughput a bias add costs.",
        "",
    ]


def seeds_note(rep: Report) -> str:
    lines = [
        "Runs are paired by seed: a seed run with one value only counts in that value's "
        "mean ± std but not in the paired difference."
    ]
    for g in rep.groups:
        for cmp in g.comparisons:
            if cmp.only_value:
                lines.append(
                    f"- {g.label}: seeds only with `{fmt_value(cmp.value)}`: "
                    f"{seeds(cmp.only_value)}"
                )
            if cmp.only_baseline:
                lines.append(
                    f"- {g.label}: seeds only with `{fmt_value(rep.baseline)}` "
                    f"(unpaired against `{fmt_value(cmp.value)}`): "
                    f"{seeds(cmp.only_baseline)}"
                )
        for a in g.arms:
            if a.duplicates:
                lines.append(
                    f"- {g.label}, `{fmt_value(a.value)}`: seeds run more than once "
                    f"(pooled with --pool, their results averaged): {seeds(a.duplicates)}"
                )
    if len(lines) == 1:
        lines.append("Every group ran the same seeds for every compared value.")
    return "\n".join(lines)


def method(rep: Report) -> str:
    m = rep.metric
    better = "lower" if lower_is_better(m) else "higher"
    chance = (
        ", ".join(f"{k} classes ({n} runs)" for k, n in sorted(rep.classes.items()))
        or "unknown (no run's data module declares num_classes; give --classes)"
    )
    text = (
        f"Each non-baseline value is compared with the baseline by a {stats.METHOD}, over the "
        f"pairs where both runs learned. A run did not learn when its `*_over_baseline` metric "
        f"is ≥ {learned.TRIVIAL_CUTOFF} (no better than the trivial predictor), or, for "
        f"classification, when `{learned.ACC_METRIC}` is within "
        f"{learned.CHANCE_MARGIN * 100:g} pts of chance (1/classes) or the final "
        f"`{learned.TRAIN_LOSS}` is within {learned.LOSS_TOLERANCE:.0%} of ln(classes); "
        f"classes: {chance}. With fewer than {MIN_PAIRS} usable pairs the verdict is "
        f'"inconclusive". Holm\'s correction runs over the family of every test in this report '
        f"({rep.family_size}: each paired t-test with at least {MIN_PAIRS} usable pairs"
        + (", and each exact paired solve test" if m.endswith("_over_baseline") else "")
        + "; identical runs are not tested and not in the family, and a value whose runs are "
        "another compared value's, bit for bit (`auto` and `true` without a norm), shares that "
        "value's test instead of adding a second one); verdicts use the adjusted "
        f'p. "helps"/"hurts": adjusted p < {ALPHA}. "equivalent within ±δ": two one-sided '
        "tests (TOST) that the mean paired difference lies inside ±δ (unadjusted, the same as "
        "its 90 % t interval lying inside), with Holm's correction over the "
        f"{n_tests(rep.eq_family_size, 'equivalence')} of the family's t-tests as a separate "
        "family; "
        f'the verdict uses the adjusted p < {ALPHA}. Otherwise "inconclusive", with the seeds '
        "the TOST would need for 80 % power at Holm's first-step level "
        f"({ALPHA} / {max(rep.eq_family_size, 1)}) if the true difference were the observed "
        "mean d and the paired SD the observed s (noncentral t; none when |d| ≥ δ, where no "
        "number of seeds would show it). Beside the "
        "t-test: the Wilcoxon signed-rank test and a BCa bootstrap 95 % CI of the mean "
        f"difference (scipy.stats.bootstrap, {stats.BOOTSTRAP_RESAMPLES} resamples, seed "
        f"{stats.BOOTSTRAP_SEED}); where either disagrees with the t-test on whether the "
        "difference is 0 the report says so (with 5 pairs a BCa interval tends to be too "
        "narrow, so a bootstrap that excludes 0 alone is weak evidence). Identical runs: every "
        "metric of every paired "
        "seed's runs bit-identical and the same params/total. mean ± std is over the seeds of "
        f'one arm (std with n-1). For `{m}` {direction(m)}, so "helps" means {better}. '
        "summary.csv holds the same numbers in raw metric units."
    )
    if m.endswith("_over_baseline"):
        text += (
            f" The metric is relative to a trivial predictor (1.0). Outcomes are bimodal "
            f"(solved or not), so each arm's solve rate (below {learned.TRIVIAL_CUTOFF}) is "
            "given with an exact Clopper-Pearson CI and compared by an exact McNemar test "
            "(a sign test on the discordant pairs); a significant solve test can give the "
            "verdict when the difference test cannot. Learning speed: regression runs record "
            "`val/steps_to_0.1` (the first validation step with MSE/baseline < 0.1; null when "
            "never reached); compare it with `--metric val/steps_to_0.1` (runs that never "
            "reached the threshold are listed as not used)."
        )
    if "steps_to" in m:
        text += (
            f" `{m}` is the first validation step at which the run reached the threshold; a "
            "run that never reached it records null and is listed under *Runs not used*, so "
            "this comparison is conditional on reaching it: read it beside the solve rates of "
            "a `*_over_baseline` report."
        )
    return text
