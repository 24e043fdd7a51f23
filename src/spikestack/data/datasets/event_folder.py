"""EventFolder: a folder of event files with labels from sub-folders or a labels file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from spikestack.data.datasets.base import EventDataset, class_folders, natural_key, pick_split

DEFAULT_EXTENSIONS = (
    ".bin", ".bs2", ".bs1", ".raw", ".dat", ".aedat", ".aedat4", ".h5", ".hdf5", ".mat", ".npy", ".npz",
)  # fmt: skip


def parse_labels(path: Path) -> list[tuple[str, str]]:
    """``(sample, class)`` pairs from a text file of ``sample<TAB>class`` lines.

    Blank lines and ``#`` comments are skipped, CRLF endings are accepted, fields may be
    separated by a tab or by spaces, and a first line that looks like a header (its
    class field is not a number while the next line's is) is skipped.
    """
    rows: list[tuple[str, str]] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 2:
            raise ValueError(f"{path}:{number}: expected 'sample<TAB>class'; got {raw!r}")
        rows.append((fields[0].strip(), fields[1].strip()))
    if len(rows) > 1 and not rows[0][1].lstrip("-").isdigit() and rows[1][1].lstrip("-").isdigit():
        rows = rows[1:]  # header line without '#'
    return rows


class EventFolder(EventDataset):
    """Event files under ``root``, labelled in one of two layouts.

    - class per sub-folder: ``root/<class>/<file>``; classes are the sorted folder names;
    - flat folder + labels file: ``root/<file>`` and a text file of ``sample<TAB>class``
      lines (see :func:`parse_labels`), where ``sample`` is a file name with or without
      extension. ``labels_file`` names it (relative to ``root`` or absolute); if the
      folder has no sub-folders and exactly one ``.txt`` file, that one is used.

    Integer classes are used as labels directly (``classes`` = their sorted string
    forms); other class names are mapped to their index in sorted order.

    Keyword options other than those below are those of :class:`EventDataset`.

    Args:
        split: the only split of a folder is ``"all"`` (hold out your own).
        labels_file: the labels file, or None to choose the layout automatically.
        extensions: file extensions that count as samples.
        sensor_size: ``(W, H, P)`` of the recordings, if known (kept as an attribute).
        read_options: extra keywords for :func:`spikestack.data.read_events`.
    """

    splits: ClassVar[tuple[str, ...]] = ("all",)

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "all",
        labels_file: str | os.PathLike[str] | None = None,
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        sensor_size: tuple[int, int, int] | None = None,
        read_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split(type(self).__name__, self.splits, split)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{type(self).__name__}: root {self.root} is not a folder")
        self.sensor_size = sensor_size
        self.read_options = dict(read_options or {})
        exts = tuple(e.lower() for e in extensions)
        subdirs = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if labels_file is None and not subdirs:
            texts = sorted(self.root.glob("*.txt"))
            if len(texts) != 1:
                raise FileNotFoundError(
                    f"{type(self).__name__}: {self.root} has no class sub-folders and "
                    f"{len(texts)} .txt files; pass labels_file="
                )
            labels_file = texts[0].name
        if labels_file is None:
            self.classes, self.samples = class_folders(self.root, extensions=exts)
        else:
            self._from_labels(Path(labels_file), exts)
        if not self.samples:
            raise FileNotFoundError(
                f"{type(self).__name__}: no files with extensions {exts} in {self.root}"
            )

    def _from_labels(self, labels_file: Path, exts: tuple[str, ...]) -> None:
        path = labels_file if labels_file.is_absolute() else self.root / labels_file
        if not path.is_file():
            raise FileNotFoundError(f"EventFolder: labels file {path} does not exist")
        files: dict[str, Path] = {}
        for f in sorted(self.root.iterdir(), key=natural_key):
            if f.is_file() and f.suffix.lower() in exts:
                files.setdefault(f.name, f)
                files.setdefault(f.stem, f)
        rows = parse_labels(path)
        numeric = all(c.lstrip("-").isdigit() for _, c in rows)
        names = sorted({c for _, c in rows}, key=(lambda c: int(c)) if numeric else None)
        index = {c: (int(c) if numeric else i) for i, c in enumerate(names)}
        self.classes = names
        missing = [s for s, _ in rows if s not in files]
        if missing:
            raise FileNotFoundError(
                f"EventFolder: {len(missing)} samples listed in {path} have no file in "
                f"{self.root} (first: {missing[0]!r})"
            )
        self.samples = [(files[s], index[c]) for s, c in rows]

    def read(self, index: int):
        from spikestack.data import read_events

        return read_events(self.samples[index][0], **self.read_options)
