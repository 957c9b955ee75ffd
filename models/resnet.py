"""torchvision's ResNets as tape modules, computed by the Flax code in ``models.flax_resnet``.

The module tree, the printed text, the parameter and buffer names, shapes (torch layout) and
state-dict order are torchvision's: conv1, bn1, relu and maxpool are real tape ``Conv2d``,
``BatchNorm2d``, ``ReLU`` and ``MaxPool2d`` holding the variables, layer1..layer4 are
``Sequential``s of blocks, fc is a tape ``Linear``. Each block (and the stem: conv1 to maxpool)
runs as ONE tape node, the Flax block applied through ``tape.nn.FlaxCall``; avgpool, flatten and
fc are ordinary tape ops. Initialisation is torchvision's, drawn from tape's torch-identical
generator, so ``tape.manual_seed(s); models.resnet18()`` equals torchvision's under the same seed.

Replacing ``fc`` (or avgpool) works as in torch. The submodules inside the stem and the blocks
hold variables only: replacing one with a module of the same kind and shapes keeps working, but
their own ``forward`` and hooks are not called (the Flax block computes them).
"""

from __future__ import annotations

import numpy as np

import tape
from models import flax_resnet as F
from models.weights import (
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    resolve,
    state_dict_for,
)
from tape import nn
from tape.nn.flax_adapter import FlaxCall

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
]


def _example(channels: int, size: int = 16):
    # numpy, not jnp: FlaxCall needs only its shape, and jnp.zeros would compile a program.
    return np.zeros((1, channels, size, size), np.float32)


class _FlaxBlock(nn.Module):
    """A block whose children hold the variables and whose forward is one Flax call."""

    def _bind(self, flax_block, inplanes: int, stride: int) -> None:
        call = FlaxCall(
            flax_block,
            _example(inplanes),
            self,
            names=F.BLOCK_NAMES,
            grad_fn=f"{type(self).__name__}Backward0",
            source=[F],
        )
        object.__setattr__(self, "_flax_call", call)

    def forward(self, x):
        return self._flax_call(self, x, self.training)


# True while ResNet.__init__ builds its layers: it re-draws every conv weight afterwards
# (kaiming_normal_, as torchvision does), so the convs' default init only advances the generator.
_redrawn = False


def _conv(*args, **kwargs) -> nn.Conv2d:
    if not _redrawn:
        return nn.Conv2d(*args, **kwargs)
    with nn.init._draws_only():
        return nn.Conv2d(*args, **kwargs)


def _downsample(inplanes: int, outplanes: int, stride: int):
    return nn.Sequential(
        _conv(inplanes, outplanes, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(outplanes),
    )


class BasicBlock(_FlaxBlock):
    expansion: int = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None) -> None:
        super().__init__()
        self.conv1 = _conv(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride
        self._bind(F.BasicBlock(planes, (stride, stride)), inplanes, stride)


class Bottleneck(_FlaxBlock):
    expansion: int = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None) -> None:
        super().__init__()
        self.conv1 = _conv(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self._bind(F.Bottleneck(planes, (stride, stride)), inplanes, stride)


class ResNet(nn.Module):
    def __init__(
        self,
        block: type[_FlaxBlock],
        layers: list[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
    ) -> None:
        global _redrawn
        super().__init__()
        self.inplanes = 64
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        outer, _redrawn = _redrawn, True
        try:
            self.conv1 = _conv(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(self.inplanes)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(block, 64, layers[0])
            self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
            self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
            self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        finally:
            _redrawn = outer
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

        stem = FlaxCall(
            F.Stem(),
            _example(3, 32),
            self,
            names=F.STEM_NAMES,
            grad_fn="ResNetStemBackward0",
            source=[F],
        )
        object.__setattr__(self, "_stem", stem)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = _downsample(self.inplanes, planes * block.expansion, stride)
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self._stem(self, x, self.training)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = tape.flatten(x, 1)
        x = self.fc(x)
        return x


def _resnet(block, layers, weights, progress: bool, num_classes: int, **kwargs) -> ResNet:
    state = None
    if weights is not None:
        # Read (and check) the checkpoint before building anything.
        state = state_dict_for(weights, progress)
        if not isinstance(weights, str):
            num_classes = weights.num_classes
        elif "fc.weight" in state:
            num_classes = state["fc.weight"].shape[0]
    model = ResNet(block, layers, num_classes=num_classes, **kwargs)
    if state is not None:
        model.load_state_dict(state)
    return model


def _builder(block, layers, enum_cls, name: str):
    def build(
        *,
        pretrained: bool = False,
        weights=None,
        progress: bool = True,
        num_classes: int | None = None,
        **kwargs,
    ) -> ResNet:
        weights = resolve(weights, pretrained, enum_cls)
        if num_classes is not None and weights is not None and not isinstance(weights, str):
            if num_classes != weights.num_classes:
                raise ValueError(
                    f"The parameter 'num_classes' expected value {weights.num_classes} but got "
                    f"{num_classes} instead."
                )
        return _resnet(block, layers, weights, progress, num_classes or 1000, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (
        f"torchvision's ``{name}``: ``pretrained=True`` or ``weights=`` "
        f"(``{enum_cls.__name__}.IMAGENET1K_V1``, its name, or a .pth path) loads weights."
    )
    return build


resnet18 = _builder(BasicBlock, [2, 2, 2, 2], ResNet18_Weights, "resnet18")
resnet34 = _builder(BasicBlock, [3, 4, 6, 3], ResNet34_Weights, "resnet34")
resnet50 = _builder(Bottleneck, [3, 4, 6, 3], ResNet50_Weights, "resnet50")
