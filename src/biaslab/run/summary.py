"""What a finished job prints: a lone run's key figures, or one row per packed member."""

from __future__ import annotations

from typing import Any


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a log or a pipe: keep paths whole instead of folding at 80
        console.width = 200
    return console


def _params(p: dict[str, int]) -> str:
    return (
        f"{p['params/total']:,} total, {p['params/bias']:,} in biases, "
        f"{p['params/norm']:,} in norms"
    )


NO_VALIDATION = "none (no validation ran)"


def _best_val(m: dict[str, Any], best: str = "val/acc_best") -> tuple[str, str]:
    """The best validation score and its step as printed; a job without a validation step
    records -inf at step -1 (or nothing), which reads as "none"."""
    step = m.get(best + "_step")
    if step is None or step < 0 or m.get(best) is None:
        return NO_VALIDATION, "—"
    return f"{m[best]:.4f}", str(step)


def print_run(result: dict[str, Any]) -> None:
    from rich.table import Table

    m, p = result["metrics"], result["params"]
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    # the task's main test metrics (accuracy, or MSE for regression) and any *_over_baseline
    if result["status"] != "completed":
        table.add_row("status", f"[bold red]{result['status']}[/]")
    shown = [k for k in ("test/acc", "test/mse") if k in m] or ["test/acc"]
    shown += sorted(k for k in m if k.startswith("test/") and k.endswith("_over_baseline"))
    for key in shown:
        table.add_row(key, f"{m.get(key, float('nan')):.4f}")
    best = next((k for k in m if k.startswith("val/") and k.endswith("_best")), "val/acc_best")
    value, step = _best_val(m, best)
    table.add_row(
        f"{best.removesuffix('_best')} (best)",
        value if value == NO_VALIDATION else f"{value}  at step {step}",
    )
    table.add_row("params", _params(p))
    table.add_row("wall time", f"{result['wall_s']:.1f} s ({m.get('steps')} steps)")
    table.add_row("results", result["results"])
    if result.get("run"):
        table.add_row("run", result["run"])
    _console().print(table)


def print_members(result: dict[str, Any]) -> None:
    """One row per member (seed, status, test/acc, best val/acc and its step), then the
    parameter counts of one member, the job's wall time and where the records are."""
    from rich.table import Table

    table = Table(box=None, padding=(0, 2))
    for col in ("seed", "status", "test/acc", "val/acc (best)", "at step"):
        table.add_column(col, no_wrap=True, justify="left" if col == "status" else "right")
    for m in result["members"]:
        x = m["metrics"]
        table.add_row(
            str(m["seed"]),
            m["status"],
            f"{x.get('test/acc', float('nan')):.4f}",
            *_best_val(x),
        )
    console = _console()
    console.print(table)
    steps = max((m["metrics"].get("steps", 0) for m in result["members"]), default=0)
    console.print(f"params per member  {_params(result['params'])}")
    console.print(
        f"wall time          {result['wall_s']:.1f} s for {len(result['members'])} "
        f"members ({steps} steps each)"
    )
    console.print(f"results            {result['results']}")


def print_summary(result: dict[str, Any]) -> None:
    (print_members if "members" in result else print_run)(result)
