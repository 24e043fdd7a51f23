"""Apply a stateless per-step module to a ``[T, B, ...]`` sequence."""

from __future__ import annotations

from torch import Tensor, nn


class TimeDistributed(nn.Module):
    """Run ``module`` (Conv, BatchNorm, Linear, Pool, Dropout ...) on every time step at once.

    The time axis is merged into the batch, ``[T, B, ...] -> [T*B, ...]``, the module
    runs once, and the result is split back to ``[T, B, ...]``. BatchNorm therefore
    normalises over time and batch together, as SpikingJelly's ``SeqToANNContainer``.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"TimeDistributed wraps an nn.Module; got {type(module).__name__}")
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2:
            raise ValueError(
                f"TimeDistributed expects x of shape [T, B, ...]; got shape {tuple(x.shape)}"
            )
        t, b = x.shape[:2]
        y = self.module(x.flatten(0, 1))
        return y.unflatten(0, (t, b))


class Flatten(nn.Module):
    """Flatten every dim after ``[T, B]``: ``[T, B, ...] -> [T, B, features]``."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(2)
