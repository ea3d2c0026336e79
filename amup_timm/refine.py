"""``python -m amup_timm.refine``: a finer LR grid around each optimum of a sweep
(the code: amup_timm.experiments.refine)."""

from .experiments.refine import main

if __name__ == "__main__":
    main()
