"""Behaviour of the model families beyond the registry sweep of test_zoo.py."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack.models import count_parameters, create_model
from spikestack.models._blocks import connect_spikes


@pytest.mark.parametrize("connect", ["ADD", "AND", "IAND", "iand"])
def test_sew_connect_functions(connect: str) -> None:
    model = create_model(
        "sew_resnet18", num_classes=2, width=4, T=2, connect=connect, backend="torch"
    )
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 2)


def test_neuron_is_an_argument() -> None:
    lif = create_model("spiking_resnet18", width=4, neuron="lif", backend="torch")
    plif = create_model(
        "spiking_resnet18", width=4, neuron="plif", neuron_kwargs={"init_tau": 3.0}, backend="torch"
    )
    assert plif(torch.rand(1, 3, 32, 32)).shape == (1, 1000)
    # PLIF adds one learnable time constant per spiking layer; nothing else changes
    neurons = sum(1 for m in plif.modules() if type(m).__name__ == "PLIF")
    assert neurons > 0
    assert count_parameters(plif) == count_parameters(lif) + neurons
    assert all(abs(m.tau - 3.0) < 1e-5 for m in plif.modules() if type(m).__name__ == "PLIF")


def test_transformer_static_input_equals_its_repetition_over_time() -> None:
    kwargs = {"embed_dim": 32, "num_heads": 2, "depth": 1, "T": 3, "backend": "torch"}
    static = create_model("spikformer_4_384", **kwargs).eval()
    sequence = create_model("spikformer_4_384", **kwargs, input_layout="sequence").eval()
    sequence.load_state_dict(static.state_dict())
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(static(x), sequence(x.unsqueeze(0).repeat(3, 1, 1, 1, 1)))


@pytest.mark.parametrize(
    ("connect", "expected"),
    [("ADD", [0.0, 1.0, 1.0, 2.0]), ("AND", [0.0, 0.0, 0.0, 1.0]), ("IAND", [0.0, 1.0, 0.0, 0.0])],
)
def test_sew_connect_truth_tables(connect: str, expected: list[float]) -> None:
    residual = torch.tensor([0.0, 0.0, 1.0, 1.0])  # A = SN(F(S))
    shortcut = torch.tensor([0.0, 1.0, 0.0, 1.0])  # S
    assert connect_spikes(residual, shortcut, connect).tolist() == expected


def test_cml_pools_before_the_neuron() -> None:
    def order(model: torch.nn.Module) -> list[str]:
        names = []
        for module in model.tokenizer.proj:
            inner = getattr(module, "module", module)
            if isinstance(inner, nn.MaxPool2d):
                names.append("pool")
            elif hasattr(module, "step"):
                names.append("sn")
        return names

    kwargs = {"embed_dim": 32, "num_heads": 2, "depth": 1}
    assert order(create_model("spikformer_4_384", **kwargs))[-2:] == ["sn", "pool"]
    assert order(create_model("spikformer_cml_4_384", **kwargs))[-2:] == ["pool", "sn"]


def test_unet_dense_output_and_spiking_head() -> None:
    kwargs = {"base_channels": 4, "depth": 2, "num_residual": 1, "backend": "torch"}
    analog = create_model("spiking_unet_flow", **kwargs, T=2)
    assert analog(torch.rand(2, 1, 2, 16, 24)).shape == (1, 2, 16, 24)
    spiking = create_model(
        "spiking_unet_seg", **kwargs, num_classes=5, head="spiking", mean_output=False
    )
    spikes = spiking(torch.rand(1, 3, 16, 16))
    assert spikes.shape == (4, 1, 5, 16, 16)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="divisible by 2\\*\\*depth = 4"):
        analog(torch.rand(2, 1, 2, 18, 16))


def test_recurrent_model_needs_a_stepping_neuron() -> None:
    with pytest.raises(ValueError, match="step by step"):
        create_model("recurrent_sew_resnet", channels=(4,), blocks=1, T=2, neuron="psn")


def test_qkformer_channel_attention() -> None:
    model = create_model(
        "qkformer_4_384",
        embed_dim=32,
        num_heads=2,
        depths=(1, 1, 1),
        qk_attention="qk_channel",
        T=2,
        backend="torch",
    )
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("neuron", ["if", "lif", "plif", "psn", "sliding_psn", "alif"])
def test_any_registered_neuron_can_be_swapped_in(neuron: str) -> None:
    from spikestack.neurons import neuron_class

    # a backend is an option of the fused neurons only; the others refuse one
    backend = "torch" if "backend" in neuron_class(neuron).options else "auto"
    neuron_kwargs = {"k": 2} if neuron == "sliding_psn" else {}  # PSN's T comes from the model
    for name, kwargs in [
        ("sew_resnet18", {"width": 4}),
        ("spikingformer_4_384", {"embed_dim": 32, "num_heads": 2, "depth": 1}),
    ]:
        model = create_model(
            name,
            num_classes=3,
            T=2,
            neuron=neuron,
            neuron_kwargs=neuron_kwargs,
            backend=backend,
            **kwargs,
        )
        y = model(torch.rand(2, 3, 32, 32))
        assert y.shape == (2, 3) and torch.isfinite(y).all()


def test_event_csnn_dropout_drops_whole_sequences_in_training_only() -> None:
    from spikestack.layers import SequenceDropout
    from spikestack.neurons.base import reset

    plain = create_model("event_csnn", channels=4, T=3, num_classes=5, backend="torch")
    dropped = create_model(
        "event_csnn", channels=4, T=3, num_classes=5, backend="torch", dropout=0.5
    )
    assert not any(isinstance(m, SequenceDropout) for m in plain.modules())
    drops = [m for m in dropped.modules() if isinstance(m, SequenceDropout)]
    assert len(drops) == 1 and drops[0].p == 0.5
    assert count_parameters(plain) == count_parameters(dropped)
    with torch.no_grad():  # the same parameters and buffers, in the same order
        pairs = zip(dropped.state_dict().values(), plain.state_dict().values(), strict=True)
        for mine, theirs in pairs:
            mine.copy_(theirs)
    x = (torch.rand(3, 2, 2, 16, 16) < 0.3).float()
    plain.eval(), dropped.eval()
    with torch.no_grad():
        expected = plain(x)
        reset(dropped)
        torch.testing.assert_close(dropped(x), expected)
