"""SlicedDataset, PadTensors and split_dataset: windows by hand, metadata computed once,
DataLoader batches with two workers, stratified seeded splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from spikestack.data import PadTensors, SlicedDataset, make_events, split_dataset
from spikestack.data.transforms import ToFrame


class Recordings(torch.utils.data.Dataset):
    """Three recordings of 0..n-1 µs, one event per µs; label = index % 2."""

    def __init__(self, lengths=(10, 25, 4)):
        self.lengths = lengths
        self.reads = 0

    def read(self, index):
        self.reads += 1
        n = self.lengths[index]
        return make_events(np.arange(n), np.zeros(n), np.zeros(n), p=np.ones(n))

    @property
    def targets(self):
        return [i % 2 for i in range(len(self.lengths))]

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, index):
        return self.read(index), self.targets[index]


def test_windows_by_time_count_and_indices() -> None:
    by_time = SlicedDataset(Recordings(), time_window=10)
    # 10 us -> [0,10); 25 us -> [0,10), [10,20) (the tail is not a whole window); 4 us -> one partial
    assert by_time.windows.tolist() == [[0, 0, 10], [1, 0, 10], [1, 10, 20], [2, 0, 4]]
    overlapping = SlicedDataset(Recordings(), time_window=10, overlap=5)
    assert overlapping.windows[overlapping.windows[:, 0] == 1, 1:].tolist() == [
        [0, 10],
        [5, 15],
        [10, 20],
        [15, 25],
    ]
    by_count = SlicedDataset(Recordings(), event_count=8)
    assert by_count.windows.tolist() == [[0, 0, 8], [1, 0, 8], [1, 8, 16], [1, 16, 24], [2, 0, 4]]
    chosen = SlicedDataset(Recordings(), indices=[[(0, 3)], [(5, 9), (20, 25)], []])
    assert len(chosen) == 3
    events, label = chosen[1]
    assert events["t"].tolist() == [5, 6, 7, 8] and label == 1
    assert chosen.targets == [0, 1, 1]
    with pytest.raises(ValueError, match="exactly one of"):
        SlicedDataset(Recordings(), time_window=10, event_count=3)
    with pytest.raises(ValueError, match="overlap"):
        SlicedDataset(Recordings(), time_window=10, overlap=10)


def test_metadata_is_computed_once_and_reused(tmp_path) -> None:
    path = tmp_path / "windows.json"
    source = Recordings()
    first = SlicedDataset(source, time_window=10, metadata_path=path)
    assert source.reads == 3 and path.is_file()
    again = Recordings()
    second = SlicedDataset(again, time_window=10, metadata_path=path)
    assert again.reads == 0 and np.array_equal(first.windows, second.windows)
    other = Recordings()
    SlicedDataset(other, time_window=7, metadata_path=path)  # other parameters: recomputed
    assert other.reads == 3


def test_frames_padding_and_a_two_worker_loader() -> None:
    sliced = SlicedDataset(Recordings((30, 12, 50)), event_count=10,
                           frames=ToFrame((1, 1, 1), time_window=4))  # fmt: skip
    frames, label = sliced[0]
    assert frames.shape == (2, 1, 1, 1)  # 10 events over 10 us: two whole windows of 4 us
    loader = DataLoader(sliced, batch_size=4, num_workers=2, collate_fn=PadTensors())
    batches = list(loader)
    assert sum(b[0].shape[1] for b in batches) == len(sliced)
    data, labels, lengths = batches[0]
    assert (
        data.shape[0] == int(lengths.max()) and data.shape[1] == 4 and labels.dtype == torch.int64
    )
    padded = PadTensors(batch_first=True)([(np.ones((2, 3)), 0), (np.ones((5, 3)), 1)])
    assert (
        padded[0].shape == (2, 5, 3)
        and padded[0][0, 2:].sum() == 0
        and padded[2].tolist() == [2, 5]
    )
    with pytest.raises(ValueError, match="same trailing shape"):
        PadTensors()([(np.ones((2, 3)), 0), (np.ones((2, 4)), 1)])


def test_split_dataset_stratified_seeded_and_complete() -> None:
    class Labelled(torch.utils.data.Dataset):
        targets = [i % 3 for i in range(90)]

        def __len__(self):
            return 90

        def __getitem__(self, i):
            return i, self.targets[i]

    train, val, test = split_dataset(Labelled(), [0.6, 0.2, 0.2], seed=4)
    assert (len(train), len(val), len(test)) == (54, 18, 18)
    assert sorted(train.indices + val.indices + test.indices) == list(range(90))
    for part in (train, val, test):  # each class in proportion
        counts = np.bincount([Labelled.targets[i] for i in part.indices], minlength=3)
        assert counts.tolist() == [len(part) // 3] * 3
    again = split_dataset(Labelled(), [0.6, 0.2, 0.2], seed=4)
    assert again[0].indices == train.indices
    assert split_dataset(Labelled(), [0.6, 0.2, 0.2], seed=5)[0].indices != train.indices
    loose = split_dataset(Labelled(), [0.5, 0.5], seed=0, stratify=False)
    assert len(loose[0]) == 45
    with pytest.raises(ValueError, match="add up to 1"):
        split_dataset(Labelled(), [0.5, 0.4])
