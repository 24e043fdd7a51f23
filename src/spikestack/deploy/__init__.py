"""After training: NIR export/import, energy / synaptic-operation estimates, and fixed-point
quantization with an integer-exact twin."""

from spikestack.deploy.energy import (
    E_AC,
    E_MAC,
    EnergyReport,
    LayerCount,
    energy_from_counts,
    estimate_energy,
)
from spikestack.deploy.integer import IntegerNetwork, export_integer
from spikestack.deploy.nir_graph import read_nir, to_nir, write_nir
from spikestack.deploy.nir_import import NIRNetwork, from_nir
from spikestack.deploy.quantize import QuantConfig, QuantLIF, QuantSynapse, quantize

__all__ = [
    "E_AC",
    "E_MAC",
    "EnergyReport",
    "IntegerNetwork",
    "LayerCount",
    "NIRNetwork",
    "QuantConfig",
    "QuantLIF",
    "QuantSynapse",
    "energy_from_counts",
    "estimate_energy",
    "export_integer",
    "from_nir",
    "read_nir",
    "quantize",
    "to_nir",
    "write_nir",
]
