"""Session-wide test setup, and the fixture that finds the real sample data."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from _data import ENV_VAR, SHARED_DATA

# Without a GPU the Triton kernels' tests run in Triton's CPU interpreter. Triton fixes that
# mode when it is first imported and used, which torch.compile's inductor can do in any test,
# so the variable is set here, before any test module is imported.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture
def sample_folder() -> Callable[[str], Path]:
    """``sample_folder("nmnist_small")``: that folder of the real sample data (see
    ../shared/data/SOURCES.md), or a skip that says where it was looked for."""

    def find(name: str) -> Path:
        folder = SHARED_DATA / name
        if not folder.is_dir():
            pytest.skip(
                f"sample data folder {folder} is absent; set {ENV_VAR} to the folder that "
                f"holds {name}/ (default: shared/data beside the repository)"
            )
        return folder

    return find
