"""One sweep over every registered model (as timm does), plus the papers' parameter counts."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from spikestack.models import create_model, list_models, model_info
from spikestack.models.cli import meta_parameter_count

# (name prefix, small builder kwargs, shape of one sample); every registered model must match a
# prefix (first match wins), so a new family cannot skip the sweep. The input is [B, *sample]
# for a model whose input_layout is "static" (repeated over T inside the model) and
# [T, B, *sample] for a "sequence" one; every config gives T.
TINY_TRANSFORMER = {"embed_dim": 32, "num_heads": 2, "depth": 1, "T": 2}
SMALL_CONFIGS: list[tuple[str, dict, tuple[int, ...]]] = [
    ("digits_csnn", {"channels": 4, "T": 2}, (1, 8, 8)),
    ("event_csnn", {"channels": 4, "T": 2}, (2, 16, 16)),
    ("mlp_snn", {"in_features": 20, "hidden": 8, "T": 2}, (20,)),
    ("sew_resnet_", {"channels": (4, 4, 8), "img_size": 32, "T": 2}, (2, 32, 32)),
    ("sew_resnet", {"width": 4, "T": 2}, (3, 32, 32)),
    ("spiking_resnet", {"width": 4, "T": 2}, (3, 32, 32)),
    ("spiking_vgg11", {"width": 4, "hidden": 16, "pool_size": 1, "T": 2}, (3, 32, 32)),
    ("plif_net", {"channels": 4, "hidden": 16, "img_size": 32, "in_channels": 2, "T": 2}, (2, 32, 32)),
    ("spikformer_2_256", TINY_TRANSFORMER, (2, 32, 32)),
    ("spikformer_cml_2_256", TINY_TRANSFORMER, (2, 32, 32)),
    ("spikingformer_2_256", TINY_TRANSFORMER, (2, 32, 32)),
    ("spikingformer_cml_2_256", TINY_TRANSFORMER, (2, 32, 32)),
    ("spikformer", TINY_TRANSFORMER, (3, 32, 32)),
    ("spikingformer", TINY_TRANSFORMER, (3, 32, 32)),
    ("qkformer", {"embed_dim": 32, "num_heads": 2, "depths": (1, 1, 1), "T": 2}, (3, 32, 32)),
    ("spiking_unet", {"base_channels": 4, "depth": 2, "num_residual": 1, "in_channels": 2, "T": 2},
     (2, 16, 16)),
    ("svformer", {"embed_dims": (8, 16, 16, 32), "depths": (1, 1, 1, 1), "num_heads": 2, "T": 2},
     (3, 32, 32)),
    ("recurrent_sew_resnet", {"channels": (4, 8), "blocks": 1, "T": 3}, (2, 16, 16)),
]  # fmt: skip
DENSE = ("spiking_unet",)  # per-pixel output [B, classes, H, W]
BATCH = 2


def small_config(
    name: str, input_layout: str | None = None
) -> tuple[dict, tuple[int, ...], tuple[int, ...]]:
    """Builder kwargs, input shape and expected (mean) output shape of a small ``name``, for
    its default input layout or the one given."""
    layout = input_layout or model_info(name).input_layout
    for prefix, kwargs, sample in SMALL_CONFIGS:
        if name.startswith(prefix):
            dense = sample[-2:] if name.startswith(DENSE) else ()
            shape = (BATCH, *sample) if layout == "static" else (kwargs["T"], BATCH, *sample)
            # the reference backend: fused CPU kernels pay a per-call overhead that dominates
            # on tiny tensors (they are compared with it in tests/kernels)
            kwargs = {"num_classes": 3, "backend": "torch", **kwargs}
            return kwargs, shape, (BATCH, 3, *dense)
    pytest.fail(f"no small test configuration for model {name!r}; add one to SMALL_CONFIGS")


# The papers' parameter counts (1000 ImageNet classes unless noted), checked within 0.5 %.
TORCHVISION_RESNETS = {
    18: 11_689_512,
    34: 21_797_672,
    50: 25_557_032,
    101: 44_549_160,
    152: 60_192_808,
}
TRANSFORMER_SIZES = {
    "8_384": 16.81e6,
    "8_512": 29.68e6,
    "8_768": 66.34e6,
    "4_384": 9.32e6,
    "2_256": 2.57e6,
}
PAPER_PARAMS: dict[str, tuple[float, dict]] = {
    **{
        f"{f}_resnet{d}": (n, {})
        for f in ("sew", "spiking")
        for d, n in TORCHVISION_RESNETS.items()
    },
    **{
        f"{f}_{s}": (n, {})
        for f in ("spikformer", "spikingformer", "spikformer_cml", "spikingformer_cml")
        for s, n in TRANSFORMER_SIZES.items()
    },
    "qkformer_10_384": (16.47e6, {}),
    "qkformer_10_512": (29.08e6, {}),
    "qkformer_10_768": (64.96e6, {}),
    "qkformer_4_384": (6.74e6, {"num_classes": 100}),  # the paper's CIFAR-100 head
    "spiking_vgg11": (132_868_840, {}),  # the ANN VGG-11-BN (torchvision's count)
}


# the deepest ResNets run the same blocks as ResNet-50 many more times: slow on 2 cores
SLOW = {f"{family}_resnet{depth}" for family in ("sew", "spiking") for depth in (101, 152)}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in list_models()]
)
def test_every_model_forward_backward(name: str) -> None:
    kwargs, shape, expected = small_config(name)
    torch.manual_seed(0)
    model = create_model(name, **kwargs)
    y = model(torch.rand(shape))
    assert y.shape == expected
    assert torch.isfinite(y).all()
    # a random projection: a non-zero upstream gradient even where the (untrained) output is 0
    (y * torch.randn_like(y)).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def one_model_per_family() -> list[str]:
    """The shortest name per SMALL_CONFIGS entry (sew_resnet18 rather than sew_resnet152)."""
    groups: dict[str, list[str]] = {}
    for name in list_models():
        prefix = next((p for p, *_ in SMALL_CONFIGS if name.startswith(p)), name)
        groups.setdefault(prefix, []).append(name)
    return sorted(min(names, key=lambda n: (len(n), n)) for names in groups.values())


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in list_models()]
)
@pytest.mark.parametrize("input_layout", ["sequence", "static"])
def test_every_model_takes_either_layout_with_per_step_output(name: str, input_layout: str) -> None:
    """As the training run builds a model: the input size through model_info's input_arg,
    T, the layout, and per-step output [T, B, ...]."""
    kwargs, shape, expected = small_config(name, input_layout)
    info = model_info(name)
    sample = shape[1:] if input_layout == "static" else shape[2:]
    size = sample[0] if info.input_arg == "in_channels" else math.prod(sample)
    kwargs = {**kwargs, info.input_arg: size, "input_layout": input_layout}
    model = create_model(name, **kwargs, mean_output=False)
    assert model.input_layout == input_layout
    assert model(torch.rand(shape)).shape == (kwargs["T"], *expected)


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_parameter_count_matches_paper(name: str) -> None:
    expected, kwargs = PAPER_PARAMS[name]
    measured = meta_parameter_count(name, neuron="lif", **kwargs)
    if isinstance(expected, int):  # an ANN's exact count: the spiking version must equal it
        assert measured == expected
    assert math.isclose(measured, expected, rel_tol=5e-3), f"{name}: {measured} vs paper {expected}"


def test_mean_output_is_the_mean_of_the_per_step_output() -> None:
    kwargs = {"num_classes": 4, "width": 4, "backend": "torch", "input_layout": "sequence"}
    per_step = create_model("sew_resnet18", T=3, mean_output=False, **kwargs)
    assert per_step(torch.rand(5, 2, 3, 32, 32)).shape == (5, 2, 4)  # a sequence keeps its length
    mean = create_model("sew_resnet18", **kwargs)
    mean.load_state_dict(per_step.state_dict())
    x = torch.rand(5, 2, 3, 32, 32)
    torch.testing.assert_close(mean.eval()(x), per_step.eval()(x).mean(0))


@pytest.mark.slow  # the first call of the fused CPU kernels compiles them (~20 s)
def test_default_backend_gives_the_reference_results() -> None:
    """The default ("auto": fused kernels where available) against the torch reference."""
    torch.manual_seed(0)
    auto = create_model("sew_resnet18", num_classes=4, width=4, T=3).eval()
    reference = create_model("sew_resnet18", num_classes=4, width=4, T=3, backend="torch").eval()
    reference.load_state_dict(auto.state_dict())
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(auto(x), reference(x))


def test_models_cli_lists_names_and_parameter_counts(capsys: pytest.CaptureFixture[str]) -> None:
    from spikestack.models import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["models", "sew_resnet*"])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(list_models("sew_resnet*"))
    assert any(line.split() == ["sew_resnet50", "static", "25.56", "M"] for line in lines)
    args = parser.parse_args(["models", "no_such_*"])
    assert args.func(args) == 1


def test_spikestack_command_has_the_models_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from spikestack.cli import main

    assert main(["models", "qkformer_10_*"]) == 0
    out = capsys.readouterr().out
    assert ["qkformer_10_768", "static", "64.96", "M"] in [
        line.split() for line in out.splitlines()
    ]
    assert main(["models", "--no-params", "spikformer_8_*"]) == 0
    assert capsys.readouterr().out.split() == [
        "spikformer_8_384",
        "spikformer_8_512",
        "spikformer_8_768",
    ]


@pytest.mark.parametrize("name", one_model_per_family())
def test_state_dict_and_pickle_round_trips(name: str) -> None:
    import pickle

    kwargs, shape, _ = small_config(name)
    model = create_model(name, **kwargs).eval()
    rebuilt = create_model(name, **kwargs)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.rand(shape)
    expected = model(x)
    torch.testing.assert_close(rebuilt.eval()(x), expected)
    torch.testing.assert_close(pickle.loads(pickle.dumps(model))(x), expected)
