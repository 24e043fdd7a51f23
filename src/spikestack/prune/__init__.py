"""Pruning spiking networks while they train: Grad R and LATS (see each module).

``pruner = GradR(model, optimizer, target_density=0.1)`` (or ``LATS(...)``), then
``pruner.step()`` where the optimiser's step was; ``density(model)`` is the fraction of
non-zero prunable weights, ``masks(model)`` the kept entries, and ``remove(model)`` makes
the sparsity permanent for further training. ``spikestack train --prune gradr|lats
--target-density 0.1`` does it from the command line.
"""

from spikestack.prune.base import (
    Pruner,
    density,
    export_masks,
    layer_densities,
    masks,
    prunable_weights,
    remove,
)
from spikestack.prune.gradr import GradR
from spikestack.prune.lats import LATS, soft_threshold

__all__ = [
    "LATS",
    "GradR",
    "Pruner",
    "density",
    "export_masks",
    "layer_densities",
    "masks",
    "prunable_weights",
    "remove",
    "soft_threshold",
]
