"""Event transforms: frozen dataclasses called as ``transform(events, rng=rng)``.

Every transform takes a canonical event array (see :mod:`spikestack.data.events`) and
returns a new one (or a dense array), never modifying its input. Randomness comes only
from the ``rng`` passed at call time (``numpy.random.Generator``; None draws a fresh
OS-seeded one), so the same seed gives the same output. Frame-level augmentation of
``[T, C, H, W]`` tensors (NDA) takes a ``torch.Generator`` instead.
"""

from spikestack.data.transforms.compose import Compose
from spikestack.data.transforms.downsampling import EventDownsampling
from spikestack.data.transforms.filters import (
    Denoise,
    DropByArea,
    DropByTime,
    DropEvent,
    DropPixel,
    RefractoryPeriod,
)
from spikestack.data.transforms.geometry import (
    CenterCrop,
    Downsample,
    MergePolarities,
    RandomCrop,
    RandomFlipLR,
    RandomFlipPolarity,
    RandomFlipUD,
    SpatialJitter,
    TimeJitter,
    TimeSkew,
)
from spikestack.data.transforms.labels import Repeat, ToOneHot
from spikestack.data.transforms.nda import NDA, Cutout, Roll, Rotate, Shear, rotate, shear
from spikestack.data.transforms.representations import (
    ToAveragedTimeSurface,
    ToBinaRep,
    ToFrame,
    ToImage,
    ToSparseTensor,
    ToTimeSurface,
    ToVoxelGrid,
)
from spikestack.data.transforms.timing import (
    CropTime,
    Decimation,
    EventDrop,
    NumpyAsType,
    RandomDropPixel,
    RandomTimeReversal,
    TimeAlignment,
    UniformNoise,
)

__all__ = [
    "NDA",
    "CropTime",
    "Decimation",
    "EventDownsampling",
    "EventDrop",
    "NumpyAsType",
    "RandomDropPixel",
    "RandomTimeReversal",
    "Repeat",
    "TimeAlignment",
    "ToAveragedTimeSurface",
    "ToBinaRep",
    "ToImage",
    "ToOneHot",
    "ToSparseTensor",
    "UniformNoise",
    "CenterCrop",
    "Compose",
    "Cutout",
    "Denoise",
    "Downsample",
    "DropByArea",
    "DropByTime",
    "DropEvent",
    "DropPixel",
    "MergePolarities",
    "RandomCrop",
    "RandomFlipLR",
    "RandomFlipPolarity",
    "RandomFlipUD",
    "RefractoryPeriod",
    "Roll",
    "Rotate",
    "Shear",
    "SpatialJitter",
    "TimeJitter",
    "TimeSkew",
    "ToFrame",
    "ToTimeSurface",
    "ToVoxelGrid",
    "rotate",
    "shear",
]
