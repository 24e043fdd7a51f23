"""After training: NIR export/import and energy / synaptic-operation estimates."""

from spikestack.deploy.energy import (
    E_AC,
    E_MAC,
    EnergyReport,
    LayerCount,
    energy_from_counts,
    estimate_energy,
)
from spikestack.deploy.nir_graph import from_nir, read_nir, to_nir, write_nir

__all__ = [
    "E_AC",
    "E_MAC",
    "EnergyReport",
    "LayerCount",
    "energy_from_counts",
    "estimate_energy",
    "from_nir",
    "read_nir",
    "to_nir",
    "write_nir",
]
