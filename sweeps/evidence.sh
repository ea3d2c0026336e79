#!/usr/bin/env bash
# The evidence of docs/evidence.md and docs/width.md for one model config: the plans of
# sweeps/evidence.yaml (each check's, with the family's changes), run by sweeps/evidence.py.
#   bash sweeps/evidence.sh resnet18_narrow [CHECK] [override ...] [--dry-run]
# On digits, with plain SGD and with AdamW: short and long (the depth transfer check at 100 and
# 1,500 steps; all = both), width (600 steps), width1500 and combined (depth and width). On
# Fashion-MNIST: leaderboard (every depth arm at the recipe users run), paper (the paper's
# protocol), width_fmnist (muP against SP across width) and combined_fmnist (tuned at depth and
# width x1, trained at x4, x4 with muP and the depth arm the family's leaderboard named):
#   bash sweeps/evidence.sh resnet18_narrow leaderboard
#   bash sweeps/evidence.sh vit_narrow combined_fmnist
#   bash sweeps/evidence.sh convnext_narrow all data.img_size=32
#   bash sweeps/evidence.sh resnet18_slim width
# Each check writes multirun/evidence/<model>/<check>_<optim>/ and resumes where it stopped;
# --dry-run prints its commands.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python sweeps/evidence.py "$@"
