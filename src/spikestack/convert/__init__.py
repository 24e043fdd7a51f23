"""ANN → SNN conversion (:func:`ann_to_snn`) and the QCFS activation (:class:`QCFS`)."""

from spikestack.convert.convert import (
    ConvertedSNN,
    SpikingActivation,
    ann_to_snn,
    fold_batchnorm_in,
)
from spikestack.convert.qcfs import QCFS

__all__ = ["QCFS", "ConvertedSNN", "SpikingActivation", "ann_to_snn", "fold_batchnorm_in"]
