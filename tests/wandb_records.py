"""Read an offline W&B run file (``run-*.wandb``) back into its config and summary.

wandb 0.31 offline mode writes only this file (no wandb-summary.json). It is a LevelDB-style
log: a 7-byte file header, then 32 KiB blocks of chunks (crc32 u32, length u16, type u8) that
carry serialized ``Record`` protobufs. Tests use this to check what a user would sync.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: str | Path):
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:  # a block tail too short for a chunk header is padding
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            break
        if kind == FULL:
            pending = chunk
        elif kind == FIRST:
            pending = chunk
            continue
        elif kind == MIDDLE:
            pending += chunk
            continue
        elif kind == LAST:
            pending += chunk
        record = pb.Record()
        record.ParseFromString(pending)
        yield record


def run_contents(path: str | Path) -> tuple[dict, dict]:
    """(config, summary) of one run file: config as nested dicts, summary as the last value
    written for each key (history rows and summary records both count)."""
    config: dict = {}
    summary: dict = {}
    for r in records(path):
        kind = r.WhichOneof("record_type")
        if kind == "config":
            for item in r.config.update:
                config[item.key] = json.loads(item.value_json)
        elif kind == "history":
            for item in r.history.item:
                key = item.key or "/".join(item.nested_key)
                summary[key] = json.loads(item.value_json)
        elif kind == "summary":
            for item in r.summary.update:
                key = item.key or "/".join(item.nested_key)
                summary[key] = json.loads(item.value_json)
    return config, summary
