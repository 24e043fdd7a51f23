"""The ``spikestack bench neurons`` command and the memory contract it reports."""

from __future__ import annotations

import pytest
import torch

from spikestack.cli import build_parser
from spikestack.functional import reference
from spikestack.kernels import cpu as cpu_backend
from spikestack.kernels.bench import LIF_OPTIONS, _saved_bytes
from spikestack.kernels.cli import run_neuron_bench


def test_bench_neurons_is_registered() -> None:
    args = build_parser().parse_args(
        ["bench", "neurons", "--quick", "--steps", "2", "--no-compile"]
    )
    assert args.func is run_neuron_bench
    assert args.quick and args.no_compile and args.steps == [2]


@pytest.mark.skipif(not cpu_backend.is_available(), reason="numba is not installed")
def test_fused_backward_keeps_only_the_input() -> None:
    """Per neuron-step the fused LIF keeps X (4 bytes) plus v_init (4/T); the reference 12."""
    steps, n = 8, 4096
    x = torch.randn(steps, n)
    v0 = torch.zeros(n)
    fused = _saved_bytes(lambda t: cpu_backend.lif(t, v0, **LIF_OPTIONS)[0], x)
    plain = _saved_bytes(lambda t: reference.lif(t, v0, **LIF_OPTIONS)[0], x)
    assert fused == pytest.approx(4 + 4 / steps)
    assert plain >= 12
