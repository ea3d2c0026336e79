#!/usr/bin/env bash
# The CPU evidence of docs/evidence.md and docs/width.md for one model config, with plain SGD
# and with AdamW: the depth transfer check at two horizons (short: 100 steps; long: 1,500 steps
# with a cosine schedule), the width check (width: 600 steps, cosine) and the depth-and-width
# check (combined: 600 steps, cosine); width1500 is the width check at 1,500 steps.
#   bash sweeps/evidence.sh resnet18_narrow [short|long|all|width|width1500|combined] [override ...]
# (all = short and long: the depth evidence.)
#   bash sweeps/evidence.sh convnext_narrow all data.img_size=32
#   bash sweeps/evidence.sh resnet18_slim width
# Each check writes multirun/evidence/<model>/<check>_<optim>/ and resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1; which=${2:-all}; extra=("${@:3}")
declare -A sweeps=([short]=transfer_check [long]=transfer_check_long [width]=width_check_long
                    [width1500]=width_check_1500 [combined]=combined_check_long)
[[ $which == all || -v "sweeps[$which]" ]] || {
  echo "unknown check '$which': short, long, all (short and long), width, width1500 or combined" >&2
  exit 2; }
for horizon in short long width width1500 combined; do
  [[ $which == "$horizon" || ($which == all && $horizon =~ ^(short|long)$) ]] || continue
  sweep=${sweeps[$horizon]}
  for optim in sgd_plain adamw; do
    python train.py -m +sweeps=$sweep model=$model optim=$optim "${extra[@]}" \
      hydra.sweep.dir=multirun/evidence/$model/${horizon}_$optim
  done
done
