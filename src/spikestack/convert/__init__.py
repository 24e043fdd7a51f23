"""ANN → SNN conversion (:func:`ann_to_snn`), the QCFS activation (:class:`QCFS`), and weight
transfer from an ANN twin or a torchvision-layout ResNet (:func:`transfer_weights`)."""

from spikestack.convert.convert import (
    ConvertedSNN,
    SpikingActivation,
    ann_to_snn,
    fold_batchnorm_in,
    static_network,
)
from spikestack.convert.qcfs import QCFS
from spikestack.convert.transfer import TransferReport, torchvision_resnet_name, transfer_weights

__all__ = [
    "QCFS",
    "ConvertedSNN",
    "SpikingActivation",
    "TransferReport",
    "ann_to_snn",
    "fold_batchnorm_in",
    "static_network",
    "torchvision_resnet_name",
    "transfer_weights",
]
