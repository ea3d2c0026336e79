"""amup-timm's Hydra config tree (YAML only): a package, so that pkg://amup_timm.conf finds it."""
