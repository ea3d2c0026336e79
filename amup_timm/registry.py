"""timm's model registry: check a name, build a model on the meta device."""

from __future__ import annotations

import difflib
from typing import Any

import timm
import torch
from torch import nn

from . import models  # noqa: F401  (registers plain_cnn and resnet_1conv in timm)


def check_model_name(name: str) -> None:
    """Raise a ValueError naming close matches if ``name`` is not in timm's registry."""
    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown timm model {name!r}.{hint} List names with "
                     f"timm.list_models('{name[:4]}*').")


def build_meta(name: str, **kwargs: Any) -> nn.Module:
    """A timm model on the meta device (no memory, no weights), with a clear unknown-name error."""
    check_model_name(name)
    with torch.device("meta"):
        return timm.create_model(name, pretrained=False, **kwargs)
