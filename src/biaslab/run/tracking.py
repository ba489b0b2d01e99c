"""Experiment loggers: build the one the config names, and close it after each job.

A Hydra multirun runs every job in one process; a W&B run left open would swallow the next
job's logs (wandb#1314), so :func:`finish` ends it after every job, whatever happened.

W&B never stops or stalls training: in online mode the server is probed first (a TCP connect,
:data:`PROBE_TIMEOUT_S`, or ``BIASLAB_WANDB_TIMEOUT`` seconds) and ``wandb.init`` is given
:data:`INIT_TIMEOUT_S`; if either fails the run is logged offline, with one warning that says
how to upload it later (``wandb sync``). Secrets (API keys, tokens) never reach the W&B config.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from biaslab.adapters.wandb_run import forget_run, started_run, without_anonymous
from biaslab.config.hydra_job import job_name
from biaslab.records.secrets import SECRET_KEY as _SECRET_KEY

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.wandb.ai"  # used only if wandb cannot tell its own default
PROBE_TIMEOUT_S = 3.0  # TCP connect to the W&B server (or proxy); env BIASLAB_WANDB_TIMEOUT
INIT_TIMEOUT_S = 30.0  # wandb.init's own limit (wandb's default is 90 s), unless settings say
OFFLINE_MODES = ("offline", "dryrun", "disabled")
REDACTED = "<redacted>"


def _secret(key: Any, value: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key)) and bool(value)


def secrets_in(value: Any) -> tuple[str, ...]:
    """The secret strings to hide: the environment's ``WANDB_API_KEY`` and every value under a
    key that names a secret (``api_key``, ``token``, ``password``, ...) within ``value``."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, item in v.items():
                if _secret(k, item) and isinstance(item, str):
                    found.append(item)
                walk(item)
        elif isinstance(v, (list, tuple)):
            for item in v:
                walk(item)

    walk(value)
    found.append(os.environ.get("WANDB_API_KEY", ""))
    return tuple(sorted({s for s in found if len(s) >= 8}, key=len, reverse=True))


def redact(value: Any, secrets: tuple[str, ...] | None = None) -> Any:
    """``value`` (plain dicts, lists, strings) with secrets replaced by ``<redacted>``: every
    entry whose key names a secret and every occurrence of a :func:`secrets_in` string (by
    default those of ``value`` itself), e.g. a key interpolated into another field."""
    if secrets is None:
        secrets = secrets_in(value)
    if isinstance(value, dict):
        return {k: REDACTED if _secret(k, v) else redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, secrets) for v in value)
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, REDACTED)
    return value


def _probe_timeout() -> float:
    try:
        return float(os.environ.get("BIASLAB_WANDB_TIMEOUT", PROBE_TIMEOUT_S))
    except ValueError:
        return PROBE_TIMEOUT_S


def wandb_base_url(settings: dict[str, Any]) -> str:
    """The server W&B would talk to: the logger's settings, else ``WANDB_BASE_URL``, else
    wandb's configured (settings file) or built-in default."""
    url = settings.get("base_url") or os.environ.get("WANDB_BASE_URL")
    if not url:
        try:
            from wandb.sdk import wandb_setup

            url = wandb_setup.singleton().settings.base_url
        except Exception as e:  # wandb's settings file may be unreadable: use its default
            log.debug("wandb's configured base_url is unknown (%s): using %s", e, DEFAULT_BASE_URL)
            url = DEFAULT_BASE_URL
    return str(url).rstrip("/")


def _public(url: str) -> str:
    """``url`` without any ``user:password@`` part, fit for a log line."""
    parts = urlsplit(url)
    if parts.hostname and (parts.username or parts.password):
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


def _loopback(host: str) -> bool:
    """Never proxied, by wandb's HTTP client (Go) as by most others."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe(url: str, timeout: float) -> str | None:
    """None if a TCP connection to ``url``'s host (or to the proxy the environment names for
    it) opens within ``timeout`` seconds, name lookup included; else why not."""
    parts = urlsplit(url)
    scheme = parts.scheme or "https"
    try:
        host, port = parts.hostname, parts.port or (443 if scheme == "https" else 80)
        proxy = urllib.request.getproxies().get(scheme)
        if host and proxy and not _loopback(host) and not urllib.request.proxy_bypass(host):
            p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            host, port = p.hostname, p.port or (443 if p.scheme == "https" else 80)
    except (ValueError, OSError) as e:
        return f"bad URL: {e}"
    if not host:
        return "bad URL: no host"
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as e:
            outcome.append(f"{host}:{port}: {e.strerror or e}")

    # a thread, because a hanging DNS lookup ignores the socket timeout
    thread = threading.Thread(target=connect, name="biaslab-wandb-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return outcome[0] if outcome else f"{host}:{port}: no answer within {timeout:g} s"


def reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url`` (see :func:`probe`) opens within ``timeout``."""
    return probe(url, timeout) is None


def _wandb_logger(cfg: DictConfig, extra: dict[str, Any], secrets: tuple[str, ...]) -> Logger:
    """A WandbLogger with its run started (``wandb.init``), offline if W&B can't be reached."""
    node = cfg.logger.get("settings")
    settings = dict(OmegaConf.to_container(node, resolve=True) if node is not None else {})
    settings.setdefault("init_timeout", INIT_TIMEOUT_S)
    mode = cfg.logger.get("mode") or os.environ.get("WANDB_MODE") or "online"
    if mode in OFFLINE_MODES:
        return without_anonymous(instantiate(cfg.logger, **extra, settings=settings))

    url = wandb_base_url(settings)
    # wandb ignores WANDB_* changes made after its first use in a process: say it explicitly
    settings["base_url"] = url
    reason = probe(url, _probe_timeout())
    if reason is None:
        logger = without_anonymous(instantiate(cfg.logger, **extra, settings=settings))
        try:
            logger.experiment  # noqa: B018 - wandb.init: login, then create the run
            return logger
        except Exception as e:  # CommError, AuthenticationError, UsageError (no key), ...
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip()
            _abandon(logger)
    offline_dir = Path(cfg.logger.save_dir) / "wandb"
    log.warning(
        "W&B is unreachable at %s (%s), falling back to offline; "
        "upload the run later with `wandb sync %s`",
        _public(url),
        redact(reason, secrets),
        offline_dir / "offline-run-*",
    )
    settings.pop("base_url")
    offline = instantiate(cfg.logger, **{**extra, "mode": "offline"}, settings=settings)
    return without_anonymous(offline)


def _abandon(logger: Logger) -> None:
    """Forget a run whose ``wandb.init`` failed, so the offline run starts clean."""
    forget_run(logger)
    import wandb

    if wandb.run is not None:
        try:
            wandb.run.finish(exit_code=1)
        except Exception as e:  # a run that never started may not close cleanly either
            log.debug("closing the failed W&B run: %s", e)


def make_logger(cfg: DictConfig, concurrent: bool = False) -> Logger | None:
    """The logger of ``cfg.logger`` (None for ``logger=none``), with W&B's run name defaulting
    to the job's overrides and the full resolved config (secrets redacted) attached.
    ``concurrent``: the W&B runs already open in this process stay open (the members of a
    seed-parallel job log side by side, each to its own run)."""
    if "_target_" not in cfg.logger:
        return None
    Path(cfg.logger.save_dir).mkdir(parents=True, exist_ok=True)
    config = OmegaConf.to_container(cfg, resolve=True)
    secrets = secrets_in(config)
    if cfg.logger._target_.endswith("WandbLogger"):
        extra: dict[str, Any] = {}
        if cfg.logger.get("name") is None:
            extra["name"] = redact(job_name(), secrets)  # the overrides may hold a key
        # A run started while another is open would be merged into it: start fresh.
        extra["reinit"] = "create_new" if concurrent else "finish_previous"
        logger = _wandb_logger(cfg, extra, secrets)
    else:
        logger = instantiate(cfg.logger)
    logger.log_hyperparams(redact(config, secrets))
    return logger


def run_location(logger: Logger | None) -> str | None:
    """Where the logger keeps this run: the W&B run folder or the CSV log folder."""
    if logger is None:
        return None
    if hasattr(logger.experiment, "dir") and hasattr(logger.experiment, "settings"):
        return str(Path(logger.experiment.dir).parent)  # .../wandb/offline-run-*/files → run
    return logger.log_dir


def finish(logger: Logger | None, summary: dict[str, Any], status: str) -> None:
    """Write the final summary and close the run (W&B: ``run.finish``), so the next job of a
    multirun gets a run of its own."""
    if logger is None:
        return
    experiment = started_run(logger)
    if experiment is not None and hasattr(experiment, "summary"):
        experiment.summary.update(summary)
        experiment.finish(exit_code=0 if status == "completed" else 1)
    else:
        logger.finalize(status)
