#!/usr/bin/env bash
# The GPU rows of docs/evidence.md: resnet18 -> resnet101 at timm's full width on Fashion-MNIST
# (32 px, batch 128, 1,000 steps of SGD momentum 0.9 and weight decay 5e-4, cosine with 50
# warmup steps, eta* by the validation loss, one seed), about 10 minutes on one GPU:
#   1. resnet18's grid, 5 half-decade LRs, am_mup and standard;
#   2. resnet101 at each scheme's transferred LR (amup.ref_run: am_mup by the -1.5 law from
#      resnet18's eta*, standard at resnet18's eta*);
#   3. resnet101's own grid, 4 LRs a scheme;
#   4. the verdict (eta* per depth, the transferred LRs' regret) and the leaderboard.
#     bash sweeps/gpu_resnet101.sh                     # on a GPU
#     bash sweeps/gpu_resnet101.sh trainer.max_steps=2 data.batch_size=8 trainer.eval_batches=1
#       (the code path on a CPU: about 20 minutes, each run still evaluates the 10,000 test images)
set -euo pipefail
cd "$(dirname "$0")/.."
out=multirun/gpu/resnet101
common=(data=fashion_mnist data.img_size=32 data.batch_size=128 optim=sgd sched=cosine
        sched.warmup_steps=50 trainer.max_steps=1000 logger=none
        hydra.callbacks.multirun_end.select=val "$@")  # eta* by validation, ref_run's too
sub='hydra.sweep.subdir=${amup.scheme}_lr${optim.log10_lr}'
python train.py -m model=resnet18 "${common[@]}" amup.scheme=am_mup,standard \
  optim.log10_lr=-2,-1.5,-1,-0.5,0 hydra.sweep.dir=$out/grid18 "$sub"
python train.py -m model=resnet101 "${common[@]}" amup.scheme=am_mup,standard \
  amup.ref_run=$out/grid18 ++check.stage=transfer hydra.sweep.dir=$out/transfer \
  'hydra.sweep.subdir=${amup.scheme}'
python train.py -m model=resnet101 "${common[@]}" amup.scheme=am_mup,standard \
  optim.log10_lr=-2.5,-2,-1.5,-1 hydra.sweep.dir=$out/grid101 "$sub"
python - "$out" <<'EOF'
import sys
from pathlib import Path

from amup_timm.experiments.leaderboard import board
from amup_timm.experiments.records import collect
from amup_timm.experiments.report import check_summary, leaderboard_markdown, write_check
from amup_timm.experiments.verdict import verdict

out = Path(sys.argv[1])
records = collect(out)
result = verdict(records, "depth", "val", "minimal_path")
print("\n".join(check_summary(result)))
print(leaderboard_markdown(board(records, "depth", "val")))
print("wrote", ", ".join(map(str, write_check(result, out / "verdict"))))
EOF
