"""CML downsampling variants (Zhou et al., "Enhancing the performance of transformer-based
spiking neural networks by SNN-optimized downsampling with precise gradient
backpropagation", 2023).

In a spiking network, Conv-BN-SN-MaxPool pools binary spikes: the max over a window of
equal spikes routes the gradient to one arbitrary position, and the surrogate gradient of
the neurons that lost is discarded. CML reorders downsampling to Conv-BN-MaxPool-SN, so
the pool selects the largest membrane input and back-propagates to it exactly. Parameter
counts are unchanged: ``spikformer_cml_8_512`` has the 29.68 M of ``spikformer_8_512``.
The models are :func:`~spikestack.models.spikformer.spikformer` and
:func:`~spikestack.models.spikingformer.spikingformer` with ``downsample="cml"``.
"""

from __future__ import annotations

from typing import Any

from spikestack.models.registry import register_model
from spikestack.models.spikformer import CIFAR, DVS, IMAGENET, SpikingTransformer, spikformer
from spikestack.models.spikingformer import spikingformer

# Each model is the base model of the same size with downsample="cml" fixed.


@register_model("spikformer_cml_8_384", family=spikformer, fixed=("downsample",))
def spikformer_cml_8_384(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-8-384 with CML downsampling (Zhou et al., 2023): ImageNet, 16.81 M."""
    kwargs = {**IMAGENET, "depth": 8, "embed_dim": 384, "num_heads": 12, **kwargs}
    return spikformer(downsample="cml", **kwargs)


@register_model("spikformer_cml_8_512", family=spikformer, fixed=("downsample",))
def spikformer_cml_8_512(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-8-512 with CML downsampling (Zhou et al., 2023): ImageNet, 29.68 M."""
    kwargs = {**IMAGENET, "depth": 8, "embed_dim": 512, "num_heads": 8, **kwargs}
    return spikformer(downsample="cml", **kwargs)


@register_model("spikformer_cml_8_768", family=spikformer, fixed=("downsample",))
def spikformer_cml_8_768(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-8-768 with CML downsampling (Zhou et al., 2023): ImageNet, 66.34 M."""
    kwargs = {**IMAGENET, "depth": 8, "embed_dim": 768, "num_heads": 12, **kwargs}
    return spikformer(downsample="cml", **kwargs)


@register_model("spikformer_cml_4_384", family=spikformer, fixed=("downsample",))
def spikformer_cml_4_384(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-4-384 with CML downsampling (Zhou et al., 2023): CIFAR-10, 9.32 M."""
    kwargs = {**CIFAR, "depth": 4, "embed_dim": 384, "num_heads": 12, **kwargs}
    return spikformer(downsample="cml", **kwargs)


@register_model(
    "spikformer_cml_2_256", family=spikformer, fixed=("downsample",), input_layout="sequence"
)
def spikformer_cml_2_256(**kwargs: Any) -> SpikingTransformer:
    """Spikformer-2-256 with CML downsampling (Zhou et al., 2023): DVS event frames, 2.57 M."""
    kwargs = {**DVS, "depth": 2, "embed_dim": 256, "num_heads": 16, **kwargs}
    return spikformer(downsample="cml", **kwargs)


@register_model("spikingformer_cml_8_384", family=spikingformer, fixed=("downsample",))
def spikingformer_cml_8_384(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-8-384 with CML downsampling (Zhou et al., 2023): ImageNet, 16.81 M."""
    kwargs = {**IMAGENET, "depth": 8, "embed_dim": 384, "num_heads": 12, **kwargs}
    return spikingformer(downsample="cml", **kwargs)


@register_model("spikingformer_cml_8_512", family=spikingformer, fixed=("downsample",))
def spikingformer_cml_8_512(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-8-512 with CML downsampling (Zhou et al., 2023): ImageNet, 29.68 M."""
    kwargs = {**IMAGENET, "depth": 8, "embed_dim": 512, "num_heads": 8, **kwargs}
    return spikingformer(downsample="cml", **kwargs)


@register_model("spikingformer_cml_8_768", family=spikingformer, fixed=("downsample",))
def spikingformer_cml_8_768(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-8-768 with CML downsampling (Zhou et al., 2023): ImageNet, 66.34 M."""
    kwargs = {**IMAGENET, "depth": 8, "embed_dim": 768, "num_heads": 12, **kwargs}
    return spikingformer(downsample="cml", **kwargs)


@register_model("spikingformer_cml_4_384", family=spikingformer, fixed=("downsample",))
def spikingformer_cml_4_384(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-4-384 with CML downsampling (Zhou et al., 2023): CIFAR-10, 9.32 M."""
    kwargs = {**CIFAR, "depth": 4, "embed_dim": 384, "num_heads": 12, **kwargs}
    return spikingformer(downsample="cml", **kwargs)


@register_model(
    "spikingformer_cml_2_256", family=spikingformer, fixed=("downsample",), input_layout="sequence"
)
def spikingformer_cml_2_256(**kwargs: Any) -> SpikingTransformer:
    """Spikingformer-2-256 with CML downsampling (Zhou et al., 2023): DVS event frames, 2.57 M."""
    kwargs = {**DVS, "depth": 2, "embed_dim": 256, "num_heads": 16, **kwargs}
    return spikingformer(downsample="cml", **kwargs)
