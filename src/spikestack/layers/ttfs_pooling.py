"""The pooling rule of time-to-first-spike networks (Che, Fang et al., arXiv:2410.23619).

A TTFS network must use average pooling, not max pooling. Average pooling of
single-spike maps sums, over time, to (number of inputs that fired) / window <= 1 per
output, so the single-spike property survives; max pooling passes on a spike every
time any input in the window fires, i.e. up to one per input.
:func:`check_ttfs_pooling` finds max-pooling layers in a model.
"""

from __future__ import annotations

from torch import nn

from spikestack.layers.time_distributed import TimeDistributed

__all__ = ["check_ttfs_pooling", "ttfs_avg_pool2d"]


_MAX_POOLS = (
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
)


def check_ttfs_pooling(model: nn.Module) -> None:
    """Raise ``ValueError`` naming every max-pooling layer in a TTFS ``model``."""
    bad = [name or "<root>" for name, m in model.named_modules() if isinstance(m, _MAX_POOLS)]
    if bad:
        raise ValueError(
            f"TTFS networks must use average pooling: max pooling breaks the one-spike-per-neuron "
            f"property; replace {', '.join(bad)} with ttfs_avg_pool2d / nn.AvgPool2d"
        )


def ttfs_avg_pool2d(kernel_size: int, stride: int | None = None) -> TimeDistributed:
    """The pooling layer of a TTFS network: average pooling over ``[T, B, C, H, W]``."""
    return TimeDistributed(nn.AvgPool2d(kernel_size, stride))
