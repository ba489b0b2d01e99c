"""train.parallel_seeds=K: K members in one job, each exactly the run its seed would be."""

from __future__ import annotations

import itertools
import json
import math
import statistics
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from biaslab import report
from biaslab.config import ConfigError
from biaslab.models.cnn import CNN
from biaslab.models.mlp import MLP
from biaslab.models.packed import NotPackable, PackedConv, PackedModel
from biaslab.records.results import find_results, read_results
from biaslab.run.train import train
from biaslab.tasks.packed import SeedParallelClassifier

from .wandb_records import records, run_contents

K = 3
SEED = 5
SEEDS = [SEED + i for i in range(K)]
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
# float64 on the CPU, 30 steps, validation at 15 and 30
EXACT = ["trainer.precision=64-true", "trainer.max_steps=30", "trainer.val_check_interval=15"]


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return {name: t for name, t in state.items() if name.startswith("model.")}


def _bn_inert(names, norm: str, bias: bool) -> set[str]:
    """A conv bias right before a batch norm has zero gradient in exact arithmetic (the norm
    subtracts it again), and the running mean carries it. Their computed gradient is rounding
    noise, which Adam divides by sqrt(v) + eps: the kernels' rounding order (grouped conv vs
    plain conv) moves them by up to lr * noise / eps per step, ~1e-10 here."""
    if norm != "batch" or not bias:
        return set()
    return {n for n in names if n.endswith("running_mean")} | {
        f"model.features.{int(n.split('.')[2]) - 1}.bias"
        for n in names
        if n.endswith("running_mean")
    }


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.norm=none", "model.bias=true"],
        ["model.norm=none", "model.bias=false"],
        ["model.norm=batch", "model.bias=true"],
        ["model.norm=batch", "model.bias=false"],
        ["model=mlp"],
        ["model=mlp", "model.norm=batch", "optimizer=sgd"],
        ["+trainer.gradient_clip_val=0.05"],  # clipped per member, as each run clips
        ["model.padding_mode=replicate", "model.bias_block=1"],
    ],
    ids=lambda o: ",".join(o),
)
def test_each_member_is_the_single_run_of_its_seed(make_cfg, tmp_path, overrides):
    job = tmp_path / "job"
    out = train(
        make_cfg(*EXACT, *overrides, f"seed={SEED}", f"train.parallel_seeds={K}", output_dir=job)
    )
    assert out["status"] == "completed" and [m["seed"] for m in out["members"]] == SEEDS
    packed = _weights(job)
    cfg = make_cfg(*EXACT, *overrides)
    norm, bias = cfg.model.get("norm", "none"), cfg.model.get("bias") is True
    for k, seed in enumerate(SEEDS):
        single_dir = tmp_path / f"single{seed}"
        train(make_cfg(*EXACT, *overrides, f"seed={seed}", output_dir=single_dir))
        single = _weights(single_dir)
        assert set(single) == set(packed)
        inert = _bn_inert(single, norm, bias)
        for name, want in single.items():
            got = packed[name][k]
            if name in inert:
                assert (got - want).abs().max() < 1e-8, name
            elif want.is_floating_point():
                scale = want.abs().max().clamp_min(1e-12)
                assert (got - want).abs().max() / scale < 1e-8, name
            else:
                assert torch.equal(got, want), name
        mine = read_results(job / f"seed={seed}")
        theirs = read_results(single_dir)
        assert set(mine["metrics"]) == set(theirs["metrics"])
        for key, want in theirs["metrics"].items():
            assert mine["metrics"][key] == pytest.approx(want, rel=1e-8, abs=1e-12), key
        assert mine["params"] == theirs["params"]


def _modes():
    for norm, bias in itertools.product(("none", "batch", "group", "layer"), (True, False, "auto")):
        yield (
            f"cnn1d-{norm}-{bias}",
            (1, 40),
            lambda n=norm, b=bias: CNN(
                (1, 40), 10, width=8, norm=n, bias=b, first_bias=None if b != "auto" else True
            ),
        )
        yield (
            f"cnn2d-{norm}-{bias}",
            (3, 8, 8),
            lambda n=norm, b=bias: CNN(
                (3, 8, 8),
                10,
                width=8,
                norm=n,
                bias=b,
                kernel_size=3,
                stride=1,
                pool="max",
                global_pool=True,
            ),
        )
    for norm in ("none", "batch", "layer"):
        yield f"mlp-{norm}", (1, 40), lambda n=norm: MLP((1, 40), 10, width=16, norm=n)
    for norm in ("batch", "group", "layer"):  # no additive constant anywhere
        yield (
            f"cnn2d-{norm}-no-shift",
            (3, 8, 8),
            lambda n=norm: CNN(
                (3, 8, 8),
                10,
                width=8,
                norm=n,
                norm_shift=False,
                bias=False,
                head_bias=False,
                kernel_size=3,
                stride=1,
                pool="max",
                global_pool=True,
            ),
        )
    for mode in PADDING_MODES:  # padding 2 in block 1 and a rectangular image: F.pad's order
        yield (
            f"cnn1d-pad-{mode}",
            (1, 40),
            lambda m=mode: CNN((1, 40), 10, width=8, padding=[2, 1, 1], padding_mode=m),
        )
        yield (
            f"cnn2d-pad-{mode}",
            (3, 6, 9),
            lambda m=mode: CNN(
                (3, 6, 9),
                10,
                width=8,
                depth=2,
                kernel_size=3,
                stride=1,
                padding=[2, 1],
                padding_mode=m,
            ),
        )
    for block in (0, 1, 2):
        yield (
            f"cnn1d-bias_block-{block}",
            (1, 40),
            lambda b=block: CNN((1, 40), 10, width=8, bias_block=b),
        )
    for norm in ("batch", "layer"):
        yield (
            f"mlp-{norm}-no-shift",
            (1, 40),
            lambda n=norm: MLP((1, 40), 10, width=16, norm=n, norm_shift=False),
        )


MODES = list(_modes())


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize(
    "conv, shape",
    [
        (lambda m: nn.Conv1d(2, 3, 3, padding=2, padding_mode=m), (2, 7)),
        (lambda m: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=m), (2, 5, 6)),
    ],
    ids=["1d", "2d"],
)
def test_a_packed_conv_pads_as_its_members(conv, shape, mode):
    # unequal padding per dim: F.pad takes the last dim first
    torch.manual_seed(0)
    convs = [conv(mode).double() for _ in range(K)]
    packed = PackedConv(convs)
    xs = [torch.randn(4, *shape, dtype=torch.float64) for _ in range(K)]
    out = packed(torch.cat(xs, 1)).unflatten(1, (K, -1))
    for k, c in enumerate(convs):
        torch.testing.assert_close(out[:, k], c(xs[k]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "conv", [nn.Conv1d(2, 4, 3, groups=2), nn.Conv1d(2, 4, 3, padding="same")], ids=str
)
def test_a_conv_with_no_packed_form_is_refused_by_name(conv):
    with pytest.raises(NotPackable, match=r"^only convs with groups=1 and integer padding pack"):
        PackedConv([conv, conv])


def _step(model, x, y):
    """Outputs (B, K, C) and every parameter's gradient of the summed member losses."""
    model.zero_grad()
    out = model(x)
    F.cross_entropy(out.transpose(1, 2), y, reduction="none").mean(0).sum().backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("name, shape, make", MODES, ids=[m[0] for m in MODES])
def test_packed_model_computes_each_member_as_its_own_model(name, shape, make):
    torch.manual_seed(0)
    members = [make().double() for _ in range(K)]
    packed = PackedModel(members)
    xs = [torch.randn(16, *shape, dtype=torch.float64) for _ in range(K)]
    ys = [torch.randint(0, 10, (16,)) for _ in range(K)]
    out, grads = _step(packed, torch.stack(xs, 1), torch.stack(ys, 1))
    for k, m in enumerate(members):
        logits = m(xs[k])
        F.cross_entropy(logits, ys[k]).backward()
        torch.testing.assert_close(out[:, k], logits, rtol=1e-12, atol=1e-12)
        for pname, p in m.named_parameters():
            torch.testing.assert_close(grads[pname][k], p.grad, rtol=1e-10, atol=1e-13)
        # the batch norms' running statistics moved per member too
        torch.testing.assert_close(packed.member_state_dict(k), m.state_dict())


@pytest.mark.parametrize("name, shape, make", MODES, ids=[m[0] for m in MODES])
def test_perturbing_one_member_never_changes_another(name, shape, make):
    torch.manual_seed(0)
    start = PackedModel([make() for _ in range(K)]).state_dict()
    x, y = torch.randn(8, K, *shape), torch.randint(0, 10, (8, K))
    model = PackedModel([make() for _ in range(K)])
    for j, poison in itertools.product(range(K), ("noise", "nan")):
        model.load_state_dict(start)
        out0, grads0 = _step(model, x, y)
        model.load_state_dict(start)
        with torch.no_grad():
            for p in model.parameters():
                p[j] = float("nan") if poison == "nan" else p[j] + torch.randn_like(p[j])
        out1, grads1 = _step(model, x, y)
        others = [k for k in range(K) if k != j]
        assert torch.equal(out0[:, others], out1[:, others]), (j, poison)
        for pname in grads0:
            assert torch.equal(grads0[pname][others], grads1[pname][others]), (pname, j, poison)


def test_a_diverged_member_is_recorded_and_the_others_train_on(make_cfg, tmp_path, monkeypatch):
    args = [
        "trainer.max_steps=30",
        "trainer.val_check_interval=15",
        f"seed={SEED}",
        f"train.parallel_seeds={K}",
    ]
    clean = train(make_cfg(*args, output_dir=tmp_path / "clean"))
    step_of = SeedParallelClassifier.training_step

    def poisoned(self, batch, batch_idx):
        if self.global_step == 12:  # member 1's weights blow up
            with torch.no_grad():
                self.model.features[0].weight[1] = float("nan")
        return step_of(self, batch, batch_idx)

    monkeypatch.setattr(SeedParallelClassifier, "training_step", poisoned)
    out = train(make_cfg(*args, output_dir=tmp_path / "poisoned"))

    assert out["status"] == "diverged" and math.isnan(out["optimized"])
    bad = read_results(tmp_path / "poisoned" / f"seed={SEEDS[1]}")
    assert bad["status"] == "diverged"
    assert bad["divergence"]["step"] == 20  # the guard looks every 10 steps
    # strict JSON: a NaN loss is null in the record, and the message still names it
    assert bad["divergence"]["loss"] is None and "nan" in bad["divergence"]["message"]
    assert bad["metrics"]["steps"] == 20 and "test/acc" not in bad["metrics"]
    assert bad["metrics"]["val/acc_best_step"] == 15  # its one validation before diverging
    for k in (0, 2):  # bit for bit what they would have been without the NaN next to them
        got = read_results(tmp_path / "poisoned" / f"seed={SEEDS[k]}")
        assert got["status"] == "completed"
        assert got["metrics"] == clean["members"][k]["metrics"]


def test_members_report_like_sequential_runs(make_cfg, tmp_path):
    budget = ["trainer.max_steps=20", "trainer.val_check_interval=10"]
    for bias in ("true", "false"):
        train(
            make_cfg(
                *budget,
                f"model.bias={bias}",
                "seed=0",
                f"train.parallel_seeds={K}",
                output_dir=tmp_path / "parallel" / bias,
            )
        )
        for seed in range(K):
            train(
                make_cfg(
                    *budget,
                    f"model.bias={bias}",
                    f"seed={seed}",
                    output_dir=tmp_path / "sequential" / f"{bias}-{seed}",
                )
            )

    paths = find_results(tmp_path / "parallel")
    assert len(paths) == 2 * K
    for path in paths:
        rec = read_results(path)
        seed = rec["seed"]
        assert path.parent.name == f"seed={seed}"
        assert rec["config"]["seed"] == rec["config"]["data"]["shuffle_seed"] == seed
        assert [o for o in rec["overrides"] if o.startswith("seed=")] == [f"seed={seed}"]
        assert rec["params"]["params/total"] == (5210 if rec["config"]["model"]["bias"] else 5135)

    def shape(rep):
        return (
            [
                (
                    g.label,
                    [(a.value, sorted(a.by_seed), a.duplicates) for a in g.arms],
                    [c.n_pairs for c in g.comparisons],
                )
                for g in rep.groups
            ],
            rep.group_keys,
            rep.problems,
        )

    parallel = report.build_report(report.load_files([tmp_path / "parallel"]))
    sequential = report.build_report(report.load_files([tmp_path / "sequential"]))
    assert shape(parallel) == shape(sequential)
    assert [sorted(a.by_seed) for a in parallel.groups[0].arms] == [[0, 1, 2]] * 2
    # together: nothing tells a member from a run, so each seed is a duplicate (config, seed):
    # refused unless pooled, and then each seed counts twice in one group
    with pytest.raises(ValueError, match="--pool"):
        report.build_report(report.load_files([tmp_path]))
    both = report.build_report(report.load_files([tmp_path]), report.ReportOptions(pool=True))
    assert both.group_keys == [] and len(both.groups) == 1
    assert [a.duplicates for a in both.groups[0].arms] == [[0, 1, 2]] * 2


def _written(run_file: Path, timeout_s: float = 30.0) -> Path:
    """W&B's service may still be writing an offline run file when ``run.finish()`` has
    returned (for ordinary runs too): wait for the run's exit record."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if any(r.WhichOneof("record_type") == "exit" for r in records(run_file)):
                return run_file
        except Exception:  # a chunk half written
            pass
        assert time.monotonic() < deadline, f"{run_file} has no exit record"
        time.sleep(0.1)


def test_each_member_has_its_own_wandb_run(make_cfg, tmp_path):
    out = train(
        make_cfg(
            "logger=wandb",
            "trainer.max_steps=10",
            "trainer.val_check_interval=5",
            "seed=3",
            "train.parallel_seeds=2",
        )
    )
    for member in out["members"]:
        seed = member["seed"]
        run_dir = Path(member["run"])
        assert run_dir.is_relative_to(tmp_path / f"seed={seed}")
        (run_file,) = run_dir.glob("run-*.wandb")
        _written(run_file)
        config, summary = run_contents(run_file)
        assert config["seed"] == seed and config["data"]["shuffle_seed"] == seed
        assert summary["test/acc"] == pytest.approx(member["metrics"]["test/acc"])
        assert summary["params/total"] == 5210
        (run,) = [r.run for r in records(run_file) if r.WhichOneof("record_type") == "run"]
        assert run.display_name.endswith(f"seed={seed}") and run.run_group == "train"


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["model=lstm", "data=adding", "data.length=10"], "train.parallel_seeds"),
        (["optimizer._target_=torch.optim.Adadelta", "~optimizer.fused"], "optimizer._target_"),
        (["train.parallel_seeds=0"], "train.parallel_seeds"),
        (["trainer.precision=16-mixed"], "trainer.precision"),
        (["trainer.precision=16"], "trainer.precision"),
        (["trainer=ddp_cpu"], "trainer.devices"),
    ],
)
def test_what_cannot_be_packed_is_refused_before_training(make_cfg, tmp_path, overrides, key):
    with pytest.raises(ConfigError) as e:
        train(make_cfg("train.parallel_seeds=2", *overrides))
    assert e.value.key == key
    recs = [read_results(p) for p in find_results(tmp_path)]
    assert recs and all(r["status"] == "failed" and key in r["error"]["message"] for r in recs)


def test_a_resumed_job_ends_like_an_uninterrupted_one(make_cfg, tmp_path):
    from .helpers import Crash

    args = [
        "seed=1",
        "train.parallel_seeds=2",
        "trainer.val_check_interval=10",
        "trainer.max_steps=30",
        "checkpoint.every_n_steps=20",
    ]
    whole = train(make_cfg(*args, output_dir=tmp_path / "whole"))
    with pytest.raises(RuntimeError, match="killed at step 21"):
        train(make_cfg(*args, output_dir=tmp_path / "split"), callbacks=[Crash(21)])
    resumed = train(make_cfg(*args, "resume=true", output_dir=tmp_path / "split"))

    # all but epochs: Lightning counts the epoch of an end-of-fit checkpoint as finished, and
    # an ordinary run resumed the same way counts one more epoch too
    def metrics(out):
        return [{k: v for k, v in m["metrics"].items() if k != "epochs"} for m in out["members"]]

    assert metrics(resumed) == metrics(whole)


def test_quick_bench_compares_one_job_with_single_runs(tmp_path, data_dir):
    from biaslab.bench.cli import main

    out = tmp_path / "bench.json"
    main(
        [
            "--quick",
            "--parallel-seeds",
            "2",
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
            "--override",
            "logger=none",
        ]
    )
    r = json.loads(out.read_text())["parallel_seeds"]
    assert r["k"] == 2 and "model.width=8" in r["overrides"]
    # one round, one window per run: 2 single runs give a window each, the packed job one
    assert len(r["single"]["windows"]) == 2 and len(r["packed"]["windows"]) == 1
    # the packed job counts B·K model-samples a step: the two sides trained as many
    steps = r["warmup_steps"] + r["window_steps"]
    assert r["single"]["model_samples"] == r["packed"]["model_samples"]
    assert r["packed"]["model_samples"] == r["k"] * steps * r["batch_size"]
    single, packed = r["single"]["model_samples_per_s"], r["packed"]["model_samples_per_s"]
    assert single == statistics.median(r["single"]["windows"])
    assert r["ratio"] == pytest.approx(packed / single)
    w = r["wall"]
    assert w["steps"] == 20 and w["ratio"] == pytest.approx(w["sequential_s"] / w["packed_s"])
