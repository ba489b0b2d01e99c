"""Several devices in one job, started without re-running the command line.

Lightning's ``ddp`` strategy starts ranks 1..N-1 by running ``sys.argv`` again. Under Hydra that
re-runs the user's command: with ``-m`` every child starts the whole sweep, and the environment
it sets (``LOCAL_RANK``, ...) stays in the process for the next job of a multirun.
``ddp_spawn`` avoids that but fits in child processes and sends back only the logged metrics
and the weights: the main process keeps a trainer with step 0 and no optimizer state, which
results.json and the end-of-run checkpoint are made from.

So where Lightning would start the ranks itself, :func:`spawn` starts them instead, with
multiprocessing, each with the already composed config. Lightning then finds its processes
started from outside (as under torchrun or SLURM's srun) and launches nothing. Every rank runs
the whole of :func:`biaslab.run.train.train`; only global rank 0 writes results.json and logs to
W&B, and its result comes back to the main process (for the summary and a sweeper).

The ranks die with the main process: on Linux the kernel kills a rank when its parent dies
(``PR_SET_PDEATHSIG``), and a rank that finds its parent gone writes nothing, so no record is
written as completed after the run was stopped. A signal that stops the main process
(:mod:`biaslab.resume.signals`) is passed on to the ranks, which stop together at the end of a step
and save the checkpoint there, as a one-device run does; rank 0 records the step. Ranks that
have not stopped after :data:`GRACE_S` seconds (or at a second signal) are killed, and the run
is recorded as interrupted without a step. The ranks run in a process group of their own, so
a terminal's Ctrl+C reaches them once, through the main process.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch.distributed
import torch.multiprocessing as mp
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.utils import instantiate
from lightning.fabric.plugins.environments.lightning import find_free_network_port
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from biaslab.adapters.lightning_launch import relaunches_script
from biaslab.records.results import FILENAME, read_results
from biaslab.resume.signals import Interrupted, StopOnSignal, handled
from biaslab.run.record import RunRecord, job_overrides

log = logging.getLogger(__name__)

# where a process launched by torchrun, srun, mpirun or :func:`spawn` finds its rank
_RANK_VARS = ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "LOCAL_RANK")
PARENT_VAR = "BIASLAB_PARENT_PID"  # set in the ranks :func:`spawn` starts
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# how long the ranks may take to reach a step's end and save after a signal
GRACE_S = 60.0


def parent_gone() -> bool:
    """Whether this is a rank started by :func:`spawn` whose main process has exited."""
    parent = os.environ.get(PARENT_VAR, "")
    return parent.isdigit() and os.getppid() != int(parent)


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux); elsewhere
    :func:`parent_gone` is what keeps an orphaned rank from writing."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_gone():  # the parent died before the line above took effect
        os._exit(1)


def global_rank() -> int:
    """This process's rank among all processes of the job (0 when there is only one)."""
    for var in _RANK_VARS:
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


# A config the trainer can't be built from (bad value, unknown class, missing interpolation):
# train() records that error itself, so the probe only has to know not to spawn for it.
BUILD_ERRORS = (
    ValueError,
    TypeError,
    HydraException,
    OmegaConfBaseException,
    MisconfigurationException,
)


def ranks_to_spawn(cfg: DictConfig) -> int:
    """How many processes :func:`spawn` should start for ``cfg`` (a validated config): the
    trainer's device count where Lightning would re-launch the script for the other ranks,
    else 0 (one device, ranks already started by a cluster or torchrun, ``ddp_spawn``, several
    nodes, or a trainer that does not build: :func:`biaslab.run.train.train` records that error)."""
    trainer_cfg = cfg.get("trainer")
    if trainer_cfg is None or (
        str(trainer_cfg.get("devices", 1)) == "1" and str(trainer_cfg.get("num_nodes", 1)) == "1"
    ):
        return 0
    rank = rank_zero_only.rank  # a Trainer sets this process-wide; the probe must not
    try:
        OmegaConf.to_container(cfg, resolve=True)  # spawn() hands the ranks resolved values
        # the connector makes the same choice Lightning will make (devices=auto/-1, strategy)
        probe = instantiate(trainer_cfg, logger=False, callbacks=[], enable_checkpointing=False)
    except BUILD_ERRORS as e:
        log.debug("not spawning ranks for a config that does not build (%s)", e)
        return 0
    finally:
        rank_zero_only.rank = rank
    if relaunches_script(probe.strategy) and probe.num_nodes == 1 and probe.world_size > 1:
        return probe.world_size
    return 0


def _resolved(cfg: DictConfig) -> DictConfig:
    # ${now:...} and ${hydra:...} must mean in every rank what they mean here
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    OmegaConf.set_struct(out, True)
    return out


def _hydra_node() -> DictConfig:
    node = HydraConfig.get()  # resolved here, beside the job config it may refer to
    out: dict[str, Any] = {}
    for key in node:
        try:
            value = node[key]
            out[key] = (
                OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            )
        except Exception:  # e.g. a log file in a composed config that has no output dir
            pass
    return OmegaConf.create({"hydra": out})


def spawn(fn: Callable[[DictConfig], dict[str, Any]], cfg: DictConfig, nprocs: int) -> Any:
    """Run ``fn(cfg)`` in ``nprocs`` new processes, one per device, and return rank 0's result.

    If a rank fails the others are stopped and the error is raised here; when rank 0 could not
    record it, a ``failed`` results.json is written here.
    """
    started = time.time()
    cfg = _resolved(cfg)
    hydra_cfg = _hydra_node() if HydraConfig.initialized() else None
    queue = mp.get_context("spawn").SimpleQueue()
    args = (fn, cfg, hydra_cfg, nprocs, find_free_network_port(), queue)
    # A joblib (loky) worker's start method is "loky", and a spawned child is told to set the
    # start method of its parent, which only loky knows: the child would die before starting.
    start_method = multiprocessing.get_start_method(allow_none=True)
    if start_method not in (None, *multiprocessing.get_all_start_methods()):
        multiprocessing.set_start_method("spawn", force=True)
    os.environ[PARENT_VAR] = str(os.getpid())  # inherited by the ranks (spawn copies it)
    context = None
    stop = StopOnSignal(lambda trainer: None)  # here, outside any trainer: stops at once
    try:
        with handled(stop):
            context = mp.start_processes(
                _worker, args=args, nprocs=nprocs, start_method="spawn", join=False
            )
            while not context.join():
                pass
    except BaseException as e:
        if isinstance(e, Interrupted) and context is not None:
            _pass_on(context, e.signum)
        _kill(context)
        out = Path(cfg.paths.output_dir)
        written = out / FILENAME
        if not written.exists() or written.stat().st_mtime < started:
            record = RunRecord(cfg, job_overrides())
            if isinstance(e, Interrupted):
                record.interrupt(e.record())  # the ranks' step is not known here
            else:
                record.fail(e)
            record.write(out, {"total_s": time.time() - started})
        elif isinstance(e, Interrupted):  # rank 0 recorded where the ranks stopped
            stopped = read_results(written).get("interrupted") or {}
            raise Interrupted(e.signum, stopped.get("step"), stopped.get("checkpoint")) from None
        raise
    finally:
        os.environ.pop(PARENT_VAR, None)
        if multiprocessing.get_start_method(allow_none=True) != start_method:
            multiprocessing.set_start_method(start_method, force=True)
    result = queue.get()
    result["wall_s"] = time.time() - started  # with the ranks' start-up, as the user waited
    return result


def _pass_on(context, signum: int) -> None:
    """Send the ranks ``signum`` and wait, up to :data:`GRACE_S` seconds or a second signal,
    for them to stop at a step's end (:class:`biaslab.resume.signals.StopOnSignal` in each rank)."""
    for p in context.processes:
        if p.is_alive():
            os.kill(p.pid, signum)
    deadline = time.monotonic() + GRACE_S
    try:
        with handled(StopOnSignal(lambda trainer: None)):  # a second signal: stop waiting
            while any(p.is_alive() for p in context.processes) and time.monotonic() < deadline:
                time.sleep(0.05)
    except Interrupted:
        pass


def _kill(context) -> None:
    """Stop every rank still running, and wait for it (a rank left running would finish and
    write its record after the run was stopped)."""
    for p in getattr(context, "processes", []):
        if p.is_alive():
            p.kill()
        p.join()


def _worker(rank, fn, cfg, hydra_cfg, nprocs, port, queue) -> None:
    die_with_parent()
    # what torchrun would set: Lightning's environment reads these and starts no processes
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(nprocs),
        NODE_RANK="0",
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(nprocs),
    )
    os.setpgid(0, 0)  # a terminal's Ctrl+C goes to the main process, which passes it on
    rank_zero_only.rank = rank  # Lightning read the rank when it was imported, before these
    if hydra_cfg is not None:
        # the job's overrides and names (W&B run name, results.json), and rank 0's log lines
        # in the job's log file, as in a one-device run
        from hydra.core.utils import configure_log

        HydraConfig.instance().cfg = hydra_cfg
        if rank == 0 and "job_logging" in hydra_cfg.hydra:
            configure_log(hydra_cfg.hydra.job_logging, hydra_cfg.hydra.get("verbose", False))
    try:
        result = fn(cfg)
    except Interrupted as e:  # recorded by rank 0: exit as a stopped one-device run would
        _leave_group()
        raise SystemExit(e.exit_code) from None
    if rank == 0:
        queue.put(result)
    _leave_group()


def _leave_group() -> None:
    # Gloo's worker threads must stop before the interpreter does: a rank that exits with its
    # process group alive can abort ("terminate called without an active exception").
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
