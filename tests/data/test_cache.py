"""Atomic on-disk cache: hits, invalidation, corruption recovery, crash safety."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikestack.data import cache as cache_mod
from spikestack.data.cache import Cache, CorruptEntryError
from spikestack.data.transforms import ToFrame


@pytest.fixture
def source(tmp_path: Path) -> Path:
    p = tmp_path / "sample.bin"
    p.write_bytes(b"\x00" * 10)
    return p


def counter():
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(12, dtype=np.float32).reshape(3, 4) * len(calls)

    return compute, calls


def test_hit_and_key_depends_on_config_and_file(tmp_path: Path, source: Path) -> None:
    cache = Cache(tmp_path / "c")
    compute, calls = counter()
    a = cache.get_or_compute(source, ToFrame((4, 3, 1), n_time_bins=2), compute)
    b = cache.get_or_compute(source, ToFrame((4, 3, 1), n_time_bins=2), compute)
    np.testing.assert_array_equal(a, b)
    assert len(calls) == 1
    cache.get_or_compute(source, ToFrame((4, 3, 1), n_time_bins=3), compute)
    assert len(calls) == 2  # another config is another entry
    source.write_bytes(b"\x00" * 11)  # size (and mtime) change
    cache.get_or_compute(source, ToFrame((4, 3, 1), n_time_bins=2), compute)
    assert len(calls) == 3
    assert len(list((tmp_path / "c").glob("*.npz"))) == 3


def test_truncated_entry_is_rebuilt_with_warning(tmp_path: Path, source: Path) -> None:
    cache = Cache(tmp_path)
    compute, calls = counter()
    first = cache.get_or_compute(source, "cfg", compute)
    entry = cache.path(cache.key(source, "cfg"))
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    with pytest.raises(CorruptEntryError):
        cache.load(cache.key(source, "cfg"))
    with pytest.warns(RuntimeWarning, match="cannot be read"):
        rebuilt = cache.get_or_compute(source, "cfg", compute)
    np.testing.assert_array_equal(rebuilt, 2 * first)  # recomputed (second call doubles)
    assert cache.load(cache.key(source, "cfg")) is not None


def test_checksum_mismatch_is_detected(tmp_path: Path, source: Path) -> None:
    cache = Cache(tmp_path)
    key = cache.key(source, "cfg")
    with open(cache.path(key), "wb") as f:  # a readable entry whose data was altered
        np.savez(f, data=np.ones(3), sha256=np.array("0" * 64))
    compute, calls = counter()
    with pytest.warns(RuntimeWarning, match="checksum"):
        cache.get_or_compute(source, "cfg", compute)
    assert len(calls) == 1


class Crash(BaseException):
    """Stands for the process dying (not an Exception, like KeyboardInterrupt)."""


def test_crash_mid_write_leaves_no_partial_entry(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(tmp_path)

    def crash(fd: int) -> None:  # the data is written, the process dies before the rename
        raise Crash

    monkeypatch.setattr(cache_mod.os, "fsync", crash)
    compute, _ = counter()
    with pytest.raises(Crash):
        cache.get_or_compute(source, "cfg", compute)
    assert list(tmp_path.glob("*.npz")) == []
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.undo()
    # a process killed outright leaves at most a stray temp file, which is never read
    (tmp_path / f".{cache.key(source, 'cfg')}.abc.tmp").write_bytes(b"PK\x03\x04partial")
    assert cache.get_or_compute(source, "cfg", compute).shape == (3, 4)
    assert cache.clear() == 2


def test_structured_event_arrays_round_trip(tmp_path: Path, source: Path) -> None:
    from spikestack.data import make_events

    ev = make_events([1, 2], [3, 4], [5, 6], [0, 1])
    cache = Cache(tmp_path)
    cache.store("k", ev)
    np.testing.assert_array_equal(cache.load("k"), ev)


def test_deterministic_preprocessing_is_cached_and_augmentation_runs_after(tmp_path) -> None:
    """pre_transform (deterministic) is read and computed once; transform (random) runs on
    every call after the cache; the cache key covers pre_transform and frames."""
    import spikestack.data.transforms as T
    from spikestack.data import make_events
    from spikestack.data.datasets.base import EventDataset

    class Counted(EventDataset):
        def __init__(self, root, **kwargs):
            super().__init__(root, **kwargs)
            self.samples = [(root / "a.npz", 0)]
            (root / "a.npz").write_bytes(b"stands for the source file")
            self.reads = 0

        def read(self, index):
            self.reads += 1
            n = 200
            return make_events(np.arange(n) * 10, np.arange(n) % 8, np.arange(n) % 6, p=np.ones(n))

    sensor = (8, 6, 2)
    kwargs = dict(pre_transform=T.Denoise(sensor, filter_time=25), transform=T.DropEvent(p=0.5),
                  frames=T.ToFrame(sensor, n_time_bins=2), cache_dir=tmp_path / "cache",
                  rng=np.random.default_rng(0))  # fmt: skip
    data = Counted(tmp_path, **kwargs)
    first, second = data[0][0], data[0][0]
    assert data.reads == 1  # the denoised events come from the cache the second time
    assert not np.array_equal(first, second)  # ...and the random drop runs after it
    other = Counted(tmp_path, **{**kwargs, "pre_transform": T.Denoise(sensor, filter_time=5)})
    other[0]
    assert other.reads == 1  # another pre_transform: another key, computed again
    plain = Counted(tmp_path, pre_transform=T.Denoise(sensor, filter_time=25),
                    frames=T.ToFrame(sensor, n_time_bins=2), cache_dir=tmp_path / "cache")  # fmt: skip
    a, b = plain[0][0], plain[0][0]
    assert plain.reads == 1 and np.array_equal(a, b)  # no augmentation: the frames are cached
