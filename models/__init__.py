"""``import models``: torchvision.models' ResNets for tape: ``models.resnet18(pretrained=True)``."""

from models.resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    resnet18,
    resnet34,
    resnet50,
)
from models.weights import WeightsEnum, load_state_dict_from_url

__all__ = [
    "ResNet",
    "BasicBlock",
    "Bottleneck",
    "resnet18",
    "resnet34",
    "resnet50",
    "ResNet18_Weights",
    "ResNet34_Weights",
    "ResNet50_Weights",
    "WeightsEnum",
    "load_state_dict_from_url",
]
