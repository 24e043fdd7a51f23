"""The registry: a ``def`` per name, ``model_info`` before building, clear argument errors."""

from __future__ import annotations

import inspect
import sys
from typing import Any

import pytest
import torch
from torch import nn

from spikestack.models import (
    INPUT_LAYOUTS,
    MODELS,
    SpikingModel,
    create_model,
    list_models,
    model_info,
    register_model,
)

UNIFORM = {
    "num_classes",
    "T",
    "input_layout",
    "mean_output",
    "neuron",
    "neuron_kwargs",
    "surrogate",
    "backend",
}
# the models of event data, video and the training run's compact nets take [T, B, ...]
SEQUENCE_DEFAULT = {
    "digits_csnn",
    "event_csnn",
    "mlp_snn",
    "plif_net_cifar10dvs",
    "plif_net_dvsgesture",
    "plif_net_nmnist",
    "recurrent_sew_resnet",
    "sew_resnet_cifar10dvs",
    "sew_resnet_dvsgesture",
    "spikformer_2_256",
    "spikformer_cml_2_256",
    "spikingformer_2_256",
    "spikingformer_cml_2_256",
    "spiking_unet_flow",
    "svformer",
    "svformer_tiny",
}


@pytest.mark.parametrize("name", list_models())
def test_every_name_is_a_def_of_that_name(name: str) -> None:
    """As in timm: grep for the name finds the function that builds it, with a docstring."""
    builder = MODELS.get(name)
    module = sys.modules[builder.__module__]
    assert builder.__name__ == name and getattr(module, name) is builder
    source = inspect.getsource(module)
    assert f'@register_model(\n    "{name}"' in source or f'@register_model("{name}"' in source
    assert f"def {name}(" in source
    assert inspect.getdoc(builder)


def test_variants_are_not_generated() -> None:
    import spikestack.models._blocks as blocks

    assert not hasattr(blocks, "register_variant")


@pytest.mark.parametrize("name", list_models())
def test_model_info_is_known_before_building_and_matches_the_model(name: str) -> None:
    info = model_info(name)
    assert info.name == name and info.summary
    assert info.input_arg == ("in_features" if name == "mlp_snn" else "in_channels")
    assert info.input_layout == ("sequence" if name in SEQUENCE_DEFAULT else "static")
    assert info.arguments is not None and UNIFORM | {info.input_arg} <= set(info.arguments)
    with torch.device("meta"):  # shapes only: the ImageNet models cost nothing
        model = create_model(name)
    assert isinstance(model, SpikingModel)
    assert model.input_layout == info.input_layout and model.model_name == name


def test_model_info_of_an_unknown_name_lists_close_matches() -> None:
    with pytest.raises(ValueError, match="did you mean.*mlp_snn"):
        model_info("mlp_sn")


def test_unknown_model_name_lists_close_matches() -> None:
    with pytest.raises(ValueError, match="sew_resnet18"):
        create_model("sew_resnet_18")


def test_unknown_argument_is_named_with_a_suggestion() -> None:
    with pytest.raises(TypeError, match="'conect' \\(did you mean 'connect'\\?\\).*accepted: "):
        create_model("sew_resnet18", conect="ADD")


def test_an_argument_the_name_fixes_is_rejected() -> None:
    with pytest.raises(TypeError, match="'depth' \\(fixed by the name 'sew_resnet18'"):
        create_model("sew_resnet18", depth=50)
    with pytest.raises(TypeError, match="'downsample' \\(fixed by the name"):
        create_model("spikformer_cml_4_384", downsample="maxpool")
    assert "depth" not in model_info("sew_resnet18").arguments  # type: ignore[operator]
    # sizes in a name are defaults, not fixed
    model = create_model("spikformer_8_512", depth=1, embed_dim=32, num_heads=2)
    assert len(model.blocks) == 1


def test_mlp_snn_takes_in_features_not_in_channels() -> None:
    with pytest.raises(TypeError, match="'in_channels'.*accepted: .*in_features"):
        create_model("mlp_snn", in_channels=2)
    model = create_model("mlp_snn", in_features=6, hidden=4, num_classes=3)
    assert model(torch.rand(2, 5, 2, 3)).shape == (5, 3)  # each step [2, 3] flattened to 6
    with pytest.raises(ValueError, match="in_features=6.*has 8 features"):
        model(torch.rand(2, 5, 8))


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("sew_resnet18", {"connect": "OR"}, "connect must be one of ADD, AND, IAND"),
        ("sew_resnet18", {"neuron": "lfi"}, "unknown neuron 'lfi'.*lif"),
        ("spikformer_4_384", {"patch_size": 6}, "patch_size must be a power of two"),
        ("spikformer_4_384", {"embed_dim": 36}, "divisible by 8"),
        ("qkformer_4_384", {"depths": (1, 1)}, "depths must be three"),
        ("sew_resnet18", {"T": 0}, "T must be an int >= 1"),
        ("digits_csnn", {"input_layout": "frames"}, "input_layout must be 'static'.*'sequence'"),
        ("mlp_snn", {"in_features": 0}, "in_features must be an int >= 1"),
    ],
)
def test_bad_arguments_raise_clear_errors(name: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        create_model(name, **kwargs)


def _tiny(*, in_channels: int = 1, input_layout: str = "sequence", **kwargs: Any) -> nn.Module:
    """A stand-in family builder (never registered)."""
    return nn.Identity()


def test_registration_checks_what_it_records() -> None:
    with pytest.raises(ValueError, match="fixes \\['depth'\\], which its family does not take"):
        register_model("bad_fixed_model", family=_tiny, fixed=("depth",))(_tiny)
    with pytest.raises(ValueError, match="registered with input_layout='static'.*defaults to"):
        register_model("bad_layout_model")(_tiny)
    with pytest.raises(ValueError, match="input_layout must be"):
        register_model("bad_layout_model", input_layout="video")
    assert "bad_fixed_model" not in list_models() and "bad_layout_model" not in list_models()
    assert set(INPUT_LAYOUTS) == {"static", "sequence"}
