"""The declared input layout of every zoo model: static samples repeated over T inside the
model, or time-major sequences; an input that does not fit the layout is a clear error."""

from __future__ import annotations

import pytest
import torch

from spikestack.models import create_model

SMALL_RESNET = {"num_classes": 4, "width": 4, "T": 3, "backend": "torch"}
SMALL_CSNN = {"num_classes": 4, "channels": 4, "T": 3, "backend": "torch"}


def test_static_input_equals_its_repetition_as_a_sequence() -> None:
    static = create_model("sew_resnet18", **SMALL_RESNET).eval()
    sequence = create_model("sew_resnet18", **SMALL_RESNET, input_layout="sequence").eval()
    sequence.load_state_dict(static.state_dict())
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(static(x), sequence(x.unsqueeze(0).repeat(3, 1, 1, 1, 1)))


def test_a_sequence_default_model_repeats_a_static_input_when_asked() -> None:
    sequence = create_model("digits_csnn", **SMALL_CSNN).eval()
    static = create_model("digits_csnn", **SMALL_CSNN, input_layout="static", mean_output=False)
    static.load_state_dict(sequence.state_dict())
    x = torch.rand(2, 1, 8, 8)
    per_step = static.eval()(x)
    assert per_step.shape == (3, 2, 4)  # T = 3 steps of the one sample
    torch.testing.assert_close(per_step.mean(0), sequence(x.expand(3, -1, -1, -1, -1)))


def test_a_static_model_given_a_sequence_names_the_model_layout_and_fix() -> None:
    model = create_model("sew_resnet18", **SMALL_RESNET)
    pattern = (
        r"sew_resnet18 has input_layout='static': x must be \[B, C, H, W\] \(repeated over "
        r"T=3 steps\); got shape \(5, 2, 3, 32, 32\)\. For a time-major sequence "
        r"\[T, B, C, H, W\], build the model with input_layout='sequence'"
    )
    with pytest.raises(ValueError, match=pattern):
        model(torch.rand(5, 2, 3, 32, 32))


def test_a_sequence_model_given_a_static_sample_names_the_model_layout_and_fix() -> None:
    model = create_model("event_csnn", **SMALL_CSNN)
    pattern = (
        r"event_csnn has input_layout='sequence': x must be \[T, B, C, H, W\]; got shape "
        r"\(2, 2, 16, 16\)\. For a static sample \[B, C, H, W\], build the model with "
        r"input_layout='static'"
    )
    with pytest.raises(ValueError, match=pattern):
        model(torch.rand(2, 2, 16, 16))


def test_an_input_of_neither_layout_is_named() -> None:
    model = create_model("sew_resnet18", **SMALL_RESNET)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\].*got shape \(3, 32, 32\)"):
        model(torch.rand(3, 32, 32))
    with pytest.raises(TypeError, match="x must be a torch.Tensor; got list"):
        model([[0.0]])


def test_mlp_snn_layouts_take_any_sample_shape_but_need_the_time_axis() -> None:
    kwargs = {"in_features": 6, "hidden": 4, "num_classes": 3, "T": 2}
    sequence = create_model("mlp_snn", **kwargs)
    assert sequence(torch.rand(5, 2, 6)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"mlp_snn has input_layout='sequence'.*\[T, B, \.\.\.\]"):
        sequence(torch.rand(2, 6))
    static = create_model("mlp_snn", **kwargs, input_layout="static", mean_output=False)
    assert static(torch.rand(2, 6)).shape == (2, 2, 3)


def test_a_sequence_keeps_its_own_length() -> None:
    model = create_model("spiking_unet_flow", base_channels=4, depth=2, num_residual=1, T=2)
    out = create_model(
        "spiking_unet_flow", base_channels=4, depth=2, num_residual=1, T=2, mean_output=False
    )(torch.rand(5, 1, 2, 16, 16))
    assert out.shape == (5, 1, 2, 16, 16)
    assert model(torch.rand(5, 1, 2, 16, 16)).shape == (1, 2, 16, 16)
