#!/usr/bin/env bash
# The CPU evidence of docs/evidence.md for one model config: the transfer check at two horizons
# (100 steps; 1,500 steps with a cosine schedule) and two optimizers (plain SGD; AdamW).
#   bash sweeps/evidence.sh resnet18_narrow [short|long|all] [override ...]
#   bash sweeps/evidence.sh convnext_narrow all data.img_size=32
# Each check writes multirun/evidence/<model>/<horizon>_<optim>/ and resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1; which=${2:-all}; extra=("${@:3}")
for horizon in short long; do
  [[ $which == all || $which == "$horizon" ]] || continue
  sweep=$([[ $horizon == short ]] && echo transfer_check || echo transfer_check_long)
  for optim in sgd_plain adamw; do
    python train.py -m +sweeps=$sweep model=$model optim=$optim "${extra[@]}" \
      hydra.sweep.dir=multirun/evidence/$model/${horizon}_$optim
  done
done
