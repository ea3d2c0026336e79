#!/usr/bin/env bash
# The coordinate checks of docs/width.md: each parameter kind trained alone, muP against the
# standard parametrization, plain SGD and AdamW, for the width checks' models.
#   bash sweeps/coord_checks.sh    (about 10 minutes on 2 CPU cores)
# Results: docs/data/coord/<model>_<optim>.json, docs/img/coord/<model>_<optim>.png.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/data/coord docs/img/coord
check() {
  local tag=$1; shift
  python -m amup_timm.coord "$@" coord.seeds=3 logger=none hydra.run.dir=multirun/coord/$tag
  cp multirun/coord/$tag/coord.json docs/data/coord/$tag.json
  cp multirun/coord/$tag/coord.png docs/img/coord/$tag.png
}
for optim in sgd_plain adamw; do
  lr=$([[ $optim == adamw ]] && echo 0.001 || echo 0.01)
  check plain_cnn_$optim model=plain_cnn model.kwargs.depth=4 model.kwargs.width=8 data.img_size=8 optim=$optim coord.lr=$lr
  check resnet18_slim_$optim model=resnet18_slim optim=$optim coord.lr=$lr
  check vit_narrow_$optim model=vit_narrow optim=$optim coord.lr=$lr
  check convnext_narrow_$optim model=convnext_narrow data.img_size=32 optim=$optim coord.lr=$lr
done
# plain_cnn's narrow end out to 64x (512 channels): where the muP kinds stop shrinking
check plain_cnn_to64x_sgd_plain model=plain_cnn model.kwargs.depth=4 model.kwargs.width=8 \
  data.img_size=8 optim=sgd_plain coord.lr=0.01 'coord.widths=[1,4,16,64]' coord.schemes=[am_mup]
# resnet18_slim from a 4x wider base (stages 32-256 up to 256-2048): does the SGD shrink fade?
check resnet18_wide_sgd_plain model=resnet18_slim 'model.kwargs.channels=[32,64,128,256]' \
  model.kwargs.stem_width=16 optim=sgd_plain coord.lr=0.01 coord.schemes=[am_mup]
