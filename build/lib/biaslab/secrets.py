"""Which config keys hold secrets (API keys, tokens, passwords): never written to a file."""

from __future__ import annotations

import re

# api_key, wandb_api_key, token, hf_token, secret, password, ...
SECRET_KEY = re.compile(r"(^|_)(api_?key|token|secret|password|passwd|credentials?)$", re.I)
ENV_HINT = "set WANDB_API_KEY in the environment (wandb reads it; nothing writes it to a file)"


def is_secret_key(dotted: str) -> bool:
    """Whether the last part of a dotted key names a secret (``logger.settings.api_key``)."""
    return bool(SECRET_KEY.search(dotted.rsplit(".", 1)[-1]))


def override_key(override: str) -> str:
    """The key of a command-line override: ``+logger.settings.api_key=x`` → its dotted key."""
    return override.split("=", 1)[0].lstrip("+~")


def redact_override(override: str, redacted: str = "<redacted>") -> str:
    """``key=<redacted>`` for an override whose key names a secret, else the override."""
    key = override_key(override)
    if "=" in override and is_secret_key(key):
        return override.split("=", 1)[0] + "=" + redacted
    return override
