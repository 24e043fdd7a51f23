"""Spiking neuron modules. Every module maps ``[T, B, ...]`` inputs to spikes of the same shape."""

from spikestack.neurons.base import SpikingNeuron, StatefulModule, reset
from spikestack.neurons.lif import IF, LIF, PLIF
from spikestack.neurons.registry import NEURONS, create_neuron, list_neurons, register_neuron

register_neuron("if")(IF)
register_neuron("lif")(LIF)
register_neuron("plif")(PLIF)

__all__ = [
    "IF",
    "LIF",
    "NEURONS",
    "PLIF",
    "SpikingNeuron",
    "StatefulModule",
    "create_neuron",
    "list_neurons",
    "register_neuron",
    "reset",
]
