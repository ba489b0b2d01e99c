"""Does the compared setting (``model.bias`` by default) change a metric? The report says.

``python -m biaslab.report multirun/2024-06-01/12-00-00`` reads every results.json under the
given paths (or W&B runs with ``--wandb``), groups runs by the other config keys that were
swept, tests each compared value against the baseline with a paired t-test over seeds, and
writes report.md, summary.csv and plots to ``--out``.

One module per job: ``load`` (runs in), ``values`` (formatting and order), ``stats`` (the
tests), ``verdict`` (their words), ``analysis`` (groups, arms, comparisons), ``provenance``,
``render`` (markdown, CSV, console), ``plots`` and ``cli``.
"""

from biaslab.report import stats, wandb_log
from biaslab.report.analysis import Arm, Group
from biaslab.report.build import Report, ReportOptions, build_report
from biaslab.report.cli import build_parser, main, write_outputs
from biaslab.report.compare import Comparison
from biaslab.report.load import Run, from_record, load_files, load_wandb, sweep_commands
from biaslab.report.provenance import provenance
from biaslab.report.render import render_markdown
from biaslab.report.tables import CSV_STATS, print_table, write_csv

__all__ = [
    "CSV_STATS",
    "stats",
    "wandb_log",
    "Arm",
    "Comparison",
    "Group",
    "Report",
    "Run",
    "build_parser",
    "build_report",
    "ReportOptions",
    "from_record",
    "load_files",
    "load_wandb",
    "main",
    "print_table",
    "provenance",
    "render_markdown",
    "sweep_commands",
    "write_csv",
    "write_outputs",
]
