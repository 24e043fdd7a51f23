"""Atomic checkpoints that load with ``torch.load(..., weights_only=True)``.

Each epoch writes ``checkpoints/epoch_NNNN.pt`` through a temporary file in the
same folder (write, flush, fsync, ``os.replace``), so a crash mid-write never
leaves a partial file under the final name and the previous checkpoint stays
loadable. :func:`load_latest` falls back to the newest checkpoint that loads,
with a warning for every corrupt one it skips.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from spikestack.atomic import atomic_write

_NAME = re.compile(r"^epoch_(\d{4,})\.pt$")


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``path`` atomically (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda f: torch.save(obj, f))


def checkpoint_path(run_dir: str | os.PathLike[str], epoch: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"epoch_{epoch:04d}.pt"


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Checkpoints of a run folder, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(
    state: dict[str, Any], run_dir: str | os.PathLike[str], epoch: int, *, keep: int = 2
) -> Path:
    """Write the checkpoint of ``epoch`` and prune all but the newest ``keep``."""
    path = atomic_save(state, checkpoint_path(run_dir, epoch))
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> dict[str, Any]:
    """Load one checkpoint safely (``weights_only=True``: no code from the file runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a bad file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "weights_only" in reason or "Weights only load failed" in reason:
            reason = "it holds objects other than tensors and plain data"
        raise ValueError(
            f"{path} is not a spikestack checkpoint or is damaged: {reason}"
        ) from error
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not a spikestack checkpoint (no 'model' entry)")
    return state


def load_latest(
    run_dir: str | os.PathLike[str], *, map_location: Any = "cpu"
) -> tuple[dict[str, Any], Path]:
    """The newest checkpoint of ``run_dir`` that loads; corrupt ones are skipped with a warning."""
    candidates = list_checkpoints(run_dir)
    if not candidates:
        raise FileNotFoundError(
            f"no checkpoints in {Path(run_dir) / 'checkpoints'} (expected epoch_NNNN.pt files)"
        )
    for path in reversed(candidates):
        try:
            return load_checkpoint(path, map_location=map_location), path
        except Exception as error:  # noqa: BLE001 - any unreadable file means "try the previous one"
            warnings.warn(
                f"checkpoint {path} is unreadable ({type(error).__name__}: {error}); "
                "falling back to the previous one",
                RuntimeWarning,
                stacklevel=2,
            )
    raise ValueError(f"every checkpoint in {Path(run_dir) / 'checkpoints'} is unreadable")
