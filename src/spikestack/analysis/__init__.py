"""Analysis: monitors, firing statistics (:mod:`.stats`) and representational similarity
(:mod:`.similarity`)."""

from spikestack.analysis import similarity, stats
from spikestack.analysis.monitors import FiringRateMonitor

__all__ = ["FiringRateMonitor", "similarity", "stats"]
