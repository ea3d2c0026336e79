"""A Hydra app with a training loop of its own, built on amup-timm's config groups and API.

    pip install amup-timm        # the plugin: its amup, model, optim and data groups appear
    python train_app.py                                   # resnet18_narrow, amup-timm's
    python train_app.py model=resnet18                    # this app's own model/resnet18.yaml
    python train_app.py model=plain_cnn model.kwargs.depth=8 amup.ref_depth=2   # LR by the law

With a reference (amup.ref_depth or amup.ref_model) optim.lr is the LR tuned there and the depth
law gives this model's; without one it is this model's own LR.
"""

import json
from pathlib import Path

import hydra
import torch
import torch.nn.functional as F
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

import amup_timm
from amup_timm.data import build_data


@torch.no_grad()
def accuracy(model: torch.nn.Module, data) -> float:
    model.eval()
    hits = total = 0
    for x, y in data.val_batches():
        hits += (model(x).argmax(1) == y).sum().item()
        total += len(y)
    model.train()
    return hits / total


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    torch.manual_seed(cfg.seed)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.seed)
    model = amup_timm.create_model(
        cfg.model.name, amup=cfg.amup, num_classes=cfg.data.num_classes,
        in_chans=cfg.data.in_chans, **OmegaConf.to_container(cfg.model.kwargs, resolve=True))
    lr = amup_timm.transfer_lr(model, ref_lr=cfg.amup.ref_lr or cfg.optim.lr,
                               optimizer=cfg.optim.opt).lr
    optimizer = amup_timm.create_optimizer(model, cfg.optim.opt, lr, cfg.optim.weight_decay,
                                           momentum=cfg.optim.momentum)
    batches = data.train_batches()
    losses = []
    for step in range(cfg.steps):
        x, y = next(batches)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    result = {"model": cfg.model.name, "kwargs": OmegaConf.to_container(cfg.model.kwargs),
              "lr": lr, "first_loss": losses[0], "last_loss": losses[-1],
              "val_acc": accuracy(model, data), "amup": amup_timm.__file__}
    out = Path(HydraConfig.get().runtime.output_dir) / "result.json"
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return losses[-1]


if __name__ == "__main__":
    main()
