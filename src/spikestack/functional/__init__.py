"""Pure, stateless multi-step ops on ``[T, B, ...]`` tensors.

``if_``, ``lif`` and ``plif`` dispatch to the fused backends; ``reference`` holds their
plain-torch ground truth. The other neuron and layer ops live in one submodule each:
``psn`` (``psn``, ``masked_psn``, ``sliding_psn``), ``alif``, ``liaf``, ``ttfs``,
``membrane`` (CUBA, recurrent and delayed-reset LIF, Alpha), ``nonlinear`` (Izhikevich,
AdEx, EIF, QIF),
``temporal_attention``, ``delays``, ``dcls``.
"""

from spikestack.functional.neurons import if_, lif, plif

__all__ = ["if_", "lif", "plif"]
