#!/usr/bin/env bash
# The Fashion-MNIST evidence of docs/evidence.md and docs/width.md, every check in the planned
# order (depth: the paper's protocol, then each family's leaderboard; width after the
# leaderboards). Each check resumes where it stopped and skips the jobs it finished, so running
# this again goes on from there. 1 thread a job (2 jobs at a time: Hydra's joblib launcher).
#   bash sweeps/benchmark.sh                 # everything, in order
#   bash sweeps/benchmark.sh vit_narrow:leaderboard convnext_narrow:leaderboard  # some checks
# Run it from a worktree at a fixed commit, so that code changed meanwhile does not change runs
# under way; publish with `python sweeps/publish_evidence.py WORKTREE/multirun/evidence`.
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
export WANDB_MODE=${WANDB_MODE:-disabled} PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PLAN=(resnet18_narrow:paper resnet50_narrow:paper vit_narrow:paper convnext_narrow:paper
      resnet18_narrow:leaderboard vit_narrow:leaderboard convnext_narrow:leaderboard
      resnet50_narrow:leaderboard
      resnet18_slim:width_fmnist resnet18_slim:combined_fmnist
      vit_narrow:width_fmnist vit_narrow:combined_fmnist)
checks=("${@:-${PLAN[@]}}")
for check in "${checks[@]}"; do
  [[ " ${PLAN[*]} " == *" $check "* ]] || {
    echo "unknown check '$check': one of ${PLAN[*]}" >&2; exit 2; }
done
for check in "${checks[@]}"; do
  family=${check%%:*} which=${check#*:}
  echo "=== $(date -u +%FT%T) start $family $which"
  bash sweeps/evidence.sh "$family" "$which"
  rc=$?
  echo "=== $(date -u +%FT%T) end $family $which (exit $rc)"
  [[ $rc == 0 ]] || { echo "stopped: $family $which failed; fix it and run this again" >&2
                      exit $rc; }
done
