"""Data order and augmentation that a resumed run reproduces exactly.

BasicSR resumes at the start of the interrupted epoch (batches already trained on are seen twice)
and draws random crops and flips from per-worker streams that a restart resets. Here the sampler
skips what the interrupted epoch already consumed, and each sample's augmentation is seeded by
(seed, epoch, index), so the result does not depend on worker count, worker scheduling or resumes.
"""
import random

import numpy as np
import torch

from .samples import ExplainedDataset, read_sample

__all__ = ['SeededDataset', 'ResumableSampler']


class SeededDataset(ExplainedDataset):
    """Wraps a dataset; ``dataset[(epoch, index)]`` seeds ``random`` and numpy from (seed, epoch, index).

    A sample that fails to read raises :class:`~basicsr_nafnet.engine.samples.SampleError` naming ``where``.
    """

    def __init__(self, dataset, seed, where='datasets.train'):
        super().__init__(dataset, where)
        self.seed = int(seed)

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        sample_seed = int(np.random.SeedSequence([self.seed, epoch, index]).generate_state(1)[0])
        py_state, np_state = random.getstate(), np.random.get_state()
        random.seed(sample_seed)
        np.random.seed(sample_seed)
        try:
            return read_sample(self.dataset, index, self.where)
        finally:  # leave the caller's streams as they were (matters with num_worker_per_gpu: 0)
            random.setstate(py_state)
            np.random.set_state(np_state)


class ResumableSampler(torch.utils.data.Sampler):
    """BasicSR's ``EnlargedSampler`` order, yielding ``(epoch, index)`` and able to skip a resumed epoch's start.

    Args:
        sampler (EnlargedSampler): The sampler whose order is kept.
        batch_size (int): Per-process batch size, to turn consumed iterations into samples.
    """

    def __init__(self, sampler, batch_size):
        self.sampler = sampler
        self.batch_size = batch_size
        self.epoch = 0
        self._skip = {}

    def skip_iterations(self, epoch, iterations):
        """In ``epoch``, leave out the samples of the first ``iterations`` batches (already trained on)."""
        self._skip[epoch] = iterations * self.batch_size

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        skip = self._skip.pop(self.epoch, 0)
        for i, index in enumerate(self.sampler):
            if i >= skip:
                yield self.epoch, index

    def __len__(self):
        return len(self.sampler) - self._skip.get(self.epoch, 0)
