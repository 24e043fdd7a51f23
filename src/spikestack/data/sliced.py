"""Cutting long recordings into windows (:class:`SlicedDataset`) and batching sequences of
different lengths (:class:`PadTensors`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from spikestack.atomic import atomic_write
from spikestack.data.events import check_events
from spikestack.validation import check_int, check_positive

__all__ = ["PadTensors", "SlicedDataset"]


class SlicedDataset(Dataset):
    """Every recording of ``dataset`` cut into windows, each window one sample.

    Exactly one way to cut: ``time_window`` (µs, with ``overlap`` µs between windows),
    ``event_count`` (events, with ``overlap`` events), or ``indices`` (for each recording a
    list of ``(start, end)`` event-index pairs). Only whole windows are made, except that a
    recording shorter than one window gives one (partial) window, so none is lost.

    The windows of every recording (``(recording, first event, end event)``) are computed
    once, reading each recording once, and kept; with ``metadata_path`` they are written
    there (atomically, as JSON with the cutting parameters) and read back by a later
    ``SlicedDataset`` with the same parameters, so the recordings are not read again to cut.

    ``dataset`` gives events through ``dataset.read(i)`` (the spikestack event data sets)
    or as the first element of ``dataset[i]``; labels through ``dataset.targets`` or the
    second element. A window's events go through ``transform(events, rng=rng)`` and then
    ``frames`` (e.g. ``ToFrame``); ``target_transform`` takes the label.
    """

    def __init__(
        self,
        dataset: Any,
        *,
        time_window: float | None = None,
        event_count: int | None = None,
        indices: Sequence[Sequence[tuple[int, int]]] | None = None,
        overlap: float = 0,
        transform: Callable[..., Any] | None = None,
        frames: Callable[[np.ndarray], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        metadata_path: str | os.PathLike[str] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        chosen = [n for n, v in (("time_window", time_window), ("event_count", event_count),
                                 ("indices", indices)) if v is not None]  # fmt: skip
        if len(chosen) != 1:
            raise ValueError(
                f"SlicedDataset needs exactly one of time_window, event_count, indices; got {chosen or 'none'}"
            )
        if time_window is not None:
            check_positive("time_window", time_window)
        if event_count is not None:
            check_int("event_count", event_count)
        size = time_window if time_window is not None else event_count
        if size is not None and not 0 <= overlap < size:
            raise ValueError(f"overlap must be in [0, {chosen[0]}={size}); got {overlap!r}")
        if indices is not None and len(indices) != len(dataset):
            raise ValueError(
                f"indices names windows for {len(indices)} recordings; the data set has {len(dataset)}"
            )
        self.dataset = dataset
        self.time_window, self.event_count, self.overlap = time_window, event_count, overlap
        self.transform, self.frames, self.target_transform = transform, frames, target_transform
        self.rng = rng
        self.params = {"time_window": time_window, "event_count": event_count,
                       "overlap": overlap, "recordings": len(dataset)}  # fmt: skip
        self.windows = self._windows(indices, metadata_path)

    # -- the windows ---------------------------------------------------------------------
    def _events(self, index: int) -> np.ndarray:
        read = getattr(self.dataset, "read", None)
        return check_events(read(index) if read is not None else self.dataset[index][0])

    def _cut(self, t: np.ndarray) -> list[tuple[int, int]]:
        n = len(t)
        if self.event_count is not None:
            size, stride = self.event_count, self.event_count - int(self.overlap)
            starts = range(0, max(n - size, 0) + 1, stride) if n >= size else [0]
            return [(s, min(s + size, n)) for s in starts]
        size, stride = float(self.time_window), float(self.time_window) - float(self.overlap)
        if n == 0:
            return [(0, 0)]
        span = float(t[-1] - t[0]) + 1
        count = int(np.floor((span - size) / stride)) + 1 if span >= size else 1
        begins = t[0] + np.arange(count) * stride
        lo = np.searchsorted(t, begins, side="left")
        hi = np.searchsorted(t, begins + size, side="left") if span >= size else np.array([n])
        return list(zip(lo.tolist(), hi.tolist(), strict=True))

    def _windows(self, indices: Any, path: Any) -> np.ndarray:
        if indices is not None:
            rows = [(i, int(a), int(b)) for i, pairs in enumerate(indices) for a, b in pairs]
            return np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        if path is not None and os.path.isfile(path):
            stored = json.loads(open(path).read())  # noqa: SIM115
            if stored.get("params") == self.params:
                return np.asarray(stored["windows"], dtype=np.int64).reshape(-1, 3)
        rows = []
        for i in range(len(self.dataset)):
            t = np.sort(self._events(i)["t"])
            rows += [(i, a, b) for a, b in self._cut(t)]
        windows = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        if path is not None:
            text = json.dumps({"params": self.params, "windows": windows.tolist()})
            atomic_write(path, lambda f: f.write(text.encode()))
        return windows

    # -- the samples -----------------------------------------------------------------------
    @property
    def targets(self) -> list[Any]:
        labels = getattr(self.dataset, "targets", None)
        if labels is None:
            labels = [self.dataset[i][1] for i in range(len(self.dataset))]
        return [labels[i] for i in self.windows[:, 0]]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        recording, start, end = (int(v) for v in self.windows[index])
        events = self._events(recording)
        events = events[np.argsort(events["t"], kind="stable")][start:end]
        if self.transform is not None:
            events = self.transform(events, rng=self.rng)
        data = self.frames(events) if self.frames is not None else events
        labels = getattr(self.dataset, "targets", None)
        label = labels[recording] if labels is not None else self.dataset[recording][1]
        if self.target_transform is not None:
            label = self.target_transform(label)
        return data, label


class PadTensors:
    """A DataLoader ``collate_fn`` for samples ``(data [T_i, ...], label)`` of different
    lengths: pads each to the longest with zeros at the end and stacks them time-first
    (``[T_max, B, ...]``; ``batch_first=True`` for ``[B, T_max, ...]``). Returns
    ``(data, labels, lengths)``, ``lengths[b]`` the original ``T`` of sample ``b``."""

    def __init__(self, batch_first: bool = False) -> None:
        self.batch_first = bool(batch_first)

    def __call__(self, batch: Sequence[tuple[Any, Any]]) -> tuple[Tensor, Tensor, Tensor]:
        if not batch:
            raise ValueError("PadTensors got an empty batch")
        data = [
            torch.as_tensor(np.asarray(d) if not isinstance(d, Tensor) else d) for d, _ in batch
        ]
        shapes = {tuple(d.shape[1:]) for d in data}
        if len(shapes) != 1 or any(d.dim() < 1 for d in data):
            raise ValueError(
                f"PadTensors pads along time only: every sample must be [T, ...] with the same "
                f"trailing shape; got {[tuple(d.shape) for d in data]}"
            )
        lengths = torch.tensor([d.shape[0] for d in data])
        out = data[0].new_zeros((len(data), int(lengths.max()), *data[0].shape[1:]))
        for b, d in enumerate(data):
            out[b, : d.shape[0]] = d
        labels = torch.as_tensor(np.asarray([label for _, label in batch]))
        return (out if self.batch_first else out.transpose(0, 1).contiguous()), labels, lengths
