"""The paper's two test-bed models, registered in timm so ``timm.create_model`` builds them.

``plain_cnn``: the homogeneous CNN of AM-muP (``depth`` 3x3 convs of ``width`` channels, ReLU,
circular padding, no norm, no bias), global average pooling and a linear classifier.
``resnet_1conv``: a stem conv, then ``depth`` single-conv residual blocks x + relu(conv(x)).
"""

from __future__ import annotations

import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn


class _Classifier(nn.Module):
    """Shared timm conventions: pooling, linear head, get/reset_classifier, forward_head."""

    num_classes: int
    num_features: int
    head: nn.Module

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes, bias=False) if num_classes \
            else nn.Identity()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean((2, 3))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class PlainCNN(_Classifier):
    """``depth`` conv+ReLU layers of ``width`` channels, then a linear classifier."""

    def __init__(self, depth: int = 8, width: int = 64, num_classes: int = 1000,
                 in_chans: int = 3, kernel_size: int = 3, **kwargs):
        super().__init__()
        if depth < 1:
            raise ValueError(f"plain_cnn needs depth >= 1, got {depth}")
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Conv2d(in_chans if i == 0 else width, width, kernel_size,
                                 padding=kernel_size // 2, padding_mode="circular", bias=False),
                       nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.num_features = width
        self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class ConvBranchBlock(nn.Module):
    """x + relu(conv(x)): a residual block whose branch is one conv."""

    def __init__(self, width: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(width, width, kernel_size, padding=kernel_size // 2, bias=False)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.conv(x))


class ResNet1Conv(_Classifier):
    """A stem conv, then ``depth`` single-conv residual blocks, then a linear classifier."""

    def __init__(self, depth: int = 8, width: int = 64, num_classes: int = 1000,
                 in_chans: int = 3, kernel_size: int = 3, **kwargs):
        super().__init__()
        if depth < 1:
            raise ValueError(f"resnet_1conv needs depth >= 1, got {depth}")
        self.stem = nn.Conv2d(in_chans, width, kernel_size, padding=kernel_size // 2, bias=False)
        self.blocks = nn.Sequential(*[ConvBranchBlock(width, kernel_size) for _ in range(depth)])
        self.num_features = width
        self.reset_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))


def _cfg(first_conv: str) -> dict:
    return dict(url="", num_classes=10, input_size=(3, 32, 32), pool_size=None,
                mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), first_conv=first_conv,
                classifier="head")


default_cfgs = generate_default_cfgs({
    "plain_cnn.untrained": _cfg("features.0"),
    "resnet_1conv.untrained": _cfg("stem"),
})


@register_model
def plain_cnn(pretrained: bool = False, **kwargs) -> PlainCNN:
    """The AM-muP paper's homogeneous CNN (kwargs: depth, width, kernel_size)."""
    return build_model_with_cfg(PlainCNN, "plain_cnn", pretrained, **kwargs)


@register_model
def resnet_1conv(pretrained: bool = False, **kwargs) -> ResNet1Conv:
    """The AM-muP paper's single-conv-branch ResNet (kwargs: depth, width, kernel_size)."""
    return build_model_with_cfg(ResNet1Conv, "resnet_1conv", pretrained, **kwargs)
