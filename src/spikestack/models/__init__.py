"""Model zoo: ``create_model(name, **kwargs)``, ``list_models()``, ``model_info(name)``.

Every model derives from :class:`SpikingModel` and declares its ``input_layout``: ``"static"``
(``[B, ...]``, repeated over ``T`` steps inside the model) or ``"sequence"`` (``[T, B, ...]``).

Importing this package registers every family (one module each):
compact CSNNs, Spiking / SEW ResNet, the small SEW ResNets for event data, spiking VGG-11,
the PLIF networks, Spikformer, Spikingformer, their CML variants, QKFormer, the spiking
U-Net, an SVFormer-style video transformer and a recurrent SEW network.
"""

from spikestack.layers.sharing import count_parameters
from spikestack.models import (  # noqa: F401  (each module registers its models)
    cml,
    csnn,
    plif_net,
    qkformer,
    recurrent,
    resnet,
    sew_dvs,
    spikformer,
    spikingformer,
    svformer,
    unet,
    vgg,
)
from spikestack.models.base import INPUT_LAYOUTS, SpikingModel
from spikestack.models.registry import (
    MODELS,
    ModelInfo,
    create_model,
    list_models,
    model_info,
    register_model,
)

__all__ = [
    "INPUT_LAYOUTS",
    "MODELS",
    "ModelInfo",
    "SpikingModel",
    "count_parameters",
    "create_model",
    "list_models",
    "model_info",
    "register_model",
]
