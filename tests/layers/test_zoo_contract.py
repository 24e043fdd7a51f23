"""Every zoo layer follows the [T, B, ...] contract: starts from rest, streams where the
math allows, resets through spikestack.reset, pickles, and is registered. (The neurons'
protocol sweep is tests/neurons/test_protocol.py.)"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
import torch
from torch import nn

import spikestack
from spikestack.layers import create_layer, list_layers
from spikestack.neurons import StatefulModule, list_neurons

T = 6
CASES: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...], bool]] = {
    # name: (factory, input shape, has step)
    "temporal_attention": (
        lambda: create_layer("temporal_attention", T, reduction=2),
        (T, 2, 3, 4),
        False,
    ),
    "delayed_linear": (lambda: create_layer("delayed_linear", 3, 4, max_delay=3), (T, 2, 3), True),
    "delayed_conv1d": (
        lambda: create_layer("delayed_conv1d", 4, 4, max_delay=2, groups=4),
        (T, 2, 4),
        True,
    ),
    "dcls_conv1d": (lambda: create_layer("dcls_conv1d", 2, 3, 2, 5), (T, 2, 2, 7), True),
    "dcls_conv2d": (lambda: create_layer("dcls_conv2d", 2, 3, 2, 5), (T, 2, 2, 6, 6), True),
    "liaf_linear": (lambda: create_layer("liaf_linear", 3, 4), (T, 2, 3), True),
    "tdbn": (lambda: create_layer("tdbn", 3, alpha=0.5), (T, 2, 3, 4, 4), False),
    "tebn": (lambda: create_layer("tebn", 3, T).eval(), (T, 2, 3, 5), False),
    "bntt": (lambda: create_layer("bntt", 3, T).eval(), (T, 2, 3), False),
    "liaf_conv2d": (
        lambda: create_layer("liaf_conv2d", 2, 3, 3, padding=1).eval(),
        (T, 2, 2, 5, 5),
        True,
    ),
}


def test_everything_is_registered() -> None:
    for name in ("psn", "masked_psn", "sliding_psn", "alif", "liaf", "ttfs"):
        assert name in list_neurons()
    for name in CASES:
        assert name in list_layers()
    assert "temporal_weighting_decoder" in list_layers()
    with pytest.raises(ValueError, match="already registered"):
        spikestack.layers.register_layer("temporal_attention")(nn.Identity)


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract(name: str) -> None:
    torch.manual_seed(0)
    factory, shape, has_step = CASES[name]
    module = factory()
    x = torch.rand(shape) * 2
    y = module(x)
    assert y.shape[:2] == x.shape[:2]
    assert torch.equal(module(x), y), "a multi-step call must start from rest"
    assert torch.allclose(pickle.loads(pickle.dumps(module))(x), y, atol=1e-6)
    if has_step:
        state, outs = None, []
        for t in range(T):
            out, state = module.step(x[t], state)
            outs.append(out)
        assert torch.allclose(torch.stack(outs), y, atol=1e-5), (
            "streaming must equal the multi-step call"
        )
    else:
        assert not hasattr(module, "step")
    if isinstance(module, StatefulModule):
        spikestack.reset(module)
        assert torch.equal(module(x), y)
