"""Learning without back-propagation: STDP, triplet STDP and R-STDP (:mod:`.stdp`)."""

from spikestack.learning.stdp import RSTDP, STDP, traces

__all__ = ["RSTDP", "STDP", "traces"]
