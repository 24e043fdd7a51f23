"""Layers for ``[T, B, ...]`` sequences."""

from spikestack.layers.bn_neuron import fuse_batchnorm_neurons
from spikestack.layers.dcls import DCLSConv1d, DCLSConv2d
from spikestack.layers.decoding import LastStep, MaxOverTime, TemporalWeightingDecoder
from spikestack.layers.delays import DelayedConv1d, DelayedLinear, DelaySigmaSchedule, sigma_at
from spikestack.layers.event_driven import EventDriven, event_driven, sparse_summary
from spikestack.layers.fold import fold_batchnorm, fold_batchnorms
from spikestack.layers.liaf import LIAFConv2d, LIAFLinear
from spikestack.layers.norm import (
    BNTT,
    TEBN,
    FastBatchNorm1d,
    FastBatchNorm2d,
    TDBatchNorm,
    batch_norm,
    fast_batchnorm,
)
from spikestack.layers.optimize import OptimizeReport, optimize
from spikestack.layers.pool import FastMaxPool2d, fast_maxpool
from spikestack.layers.registry import LAYERS, create_layer, list_layers, register_layer
from spikestack.layers.sequence import SequenceDropout, VotingPool
from spikestack.layers.sharing import SharingReport, count_parameters, share_kernels
from spikestack.layers.temporal_attention import TemporalAttention
from spikestack.layers.time_distributed import Flatten, TimeDistributed
from spikestack.layers.ttfs_pooling import check_ttfs_pooling, ttfs_avg_pool2d

register_layer("dcls_conv1d")(DCLSConv1d)
register_layer("dcls_conv2d")(DCLSConv2d)
register_layer("delayed_linear")(DelayedLinear)
register_layer("delayed_conv1d")(DelayedConv1d)
register_layer("temporal_weighting_decoder")(TemporalWeightingDecoder)
register_layer("liaf_linear")(LIAFLinear)
register_layer("liaf_conv2d")(LIAFConv2d)
register_layer("temporal_attention")(TemporalAttention)
register_layer("tdbn")(TDBatchNorm)
register_layer("bntt")(BNTT)
register_layer("tebn")(TEBN)

__all__ = [
    "BNTT",
    "DCLSConv1d",
    "DCLSConv2d",
    "LAYERS",
    "LastStep",
    "MaxOverTime",
    "OptimizeReport",
    "DelaySigmaSchedule",
    "DelayedConv1d",
    "DelayedLinear",
    "EventDriven",
    "FastBatchNorm1d",
    "FastBatchNorm2d",
    "FastMaxPool2d",
    "Flatten",
    "LIAFConv2d",
    "LIAFLinear",
    "SequenceDropout",
    "SharingReport",
    "TDBatchNorm",
    "TEBN",
    "TemporalAttention",
    "TemporalWeightingDecoder",
    "TimeDistributed",
    "VotingPool",
    "batch_norm",
    "check_ttfs_pooling",
    "count_parameters",
    "create_layer",
    "list_layers",
    "register_layer",
    "share_kernels",
    "sigma_at",
    "ttfs_avg_pool2d",
    "event_driven",
    "fast_batchnorm",
    "fast_maxpool",
    "fuse_batchnorm_neurons",
    "fold_batchnorm",
    "fold_batchnorms",
    "optimize",
    "sparse_summary",
]
