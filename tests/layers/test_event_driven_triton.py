"""The Triton event-driven layers (the GPU path of EventDriven) against the dense layers
and the numba kernels' counts, in Triton's CPU interpreter (TRITON_INTERPRET=1) where
there is no GPU; on a CUDA machine the same tests run on the device."""

from __future__ import annotations

import pytest
import torch
from _triton import DEVICE, MARKS, require_device_or_interpreter
from torch import nn

from spikestack.kernels import sparse, sparse_triton
from spikestack.layers.event_driven import EventDriven

pytestmark = MARKS
CONVS = {
    "3x3": lambda: nn.Conv2d(3, 70, 3, padding=1),  # 70 outputs: two blocks, the second partial
    "5x5 stride 2 dilated": lambda: nn.Conv2d(3, 5, 5, stride=2, padding=2, dilation=2),
    "2x3 valid, no bias": lambda: nn.Conv2d(3, 4, (2, 3), padding="valid", bias=False),
    "conv1d stride 2": lambda: nn.Conv1d(3, 4, 3, padding=1, stride=2),
}


@pytest.fixture(autouse=True)
def _device_or_interpreter() -> None:
    require_device_or_interpreter()


def _sparse_input(shape: tuple[int, ...], rate: float, seed: int, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(shape, generator=g) < rate).float() * scale).to(DEVICE)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_dense_and_counts_like_the_cpu_kernels(bias) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(40, 70, bias=bias).to(DEVICE)
    weight_t = sparse_triton.linear_weight(layer.weight)
    values = torch.randn(9, 40, device=DEVICE) * _sparse_input((9, 40), 0.2, 3)
    for x, spikes in (
        (_sparse_input((9, 40), 0.2, 1, 0.5), True),
        (values, False),
        (torch.zeros(9, 40, device=DEVICE), True),  # no event at all: the bias alone
    ):
        with torch.no_grad():
            out, macs, rate, are_spikes = sparse_triton.linear(x, weight_t, layer.bias)
            torch.testing.assert_close(out, layer(x), rtol=1e-5, atol=1e-5)
        assert macs == int((x != 0).sum()) * 70 and are_spikes == spikes
        assert rate == pytest.approx(float((x != 0).float().mean()))


@pytest.mark.parametrize("name", sorted(CONVS))
def test_conv_equals_dense_and_counts_like_the_cpu_kernels(name) -> None:
    torch.manual_seed(0)
    conv = CONVS[name]().to(DEVICE)
    shape = (2, 3, 11) if isinstance(conv, nn.Conv1d) else (2, 3, 9, 8)
    geometry = sparse.ConvGeometry.of(conv)
    x = _sparse_input(shape, 0.3, 0)
    with torch.no_grad():
        out, macs, _, spikes = sparse_triton.conv(
            x, sparse_triton.conv_weight(conv.weight), conv.bias, geometry
        )
        torch.testing.assert_close(out, conv(x), rtol=1e-5, atol=1e-5)
        _, cpu_macs, _ = sparse.conv(
            x.cpu(), sparse.conv_weight(conv.weight.cpu(), 1), conv.bias, geometry
        )
    assert spikes and macs == cpu_macs
    with pytest.raises(ValueError, match="groups=1"):
        grouped = nn.Conv2d(4, 4, 3, groups=2)
        sparse_triton.conv(
            x[:, :1].repeat(1, 4, 1, 1), grouped.weight, None, sparse.ConvGeometry.of(grouped)
        )


def test_event_driven_sends_gpu_inputs_to_the_triton_kernels(monkeypatch) -> None:
    """What EventDriven does with a CUDA tensor (here the interpreter's CPU tensors stand
    in for one): the Triton path, counted; grouped convolutions dense."""
    if DEVICE == "cpu":
        monkeypatch.setattr(sparse_triton, "supports", lambda x: True)
        monkeypatch.setattr(sparse, "supports", lambda x: False)
    torch.manual_seed(0)
    linear = EventDriven(nn.Linear(40, 6).to(DEVICE), mode="sparse")
    conv = EventDriven(nn.Conv2d(3, 5, 3, padding=1).to(DEVICE), mode="sparse")
    grouped = EventDriven(nn.Conv2d(4, 4, 3, padding=1, groups=2).to(DEVICE), mode="sparse")
    x = _sparse_input((5, 2, 40), 0.1, 0)
    image = _sparse_input((2, 3, 6, 6), 0.2, 1)
    with torch.no_grad():
        torch.testing.assert_close(linear(x), linear.layer(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(conv(image), conv.layer(image), rtol=1e-5, atol=1e-5)
        grouped(_sparse_input((2, 4, 6, 6), 0.2, 2))
    assert linear.calls["event-driven"] == 1 and linear.sops == int((x != 0).sum()) * 6
    assert conv.calls["event-driven"] == 1 and conv.sops > 0
    assert grouped.calls == {"event-driven": 0, "dense": 1}
