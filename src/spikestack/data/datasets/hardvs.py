"""HARDVS (Wang et al., "HARDVS: Revisiting Human Activity Recognition with Dynamic Vision
Sensors", AAAI 2024): 300 human activities recorded with a DAVIS346 (346 x 260), about
107 000 recordings, published train / val / test lists.

Facts of the published files (its "compact event files", as SpikingJelly reads them too):
``MINI_HARDVS_files.zip`` holds ``MINI_HARDVS_files/action_001.zip`` ...
``action_300.zip``, each the ``.npz`` recordings of one class (arrays ``t, x, y, p``);
``train_label.txt``, ``val_label.txt`` and ``test_label.txt`` list one recording per line
as ``action_XXX/<recording>`` (then the label). The md5s are the ones SpikingJelly checks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from spikestack.data.datasets.base import (
    EventDataset,
    Resource,
    extract,
    locate,
    pick_split,
    verify_md5,
)

URL = "https://github.com/Event-AHU/HARDVS (the compact event files, Baidu Disk or DropBox)"
MD5 = {
    "MINI_HARDVS_files.zip": "9c4cc0d9ba043faa17f6f1a9e9aff982",
    "train_label.txt": "0d642b6e6871034f151b2649a89d8d3c",
    "val_label.txt": "cd2cebcba80e4552102bbacf2b5df812",
    "test_label.txt": "5b664af5843f9b476a9c22626f7f5a59",
}
CLASSES = tuple(f"action_{i:03d}" for i in range(1, 301))


class HARDVS(EventDataset):
    """HARDVS: ``split`` is ``"train"``, ``"val"`` or ``"test"`` (the published lists).

    Expected under ``root``: ``<split>_label.txt`` and the class folders
    ``action_XXX/<recording>.npz``, or, for the folders, ``MINI_HARDVS_files.zip``
    (md5-checked, extracted once: the class archives inside it go to ``action_XXX/``).
    The label files are md5-checked unless ``check_md5=False``. Labels are the class
    folder's number - 1 (0-299); :data:`CLASSES` names the folders (the activities' names
    are in HARDVS_300_class.txt of the HARDVS repository).
    """

    sensor_size = (346, 260, 2)
    classes = list(CLASSES)
    splits: ClassVar[tuple[str, ...]] = ("train", "val", "test")

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        check_md5: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.split = pick_split("HARDVS", self.splits, split)
        labels = self.root / f"{self.split}_label.txt"
        if not labels.is_file():
            raise FileNotFoundError(
                f"HARDVS: {labels} is missing; get the label files and MINI_HARDVS_files.zip "
                f"from {URL} and put them in {self.root}"
            )
        if check_md5:
            verify_md5(labels, MD5[labels.name], dataset="HARDVS", remedy="the file is not the "
                       "published list (pass check_md5=False to read it anyway)")  # fmt: skip
        entries = _read_labels(labels)
        self._extract_missing({c for c, _ in entries})
        self.samples = [
            (self.root / name / f"{recording}.npz", int(name[7:]) - 1)
            for name, recording in entries
        ]

    def _extract_missing(self, needed: set[str]) -> None:
        missing = sorted(c for c in needed if not (self.root / c).is_dir())
        if not missing:
            return
        bundle = "MINI_HARDVS_files"  # the class archives, in the published zip
        try:
            inner = locate(
                self.root, bundle, [Resource(f"{bundle}.zip", MD5[f"{bundle}.zip"], bundle)],
                dataset="HARDVS", url=URL,
            )  # fmt: skip
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"HARDVS: the class folders {missing[:3]}{' ...' if len(missing) > 3 else ''} "
                f"are missing under {self.root}; {error}"
            ) from None
        for name in missing:
            archive = inner / f"{name}.zip"
            if not archive.is_file():
                raise FileNotFoundError(f"HARDVS: {archive} is missing (needed for {name}/)")
            target = self.root / name
            staging = self.root / f".{name}.extracting"
            staging.mkdir(exist_ok=True)
            extract(archive, staging)
            wrapped = staging / name  # an archive that holds the folder itself
            if wrapped.is_dir() and not any(staging.glob("*.npz")):
                os.replace(wrapped, target)
                staging.rmdir()
            else:
                os.replace(staging, target)  # the folder appears whole or not at all

    def read(self, index: int) -> np.ndarray:
        from spikestack.data import read_events

        return read_events(self.samples[index][0], format="npz")


def _read_labels(path: Path) -> list[tuple[str, str]]:
    """(class folder, recording) of every line ``action_XXX/<recording> ...`` of a list."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        first = line.split()[0]
        match = re.fullmatch(r"(action_\d{3})/(.+)", first)
        if match is None or match.group(1) not in CLASSES:
            raise ValueError(
                f"{path}:{number}: expected 'action_XXX/<recording>' (XXX in 001-300); got {first!r}"
            )
        entries.append((match.group(1), match.group(2)))
    return entries
