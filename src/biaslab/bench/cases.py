"""What the throughput benchmark measures: MNIST-1D with the default model, VGG-style 2-D CNNs
of three widths on synthetic float images, and the image preset's CNN of two widths on
synthetic uint8 images made into inputs (and augmented) on the device as the image datasets'
are, each with and without biases."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from biaslab.data.base import TensorDataModule
from biaslab.data.vision import ImageDataModule

CNN2D_WIDTHS = (8, 32, 128)
IMAGE_WIDTHS = (4, 16)  # images_bias_vs_width's narrow arms, where a step's overhead tells
CASES = (
    "mnist1d",
    *(f"cnn2d-w{w}" for w in CNN2D_WIDTHS),
    *(f"images-w{w}" for w in IMAGE_WIDTHS),
)


class SyntheticImages(TensorDataModule):
    """Random 3×32×32 images with random labels from a fixed seed: only throughput matters
    here, and random tensors cost nothing to make or cache."""

    def __init__(
        self,
        num_samples: int = 4096,
        test_samples: int = 512,
        shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        channels_last: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_samples, self.test_samples = int(num_samples), int(test_samples)
        self.shape, self.num_classes = tuple(int(s) for s in shape), int(num_classes)
        # batches in channels_last (NHWC) memory, as the image data modules give them on CUDA;
        # the raw loop converts its batches the same way (biaslab.bench.raw)
        self.channels_last = bool(channels_last)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        x, y = batch
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def load(self):
        g = torch.Generator().manual_seed(self.seed)
        n = self.num_samples + self.test_samples
        x = torch.randn(n, *self.shape, generator=g)
        y = torch.randint(0, self.num_classes, (n,), generator=g)
        k = self.num_samples
        return x[:k], y[:k], x[k:], y[k:]


class UInt8Images(ImageDataModule):
    """Random uint8 images in Fashion-MNIST's format (1×28×28, its published mean and std)
    with random labels from a fixed seed: each batch is made into inputs on the device, and
    cropped and flipped when ``augment``, by the image datasets' own code; nothing to
    download."""

    name = "uint8_images"
    num_classes = 10
    mean, std = (0.2860,), (0.3530,)

    def __init__(self, num_samples: int = 4096, test_samples: int = 512, **kwargs):
        super().__init__(**kwargs)
        self.num_samples, self.test_samples = int(num_samples), int(test_samples)

    def load(self):
        g = torch.Generator().manual_seed(self.seed)
        n, k = self.num_samples + self.test_samples, self.num_samples
        x = torch.randint(0, 256, (n, *self.image), generator=g, dtype=torch.uint8)
        y = torch.randint(0, self.num_classes, (n,), generator=g)
        return x[:k], y[:k], x[k:], y[k:]


@dataclass
class Case:
    name: str
    bias: bool
    overrides: list[str]
    data: dict | None = None  # replaces cfg.data (not a config group); None keeps conf/'s


def make_cases(
    names: list[str],
    batch_size: int,
    samples: int,
    data_dir: str | None,
    channels_last: bool = False,
) -> list:
    cases = []
    for name in names:
        for bias in (True, False):
            b = str(bias).lower()
            if name == "mnist1d":
                cases.append(Case(name, bias, [f"model.bias={b}"]))
                continue
            data = {
                "batch_size": batch_size,
                "num_samples": samples,
                "test_samples": 2 * batch_size,  # train() tests after fit: keep that short
                "seed": 42,
                "shuffle_seed": 0,
                "data_dir": data_dir or "data",
            }
            if name.startswith("images-w"):
                width = int(name.removeprefix("images-w"))
                data |= {"_target_": f"{UInt8Images.__module__}.UInt8Images", "augment": True}
                cases.append(Case(name, bias, image_model(width, b), data))
                continue
            width = int(name.removeprefix("cnn2d-w"))
            data |= {
                "_target_": f"{SyntheticImages.__module__}.SyntheticImages",
                "channels_last": channels_last,
            }
            # VGG-style: 3 stages of width×(1, 2, 4) channels, 3×3 convs, 2× max-pool, BN.
            model = [
                "model=cnn",
                f"model.width={width}",
                "model.depth=3",
                "model.width_mult=2",
                "model.kernel_size=3",
                "model.stride=1",
                "model.padding=1",
                "model.pool=max",
                "model.global_pool=true",
                "model.norm=batch",
                f"model.bias={b}",
            ]
            cases.append(Case(name, bias, model, data))
    return cases


def image_model(width: int, bias: str) -> list[str]:
    """conf/experiment/images_bias_vs_width.yaml's CNN: 3 blocks of 3×3 stride-2 convs with
    batch norm, width×(1, 2, 4) channels, 28→14→7→4, flatten → linear."""
    return [
        "model=vgg",
        f"model.width={width}",
        "model.depth=3",
        "model.width_mult=2",
        "model.kernel_size=3",
        "model.stride=2",
        "model.padding=1",
        "model.pool=none",
        "model.global_pool=false",
        f"model.bias={bias}",
    ]
