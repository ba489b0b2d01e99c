"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 as device-resident uint8 images.

The images stay uint8 on the training device (CIFAR-10's 50,000 train images are 150 MB, a
quarter of float32), batched by :class:`~biaslab.data.base.TensorBatches` like the small
datasets. Each batch becomes float right after it reaches the device
(:meth:`ImageDataModule.on_after_batch_transfer`): a training batch is first augmented
(random crop from a 4-pixel zero padding and horizontal flip, when ``augment``), then every
batch is scaled to [0, 1], standardized per channel with the dataset's published statistics
(when ``normalize``) and shifted by ``shift``. A call of ``train.steps_per_call`` K > 1 takes
K training batches: the task's loop makes each at its own step
(:meth:`ImageDataModule.training_inputs`), so each gets the crops one step per call gives it.
On CUDA the batch is made channels_last, the memory format cuDNN's tensor-core kernels for
2-D convolutions work in (the activations then keep it through the network); other devices
keep the default layout.

``train_samples`` keeps a fixed subset of the training split. Fashion-MNIST's ``background=noise``
replaces the black background by noise (:mod:`biaslab.data.background`): its images are then
float pixel values, converted by the same per-batch operations.
"""

from __future__ import annotations

import torch

from biaslab.data.augment import crop_flip
from biaslab.data.background import noisy_background
from biaslab.data.base import TensorDataModule
from biaslab.data.checks import why_bad
from biaslab.data.download import DataUnavailable, load_uint8
from biaslab.schema import Background, Flag, OptionalPositiveInt, Positive


class ImageDataModule(TensorDataModule):
    """Base of the torchvision image datasets: ``name`` (a key of
    :data:`biaslab.data.download.SOURCES`), published per-channel ``mean`` and ``std`` of the
    training images in [0, 1], ``num_classes``.

    The validation split is carved from train with ``seed`` exactly as for the small
    datasets; the test split is the dataset's own. ``augment``: random crop and flip of every
    training batch, drawn from a generator seeded by ``shuffle_seed`` and the trainer's
    global step (and rank), so a run, resumed or not, sees the same crops on any device.

    ``train_samples``: null keeps the whole training split; N keeps N of its images, drawn
    with ``seed`` after the validation split (which, like the test split, is unchanged), so
    every run seed and arm trains on the same subset, and a smaller one is part of a larger.
    """

    name = ""
    source_dir: str | None = None  # a folder holding the raw files (see load_uint8)
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    padding = 4  # pixels of the random crop (the ResNet paper's CIFAR augmentation)
    image: tuple[int, int, int] = (1, 28, 28)  # (channels, height, width)
    train_images = 60_000  # the training set, before the validation split is carved from it
    pad_fill: tuple[float, ...] | None = None  # per channel, pixel units (None: black)

    def __init__(self, augment: Flag = False, train_samples: OptionalPositiveInt = None, **kwargs):
        super().__init__(**kwargs)
        self.augment = augment
        self.train_samples = train_samples
        self._stats: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def load(self):
        x, y = (None, *self.image), (None,)
        shapes = {"x": x, "y": y, "x_test": x, "y_test": y}
        d = load_uint8(
            self.name,
            self.data_dir,
            self.source_dir,
            check=lambda d: why_bad(d, shapes, "u", self.num_classes),
        )
        return d["x"], d["y"], d["x_test"], d["y_test"]

    def prepare_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """As the base class, but the images stay uint8: scaling, normalization and shift
        happen per batch on the device (:meth:`inputs`)."""
        if self.splits:
            return self.splits
        x, y, x_test, y_test = self.load()
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(x), generator=g)
        n_val = round(len(x) * self.val_fraction)
        val_idx, train_idx = order[:n_val], self._subset(order[n_val:], g)
        self.splits = {
            "train": (x[train_idx], y[train_idx]),
            "val": (x[val_idx], y[val_idx]),
            "test": (x_test, y_test),
        }
        return self.splits

    def _subset(self, train_idx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """``train_samples`` of the training split's indices, drawn by ``g`` (all: None)."""
        n = self.train_samples
        if n is None:
            return train_idx
        if n > len(train_idx):  # the config check knows the full datasets' sizes; a copy
            raise DataUnavailable(  # of another size is refused here
                f"data.train_samples={n} is not allowed: expected null or an integer from 1 "
                f"to {len(train_idx)} (the training split)"
            )
        # the first n of one permutation, kept in the split's order
        return train_idx[torch.randperm(len(train_idx), generator=g)[:n].sort().values]

    def _standard(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-channel (mean, std) that standardize pixels in [0, 1] (0, 1 without
        ``normalize``)."""
        c = len(self.mean)
        if not self.normalize:
            return torch.zeros(c), torch.ones(c)
        return torch.tensor(self.mean), torch.tensor(self.std)

    def _scale(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(multiplier, offset) per channel: x_uint8 * m + o = (x / 255 - mean) / std + shift."""
        if device not in self._stats:
            mean, std = self._standard()
            c = len(mean)
            m, o = 1 / (255 * std), self.shift - mean / std
            self._stats[device] = (m.view(1, c, 1, 1).to(device), o.view(1, c, 1, 1).to(device))
        return self._stats[device]

    def inputs(self, x: torch.Tensor, step: int | None = None, rank: int = 0) -> torch.Tensor:
        """A uint8 batch (float pixel values with a noise background) as the model's float
        input; augmented when ``step`` is given."""
        if step is not None:
            seed = (self.shuffle_seed * 1_000_003 + step) * 1_009 + rank
            x = crop_flip(x, torch.Generator().manual_seed(seed), self.padding, fill=self.pad_fill)
        if x.is_cuda:  # converted while still uint8; the float ops below keep the layout
            x = x.contiguous(memory_format=torch.channels_last)
        m, o = self._scale(x.device)
        return self._as_model_input(torch.addcmul(o, x.float(), m))

    def _as_model_input(self, x: torch.Tensor) -> torch.Tensor:
        """Lightning converts a float batch to the precision's input type before transfer
        (float64 under ``64-true``, half under ``16-true``/``bf16-true``; mixed precision keeps
        float32); a uint8 batch passes unconverted, so its float inputs are converted here."""
        trainer = self.trainer
        return trainer.precision_plugin.convert_input(x) if trainer is not None else x

    def shifted_inputs(self, x: torch.Tensor, offset: float = 0.0, scale: float = 1.0):
        """Model inputs of a uint8 batch whose pixels p (in [0, 1]) became ``scale * p + offset``
        before standardization (not clipped): a test-time brightness offset and contrast
        scale. ``offset=0, scale=1`` gives exactly :meth:`inputs` (the same operations)."""
        if x.is_cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        m, o = self._scale(x.device)
        # (x/255*scale + offset - mean)/std + shift = x*(m*scale) + (o + offset*255*m)
        return self._as_model_input(torch.addcmul(o + offset * 255 * m, x.float(), m * scale))

    def training_inputs(self, batch, step: int):
        """A uint8 training batch as the model's input at optimizer step ``step``, augmented
        with that step's seed when ``augment``."""
        x, y = batch
        if not self.augment:
            return self.inputs(x), y
        rank = self.trainer.global_rank if self.trainer is not None else 0
        return self.inputs(x, step, rank), y

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, list):  # the K batches of a call (Chunks): the task's loop makes
            return batch  # each at its own step (training_inputs), one at a time
        trainer = self.trainer
        if trainer is not None and trainer.training:
            return self.training_inputs(batch, trainer.global_step)
        x, y = batch
        return self.inputs(x), y


class MNIST(ImageDataModule):
    """LeCun et al.'s handwritten digits: 1×28×28, 60,000 train / 10,000 test, 10 classes."""

    name = "mnist"
    num_classes = 10
    mean, std = (0.1307,), (0.3081,)


class FashionMNIST(ImageDataModule):
    """Zalando's clothing images (Xiao et al. 2017): MNIST's format, 10 classes.

    ``source_dir``: a folder holding the four idx files (gzipped or not), read instead of a
    download and verified by the MD5 of their content (:mod:`biaslab.data.local_copy`).
    ``None``: Debian's copy (package ``dataset-fashion-mnist``) when installed, else
    torchvision's download.

    ``background``: ``none``, the images as they are; ``noise``, every background pixel (raw
    0) of every image is, in the model's standardized input, N(0, ``background_std``²) noise
    drawn once from ``seed`` (:func:`~biaslab.data.background.noisy_background`; ``shift``
    is added after). Augmented crops are then padded with the noise's mean, 0, not black.
    """

    name = "fashion_mnist"
    num_classes = 10
    mean, std = (0.2860,), (0.3530,)

    def __init__(
        self,
        source_dir: str | None = None,
        background: Background = "none",
        background_std: Positive = 0.77,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source_dir = source_dir
        self.background, self.background_std = background, float(background_std)
        if background == "noise":  # the pixel value that standardizes to 0
            self.pad_fill = tuple(255 * float(m) for m in self._standard()[0])

    def load(self):
        x, y, x_test, y_test = super().load()
        if self.background == "noise":
            mean, std = self._standard()
            x, x_test = noisy_background([x, x_test], self.background_std, self.seed, mean, std)
        return x, y, x_test, y_test


class _CIFAR(ImageDataModule):
    """3×32×32 colour images, 50,000 train / 10,000 test (Krizhevsky 2009); augmented by
    default, as in the ResNet paper's CIFAR experiments."""

    image = (3, 32, 32)
    train_images = 50_000

    def __init__(self, augment: Flag = True, **kwargs):
        super().__init__(augment=augment, **kwargs)


class CIFAR10(_CIFAR):
    name = "cifar10"
    num_classes = 10
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class CIFAR100(_CIFAR):
    name = "cifar100"
    num_classes = 100
    mean, std = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
