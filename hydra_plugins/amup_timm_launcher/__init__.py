"""amup-timm's SLURM launcher (``hydra/launcher=slurm_cpu``, ``slurm_gpu``, ``slurm_ddp``):
Hydra's submitit launcher that checks the request against the partition before submitting,
records a job SLURM ended (cancelled, killed, out of time) as failed and goes on, and skips
the jobs a sweep started again has already done. Present once the ``launchers`` extra is
installed (hydra-submitit-launcher)."""

from importlib.util import find_spec

if find_spec("hydra_plugins.hydra_submitit_launcher") is not None:
    from ._slurm import AmupSlurmLauncher  # noqa: F401 - Hydra finds the launcher here
