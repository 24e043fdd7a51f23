"""The neuron registry: ``create_neuron("lif", tau=2.0)``, ``list_neurons()``.

Models take ``neuron="lif" | "plif" | "if" | ...`` plus keyword arguments and build
every spiking layer through the registry, so any registered neuron can be swapped in.
Every entry is a :class:`~spikestack.neurons.base.Neuron` subclass, so what it takes
(``options``) and carries (``state_names``) is declared, not guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spikestack.neurons.base import Neuron, check_options
from spikestack.registry import Registry

__all__ = ["NEURONS", "create_neuron", "list_neurons", "neuron_class", "register_neuron"]

NEURONS: Registry[type[Neuron]] = Registry("neuron")


def register_neuron(name: str) -> Callable[[type[Neuron]], type[Neuron]]:
    """Class decorator adding a :class:`Neuron` subclass to the registry under ``name``."""
    add = NEURONS.register(name)

    def decorator(cls: type[Neuron]) -> type[Neuron]:
        if not (isinstance(cls, type) and issubclass(cls, Neuron)):
            raise TypeError(
                f"register_neuron({name!r}) expects a spikestack.neurons.Neuron subclass; "
                f"got {cls!r}"
            )
        return add(cls)

    return decorator


def neuron_class(name: str | type[Neuron]) -> type[Neuron]:
    """The neuron class for a registry name, or ``name`` itself when it is a Neuron subclass."""
    if isinstance(name, str):
        return NEURONS.get(name)
    if isinstance(name, type) and issubclass(name, Neuron):
        return name
    raise TypeError(
        f"neuron must be a registry name ({', '.join(NEURONS.names())}) or a "
        f"spikestack.neurons.Neuron subclass; got {name!r}"
    )


def create_neuron(name: str | type[Neuron], /, **kwargs: Any) -> Neuron:
    """A neuron by registry name (or class) and its keyword options.

    An option the neuron does not take raises a ValueError naming the neuron and the option.
    """
    cls = neuron_class(name)
    check_options(cls, kwargs, label=repr(name) if isinstance(name, str) else None)
    return cls(**kwargs)


def list_neurons() -> list[str]:
    """Registered neuron names, sorted."""
    return NEURONS.names()
