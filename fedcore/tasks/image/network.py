"""The image task's network: torchvision's ResNet-18 with GroupNorm, a configurable input and class count.

Opacus cannot train BatchNorm under DP (it mixes the rows of a batch), so every BatchNorm is a
GroupNorm (32 groups, as Wu and He 2018; a 64-channel layer has 2 channels per group). Training
starts from scratch: no pretrained weights can be downloaded here, and ImageNet's BatchNorm weights
do not carry over to GroupNorm anyway.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import torch
from torch import nn

GROUPS = 32


def _torchvision_resnet():
    """``torchvision.models``, also on a CPU-only torch whose torchvision wheel has no compiled ops.

    The torchvision 0.28.0 wheel on PyPI links its C++ ops against CUDA torch; beside the CPU build of
    torch 2.13.0 they fail to load, and its import then fails registering fake kernels for
    ``torchvision::nms``/``qnms`` (pytorch/vision#9085, #9337; fix proposed in #9649). The models are
    pure Python and need none of those ops: declare the two operator schemas so the import completes.
    Calling ``nms`` then fails as it should. On CUDA machines (the trainer image) the first import works.
    """
    try:
        return importlib.import_module("torchvision.models.resnet")
    except RuntimeError as exc:
        if "torchvision::nms does not exist" not in str(exc):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    library = torch.library.Library("torchvision", "FRAGMENT")
    for op in ("nms", "qnms"):
        library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _KEEP.append(library)
    return importlib.import_module("torchvision.models.resnet")


_KEEP: list = []


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(GROUPS, channels), channels)


def build_image_network(channels: int, classes: int, seed: int = 0) -> nn.Module:
    """ResNet-18 (torchvision's ``ResNet`` with its ``BasicBlock`` layout [2, 2, 2, 2]) with GroupNorm,
    ``channels`` input channels and ``classes`` outputs."""
    resnet = _torchvision_resnet()

    class BasicBlock(resnet.BasicBlock):
        """torchvision's block without its in-place residual add and ReLU: Opacus' backward hooks on the
        GroupNorm before them cannot follow an in-place change of the tensor they hooked."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    torch.manual_seed(seed)
    network = resnet.ResNet(BasicBlock, [2, 2, 2, 2], num_classes=classes, norm_layer=group_norm)
    if channels != 3:
        network.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    for module in network.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return network


def initial_image_weights(channels: int, classes: int, seed: int) -> dict[str, np.ndarray]:
    """The data-independent round-0 model (torchvision's initialisation under the run's seed)."""
    from fedcore.model.weights import get_weights

    return get_weights(build_image_network(channels, classes, seed))
