"""AudioFolder: a folder of WAV recordings with labels from sub-folders or a labels file."""

from __future__ import annotations

import os
from typing import Any

from spikestack.data.datasets.event_folder import EventFolder


class AudioFolder(EventFolder):
    """WAV files laid out as :class:`EventFolder`'s event files (one sub-folder per class,
    or a flat folder with a ``sample<TAB>class`` labels file, as the Free Spoken Digit
    Dataset's). A sample reads as ``(signal, sample_rate)``; ``frames`` (e.g.
    :class:`spikestack.data.audio.AudioFrames`) turns it into input frames, cached on disk
    by file and encoding."""

    def __init__(self, root: str | os.PathLike[str], *, split: str = "all", **kwargs: Any) -> None:
        kwargs.setdefault("extensions", (".wav",))
        super().__init__(root, split=split, **kwargs)

    def read(self, index: int) -> Any:
        from spikestack.data.audio import read_wav

        return read_wav(self.samples[index][0])
