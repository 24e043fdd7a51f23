"""Analysis: monitors, firing statistics (:mod:`.stats`), representational similarity
(:mod:`.similarity`) and criticality (:mod:`.criticality`)."""

from spikestack.analysis import criticality, plot, similarity, stats
from spikestack.analysis.monitors import FiringRateMonitor, Monitor, membrane_trace

__all__ = [
    "FiringRateMonitor",
    "Monitor",
    "criticality",
    "membrane_trace",
    "plot",
    "similarity",
    "stats",
]
