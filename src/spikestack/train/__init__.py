"""Training: the engine, losses, checkpoints, configuration, data recipes and the CLI's run builders."""

from spikestack.layers.decoding import TemporalWeightingDecoder
from spikestack.train import recipes_events, recipes_static  # noqa: F401  (register the recipes)
from spikestack.train.checkpoint import atomic_save, load_checkpoint, load_latest, save_checkpoint
from spikestack.train.config import TrainConfig
from spikestack.train.engine import Engine
from spikestack.train.losses import create_loss, list_losses
from spikestack.train.recipes import RECIPES, Recipe, build_data, list_recipes

__all__ = [
    "RECIPES",
    "Engine",
    "Recipe",
    "TemporalWeightingDecoder",
    "TrainConfig",
    "atomic_save",
    "build_data",
    "create_loss",
    "list_losses",
    "list_recipes",
    "load_checkpoint",
    "load_latest",
    "save_checkpoint",
]
