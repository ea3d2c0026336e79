"""``python -m amup_timm.probe``: AM-muP's one-step update criterion, per layer
(the code: amup_timm.experiments.probe)."""

from .experiments.probe import main

if __name__ == "__main__":
    main()
