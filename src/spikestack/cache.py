"""Where spikestack keeps what it computes once: cached frames, generated neuron kernels."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir"]


def default_cache_dir() -> Path:
    """``$SPIKESTACK_CACHE`` if set, else ``$XDG_CACHE_HOME/spikestack`` or ``~/.cache/spikestack``."""
    if env := os.environ.get("SPIKESTACK_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spikestack"
