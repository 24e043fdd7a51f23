"""Layers for ``[T, B, ...]`` sequences."""

from spikestack.layers.time_distributed import Flatten, TimeDistributed

__all__ = ["Flatten", "TimeDistributed"]
