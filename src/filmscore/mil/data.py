"""Variable-size bags for the neural models: padding with masks, fold-aware batches, the DataModule."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from ..errors import FilmscoreError, Problem

# ---------------------------------------------------------------- padding and batches


def pad_bags(bags: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack variable-size bags into (n, N_max, D) zeros-padded float32 with a (n, N_max) mask."""
    n, width = len(bags), bags[0].shape[1]
    lengths = torch.tensor([b.shape[0] for b in bags], dtype=torch.long)
    nmax = max(1, int(lengths.max()))
    x = torch.zeros(n, nmax, width, dtype=torch.float32)
    for i, b in enumerate(bags):
        if len(b):
            x[i, : len(b)] = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))
    mask = torch.arange(nmax)[None, :] < lengths[:, None]
    return x, mask, lengths


class FoldBatchSampler:
    """Batches of bag indices for one epoch: a seeded permutation of all films, cut into
    consecutive batches of ``batch_size``, keeping only the films in ``keep``.

    Every consumer (the fold-batched model, or one fold's own model) cuts the same
    permutation at the same places, so a single fold trained alone sees exactly the
    batches the batched model shows it (its held-out film removed). Empty batches
    are skipped. Epoch e uses the permutation of ``default_rng([seed, e])``.
    """

    def __init__(self, n: int, batch_size: int, seed: int, keep: np.ndarray | None = None):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.keep = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
        self.epoch = 0

    def _batches(self, epoch: int) -> list[list[int]]:
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        out = []
        for s in range(0, self.n, self.batch_size):
            idx = perm[s: s + self.batch_size]
            idx = idx[self.keep[idx]]
            if len(idx):
                out.append(idx.tolist())
        return out

    def __iter__(self):
        batches = self._batches(self.epoch)
        self.epoch += 1
        return iter(batches)

    # No __len__: the number of batches varies between epochs once films are
    # filtered out, and Lightning would otherwise cut every epoch at the length
    # it read once. Without it the Trainer runs each epoch to its end.


class _Indices(torch.utils.data.Dataset):
    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


class BagDataModule(pl.LightningDataModule):
    """Variable-size bags for a MIL LightningModule, padded per batch with masks.

    ``train`` (n_folds, n_films) says which films train which fold's model; each
    batch carries its slice of it, so the module masks every held-out film out of
    its fold's loss (and out of that fold's optimiser step when a batch holds none
    of its training films). Films with empty bags never enter a batch.
    """

    def __init__(self, bags: Sequence[np.ndarray], Y: np.ndarray, train: np.ndarray, batch_size: int = 16, seed: int = 0):
        super().__init__()
        self.x, self.mask, self.lengths = pad_bags(bags)
        self.y = torch.as_tensor(np.asarray(Y), dtype=torch.float32)
        self.train = torch.as_tensor(np.asarray(train, dtype=bool))
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.keep = (self.train.any(0) & (self.lengths > 0)).numpy()
        if not self.keep.any():
            raise FilmscoreError(Problem("training data", "no film with a non-empty bag to train on",
                                         "check the cue and feature stages"))

    def collate(self, idx: list[int]):
        i = torch.as_tensor(idx, dtype=torch.long)
        length = int(self.lengths[i].max())
        return self.x[i, :length], self.mask[i, :length], self.y[i], self.train[:, i]

    def train_dataloader(self) -> DataLoader:
        sampler = FoldBatchSampler(len(self.lengths), self.batch_size, self.seed, self.keep)
        return DataLoader(_Indices(len(self.lengths)), batch_sampler=sampler, collate_fn=self.collate, num_workers=0)


__all__ = ["pad_bags", "FoldBatchSampler", "BagDataModule"]
