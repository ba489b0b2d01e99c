"""Which config keys hold secrets (API keys, tokens, passwords): never written to a file."""

from __future__ import annotations

import re
import sys

# api_key, wandb_api_key, token, hf_token, secret, password, ...
SECRET_KEY = re.compile(r"(^|_)(api_?key|token|secret|password|passwd|credentials?)$", re.I)
# a key set inside a value: {WANDB_API_KEY: ...} or "export WANDB_API_KEY=..."
_INNER_KEY = re.compile(r"([A-Za-z_][\w.]*)\s*[=:]")
ENV_HINT = "set WANDB_API_KEY in the environment (wandb reads it; nothing writes it to a file)"


def is_secret_key(dotted: str) -> bool:
    """Whether the last part of a dotted key names a secret (``logger.settings.api_key``)."""
    return bool(SECRET_KEY.search(dotted.rsplit(".", 1)[-1]))


def override_key(override: str) -> str:
    """The key of a command-line override: ``+logger.settings.api_key=x`` → its dotted key."""
    return override.split("=", 1)[0].lstrip("+~")


def secret_in_override(override: str) -> str | None:
    """The key of an override that sets a secret, itself or inside its value
    (``+hydra.job.env_set={WANDB_API_KEY:x}``, ``hydra.launcher.setup=["export TOKEN=x"]``);
    None for any other override."""
    key = override_key(override)
    value = override.split("=", 1)[1] if "=" in override else ""
    if is_secret_key(key) or any(is_secret_key(k) for k in _INNER_KEY.findall(value)):
        return key
    return None


def redact_override(override: str, redacted: str = "<redacted>") -> str:
    """``key=<redacted>`` for an override whose key names a secret, else the override."""
    key = override_key(override)
    if "=" in override and is_secret_key(key):
        return override.split("=", 1)[0] + "=" + redacted
    return override


def refuse_secret_arguments(args: list[str]) -> None:
    """Exit 2 with one line, the value withheld, if a command-line override (``hydra.*``
    included) sets a secret: checked before Hydra parses the command line, whose own errors
    (``Could not override 'logger.api_key'. To append ... +logger.api_key=VALUE``) repeat it."""
    for arg in args:
        key = None if arg.startswith("-") else secret_in_override(arg)
        if key is not None:
            print(
                f"error: {key}=<redacted> is not allowed: expected no secret on the command "
                f"line: {ENV_HINT}",
                file=sys.stderr,
            )
            sys.exit(2)
