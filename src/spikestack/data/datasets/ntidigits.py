"""N-TIDIGITS18 (Anumula et al. 2018, "Feature representations for neuromorphic audio spike
streams", Frontiers in Neuroscience 12:23): TIDIGITS through a 64-channel silicon cochlea."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import EventDataset, pick_split, verify_md5
from spikestack.data.events import EventFormatError

MD5 = "360a2d11e5429555c9197381cf6b58e0"  # n-tidigits.hdf5 (the value Tonic checks)
URL = "https://docs.google.com/document/d/1Uxe7GsKKXcy6SlDUX4hoJVAC0-UkH-8kr5UXp0Ndi1M (n-tidigits.hdf5)"
DIGITS = ("o", "1", "2", "3", "4", "5", "6", "7", "8", "9", "z")  # "oh" and "zero" apart


class NTIDIGITS(EventDataset):
    """Spoken digit utterances as 1-D cochlea spikes (64 channels). Samples are the
    single-digit utterances, 11 classes: ``o`` (oh), 1-9, ``z`` (zero), in that order.

    Expected under ``root``: ``n-tidigits.hdf5`` (md5-checked once per instance unless
    ``check_md5=False``), with ``{split}_labels`` (names ``speaker-...-digits``) and the
    groups ``{split}_addresses`` and ``{split}_timestamps`` (seconds) keyed by name.
    Events are ``EVENT_DTYPE_1D``: x = channel, t in µs (rounded), p = 1.
    """

    sensor_size = (64, 1, 1)
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    classes: ClassVar[list[str]] = list(DIGITS)

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        check_md5: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("NTIDIGITS", self.splits, split)
        self.path = Path(self.root) / "n-tidigits.hdf5"
        if not self.path.is_file():
            raise FileNotFoundError(
                f"N-TIDIGITS not found: expected {self.path}. Get n-tidigits.hdf5 from {URL} "
                f"and put it in {self.root}"
            )
        if check_md5:
            verify_md5(self.path, MD5, dataset="N-TIDIGITS", remedy="the file is corrupt or not "
                       "the official one (pass check_md5=False to read it anyway)")  # fmt: skip
        import h5py

        with h5py.File(self.path, "r") as f:
            key = f"{self.split}_labels"
            if key not in f:
                raise EventFormatError(f"{self.path}: no dataset {key!r} (found {sorted(f)})")
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in f[key][()]]
        self.samples = [
            (self.path, DIGITS.index(name.split("-")[-1]))
            for name in names
            if name.split("-")[-1] in DIGITS
        ]
        self.names = [name for name in names if name.split("-")[-1] in DIGITS]

    def cache_identity(self, index: int) -> tuple[Path, object]:
        return self.path, self.names[index]

    def read(self, index: int) -> np.ndarray:
        import h5py

        from spikestack.data.events import make_events

        name = self.names[index]
        with h5py.File(self.path, "r") as f:
            x = np.asarray(f[f"{self.split}_addresses"][name])
            seconds = np.asarray(f[f"{self.split}_timestamps"][name], dtype=np.float64)
        if not np.all(np.isfinite(seconds)) or (len(seconds) and seconds.min() < 0):
            raise EventFormatError(f"{self.path}: {name}: timestamps not finite and >= 0")
        if len(x) != len(seconds):
            raise EventFormatError(
                f"{self.path}: {name}: {len(x)} addresses but {len(seconds)} timestamps"
            )
        if len(x) and (x.min() < 0 or x.max() >= 64):
            raise EventFormatError(f"{self.path}: {name}: channels outside 0-63")
        return make_events(np.rint(seconds * 1e6).astype(np.int64), x.astype(np.int64), None)
