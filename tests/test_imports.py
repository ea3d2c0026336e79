"""The package's data flows one way: no module imports, even lazily, one that imports it back."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "amup_timm"


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Package modules that ``path`` imports anywhere: module level, inside functions, and
    under ``if TYPE_CHECKING:`` (a type is a dependency too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(0, node.level - 1)):
                base = base.rsplit(".", 1)[0]
            mod = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            if mod and mod.split(".")[0] == "amup_timm":
                found.add(mod)
                found.update(f"{mod}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "amup_timm")
    return found


def graph() -> dict[str, set[str]]:
    mods = {module_name(p): p for p in PKG.rglob("*.py")}
    # a package's __init__ re-exports its modules: importing it is importing them
    return {m: {d for d in imports(p) if d in mods and d != m} for m, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(g[node]):
            if state.get(dep) == "open":
                found.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    return found


def test_walker_sees_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]


def test_walker_sees_lazy_imports():
    g = graph()
    assert "amup_timm.experiments.verdict" in g["amup_timm.experiments.fit"]  # module level
    assert "amup_timm.schemes" in g["amup_timm.factory"]
    assert "amup_timm.experiments.resolve" in g["amup_timm.train"]


def test_no_import_cycle_in_amup_timm():
    g = {m: d - {"amup_timm"} for m, d in graph().items() if m != "amup_timm"}
    assert cycles(g) == []


# The flow of data, lowest first: a module imports only modules of its own or a lower layer.
# The library takes numbers and imports nothing of the lab; the lab reads run records and
# turns them into numbers for the library; the entry points sit on both.
LIBRARY = [
    {"conf", "config", "registry", "hooks", "structure", "data", "models",
     "slurm"},  # stand alone
    {"app"},  # Hydra plumbing: the schema registered, resolvers, overrides, an app run
    {"knobs", "depth", "width"},  # a family's knobs, depth measures, muP shapes
    {"model_report"},  # what AM-muP sees in a model
    {"schemes"},  # depth parametrizations
    {"law", "settings"},  # the reference model and the LR rule: no I/O; a job's settings
    {"factory"},  # create_model
    {"groups"},  # optimizer groups: width x depth multipliers, decay rules
    {"optim", "base_lr"},  # create_optimizer; the law's LR
]
LAB = [
    {"experiments"},
    {"experiments.run_record", "experiments.rundir", "experiments.packing",
     "experiments.wandb_runs"},  # results.json validated; checkpoints, lock; packed; W&B
    {"experiments.records", "experiments.eta"},  # the lab's view of runs; eta* of a grid
    {"experiments.trend"},  # eta*'s slope and its intervals
    {"experiments.decide", "experiments.verdict"},  # the rule; the eta*-against-size pipeline
    {"experiments.fit", "experiments.reference_runs"},  # the pipeline over a sweep; ref_run
    {"experiments.leaderboard", "experiments.plots"},  # the arms side by side; the pictures
    {"experiments.report", "experiments.callbacks"},  # tables, plots, W&B; the fit's callback
    {"experiments.probe"},  # the AM probe
    {"experiments.resolve", "experiments.check", "experiments.coord"},  # numbers; the checks
]
ENTRY = [{"job"},  # what identifies a job, its run directory held
         {"experiments.refine", "train", "check", "fit", "refine", "probe", "coord"}]
LAYERS = LIBRARY + LAB + ENTRY
CORE = set().union(*LIBRARY) - {"conf"}


def short(module: str) -> str:
    name = module.removeprefix("amup_timm").removeprefix(".")
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "experiments" and len(parts) > 1 else parts[0]


def layer(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if short(module) in names)


def test_each_module_imports_only_lower_layers():
    g = {m: d - {"amup_timm"} for m, d in graph().items() if m != "amup_timm"}
    up = [(m, d) for m, deps in g.items() for d in deps if layer(d) > layer(m)]
    assert up == [], f"imports that climb back up the flow: {up}"


def test_the_library_imports_nothing_of_the_lab_starts_no_subprocess_calls_no_wandb():
    """The library takes numbers: no module of it imports the lab (even lazily), subprocess or
    wandb."""
    g = graph()
    into = {(short(m), short(d)) for m, deps in g.items() if short(m) in CORE
            for d in deps if short(d).startswith("experiments")}
    assert into == set()
    for path in PKG.rglob("*.py"):
        if short(module_name(path)) in CORE:
            tree = ast.parse(path.read_text())
            mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                    for a in n.names}
            mods |= {n.module.split(".")[0] for n in ast.walk(tree)
                     if isinstance(n, ast.ImportFrom) and n.module and not n.level}
            assert not mods & {"subprocess", "wandb"}, path


def test_one_reporter_plots_and_starts_wandb_runs():
    """Only experiments/plots.py draws (matplotlib) and only experiments/report.py and train.py
    call ``wandb.init``: the modules that compute call the reporter."""
    plots, inits = set(), set()
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
        mods |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module and not n.level}
        if "matplotlib" in mods:
            plots.add(module_name(path))
        if any(isinstance(n, ast.Attribute) and n.attr == "init" and isinstance(n.value, ast.Name)
               and n.value.id == "wandb" for n in ast.walk(tree)):
            inits.add(module_name(path))
    assert plots == {"amup_timm.experiments.plots"}
    assert inits == {"amup_timm.experiments.report", "amup_timm.train"}


def test_a_moved_import_path_names_the_new_one():
    """0.2.0 moved the Hydra plumbing out of amup_timm.config: the old import fails naming
    amup_timm.app."""
    import pytest

    with pytest.raises(ImportError, match=r"moved to amup_timm.app.hydra_value"):
        from amup_timm.config import hydra_value  # noqa: F401
    from amup_timm.app import hydra_value as moved  # noqa: F401
