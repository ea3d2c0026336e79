"""The experiments side, built on the core: run records, eta* and its fit, the checks'
verdicts and leaderboard, refine, reference runs, the probe, the coordinate check, and the
reporter (report.py: every table, plot, file and W&B run a person reads). The core
(amup_timm's other modules) reads no records, starts no subprocess and calls no W&B, except
through two documented seams: ``create_model`` reads ``amup.ref_run`` and
``amup.exponent_from`` through reference_runs, and ``base_lr`` takes the probe's LR."""
