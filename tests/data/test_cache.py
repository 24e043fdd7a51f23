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
