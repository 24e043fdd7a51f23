"""Analysis: monitors, firing statistics (:mod:`.stats`), representational similarity
(:mod:`.similarity`) and criticality (:mod:`.criticality`)."""

from spikestack.analysis import criticality, similarity, stats
from spikestack.analysis.monitors import FiringRateMonitor

__all__ = ["FiringRateMonitor", "criticality", "similarity", "stats"]
