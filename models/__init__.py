"""``import models``: torchvision.models' ResNets for tape: ``models.resnet18(pretrained=True)``."""

from models.resnet import *  # noqa: F403 (the names in models.resnet.__all__)
from models.resnet import __all__ as _resnet_all
from models.weights import WeightsEnum, load_state_dict_from_url

__all__ = [*_resnet_all, "WeightsEnum", "load_state_dict_from_url"]
