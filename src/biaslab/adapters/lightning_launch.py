"""Whether a Lightning strategy would start its other ranks by running ``sys.argv`` again.

``_SubprocessScriptLauncher`` is the launcher that does (lightning 2.2-2.6: ``ddp`` on one node
started from a plain command line); it has no public name. :mod:`biaslab.run.distributed` starts
those ranks itself instead, so that Hydra's command line is never re-run.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher


def relaunches_script(strategy: Any) -> bool:
    """The strategy would start its ranks as new processes running the script again."""
    return isinstance(getattr(strategy, "launcher", None), _SubprocessScriptLauncher) and not (
        strategy.cluster_environment.creates_processes_externally
    )
