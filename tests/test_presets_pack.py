"""Every preset packs its seeds into one job where its model packs (model=cnn, vgg, mlp on a
classification task): ``python train.py -m +experiment=X`` is the fast form, and its header
names the unpacked form. Presets whose model does not pack sweep the seed instead."""

import pytest

from biaslab.config.compose import compose_with_hydra
from biaslab.seed_parallel import parallel_seeds
from biaslab.seed_parallel.members import PACKABLE_MODELS, check

from .conftest import CONF

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_preset_packs_its_seeds_where_the_model_packs(name):
    cfg = compose_with_hydra([f"+experiment={name}"])
    sweep = dict(cfg.hydra.sweeper.params)
    header = (CONF / "experiment" / f"{name}.yaml").read_text()
    if cfg.model._target_ in PACKABLE_MODELS:
        k = parallel_seeds(cfg)
        assert k >= 5 and cfg.seed == 0
        check(cfg, k)  # packable: model, optimizer and precision are accepted
        assert "seed" not in sweep  # the seeds are the job's members, not jobs of their own
        # the unpacked form is documented in the header
        assert f"+experiment={name} train.parallel_seeds=1 'seed=range({k})'" in header
    else:
        assert parallel_seeds(cfg) == 1
        assert str(sweep["seed"]).startswith("range(")
        assert "does not pack" in header


def test_the_unpacked_form_is_a_job_of_one_seed():
    # what each job of `... train.parallel_seeds=1 'seed=range(5)'` composes (seed 3 of 5)
    cfg = compose_with_hydra(["+experiment=bias_vs_width", "train.parallel_seeds=1", "seed=3"])
    assert parallel_seeds(cfg) == 1 and cfg.seed == 3
