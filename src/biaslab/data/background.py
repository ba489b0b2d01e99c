"""Images whose background is no longer a constant: every background pixel (raw value 0) is
replaced by noise that the model sees, once standardized, as N(0, sd²).

Black backgrounds standardize to one constant (-0.81 on Fashion-MNIST, half its pixels): an
input a network without biases can turn into a bias. MNIST-1D has no such constant, its
background is noise. The noise is drawn once per pixel from ``seed`` alone, on the CPU, so it
is a fixed property of the dataset: the same for every run seed, arm, resume, batch order and
device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# data.seed + this seeds the noise: a stream apart from the validation split's (data.seed)
NOISE_SEED_OFFSET = 100_019


def noisy_background(
    images: Sequence[torch.Tensor], sd: float, seed: int, mean: torch.Tensor, std: torch.Tensor
) -> list[torch.Tensor]:
    """``images`` (uint8, (N, C, H, W) each) as float32 pixel values (0 to 255) in which each
    background pixel (raw 0) is ``255 * (z * std + mean)``, z ~ N(0, sd²): standardized with
    the per-channel ``mean`` and ``std`` (of pixels in [0, 1]) it is z. Foreground pixels keep
    their raw values exactly. The images are drawn for in order from one generator.

    Pixel units, not standardized inputs: the data module's batch conversion, augmentation and
    test-time shifts then apply to these images as they are, one code path for both kinds."""
    g = torch.Generator().manual_seed(seed + NOISE_SEED_OFFSET)
    per_channel = (1, -1, 1, 1)
    scale = (255 * sd * std).float().view(per_channel)
    offset = (255 * mean).float().view(per_channel)
    out = []
    for x in images:
        z = torch.randn(x.shape, generator=g)
        out.append(torch.where(x == 0, z.mul_(scale).add_(offset), x.float()))
    return out
