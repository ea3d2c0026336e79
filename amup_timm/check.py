"""``python -m amup_timm.check``: a check's verdict and leaderboard from its records
(the code: amup_timm.experiments.check)."""

from .experiments.check import main

if __name__ == "__main__":
    main()
