"""Train one configuration: `python train.py [overrides]`, or a sweep with `-m`."""

import sys

import hydra
from omegaconf import DictConfig

from biaslab.records.secrets import refuse_secret_arguments
from biaslab.run.train import main as run


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    return run(cfg)


if __name__ == "__main__":
    # before Hydra parses anything: its errors would repeat a secret typed as an override
    refuse_secret_arguments(sys.argv[1:])
    # Hydra's argparse stops collecting overrides at the first flag, so
    # `python train.py model.bias=false -m model.width=8,32` would fail: put -m first.
    flags = [a for a in sys.argv[1:] if a in ("-m", "--multirun")]
    sys.argv[1:] = flags + [a for a in sys.argv[1:] if a not in flags]
    main()
