"""``python -m amup_timm.fit``: eta*(L) of a sweep: slopes, intervals, plots
(the code: amup_timm.experiments.fit)."""

from .experiments.fit import main

if __name__ == "__main__":
    main()
