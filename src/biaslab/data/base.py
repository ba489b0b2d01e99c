"""Device-resident datasets: the whole split lives as tensors on the training device and a
batch is an index slice of a per-epoch permutation. For datasets of a few MB this is far
cheaper than a DataLoader (no workers, no collation, no host→device copy per step)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import torch

from biaslab.data.errors import BadData
from biaslab.schema import Flag, Float32, Fraction, PositiveInt, Seed


@dataclass(frozen=True)
class DataSpec:
    """What a model builder needs to know about the data."""

    input_shape: tuple[int, ...]
    num_classes: int
    task: str = "classification"
    # the trivial predictor's test loss (e.g. 1/6 MSE on the adding problem); tasks report
    # metric / baseline as *_over_baseline when it is set
    baseline: float | None = None


def already_on(batch, device: torch.device) -> bool:
    """Whether ``batch`` is a tuple/list of tensors all on ``device`` (nothing to move), or a
    list of such batches (:class:`Chunks`)."""
    if isinstance(batch, list) and batch and isinstance(batch[0], (tuple, list)):
        return all(already_on(b, device) for b in batch)
    return isinstance(batch, (tuple, list)) and all(
        isinstance(t, torch.Tensor) and t.device == device for t in batch
    )


class TensorBatches:
    """Iterable of (x, y) batches over tensors, reshuffled every epoch.

    The order of epoch ``e`` is a permutation drawn from ``seed`` and ``e`` alone. Where it
    starts is read from ``position()`` (the number of batches already trained, i.e. the
    trainer's global step) when given, so a run resumed from a checkpoint in the middle of an
    epoch continues with exactly the batches the uninterrupted run would have seen. Without
    ``position`` each ``iter()`` starts the next epoch.

    With ``world_size`` > 1 (DDP) every rank walks the same order in global batches of
    ``batch_size * world_size`` and takes the ``rank``-th of ``world_size`` equal slices of each:
    ``batch_size`` is per device, and the ranks together see what one device would see with
    the global batch. A shuffled (training) order is padded from its start to a multiple of
    ``world_size`` so that every rank gets the same number of examples, as torch's
    DistributedSampler does; an evaluation order is not padded (no example counts twice), so
    the last slices may be one example short or, on the last ranks, empty (skipped).
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        position: Callable[[], int] | None = None,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.position = position
        self.rank, self.world_size = rank, world_size
        self._epochs_started = 0

    def _size(self) -> int:
        n, w = len(self.x), self.world_size
        return -(-n // w) * w if self.shuffle else n

    def __len__(self) -> int:
        return -(-self._size() // (self.batch_size * self.world_size))

    def __iter__(self):
        if self.position is None:
            epoch, skip = self._epochs_started, 0
        else:
            epoch, skip = divmod(self.position(), len(self))
        self._epochs_started = epoch + 1
        yield from self._epoch(epoch, skip)

    def stream(self, start: int):
        """Every batch from the ``start``-th on (counted from the first epoch's first), across
        epochs, without end: the batches ``iter()`` gives epoch after epoch."""
        epoch, skip = divmod(start, len(self))
        while True:
            yield from self._epoch(epoch, skip)
            epoch, skip = epoch + 1, 0

    def _epoch(self, epoch: int, skip: int):
        n, size, w = len(self.x), self._size(), self.world_size
        b = self.batch_size * w
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            order = torch.randperm(n, generator=g)
            order = torch.cat([order, order[: size - n]]).to(self.x.device)
        for i in range(skip, len(self)):
            start, stop = i * b, min((i + 1) * b, size)
            # this rank's slice of global batch i (the whole batch when world_size is 1)
            lo = start - (-(stop - start) * self.rank // w)
            hi = start - (-(stop - start) * (self.rank + 1) // w)
            if lo == hi:
                continue
            if self.shuffle:
                idx = order[lo:hi]
                yield self.x[idx], self.y[idx]
            else:
                yield self.x[lo:hi], self.y[lo:hi]

    # Lightning treats a loader with these two methods as resumable mid-epoch. The state is the
    # trainer's own step count (see ``position``), so there is nothing else to save.
    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Chunks:
    """The batches of ``batches`` K at a time, as lists, without end: what one training step
    of ``train.steps_per_call=K`` takes (K optimizer steps). The first chunk starts at the
    batch ``position()`` (the trainer's step count), so a resumed run continues with the
    batches the uninterrupted run would have seen, as :class:`TensorBatches` does."""

    def __init__(self, batches, k: int, position: Callable[[], int]):
        # batches: anything with TensorBatches' stream(start), e.g. a packed job's MemberBatches
        self.batches, self.k, self.position = batches, k, position

    def __iter__(self):
        stream = self.batches.stream(self.position())
        while True:
            yield [next(stream) for _ in range(self.k)]

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    @classmethod
    def loader(cls, batches, k: int, trainer):
        """A data module's training loader: ``batches`` themselves for one step per call, else
        K at a time from the trainer's step count on."""
        return batches if k == 1 else cls(batches, k, lambda: trainer.global_step)


class TensorDataModule(L.LightningDataModule):
    """Base for small datasets: subclasses implement :meth:`load` returning float inputs and
    integer labels for the train and test splits; this class carves the validation split from
    train (the test split is never used for selection), standardizes with train statistics,
    adds ``shift`` and moves everything to the training device once."""

    def __init__(
        self,
        batch_size: PositiveInt = 100,
        val_fraction: Fraction = 0.1,
        normalize: Flag = True,
        shift: Float32 = 0.0,
        seed: Seed = 42,
        shuffle_seed: Seed = 0,
        data_dir: str = "data",
    ):
        super().__init__()
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.normalize = normalize
        self.shift = shift
        self.seed = seed
        self.shuffle_seed = shuffle_seed
        self.data_dir = data_dir
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        # train.steps_per_call (set by the job): > 1 gives the training loader as Chunks
        self.steps_per_call = 1

    # -- to implement -------------------------------------------------------------------
    def load(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return x_train, y_train, x_test, y_test (CPU tensors, x shaped (N, *input_shape))."""
        raise NotImplementedError

    num_classes: int = 0

    # -- shared -------------------------------------------------------------------------
    @property
    def spec(self) -> DataSpec:
        self.prepare_splits()
        return DataSpec(tuple(self.splits["train"][0].shape[1:]), self.num_classes)

    def prepare_splits(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Load (or generate) the data once and split it; later calls return the same splits."""
        if self.splits:
            return self.splits
        x, y, x_test, y_test = self.load()
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(x), generator=g)
        n_val = round(len(x) * self.val_fraction)
        val_idx, train_idx = order[:n_val], order[n_val:]
        x_train, y_train = x[train_idx], y[train_idx]
        std = None
        if self.normalize:
            mean, std = x_train.mean(), x_train.std()
            x, x_test, x_train = (x - mean) / std, (x_test - mean) / std, (x_train - mean) / std
        splits = {
            "train": (x_train + self.shift, y_train),
            "val": (x[val_idx] + self.shift, y[val_idx]),
            "test": (x_test + self.shift, y_test),
        }
        for name, (xs, _) in splits.items():  # a NaN input is the data's fault, not a
            if not torch.isfinite(xs).all():  # divergence of the run that reads it
                n = int((~torch.isfinite(xs)).sum())
                constant = " (the training inputs are constant: SD 0)" if std == 0 else ""
                raise BadData(
                    f"{type(self).__name__} from {self.data_dir}: {n} non-finite {name} "
                    f"inputs{constant}"
                )
        self.splits = splits
        return self.splits

    def setup(self, stage: str | None = None) -> None:
        self.prepare_splits()
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}

    def training_inputs(self, batch, step: int):
        """Training batch ``batch`` as the model takes it at optimizer step ``step``: what the
        batch hook gives for one step a call, for the task's loop to make each batch of a
        K-step call (:class:`Chunks`) at its own step. Here the batch itself (the splits are
        the model's inputs already)."""
        return batch

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        # setup() put the splits on the training device, so a batch is already there; Lightning's
        # generic move walks the batch on every step (~10-20 µs on a CPU) to find that out
        if already_on(batch, device):
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def _batches(self, split: str, shuffle: bool) -> TensorBatches:
        x, y = self.splits[split]
        trainer = self.trainer
        position = (lambda: trainer.global_step) if shuffle and trainer is not None else None
        # under DDP each rank takes its shard of every batch; batch_size is per device
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        return TensorBatches(
            x, y, self.batch_size, shuffle, self.shuffle_seed, position, rank=rank, world_size=world
        )

    def train_dataloader(self) -> TensorBatches | Chunks:
        batches = self._batches("train", shuffle=True)
        return Chunks.loader(batches, self.steps_per_call, self.trainer)

    @property
    def steps_per_epoch(self) -> int:
        """Training batches in an epoch (what the trainer counts epochs by)."""
        return len(self._batches("train", shuffle=True))

    def eval_batches(self, split: str) -> TensorBatches:
        """Every example of ``split`` (train, val or test) once, in order, unshuffled (this
        rank's shard under DDP): the evaluation loaders' batches, for any split."""
        return self._batches(split, shuffle=False)

    def val_dataloader(self) -> TensorBatches:
        return self._batches("val", shuffle=False)

    def test_dataloader(self) -> TensorBatches:
        return self._batches("test", shuffle=False)
