"""Train any timm model with AM-muP, from a checkout: the same job as ``amup-train`` (``python
-m amup_timm.train``), whose readable script is amup_timm/train.py.

    python train.py                                  # small default job, CPU is fine
    python train.py model=resnet101 amup.ref_depth=18   # optim.lr: the LR tuned at resnet18
    torchrun --nproc_per_node=4 train.py model=resnet50 data=imagefolder data.root=...
"""

from amup_timm.train import main

if __name__ == "__main__":
    main()
