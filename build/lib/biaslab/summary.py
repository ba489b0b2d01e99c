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
    step = m.get(best + "_step", -1)
    table.add_row(
        f"{best.removesuffix('_best')} (best)",
        f"{m[best]:.4f}  at step {step}" if step >= 0 else "none (no validation ran)",
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
            f"{x.get('val/acc_best', float('nan')):.4f}",
            str(x.get("val/acc_best_step")),
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
