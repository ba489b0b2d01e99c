"""Train one configuration: `python train.py [overrides]`, or a sweep with `-m`."""

import hydra
from omegaconf import DictConfig

from biaslab.train import main as run


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    return run(cfg)


if __name__ == "__main__":
    main()
