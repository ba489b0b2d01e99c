"""Config keys added after runs were recorded, with the value those runs ran at. A record made
before a key existed ran exactly as one that sets it to this value: a resume matches it
(``resume.fingerprint``) and a report groups it with those runs (:func:`complete`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ADDED_AT: dict[str, Any] = {
    "train.steps_per_call": 1,
    "data.const_channel": False,  # MNIST-1D
    "data.train_samples": None,  # the image datasets
    "data.background": "none",  # Fashion-MNIST
    "data.background_std": 0.77,
    "model.padding_mode": "zeros",  # CNN
    "model.bias_block": None,
}


def _target(config: Mapping[str, Any], key: str) -> Any:
    return config.get(f"{key.split('.', 1)[0]}._target_")


def complete(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flattened configs with each added key filled in, at its recorded-before value, where
    the config has the key's group and another config of the same ``_target_`` (same model,
    same data) has the key: an older record and a newer one of one experiment then agree on
    keys neither of them swept. A config that is filled is a copy; the others (an unreadable
    record's empty one among them) are returned as they are."""
    has = {(k, _target(c, k)) for c in configs for k in ADDED_AT if k in c}
    out = []
    for c in configs:
        groups = {key.split(".", 1)[0] for key in c}  # none for an unreadable record's {}
        missing = {
            k: v
            for k, v in ADDED_AT.items()
            if k not in c and k.split(".", 1)[0] in groups and (k, _target(c, k)) in has
        }
        out.append({**c, **missing} if missing else c)
    return out
