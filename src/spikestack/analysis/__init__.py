"""Analysis: monitors and firing statistics."""

from spikestack.analysis.monitors import FiringRateMonitor, monitor_firing

__all__ = ["FiringRateMonitor", "monitor_firing"]
