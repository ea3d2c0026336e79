"""Forward multipliers attached without editing timm's code (picklable, compile-friendly)."""

from __future__ import annotations

from torch import nn


class Multiply:
    """Multiplies a module's output (``register_forward_hook``) or its first input
    (``register_forward_pre_hook``) by a constant."""

    def __init__(self, scale: float):
        self.scale = scale

    def __call__(self, module: nn.Module, args: tuple, output=None):
        if output is None:
            return (args[0] * self.scale, *args[1:])
        return output * self.scale


def multiply_output(module: nn.Module, scale: float) -> None:
    """Multiply ``module``'s output by ``scale`` in every forward pass."""
    module.register_forward_hook(Multiply(scale))


def multiply_input(module: nn.Module, scale: float) -> None:
    """Multiply ``module``'s first input by ``scale`` in every forward pass."""
    module.register_forward_pre_hook(Multiply(scale))
