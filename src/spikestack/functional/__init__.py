"""Pure, stateless multi-step ops on ``[T, B, ...]`` tensors."""

from spikestack.functional.neurons import if_, lif, plif

__all__ = ["if_", "lif", "plif"]
