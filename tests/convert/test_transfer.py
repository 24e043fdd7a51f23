"""ANN twins of the zoo and weight transfer (twin -> SNN, torchvision ResNet -> spiking ResNet)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikestack.convert import transfer_weights
from spikestack.models import create_model


@pytest.mark.parametrize("name", ["digits_csnn", "sew_resnet18", "spikformer_2_256"])
def test_the_ann_twin_has_the_same_parameter_names(name: str) -> None:
    small = {"sew_resnet18": {"width": 4}, "spikformer_2_256": {"embed_dim": 32, "num_heads": 2,
                                                                "img_size": 32}}  # fmt: skip
    kwargs = {**small.get(name, {}), "T": 2}
    twin = create_model(name, neuron="relu", **kwargs)
    snn = create_model(name, **kwargs)
    assert any(isinstance(m, nn.ReLU) for m in twin.modules())
    assert twin.state_dict().keys() == snn.state_dict().keys()
    report = transfer_weights(twin, snn, strict=True)
    assert report.copied == list(snn.state_dict()) and not report.missing
    for key, value in twin.state_dict().items():
        assert torch.equal(snn.state_dict()[key], value)


def test_twin_options_are_checked() -> None:
    with pytest.raises(ValueError, match="takes no neuron_kwargs"):
        create_model("digits_csnn", neuron="relu", neuron_kwargs={"tau": 2.0})
    with pytest.raises(ValueError, match="no ANN twin"):
        create_model("recurrent_sew_resnet", neuron="relu")


def torchvision_resnet18_state() -> dict[str, torch.Tensor]:
    """torchvision's resnet18 key names and shapes (built here: torchvision is no dependency)."""
    g = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}

    def bn(prefix: str, c: int) -> None:
        state[f"{prefix}.weight"] = torch.rand(c, generator=g)
        state[f"{prefix}.bias"] = torch.rand(c, generator=g)
        state[f"{prefix}.running_mean"] = torch.rand(c, generator=g)
        state[f"{prefix}.running_var"] = torch.rand(c, generator=g) + 0.5
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(7)

    state["conv1.weight"] = torch.randn(64, 3, 7, 7, generator=g)
    bn("bn1", 64)
    cin = 64
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            p = f"layer{stage}.{block}"
            state[f"{p}.conv1.weight"] = torch.randn(width, cin, 3, 3, generator=g)
            bn(f"{p}.bn1", width)
            state[f"{p}.conv2.weight"] = torch.randn(width, width, 3, 3, generator=g)
            bn(f"{p}.bn2", width)
            if block == 0 and cin != width:
                state[f"{p}.downsample.0.weight"] = torch.randn(width, cin, 1, 1, generator=g)
                bn(f"{p}.downsample.1", width)
            cin = width
    state["fc.weight"] = torch.randn(1000, 512, generator=g)
    state["fc.bias"] = torch.randn(1000, generator=g)
    return state


@pytest.mark.parametrize("model", ["spiking_resnet18", "sew_resnet18"])
def test_a_torchvision_resnet_state_dict_maps_onto_spiking_resnets(model: str) -> None:
    state = torchvision_resnet18_state()
    snn = create_model(model, T=1)
    with pytest.raises(ValueError, match="no tensor of the source matches"):
        transfer_weights(state, snn)
    report = transfer_weights(state, snn, name_map="torchvision_resnet", strict=True)
    assert len(report.copied) == len(state) == len(snn.state_dict())
    target = snn.state_dict()
    assert torch.equal(target["stages.1.0.downsample.0.module.0.weight"],
                       state["layer2.0.downsample.0.weight"])  # fmt: skip
    assert torch.equal(target["stages.3.1.convs.1.module.1.running_var"],
                       state["layer4.1.bn2.running_var"])  # fmt: skip
    assert torch.equal(target["head.2.module.weight"], state["fc.weight"])


def test_mismatches_are_listed() -> None:
    snn = create_model("digits_csnn", T=2, channels=4)
    twin = create_model("digits_csnn", T=2, channels=8, neuron="relu")
    with pytest.raises(ValueError, match=r"shapes differ for body\.0\.module\.weight: source "):
        transfer_weights(twin, snn)
    partial = {k: v for k, v in snn.state_dict().items() if "body.0" in k}
    partial["extra.weight"] = torch.zeros(1)
    report = transfer_weights(partial, snn)
    assert report.unused == ["extra.weight"] and report.missing
    with pytest.raises(ValueError, match="strict transfer"):
        transfer_weights(partial, snn, strict=True)
    with pytest.raises(ValueError, match="name_map must be one of"):
        transfer_weights(partial, snn, name_map="keras")
