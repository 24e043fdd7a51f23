"""The PLIF networks of Fang et al., "Incorporating Learnable Membrane Time Constant to
Enhance Learning of Spiking Neural Networks" (ICCV 2021), for static and neuromorphic sets.

    static MNIST / Fashion-MNIST, N-MNIST:
        {c128k3s1-BN-PLIF-MPk2s2}*2 - DP - FC2048 - PLIF - DP - FC100 - PLIF - APk10s10
    CIFAR-10:
        {{c256k3s1-BN-PLIF}*3 - MPk2s2}*2 - DP - FC2048 - PLIF - DP - FC100 - PLIF - APk10s10
    CIFAR10-DVS:   {c128k3s1-BN-PLIF-MPk2s2}*4 - DP - FC512 - PLIF - DP - FC100 - PLIF - APk10s10
    DVS128 Gesture: {c128k3s1-BN-PLIF-MPk2s2}*5 - DP - FC512 - PLIF - DP - FC110 - PLIF - APk10s10

The output layer has ``voting`` spiking neurons per class; their spikes are averaged in
groups (the "voting" average pool), so the mean over T is each class's firing rate.
DP is dropout whose mask is drawn once per sequence and shared by all time steps.
Static images are fed directly, repeated over T (``input_layout="static"``: the first
conv + BN acts as the encoder); event frames come as ``[T, B, 2, H, W]`` (``"sequence"``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from spikestack.layers import Flatten, SequenceDropout, TimeDistributed, VotingPool
from spikestack.models._blocks import conv_bn, neuron_spec
from spikestack.models.base import SpikingModel
from spikestack.models.registry import register_model
from spikestack.validation import check_int


class PLIFNet(SpikingModel):
    def __init__(
        self,
        *,
        in_channels: int,
        img_size: int,
        channels: int,
        convs_per_stage: int,
        stages: int,
        hidden: int,
        num_classes: int,
        voting: int,
        dropout: float,
        spec: Any,
        T: int,
        input_layout: str,
        mean_output: bool,
    ) -> None:
        super().__init__(T=T, input_layout=input_layout, mean_output=mean_output)
        for name, value in (
            ("in_channels", in_channels),
            ("img_size", img_size),
            ("channels", channels),
            ("hidden", hidden),
            ("num_classes", num_classes),
            ("voting", voting),
        ):
            check_int(name, value)
        if img_size < 2**stages:
            raise ValueError(f"img_size {img_size} is too small for {stages} 2x2 pools")
        layers: list[nn.Module] = []
        cin, size = in_channels, img_size
        for _ in range(stages):
            for _ in range(convs_per_stage):
                layers += [conv_bn(cin, channels), spec(detach_reset=True)]
                cin = channels
            layers.append(TimeDistributed(nn.MaxPool2d(2, 2)))
            size //= 2
        self.features = nn.Sequential(*layers, Flatten())
        self.classifier = nn.Sequential(
            SequenceDropout(dropout),
            TimeDistributed(nn.Linear(channels * size * size, hidden, bias=False)),
            spec(detach_reset=True),
            SequenceDropout(dropout),
            TimeDistributed(nn.Linear(hidden, num_classes * voting, bias=False)),
            spec(detach_reset=True),
            VotingPool(voting),
        )

    def forward_sequence(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def plif_net(
    *,
    num_classes: int = 10,
    in_channels: int = 1,
    img_size: int = 28,
    channels: int = 128,
    convs_per_stage: int = 1,
    stages: int = 2,
    hidden: int = 2048,
    voting: int = 10,
    dropout: float = 0.5,
    T: int = 8,
    input_layout: str = "static",
    neuron: str = "plif",
    neuron_kwargs: dict[str, Any] | None = None,
    surrogate: Any = None,
    backend: str = "auto",
    mean_output: bool = True,
) -> PLIFNet:
    """A PLIF network (Fang et al., ICCV 2021); the defaults are the MNIST one."""
    return PLIFNet(
        in_channels=in_channels,
        img_size=img_size,
        channels=channels,
        convs_per_stage=convs_per_stage,
        stages=stages,
        hidden=hidden,
        num_classes=num_classes,
        voting=voting,
        dropout=dropout,
        spec=neuron_spec(neuron, neuron_kwargs, surrogate, backend, T=T),
        T=T,
        input_layout=input_layout,
        mean_output=mean_output,
    )


@register_model("plif_net_mnist", family=plif_net)
def plif_net_mnist(**kwargs: Any) -> PLIFNet:
    """The PLIF network for MNIST / Fashion-MNIST (Fang et al., ICCV 2021): 28x28 static images."""
    return plif_net(**kwargs)


@register_model("plif_net_nmnist", family=plif_net, input_layout="sequence")
def plif_net_nmnist(**kwargs: Any) -> PLIFNet:
    """The PLIF network for N-MNIST (Fang et al., ICCV 2021): 34x34 event frames, T=10."""
    nmnist = {"in_channels": 2, "img_size": 34, "T": 10}
    return plif_net(**{**nmnist, "input_layout": "sequence", **kwargs})


@register_model("plif_net_cifar10", family=plif_net)
def plif_net_cifar10(**kwargs: Any) -> PLIFNet:
    """The PLIF network for CIFAR-10 (Fang et al., ICCV 2021): 32x32 static images, 3 convs a stage."""
    cifar = {"in_channels": 3, "img_size": 32, "channels": 256, "convs_per_stage": 3}
    return plif_net(**{**cifar, **kwargs})


@register_model("plif_net_cifar10dvs", family=plif_net, input_layout="sequence")
def plif_net_cifar10dvs(**kwargs: Any) -> PLIFNet:
    """The PLIF network for CIFAR10-DVS (Fang et al., ICCV 2021): 128x128 event frames, T=20."""
    dvs = {"in_channels": 2, "img_size": 128, "stages": 4, "hidden": 512, "T": 20}
    return plif_net(**{**dvs, "input_layout": "sequence", **kwargs})


@register_model("plif_net_dvsgesture", family=plif_net, input_layout="sequence")
def plif_net_dvsgesture(**kwargs: Any) -> PLIFNet:
    """The PLIF network for DVS128 Gesture (Fang et al., ICCV 2021): 128x128 event frames, T=20,
    11 classes."""
    dvs = {"in_channels": 2, "img_size": 128, "stages": 5, "hidden": 512, "T": 20}
    return plif_net(**{**dvs, "num_classes": 11, "input_layout": "sequence", **kwargs})
