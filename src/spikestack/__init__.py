"""spikestack: a full-stack spiking deep-learning framework for PyTorch.

>>> import spikestack as ss
>>> lif = ss.neurons.LIF(tau=2.0)
>>> spikes = lif(torch.rand(8, 32, 100))      # [T, B, ...] in, spikes out
"""

from __future__ import annotations

__version__ = "0.1.0"

from spikestack import encoders, functional, layers, neurons, surrogates
from spikestack.layers.optimize import optimize
from spikestack.neurons.base import detach, reset

__all__ = [
    "__version__",
    "detach",
    "encoders",
    "functional",
    "layers",
    "neurons",
    "optimize",
    "reset",
    "surrogates",
]
