"""The members' batches side by side: batch i is ``(x (B, K, *shape), y (B, K))`` where
``[:, k]`` is exactly batch i of a normal run with member k's seed."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch

from biaslab.data.base import Chunks, DataSpec, TensorBatches, TensorDataModule, already_on


def _side_by_side(tensors: Sequence[torch.Tensor]) -> tuple[torch.Tensor, bool]:
    """(one tensor, True) when every member holds the same data, else (stacked (K, N, ...),
    False)."""
    first = tensors[0]
    if all(t is first or (t.shape == first.shape and torch.equal(t, first)) for t in tensors):
        return first, True
    if any(t.shape != first.shape for t in tensors):
        raise ValueError(
            "seed-parallel members need splits of one size, got "
            f"{[tuple(t.shape) for t in tensors]}"
        )
    return torch.stack(list(tensors)), False


class MemberBatches:
    """K :class:`TensorBatches` over example indices, one per member (its ``shuffle_seed``
    and the shared step position), walked in lockstep; each step gathers every member's
    examples at once.

    Reusing TensorBatches for the order keeps member k's order, epoch boundaries and
    mid-epoch resume exactly those of a normal run.
    """

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, shared: bool, orders: Sequence[TensorBatches]
    ):
        self.x, self.y, self.shared, self.orders = x, y, shared, list(orders)
        members = torch.arange(len(orders), device=x.device)
        self._members = members.view(1, -1)

    def __len__(self) -> int:
        return len(self.orders[0])

    def _take(self, t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        # shared: t is (N, ...); else (K, N, ...) and member k reads its own row
        return t[idx] if self.shared else t[self._members, idx]

    def __iter__(self):
        for picks in zip(*self.orders, strict=True):
            yield self._gather(picks)

    def stream(self, start: int):
        """Every step's batch from the ``start``-th on, across epochs, without end (as
        :meth:`TensorBatches.stream`), for :class:`~biaslab.data.base.Chunks`."""
        for picks in zip(*(o.stream(start) for o in self.orders), strict=True):
            yield self._gather(picks)

    def _gather(self, picks):
        idx = torch.stack([i for i, _ in picks], 1)  # (B, K)
        return self._take(self.x, idx), self._take(self.y, idx)

    # resumable mid-epoch like TensorBatches: the position is the trainer's step count
    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class SeedParallelData(L.LightningDataModule):
    """The data modules of the K members (each built from its member's config) as one.

    Members whose splits are equal share one copy on the device. A member data module that
    turns batches into model inputs on the device (``on_after_batch_transfer``, e.g. the
    uint8 image datasets, which also augment there) does so for its own slice of each batch,
    attached to the same trainer, so its augmentation draws from its own seed too.
    """

    def __init__(self, members: Sequence[TensorDataModule]):
        super().__init__()
        self.members = list(members)
        sizes = {m.batch_size for m in self.members}
        if len(sizes) != 1:
            raise ValueError(f"seed-parallel members need one batch size, got {sorted(sizes)}")
        self.batch_size = sizes.pop()
        per_member = [m.prepare_splits() for m in self.members]
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor, bool, bool]] = {}
        for name in per_member[0]:
            x, x_shared = _side_by_side([s[name][0] for s in per_member])
            y, y_shared = _side_by_side([s[name][1] for s in per_member])
            self.splits[name] = (x, y, x_shared, y_shared)
        hook = type(self.members[0]).on_after_batch_transfer
        self._member_hook = hook is not L.LightningDataModule.on_after_batch_transfer
        self.steps_per_call = 1  # train.steps_per_call, set by the job (see TensorDataModule)

    @property
    def spec(self) -> DataSpec:
        return self.members[0].spec

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        self.splits = {
            k: (x.to(device), y.to(device), xs, ys) for k, (x, y, xs, ys) in self.splits.items()
        }
        for m in self.members:
            m.trainer = self.trainer  # their batch hooks read the step and the stage from it

    def _batches(self, split: str, shuffle: bool) -> MemberBatches:
        x, y, x_shared, y_shared = self.splits[split]
        if x_shared != y_shared:  # gather both the same way
            x = x if not x_shared else x.expand(len(self.members), *x.shape)
            y = y if not y_shared else y.expand(len(self.members), *y.shape)
        n = x.shape[0] if x_shared and y_shared else x.shape[1]
        index = torch.arange(n, device=x.device)
        trainer = self.trainer
        position = (lambda: trainer.global_step) if shuffle and trainer is not None else None
        orders = [
            TensorBatches(
                index,
                index,
                batch_size=self.batch_size,
                shuffle=shuffle,
                seed=m.shuffle_seed,
                position=position,
            )
            for m in self.members
        ]
        return MemberBatches(x, y, x_shared and y_shared, orders)

    def train_dataloader(self) -> MemberBatches | Chunks:
        batches = self._batches("train", shuffle=True)
        return Chunks.loader(batches, self.steps_per_call, self.trainer)

    @property
    def steps_per_epoch(self) -> int:
        return len(self._batches("train", shuffle=True))

    def eval_batches(self, split: str) -> MemberBatches:
        """Every example of ``split`` once, in order, unshuffled, for every member (as
        :meth:`~biaslab.data.base.TensorDataModule.eval_batches`)."""
        return self._batches(split, shuffle=False)

    def val_dataloader(self) -> MemberBatches:
        return self._batches("val", shuffle=False)

    def test_dataloader(self) -> MemberBatches:
        return self._batches("test", shuffle=False)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        if already_on(batch, device):  # the splits live on the device (see TensorDataModule)
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        # a call of K steps (a list, Chunks) is made batch by batch by the task's loop
        if not self._member_hook or isinstance(batch, list):
            return batch
        return self._per_member(batch, lambda m, b: m.on_after_batch_transfer(b, dataloader_idx))

    def training_inputs(self, batch, step: int):
        """Each member's slice as its own data module makes it at ``step``
        (:meth:`~biaslab.data.base.TensorDataModule.training_inputs`)."""
        if not self._member_hook:
            return batch
        return self._per_member(batch, lambda m, b: m.training_inputs(b, step))

    def _per_member(self, batch, make):
        x, y = batch
        parts = [make(m, (x[:, k], y[:, k])) for k, m in enumerate(self.members)]
        return torch.stack([p[0] for p in parts], 1), torch.stack([p[1] for p in parts], 1)
