"""Training: the engine, losses, checkpoints, configuration and the CLI's run builders."""

from spikestack.layers.decoding import TemporalWeightingDecoder
from spikestack.train.checkpoint import atomic_save, load_checkpoint, load_latest, save_checkpoint
from spikestack.train.config import TrainConfig
from spikestack.train.engine import Engine
from spikestack.train.losses import create_loss, list_losses

__all__ = [
    "Engine",
    "TemporalWeightingDecoder",
    "TrainConfig",
    "atomic_save",
    "create_loss",
    "list_losses",
    "load_checkpoint",
    "load_latest",
    "save_checkpoint",
]
