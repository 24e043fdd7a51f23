"""LIAF: the output is f(U) of the LIF membrane; the spike only resets; LIAF layers."""

from __future__ import annotations

import pickle

import pytest
import torch

import spikestack
from spikestack.layers import LIAFConv2d, LIAFLinear
from spikestack.neurons import LIAF


def _membrane(xs: torch.Tensor, decay: float, v_th: float) -> torch.Tensor:
    """LIAF-Net's membrane with its leak factor ``decay`` (= 1 - 1/tau), reset to 0."""
    v = torch.zeros_like(xs[0])
    us = []
    for x in xs:
        u = decay * v + x
        us.append(u)
        v = torch.where(u >= v_th, torch.zeros_like(u), u)
    return torch.stack(us)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "identity"])
def test_liaf_output_equals_f_of_membrane(activation: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(10, 3, 4, dtype=torch.float64)
    y = LIAF(2.5, 0.8, activation=activation)(x)  # tau = 2.5 is LIAF-Net's leak factor 0.6
    u = _membrane(x, 0.6, 0.8)
    f = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda z: z}[
        activation
    ]
    assert torch.allclose(y, f(u))
    assert not torch.all((y == 0) | (y == 1))  # analog, not spikes


def test_liaf_spike_drives_reset() -> None:
    # a constant input of 0.8 with tau 2 (leak factor 0.5): U = 0.8, 1.2 (fires, reset), 0.8, ...
    y = LIAF(2.0, 1.0, activation="identity")(torch.full((4, 1), 0.8, dtype=torch.float64))
    assert torch.allclose(y.flatten(), torch.tensor([0.8, 1.2, 0.8, 1.2], dtype=torch.float64))


def test_liaf_streaming_and_gradients() -> None:
    torch.manual_seed(1)
    neuron = LIAF(activation="sigmoid")
    x = torch.randn(7, 2, 3, requires_grad=True)
    full = neuron(x)
    state, outs = None, []
    for t in range(7):
        y, state = neuron.step(x[t], state)
        outs.append(y)
    assert torch.allclose(torch.stack(outs), full)
    full.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="activation"):
        LIAF(activation="softplusx")
    with pytest.raises(ValueError, match="tau must be a finite number > 1"):
        LIAF(tau=0.5)
    with pytest.raises(TypeError, match="decay"):  # the leak is tau, as for LIF
        LIAF(decay=0.5)  # type: ignore[call-arg]


def test_liaf_layers_shapes_streaming_reset_and_pickle() -> None:
    torch.manual_seed(2)
    conv = LIAFConv2d(2, 4, 3, padding=1).eval()
    x = torch.rand(5, 2, 2, 6, 6)
    y = conv(x)
    assert y.shape == (5, 2, 4, 6, 6) and torch.all(y >= 0)
    state, outs = None, []
    for t in range(5):
        out, state = conv.step(x[t], state)
        outs.append(out)
    assert torch.allclose(torch.stack(outs), y, atol=1e-6)
    dense = LIAFLinear(8, 3, stateful=True)
    z = torch.rand(4, 2, 8)
    first = dense(z)
    assert not torch.equal(dense(z), first)  # carried membrane changes the second call
    spikestack.reset(dense)
    assert torch.equal(dense(z), first)
    clone = pickle.loads(pickle.dumps(conv))
    assert torch.allclose(clone(x), y)
    dense.train()
    dense(z).sum().backward()
    assert dense.synapse.weight.grad is not None
    with pytest.raises(ValueError, match=r"\[T, B, C, H, W\]"):
        conv(torch.rand(5, 2, 6, 6))
