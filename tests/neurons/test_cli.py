"""``spikestack neurons``: every registered neuron listed with a one-line description."""

from __future__ import annotations

from spikestack.cli import main
from spikestack.neurons import list_neurons, neuron_class


def test_lists_every_neuron_with_a_description(capsys):
    assert main(["neurons"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_neurons()
    for line, name in zip(lines, list_neurons(), strict=True):
        assert neuron_class(name).__name__ in line
        assert len(line.split("state=")[1].split(None, 1)[1]) > 10  # a real description


def test_pattern_and_options(capsys):
    assert main(["neurons", "cubalif*", "--options"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("cubalif") and "tau_syn" in out
    assert main(["neurons", "nothing*"]) == 1
