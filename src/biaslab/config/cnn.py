"""A CNN's keys against its depth and input: one kernel_size/stride/padding per block, input
left for every kernel and pool, padding its mode can make, a bias_block that names a block."""

from __future__ import annotations

from omegaconf import DictConfig, ListConfig

from biaslab.config.rules import ConfigError, is_int, show

CNN = "biaslab.models.cnn.CNN"


def _blocks(model: DictConfig) -> tuple[int, str]:
    if model.get("channels") is not None:
        return len(model.channels), f"model.channels has {len(model.channels)}"
    return model.depth, f"model.depth={model.depth}"


def cnn_fits_input(cfg: DictConfig) -> None:
    """One kernel_size/stride/padding per block, and every block (and pool) has input left.
    The input length is known from the config for MNIST-1D (``final_seq_length``) only."""
    model, data = cfg.get("model"), cfg.get("data")
    if model is None or model.get("_target_") != CNN:
        return
    n, why = _blocks(model)
    per_block = {}
    for key in ("kernel_size", "stride", "padding"):
        v = model[key]
        if isinstance(v, ListConfig) and len(v) != n:
            raise ConfigError(f"model.{key}", v, f"one value or a list of {n} ({why})")
        per_block[key] = list(v) if isinstance(v, ListConfig) else [v] * n
    length = data.get("final_seq_length") if data is not None else None
    if not is_int(length):
        return
    for i, (k, s, p) in enumerate(zip(*per_block.values(), strict=True)):
        if k > length + 2 * p:
            raise ConfigError(
                "model.kernel_size",
                model.kernel_size,
                f"at most {length + 2 * p} at block {i + 1} "
                f"(its input has {length} positions, padding {p})",
            )
        # torch's reflect padding needs fewer pads than positions; circular wraps around once
        limit = {"reflect": length - 1, "circular": length}.get(model.get("padding_mode"))
        if limit is not None and p > limit:
            raise ConfigError(
                "model.padding",
                model.padding,
                f"at most {limit} at block {i + 1} with model.padding_mode="
                f"{model.padding_mode} (its input has {length} positions)",
            )
        length = (length + 2 * p - k) // s + 1
        if model.pool == "max":
            if length < 2:
                raise ConfigError(
                    "model.pool",
                    "max",
                    f"none here: block {i + 1} leaves {length} position, too few to pool",
                )
            length //= 2


def bias_block_fits(cfg: DictConfig) -> None:
    """``model.bias_block`` names one of the CNN's blocks, and not with ``model.first_bias``:
    both choose which convs have a bias (:func:`biaslab.models.layers.has_bias`)."""
    model = cfg.get("model")
    if model is None or model.get("_target_") != CNN or model.get("bias_block") is None:
        return
    block, (n, why) = model.bias_block, _blocks(model)
    if block >= n:
        allowed = f"null or a block index from 0 to {n - 1} ({why})"
        raise ConfigError("model.bias_block", block, allowed)
    if model.get("first_bias") is not None:
        allowed = (
            f"null with model.first_bias={show(model.first_bias)} "
            "(both choose which convs have a bias)"
        )
        raise ConfigError("model.bias_block", block, allowed)
