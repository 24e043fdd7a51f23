"""Porting models in from other frameworks: :func:`from_snntorch`, :func:`from_norse`.

Each takes a peer neuron module, or an ``nn.Sequential`` (nested or not) mixing torch
layers and the peer's neurons, and returns the spikestack equivalent that runs on
``[T, B, ...]``: neurons become spikestack neurons with the same dynamics (the peer's
conventions mapped, see docs/neurons.md), torch layers are wrapped in
:class:`~spikestack.layers.TimeDistributed` and shared, not copied (``copy.deepcopy``
the result for an independent model). A neuron type or option without an exact
spikestack equivalent raises a ValueError that names it.
"""

from spikestack.interop.norse import from_norse
from spikestack.interop.snntorch import from_snntorch

__all__ = ["from_norse", "from_snntorch"]
