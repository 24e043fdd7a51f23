"""QCFS: the quantization-clip-floor-shift activation (Bu et al., "Optimal ANN-SNN
Conversion for High-accuracy and Low-latency Spiking Neural Networks", ICLR 2022).

h(x) = (λ / L) · clip(floor(x · L / λ + 1/2), 0, L)

with a trainable clip level λ per layer and L quantization steps. An ANN trained with QCFS
in place of ReLU converts to an SNN of IF neurons with threshold λ (and membranes starting
at λ/2) whose expected error vanishes at any number of steps, so few steps suffice. The
floor passes gradients straight through (inside the clip); λ gets the gradient of the
clipped part, as in the paper.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spikestack.validation import check_int, check_positive

__all__ = ["QCFS"]


class QCFS(nn.Module):
    """The QCFS activation (module docstring); ``levels`` is L, ``init_clip`` λ's start."""

    def __init__(self, levels: int = 8, init_clip: float = 8.0) -> None:
        super().__init__()
        self.levels = check_int("levels", levels, minimum=1)
        self.clip = nn.Parameter(torch.tensor(check_positive("init_clip", init_clip)))

    def forward(self, x: Tensor) -> Tensor:
        lam, levels = self.clip, self.levels
        scaled = torch.clamp(x / lam, 0.0, 1.0) * levels + 0.5
        stepped = scaled + (torch.floor(scaled) - scaled).detach()  # floor, straight through
        return torch.clamp(stepped, 0.0, levels) * lam / levels

    def extra_repr(self) -> str:
        return f"levels={self.levels}, clip={float(self.clip.detach()):.4g}"
