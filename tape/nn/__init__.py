"""``tape.nn``: neural-network building blocks (``from tape import nn``)."""

from tape.nn import functional, init, utils
from tape.nn.activation import (
    ELU,
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from tape.nn.containers import ModuleDict, ModuleList, ParameterList, Sequential
from tape.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from tape.nn.dropout import Dropout
from tape.nn.flatten import Flatten, Unflatten
from tape.nn.flax_adapter import FlaxCall, FlaxModule
from tape.nn.linear import Identity, Linear
from tape.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from tape.nn.module import Module
from tape.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from tape.nn.parameter import Buffer, Parameter
from tape.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from tape.nn.sparse import Embedding
from tape.nn.upsampling import Upsample

__all__ = [
    "functional",
    "init",
    "utils",
    "Module",
    "FlaxModule",
    "FlaxCall",
    "Parameter",
    "Buffer",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "Identity",
    "Linear",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "Dropout",
    "Embedding",
    "Flatten",
    "Unflatten",
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "GELU",
    "SiLU",
    "ELU",
    "Hardtanh",
    "Softplus",
    "Tanh",
    "Sigmoid",
    "Softmax",
    "LogSoftmax",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "Upsample",
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "CrossEntropyLoss",
    "NLLLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
]
