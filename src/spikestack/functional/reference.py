"""The plain-torch ground truth of the fused neuron ops, under its documented name.

The definitions live in :mod:`spikestack.kernels.reference`, where they serve as the
``torch`` backend (the kernels package sits below ``functional``, so the reference is
kept there); this module gives them their public path ``spikestack.functional.reference``.
"""

from spikestack.kernels.reference import if_, leaky_charge, lif, plif

__all__ = ["if_", "leaky_charge", "lif", "plif"]
