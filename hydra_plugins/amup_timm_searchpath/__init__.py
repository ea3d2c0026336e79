"""Hydra finds amup-timm's config groups (amup, model, data, optim, sched, logger, trainer,
experiment, sweeps, hydra/launcher) in any app once the package is installed.

The groups are appended to the search path, so an app's own option of the same name (its
``model/resnet18.yaml``) wins over the package's."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class AmupTimmSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from importlib.util import find_spec

        if find_spec("amup_timm") is None or find_spec("amup_timm.conf") is None:
            return  # the package was removed beside a stale plugin: add nothing
        from amup_timm.app import register_configs  # torch-free: the amup schema, resolvers

        register_configs()
        search_path.append(provider="amup-timm", path="pkg://amup_timm.conf")
