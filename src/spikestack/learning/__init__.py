"""Learning beyond float back-propagation: STDP, triplet STDP and R-STDP (:mod:`.stdp`), and
binary stochastic learning for memristor-style hardware (:mod:`.binary_stochastic`)."""

from spikestack.learning.binary_stochastic import BinaryStochastic, Device
from spikestack.learning.stdp import RSTDP, STDP, traces

__all__ = ["RSTDP", "STDP", "BinaryStochastic", "Device", "traces"]
