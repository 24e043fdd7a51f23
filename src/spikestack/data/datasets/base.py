"""Shared machinery of the event datasets: locating files, extracting archives, caching.

Each data set names the official files it needs; :func:`locate` finds the extracted
folder under ``root``, or else the archive (md5-checked where the checksum is known) and
extracts it once, or else raises a FileNotFoundError saying which file to put where. Only
with ``download=True`` (on a data set whose files have a stable public URL) does it fetch
the archive first (:func:`spikestack.data.download.fetch`: verified, atomic, resumable).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch.utils.data

from spikestack.cache import default_cache_dir
from spikestack.data.cache import Cache


@dataclass(frozen=True)
class Resource:
    """An official file: its name, its md5 (None when not known to spikestack), and the
    folder (relative to ``root``) that extracting it produces."""

    filename: str
    md5: str | None = None
    extracts_to: str | None = None
    url: str | None = None  # where ``download=True`` fetches it from


def md5sum(path: str | os.PathLike[str], *, block: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def verify_md5(path: Path, expected: str, *, dataset: str, remedy: str) -> None:
    """A ValueError naming ``path``, its md5 and the published one when they differ;
    ``remedy`` says what to do about it."""
    if (got := md5sum(path)) != expected:
        raise ValueError(f"{dataset}: {path} has md5 {got}, expected {expected}; {remedy}")


def extract(archive: Path, into: Path) -> None:
    """Extract a .zip / .tar(.gz) archive into ``into`` through a temporary sibling folder,
    so that an interrupted extraction never leaves a half-filled target."""
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=into))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                if hasattr(tarfile, "data_filter"):  # refuses absolute paths and ../ members
                    tf.extractall(tmp, filter="data")
                else:  # pragma: no cover - Python < 3.10.12
                    tf.extractall(tmp)
        else:
            raise ValueError(f"{archive} is neither a zip nor a tar archive")
        for entry in tmp.iterdir():
            target = into / entry.name
            if not target.exists():
                os.replace(entry, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def locate(
    root: Path,
    folder: str,
    resources: Sequence[Resource],
    *,
    dataset: str,
    url: str,
    download: bool = False,
) -> Path:
    """Return ``root / folder``, extracting it from the archives of ``resources`` found
    under ``root`` if needed; with ``download``, fetching the first downloadable one first
    when none is there.

    Archives are tried in the order of ``resources``, each at ``root`` or one folder down,
    and an archive may hold the next one (N-Caltech101's download wraps ``Caltech101.zip``):
    extraction goes on until the folder appears."""
    target = root / folder

    def below(name: str) -> Path | None:
        # the entry itself, or one level down (archives that wrap everything in a folder)
        nested = sorted(p for p in root.glob(f"*/{name}") if not p.parent.name.startswith("."))
        return root / name if (root / name).exists() else (nested[0] if nested else None)

    def found() -> Path | None:
        return below(folder)

    if (hit := found()) is not None:
        return hit
    if download and not any(below(r.filename) for r in resources):
        online = [r for r in resources if r.url is not None]
        if not online:
            raise ValueError(f"{dataset} has no public download; get the files from {url}")
        from spikestack.data.download import fetch

        fetch(online[0].url, root / online[0].filename, md5=online[0].md5)  # type: ignore[arg-type]
    tried: list[Path] = []
    while True:  # passes until no archive is left to extract: one may have held another
        before = len(tried)
        for res in resources:
            archive = below(res.filename)
            if archive is None or not archive.is_file() or archive in tried:
                continue
            if res.md5 is not None:
                verify_md5(archive, res.md5, dataset=dataset, remedy="the file is corrupt or "
                          f"not the official one. Download it again from {url}")  # fmt: skip
            root.mkdir(parents=True, exist_ok=True)
            extract(archive, root)
            tried.append(archive)
            if (hit := found()) is not None:
                return hit
        if len(tried) == before:
            break
    if tried:
        raise FileNotFoundError(
            f"{dataset}: extracting {' and '.join(map(str, tried))} did not produce {target}"
        )
    names = " or ".join(str(root / r.filename) for r in resources)
    raise FileNotFoundError(
        f"{dataset} not found: expected the folder {target} or the archive {names}. "
        f"Get the files from {url} and put them in {root} (archives are extracted once)"
        + (", or pass download=True to fetch them" if any(r.url for r in resources) else "")
        + "."
    )


def pick_split(dataset: str, splits: tuple[str, ...], split: str) -> str:
    """``split`` if it is one of ``splits``, else a ValueError naming the data set and its splits."""
    if split not in splits:
        raise ValueError(f"{dataset}: split must be one of {splits}; got {split!r}")
    return split


class EventDataset(torch.utils.data.Dataset):
    """Base class: ``samples`` is a list of ``(path, label)`` set by the subclass.

    ``__getitem__`` returns ``(data, label)``:

    1. events = ``self.read(i)`` (canonical event array);
    2. ``pre_transform(events)`` if given (deterministic preprocessing, e.g. ``Denoise``);
    3. ``transform(events, rng=rng)`` if given (random event augmentation);
    4. ``frames(events)`` if given (e.g. ``ToFrame``);
    5. ``frame_transform(data)`` if given (e.g. NDA on a torch tensor);
    6. ``target_transform(label)`` if given.

    What is deterministic is cached on disk (see :mod:`spikestack.data.cache`), keyed by
    the source file and the reprs of ``pre_transform`` and ``frames``: without a
    ``transform`` the frames (steps 1, 2, 4), with one the preprocessed events (steps 1, 2),
    so random augmentation runs after the cache, on every call.

    Args:
        root: folder holding the dataset files.
        transform: event -> event transform, called with ``rng=rng``.
        frames: deterministic events -> array preprocessing, cached.
        frame_transform: applied to the output of ``frames`` (or to events without it).
        target_transform: applied to the label.
        cache_dir: where cached frames go; default ``$SPIKESTACK_CACHE/<class>`` or
            ``~/.cache/spikestack/<class>`` (entries are keyed by absolute path, so one
            folder serves every root).
        use_cache: set False to recompute frames every time.
        rng: numpy Generator for ``transform`` (None: a fresh one per call).
    """

    sensor_size: tuple[int, int, int] | None = None
    classes: list[str]
    # the data set's official splits; ("all",) when it has none
    splits: ClassVar[tuple[str, ...]] = ("all",)
    # how the splits are made, recorded in a run folder's data.json
    split_rule: ClassVar[str] = "the published train/test split"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        transform: Callable[..., Any] | None = None,
        frames: Callable[[np.ndarray], Any] | None = None,
        pre_transform: Callable[[np.ndarray], np.ndarray] | None = None,
        frame_transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.transform = transform
        self.frames = frames
        self.pre_transform = pre_transform
        self.frame_transform = frame_transform
        self.target_transform = target_transform
        self.rng = rng
        self.use_cache = use_cache
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._cache: Cache | None = None
        self.samples: list[tuple[Path, int]] = []

    def read(self, index: int) -> np.ndarray:
        """The events of sample ``index`` (override for non-file samples)."""
        from spikestack.data import read_events

        return read_events(self.samples[index][0])

    def _preprocessed(self, index: int) -> Any:
        data = self.read(index)
        return data if self.pre_transform is None else self.pre_transform(data)

    def cache_identity(self, index: int) -> tuple[Path, object]:
        """(source file, extra key) of sample ``index`` for the frame cache."""
        return self.samples[index][0], None

    def target(self, index: int) -> Any:
        """The target of sample ``index``: its class (override for dense targets, e.g. flow)."""
        return self.samples[index][1]

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def _frames_cache(self) -> Cache:
        if self._cache is None:
            folder = self._cache_dir or default_cache_dir() / type(self).__name__
            self._cache = Cache(folder)
        return self._cache

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {type(self).__name__} of {len(self)}")
        index %= len(self)
        label: Any = self.target(index)
        source, extra = self.cache_identity(index)
        name, pre = type(self).__name__, self.pre_transform
        if self.frames is not None and self.transform is None and self.use_cache:
            data = self._frames_cache().get_or_compute(
                source, (name, extra, pre, self.frames),
                lambda: self.frames(self._preprocessed(index)),
            )  # fmt: skip
        else:
            if pre is not None and self.use_cache:  # cache the events, augment after
                data = self._frames_cache().get_or_compute(
                    source, (name, extra, pre, "events"), lambda: self._preprocessed(index)
                )
            else:
                data = self._preprocessed(index)
            if self.transform is not None:
                data = self.transform(data, rng=self.rng)
            if self.frames is not None:
                data = self.frames(data)
        if self.frame_transform is not None:
            data = self.frame_transform(data)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return data, label

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r}, samples={len(self)})"


def class_folders(
    folder: Path, *, extensions: Sequence[str]
) -> tuple[list[str], list[tuple[Path, int]]]:
    """Classes = sorted sub-folder names; samples = their files (sorted) with the class index."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    exts = tuple(e.lower() for e in extensions)
    samples = [
        (f, i)
        for i, name in enumerate(classes)
        for f in sorted((folder / name).iterdir(), key=natural_key)
        if f.is_file() and f.suffix.lower() in exts
    ]
    return classes, samples


def natural_key(path: Path) -> tuple:
    """Sort key that orders ``img_2`` before ``img_10``."""
    import re

    return tuple(int(s) if s.isdigit() else s for s in re.split(r"(\d+)", path.name))
