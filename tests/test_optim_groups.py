"""train.no_decay_bias_norm: biases and norm parameters in an optimizer parameter group with
weight_decay 0, for a lone model, an LSTM and a seed-parallel (packed) job."""

from __future__ import annotations

import pytest
import torch

from biaslab.models.cnn import CNN
from biaslab.models.packed import PackedGroupNorm, PackedModel
from biaslab.models.params import decay_groups
from biaslab.run.job import build_task
from biaslab.seed_parallel import parallel_seeds
from biaslab.seed_parallel.members import members


def groups_of(cfg):
    task, _, _ = build_task(cfg, members(cfg, parallel_seeds(cfg), []))
    out = task.configure_optimizers()
    optimizer = out["optimizer"] if isinstance(out, dict) else out
    return task, optimizer


def ids(params) -> set[int]:
    return {id(p) for p in params}


def names_in(model, group) -> set[str]:
    chosen = ids(group["params"])
    return {n for n, p in model.named_parameters() if id(p) in chosen}


def test_cnn_with_batch_norm(make_cfg):
    cfg = make_cfg(
        "optimizer=adamw",
        "optimizer.weight_decay=0.05",
        "model.norm=batch",
        "model.bias=true",
        "train.no_decay_bias_norm=true",
    )
    task, opt = groups_of(cfg)
    assert isinstance(opt, torch.optim.AdamW)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert decay["lr"] == no_decay["lr"] == cfg.optimizer.lr
    model = task.model
    assert names_in(model, decay) == {
        n for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1
    }
    undecayed = names_in(model, no_decay)
    assert undecayed == {n for n, p in model.named_parameters() if p.dim() == 1}
    assert any(".bias" in n for n in undecayed) and any("weight" in n for n in undecayed)
    assert ids(model.parameters()) == ids(decay["params"]) | ids(no_decay["params"])


def test_off_by_default_one_group(make_cfg):
    _, opt = groups_of(make_cfg("optimizer=adamw"))
    (group,) = opt.param_groups
    assert group["weight_decay"] == 0.01


def test_lstm_gate_and_head_biases(make_cfg):
    cfg = make_cfg(
        "model=lstm", "data=adding", "data.length=10", "optimizer=adamw",
        "train.no_decay_bias_norm=true", "scheduler=cosine",
    )  # fmt: skip
    task, opt = groups_of(cfg)
    decay, no_decay = opt.param_groups
    assert names_in(task.model, no_decay) == {
        "lstm.bias_ih_l0", "lstm.bias_hh_l0", "head.bias"
    }  # fmt: skip
    assert names_in(task.model, decay) == {"lstm.weight_ih_l0", "lstm.weight_hh_l0", "head.weight"}


def test_packed_job_keeps_the_groups(make_cfg):
    cfg = make_cfg(
        "train.parallel_seeds=3",
        "model.width=4",
        "model.norm=group",
        "model.norm_groups=2",
        "optimizer=adamw",
        "train.no_decay_bias_norm=true",
    )
    task, opt = groups_of(cfg)
    assert isinstance(task.model, PackedModel)
    decay, no_decay = opt.param_groups
    assert no_decay["weight_decay"] == 0.0
    assert all(n.endswith("weight") for n in names_in(task.model, decay))
    norm_weights = {
        f"{m}.weight" for m, mod in task.model.named_modules() if isinstance(mod, PackedGroupNorm)
    }
    assert len(norm_weights) == 3  # one norm per conv block
    biases = {n for n, _ in task.model.named_parameters() if n.endswith("bias")}
    assert names_in(task.model, no_decay) == biases | norm_weights
    assert ids(task.model.parameters()) == ids(decay["params"]) | ids(no_decay["params"])


def test_packed_groups_match_a_members():
    member = CNN((1, 40), 10, width=4, norm="batch")
    packed = PackedModel([member, CNN((1, 40), 10, width=4, norm="batch")])

    def shape(model):
        groups = decay_groups(model)
        return [sorted(n for n in names_in(model, g)) for g in groups]

    assert shape(member) == shape(packed)


@pytest.mark.parametrize("bias", ["false"])
def test_nothing_to_exclude_leaves_one_group(make_cfg, bias):
    cfg = make_cfg(f"model.bias={bias}", "model.head_bias=false", "train.no_decay_bias_norm=true")
    _, opt = groups_of(cfg)
    assert len(opt.param_groups) == 1
