"""Analysis: monitors and firing statistics."""

from spikestack.analysis.monitors import FiringRateMonitor

__all__ = ["FiringRateMonitor"]
