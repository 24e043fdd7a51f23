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

from spikestack.models.spikformer import register_sizes, spikformer
from spikestack.models.spikingformer import spikingformer

register_sizes(
    "spikformer_cml", spikformer, "Spikformer + CML (Zhou et al., 2023)", downsample="cml"
)
register_sizes(
    "spikingformer_cml", spikingformer, "Spikingformer + CML (Zhou et al., 2023)", downsample="cml"
)
