"""Keys against their constructors: every key must be an argument of its group's ``_target_``
and satisfy the argument's annotation (:mod:`biaslab.schema`); interpolations must resolve."""

from __future__ import annotations

import difflib
import inspect
import re
import typing
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from biaslab import schema
from biaslab.config.rules import ABSENT, ConfigError, resolvable


def _raw(tree: Any, key: str) -> Any:
    for part in key.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def check_resolves(cfg: DictConfig) -> None:
    """A missing value (``???``) or a broken interpolation, named like any other bad value."""
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as e:
        key = str(getattr(e, "full_key", "") or "config")
        tree = OmegaConf.to_container(cfg, resolve=False)
        raw = _raw(tree, key)
        # name the broken value itself, not a key that merely points at it (${seed})
        while isinstance(raw, str) and (ref := re.fullmatch(r"\$\{([\w.]+)\}", raw)):
            if not isinstance(_raw(tree, ref[1]), str) or "${" not in _raw(tree, ref[1]):
                break
            key, raw = ref[1], _raw(tree, ref[1])
        if isinstance(e, MissingMandatoryValue):
            raise ConfigError(key, raw, "a value: this key is mandatory") from None
        reason = str(e).splitlines()[0]
        raise ConfigError(key, raw, f"an interpolation that resolves ({reason})") from None


def _signature_chain(target: Any) -> list[Any] | None:
    """The ``__init__`` functions whose keyword arguments ``target`` accepts, or None when it
    takes any (``**kwargs``). biaslab's own classes pass ``**kwargs`` to their base class, so
    those are followed."""
    chain = [target]
    if isinstance(target, type):
        chain = [c.__dict__["__init__"] for c in target.__mro__ if "__init__" in c.__dict__]
    out = []
    for i, fn in enumerate(chain):
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return None
        out.append(fn)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return out
        owner = getattr(fn, "__module__", "") or ""
        if not owner.startswith("biaslab.") or i + 1 == len(chain):
            return None
    return None


def _parameters(target: Any) -> list[str] | None:
    """The keyword arguments ``target`` accepts, or None when it takes any."""
    chain = _signature_chain(target)
    if chain is None:
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [
        p.name
        for fn in chain
        for p in inspect.signature(fn).parameters.values()
        if p.kind in kinds and p.name != "self"
    ]


def annotations_of(target: Any) -> dict[str, Any]:
    """Each argument's type annotation along the chain (the first, most derived, wins)."""
    out: dict[str, Any] = {}
    for fn in reversed(_signature_chain(target) or [target.__init__]):
        try:
            out.update(typing.get_type_hints(fn, include_extras=True))
        except Exception:  # an annotation that does not evaluate describes nothing here
            continue
    return out


def check_types(cfg: DictConfig) -> None:
    """Each key of a group with ``_target_`` against the annotation of its constructor
    argument (:mod:`biaslab.schema`): the signature says what a key accepts."""
    for group, node in cfg.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            _check_typed(str(group), node, get_object(node._target_))


def _check_typed(group: str, node: DictConfig, target: Any) -> None:
    hints = annotations_of(target)
    for key in node:
        phrase = schema.allowed(hints.get(key))
        if phrase is None:
            continue
        value = resolvable(node, str(key))
        if value is ABSENT:
            continue
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value)
        if not schema.accepts(hints[key], value):
            raise ConfigError(f"{group}.{key}", value, phrase)


def target_class(key: str, target: str) -> Any:
    """The class ``target`` names, or the refusal of ``key`` (it does not import)."""
    try:
        return get_object(target)
    except Exception:
        raise ConfigError(key, target, "an importable class") from None


BUILD_KEYS = ("model.compile",)  # read by biaslab.models.build, not passed to the model


def check_known_keys(cfg: DictConfig) -> None:
    """Every key of a group with ``_target_`` must be an argument of it (``+model.foo=1``
    passes Hydra, then fails at instantiation, after the data is loaded)."""
    for group, node in cfg.items():
        if not isinstance(node, DictConfig) or "_target_" not in node:
            continue
        target = target_class(f"{group}._target_", node._target_)
        accepted = _parameters(target)
        if accepted is None:
            continue
        for key in node:
            if str(key).startswith("_") or key in accepted or f"{group}.{key}" in BUILD_KEYS:
                continue
            shown = [p for p in accepted if p not in ("in_shape", "num_classes", "params")]
            close = difflib.get_close_matches(str(key), shown, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            if not close and len(shown) <= 20:
                hint = f": {', '.join(shown)}"
            raise ConfigError(f"{group}.{key}", node[key], f"a parameter of {node._target_}{hint}")
