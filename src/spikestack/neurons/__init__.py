"""Spiking neuron modules. Every module maps ``[T, B, ...]`` inputs to spikes of the same shape."""

from spikestack.neurons.alif import ALIF
from spikestack.neurons.base import SpikingNeuron, StatefulModule, reset
from spikestack.neurons.liaf import LIAF
from spikestack.neurons.lif import IF, LIF, PLIF
from spikestack.neurons.psn import (
    PSN,
    MaskedPSN,
    ProgressiveMasking,
    SlidingPSN,
    masking_factor_at,
    set_masking_factor,
)
from spikestack.neurons.registry import NEURONS, create_neuron, list_neurons, register_neuron
from spikestack.neurons.ttfs import TTFS, ttfs_init_

register_neuron("if")(IF)
register_neuron("lif")(LIF)
register_neuron("plif")(PLIF)
register_neuron("psn")(PSN)
register_neuron("masked_psn")(MaskedPSN)
register_neuron("sliding_psn")(SlidingPSN)
register_neuron("alif")(ALIF)
register_neuron("liaf")(LIAF)
register_neuron("ttfs")(TTFS)

__all__ = [
    "ALIF",
    "IF",
    "LIAF",
    "LIF",
    "MaskedPSN",
    "NEURONS",
    "PLIF",
    "PSN",
    "ProgressiveMasking",
    "SlidingPSN",
    "SpikingNeuron",
    "StatefulModule",
    "TTFS",
    "create_neuron",
    "list_neurons",
    "masking_factor_at",
    "register_neuron",
    "reset",
    "set_masking_factor",
    "ttfs_init_",
]
