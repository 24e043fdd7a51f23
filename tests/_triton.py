"""What the Triton kernels' tests share: their marks, the device they run on, and the
skip where neither a GPU nor Triton's CPU interpreter is there."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

MARKS = [
    pytest.mark.triton,
    pytest.mark.skipif(
        importlib.util.find_spec("triton") is None,
        reason="triton is not installed (pip install 'spikestack[gpu]')",
    ),
]

# Without CUDA, tests/conftest.py has set TRITON_INTERPRET=1 before triton was imported.
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def require_device_or_interpreter() -> None:
    """Skip unless the kernels can run: on a GPU, or in Triton's CPU interpreter."""
    if DEVICE == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("no CUDA device and TRITON_INTERPRET is not 1")
