"""What a run is, as a fingerprint: every resolved config value that can change what it trains
or measures. Stored in each results.json and each checkpoint, so a resume or a rerun can tell
whether the folder holds the same run before it touches anything there."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

from biaslab.records import moved
from biaslab.records.added import ADDED_AT

KEY = "fingerprint"  # in results.json (the digest) and in a checkpoint (digest and values)
# Keys that cannot change the run: how it is resumed or checkpointed, where its files go,
# what it is called and what a sweeper reads from it.
UNRELATED = (
    "resume",
    "overwrite",
    "checkpoint",
    "logger",
    "paths",
    "task_name",
    "tags",
    "optimized_metric",
    "study",  # the study a run belongs to (study.plan_hash): not what it trains
    "data.data_dir",
    "trainer.default_root_dir",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
)


# Keys that change how a run is computed but not what it ends with (the same weights and
# metrics, tests/test_steps_per_call.py): left out where a finished run is compared with a
# config, kept where a checkpoint is to be continued (the trainer's loop state differs).
HOW_COMPUTED = ("train.steps_per_call",)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict) or not tree:
        return {prefix.rstrip("."): tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(_flatten(v, f"{prefix}{k}."))
    return out


def _related(key: str) -> bool:
    return not any(key == u or key.startswith(u + ".") for u in UNRELATED)


def values(config: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """The fingerprinted values of a config (or of a results.json's resolved ``config``), by
    dotted key, as JSON would store them."""
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True)
    # a class that moved keeps its old path here: digests recorded before the move still match
    flat = {
        k: v
        for k, v in moved.targets(_flatten(config), moved.historical).items()
        if _related(k) and not (k in ADDED_AT and v == ADDED_AT[k])
    }
    return json.loads(json.dumps(flat, sort_keys=True, default=str))


def digest(flat: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:16]


def of(config: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """``{"digest": ..., "values": {...}}`` of ``config``."""
    flat = values(config)
    return {"digest": digest(flat), "values": flat}


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, saved value, current value) for each key whose value differs, sorted by key."""
    missing = object()
    keys = sorted(set(saved) | set(current))
    out = [(k, saved.get(k, missing), current.get(k, missing)) for k in keys]
    return [(k, a, b) for k, a, b in out if a != b]


def in_checkpoint(path: Path) -> dict[str, Any] | None:
    """The fingerprint stored in a checkpoint (None: it has none)."""
    import torch

    # mmap: read the small fingerprint entry without loading every tensor into memory
    ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return ckpt.get(KEY) if isinstance(ckpt, dict) else None


class StoreFingerprint(L.Callback):
    """Puts the job's fingerprint into every checkpoint Lightning saves."""

    def __init__(self, fingerprint: dict[str, Any]):
        self.fingerprint = fingerprint

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        checkpoint[KEY] = self.fingerprint


def result_values(flat: dict[str, Any]) -> dict[str, Any]:
    """``flat`` (from :func:`values`) without the keys that do not change a finished run."""
    return {k: v for k, v in flat.items() if k not in HOW_COMPUTED}
