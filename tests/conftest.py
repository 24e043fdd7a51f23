"""Session-wide test setup."""

from __future__ import annotations

import os

import torch

# Without a GPU the Triton kernels' tests run in Triton's CPU interpreter. Triton fixes that
# mode when it is first imported and used, which torch.compile's inductor can do in any test,
# so the variable is set here, before any test module is imported.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
