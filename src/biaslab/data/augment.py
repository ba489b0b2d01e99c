"""Augmentation of a whole batch at once, on the batch's device."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def crop_flip(
    x: torch.Tensor,
    generator: torch.Generator,
    padding: int = 4,
    flip: bool = True,
    fill: tuple[float, ...] | None = None,
) -> torch.Tensor:
    """torchvision's ``RandomCrop(size, padding)`` then ``RandomHorizontalFlip()``, drawn per
    image: each image of ``x`` (N, C, H, W) is cropped back to H×W at a random offset from its
    zero-padded copy and, with probability 1/2, mirrored left to right.

    The random numbers come from ``generator`` on the CPU (a few per image), so one seed gives
    the same batch on every device; the crop itself is one gather on ``x``'s device. Padding
    the raw uint8 pixels with 0 pads with black, as torchvision does before normalizing;
    ``fill`` (one value per channel) pads with those values instead.
    """
    n, c, h, w = x.shape
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator)
    mirrored = torch.rand(n, generator=generator) < 0.5
    if not flip:
        mirrored.zero_()
    offsets, mirrored = offsets.to(x.device), mirrored.to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding))
    if fill is not None:  # the border only: the image's own values are kept exactly
        inside = torch.zeros(padded.shape[-2:], dtype=torch.bool, device=x.device)
        inside[padding : padding + h, padding : padding + w] = True
        value = torch.tensor(fill, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
        padded = torch.where(inside, padded, value)
    cols = torch.arange(w, device=x.device)
    cols = torch.where(mirrored[:, None], w - 1 - cols, cols) + offsets[1, :, None]  # (N, W)
    rows = torch.arange(h, device=x.device) + offsets[0, :, None]  # (N, H)
    images = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[images, channels, rows[:, None, :, None], cols[:, None, None, :]]
