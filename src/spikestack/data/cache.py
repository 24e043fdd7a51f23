"""Atomic on-disk cache for preprocessed samples (e.g. frames made from an event file).

An entry is keyed by the source file (absolute path, size, modification time in ns) and
the configuration of the preprocessing (its ``repr``; frozen-dataclass transforms have a
complete, deterministic repr), hashed with SHA-256. Each entry is one ``.npz`` holding
the array and the SHA-256 of its bytes. Writes go to a temporary file in the same folder,
which is flushed, fsync'ed and then renamed with ``os.replace`` (atomic on POSIX and
Windows), so a crash leaves either the old state or the full new entry. An entry that
cannot be read or whose checksum does not match is rebuilt with a warning.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spikestack.atomic import atomic_write

_FORMAT_VERSION = 1


def _digest(array: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(array.dtype.descr).encode())
    h.update(str(array.shape).encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


class CorruptEntryError(RuntimeError):
    """A cache entry exists but cannot be read back intact."""


class Cache:
    """A folder of cached arrays.

    Example::

        cache = Cache("~/.cache/spikestack/nmnist")
        frames = cache.get_or_compute(path, to_frame, lambda: to_frame(read_events(path)))
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)

    def key(self, source: str | os.PathLike[str], config: object) -> str:
        """Hex key from the source file identity (path, size, mtime) and ``repr(config)``."""
        path = Path(source).resolve()
        st = path.stat()
        text = f"v{_FORMAT_VERSION}|{path}|{st.st_size}|{st.st_mtime_ns}|{config!r}"
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def load(self, key: str) -> np.ndarray | None:
        """The stored array, None when absent; raises CorruptEntryError when unreadable."""
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as entry:
                data = entry["data"]
                stored = str(entry["sha256"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise CorruptEntryError(f"cache entry {path} cannot be read: {exc}") from exc
        if _digest(data) != stored:
            raise CorruptEntryError(f"cache entry {path} fails its checksum")
        return data

    def store(self, key: str, data: np.ndarray) -> Path:
        """Write ``data`` atomically under ``key`` and return the entry path."""
        data = np.asarray(data)
        final = self.path(key)
        atomic_write(final, lambda f: np.savez(f, data=data, sha256=np.array(_digest(data))))
        return final

    def get_or_compute(
        self,
        source: str | os.PathLike[str],
        config: object,
        compute: Callable[[], np.ndarray],
    ) -> np.ndarray:
        """Return the cached array for (source, config), computing and storing it if needed.

        A corrupt entry (truncated file, bad checksum) triggers a ``warnings.warn`` and is
        rebuilt from ``compute``.
        """
        key = self.key(source, config)
        try:
            data = self.load(key)
        except CorruptEntryError as exc:
            warnings.warn(f"{exc}; rebuilding it", RuntimeWarning, stacklevel=2)
            data = None
        if data is None:
            data = np.asarray(compute())
            self.store(key, data)
        return data

    def clear(self) -> int:
        """Remove every entry (and stray temporary files); return how many files went."""
        removed = 0
        for p in list(self.root.glob("*.npz")) + list(self.root.glob(".*.tmp")):
            p.unlink(missing_ok=True)
            removed += 1
        return removed
