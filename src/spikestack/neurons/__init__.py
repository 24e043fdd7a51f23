"""Spiking neurons. Every one derives from :class:`Neuron` and maps ``[T, B, ...]`` inputs
to outputs of the same shape (see :mod:`spikestack.neurons.base` for the protocol)."""

from spikestack.neurons.alif import ALIF
from spikestack.neurons.alpha import Alpha
from spikestack.neurons.base import Neuron, SpikingNeuron, State, StatefulModule, detach, reset
from spikestack.neurons.cubalif import CUBALIF, KLIF, RCUBALIF, RLIF, OneToOne
from spikestack.neurons.define import define_neuron
from spikestack.neurons.li import CUBALI, LI
from spikestack.neurons.liaf import LIAF
from spikestack.neurons.lif import IF, LIF, PLIF, FusedNeuron
from spikestack.neurons.nonlinear import EIF, IZHIKEVICH_PRESETS, QIF, AdEx, Izhikevich
from spikestack.neurons.psn import (
    PSN,
    MaskedPSN,
    ProgressiveMasking,
    SlidingPSN,
    masking_factor_at,
    set_masking_factor,
)
from spikestack.neurons.registry import (
    NEURONS,
    create_neuron,
    list_neurons,
    neuron_class,
    register_neuron,
)
from spikestack.neurons.ttfs import TTFS, ttfs_init_

register_neuron("if")(IF)
register_neuron("lif")(LIF)
register_neuron("plif")(PLIF)
register_neuron("psn")(PSN)
register_neuron("masked_psn")(MaskedPSN)
register_neuron("sliding_psn")(SlidingPSN)
register_neuron("alif")(ALIF)
register_neuron("liaf")(LIAF)
register_neuron("li")(LI)
register_neuron("cubalif")(CUBALIF)
register_neuron("ttfs")(TTFS)
register_neuron("alpha")(Alpha)
register_neuron("rlif")(RLIF)
register_neuron("rcubalif")(RCUBALIF)
register_neuron("izhikevich")(Izhikevich)
register_neuron("adex")(AdEx)
register_neuron("eif")(EIF)
register_neuron("qif")(QIF)
register_neuron("klif")(KLIF)
register_neuron("cubali")(CUBALI)

__all__ = [
    "ALIF",
    "AdEx",
    "Alpha",
    "CUBALI",
    "CUBALIF",
    "EIF",
    "IZHIKEVICH_PRESETS",
    "Izhikevich",
    "KLIF",
    "OneToOne",
    "QIF",
    "RCUBALIF",
    "RLIF",
    "FusedNeuron",
    "IF",
    "LI",
    "LIAF",
    "LIF",
    "MaskedPSN",
    "NEURONS",
    "Neuron",
    "PLIF",
    "PSN",
    "ProgressiveMasking",
    "SlidingPSN",
    "SpikingNeuron",
    "State",
    "StatefulModule",
    "TTFS",
    "create_neuron",
    "define_neuron",
    "detach",
    "list_neurons",
    "neuron_class",
    "masking_factor_at",
    "register_neuron",
    "reset",
    "set_masking_factor",
    "ttfs_init_",
]
