"""``python -m amup_timm.coord``: the coordinate check by parameter kind across width
(the code: amup_timm.experiments.coord)."""

from .experiments.coord import main

if __name__ == "__main__":
    main()
