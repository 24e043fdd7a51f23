"""Model zoo: ``create_model(name, **kwargs)``, ``list_models()``."""

from spikestack.models import csnn  # noqa: F401  (registers the compact CSNNs)
from spikestack.models.registry import (
    MODELS,
    count_parameters,
    create_model,
    list_models,
    register_model,
)

__all__ = ["MODELS", "count_parameters", "create_model", "list_models", "register_model"]
