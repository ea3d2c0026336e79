"""Residual branches and data paths of any ``nn.Module``, found by running it on fake tensors.

The model is run once on a fake input (``FakeTensorMode``: no memory, no compute) under a
``TorchFunctionMode`` that records every tensor operation as a node of a data-flow graph.
Shape queries return ints, not tensors, so shape edges never enter the graph. From that
graph come the residual joins (additions whose two operands both depend on the input,
docs/design.md §1), the parameter that carries each branch's scale (§2) and the paths
that the depth measures count (§3).
"""

from __future__ import annotations

import math
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

_JOIN_OPS = {"add", "add_", "__add__", "__iadd__", "__radd__"}
_WEIGHT_OPS = {"conv1d", "conv2d", "conv3d", "linear", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "matmul", "mm", "bmm", "addmm", "einsum"}
_NORM_OPS = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm"}
_MUL_OPS = {"mul", "mul_", "__mul__", "__rmul__", "__imul__"}
_GATE_OPS = {"sigmoid", "sigmoid_", "hardsigmoid", "hardsigmoid_", "hard_sigmoid"}
_DIV_OPS = {"div", "div_", "__truediv__", "true_divide"}
_STANDARDIZED_CONVS = ("StdConv", "ScaledStdConv")


class StructureError(RuntimeError):
    """The model's structure could not be measured; the message says what to set by hand."""


@dataclass
class Node:
    """One recorded tensor value."""

    idx: int
    op: str
    inputs: list[int]
    dep: bool  # depends on the model input
    shape: tuple[int, ...] = ()
    path: str = ""  # innermost module running when the op was called
    param: str | None = None  # weight/norm/origin parameter name
    kind: str = "op"  # input | param | op | weight | norm


@dataclass
class Branch:
    """A residual branch: the non-skip operand of one residual join."""

    name: str
    scale_param: str | None
    scale_kind: str | None  # "layerscale" | "norm" | "weight" | None
    skip: str  # "identity" | "projection"
    num_weighted: int
    module: str | None = None  # the module whose output is the branch (forward multipliers)
    params: list[str] = field(default_factory=list)  # the branch's weights, in data-flow order
    multiplier: float = 1.0  # forward multiplier a scheme attached (1: none)

    def as_dict(self) -> dict:
        return dict(name=self.name, scale_param=self.scale_param, scale_kind=self.scale_kind,
                    skip=self.skip, num_weighted=self.num_weighted, module=self.module,
                    params=list(self.params), multiplier=self.multiplier)


@dataclass
class Graph:
    """The recorded data-flow graph of one forward pass."""

    nodes: list[Node]
    output: int
    classifier_params: frozenset[str] = field(default_factory=frozenset)
    producers: dict[int, str] = field(default_factory=dict)  # node -> innermost module output


class _Recorder(TorchFunctionMode):
    def __init__(self, params: dict[int, str], paths: list[str]):
        super().__init__()
        self.params, self.paths = params, paths
        self.nodes: list[Node] = []
        self.by_id: dict[int, int] = {}
        self.keep: list[torch.Tensor] = []  # keeps ids unique while recording

    def add(self, t: torch.Tensor, node: Node) -> int:
        node.idx = len(self.nodes)
        node.shape = tuple(t.shape)
        self.nodes.append(node)
        self.by_id[id(t)] = node.idx
        self.keep.append(t)
        return node.idx

    def lookup(self, t: torch.Tensor) -> int | None:
        if id(t) in self.by_id:
            return self.by_id[id(t)]
        if id(t) in self.params:
            return self.add(t, Node(0, "param", [], False, param=self.params[id(t)], kind="param"))
        return None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", str(func))
        if name == "__get__":
            name = getattr(getattr(func, "__self__", None), "__name__", name)
        flat_in, _ = tree_flatten((args, kwargs))
        ins = [i for i in (self.lookup(t) for t in flat_in if isinstance(t, torch.Tensor))
               if i is not None]
        if not ins:
            return out
        dep = any(self.nodes[i].dep for i in ins)
        kind, param = "op", None
        origins = [self.nodes[i].param for i in ins if not self.nodes[i].dep]
        if dep and name in _WEIGHT_OPS and any(
                self.nodes[i].param and not self.nodes[i].dep and len(self.nodes[i].shape) >= 2
                for i in ins):
            kind = "weight"
            param = next(self.nodes[i].param for i in ins
                         if not self.nodes[i].dep and len(self.nodes[i].shape) >= 2)
        elif dep and name in _NORM_OPS:
            kind, param = "norm", (origins[0] if origins else None)
        elif not dep:
            param = next((o for o in origins if o), None)
        elif name in _MUL_OPS and origins:
            param = origins[0]
        path = self.paths[-1] if self.paths else ""
        targets = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if name == "__setitem__" and isinstance(args[0], torch.Tensor):
            targets = [args[0]]
        for t in targets:
            self.add(t, Node(0, name, ins, dep, path=path, param=param, kind=kind))
        return out


def _input_shape(model: nn.Module, input_size: tuple[int, ...] | None) -> tuple[int, ...]:
    if input_size is not None:
        return tuple(input_size)
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
    c, h, w = cfg.get("input_size", (3, 224, 224))
    pe = getattr(model, "patch_embed", None)
    if pe is not None and getattr(pe, "img_size", None) is not None:
        h, w = pe.img_size
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None:
        c = first.in_channels
    return (c, h, w)


def trace(model: nn.Module, input_size: tuple[int, ...] | None = None) -> Graph:
    """Record the data-flow graph of one eval-mode forward pass on a fake (or meta) input."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    names = {id(m): n for n, m in model.named_modules()}
    params = {id(p): n for n, p in model.named_parameters()}
    paths: list[str] = []
    producers: dict[int, str] = {}
    rec = _Recorder(params, paths)
    shape = (1, *_input_shape(model, input_size))
    on_meta = any(p.is_meta for p in model.parameters())
    was_training = model.training
    model.eval()
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    head_params = frozenset(n for n, p in model.named_parameters()
                            if isinstance(head, nn.Module) and any(p is q for q in head.parameters()))
    with ExitStack() as stack:
        stack.callback(model.train, was_training)
        def enter(m: nn.Module, args: tuple) -> None:
            paths.append(names.get(id(m), paths[-1] if paths else ""))

        def leave(m: nn.Module, args: tuple, out: object) -> None:
            paths.pop()
            if isinstance(out, torch.Tensor) and id(out) in rec.by_id:
                producers.setdefault(rec.by_id[id(out)], names.get(id(m), ""))

        hooks = [nn.modules.module.register_module_forward_pre_hook(enter),
                 nn.modules.module.register_module_forward_hook(leave)]
        for h in hooks:
            stack.callback(h.remove)
        stack.enter_context(nullcontext() if on_meta else FakeTensorMode(allow_non_fake_inputs=True))
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        x = torch.empty(shape, device=device)
        rec.add(x, Node(0, "input", [], True, kind="input"))
        try:
            with rec, torch.no_grad():
                y = model(x)
        except Exception as e:  # any failure of a user's model is reported the same way
            raise StructureError(
                f"could not run {type(model).__name__} on a fake input of shape {shape} to "
                f"find its residual branches: {type(e).__name__}: {e}. If the model needs "
                "another input size, pass it: describe(model, input_size=(C, H, W)).") from e
    outs = [t for t in tree_flatten(y)[0] if isinstance(t, torch.Tensor)]
    if not outs or id(outs[0]) not in rec.by_id:
        raise StructureError(f"the output of {type(model).__name__} does not depend on its "
                             "input, so it has no depth to measure")
    return Graph(rec.nodes, rec.by_id[id(outs[0])], head_params, producers)


def _ancestors(g: Graph) -> list[int]:
    """Bitmask of each node's input-dependent ancestors (itself included)."""
    anc = [0] * len(g.nodes)
    for n in g.nodes:
        if n.dep:
            a = 1 << n.idx
            for i in n.inputs:
                a |= anc[i]
            anc[n.idx] = a
    return anc


def _mask(g: Graph, kind: str) -> int:
    return sum(1 << n.idx for n in g.nodes if n.kind == kind and n.dep)


def joins(g: Graph) -> list[Node]:
    """Residual joins: additions whose two operands both depend on the input."""
    return [n for n in g.nodes if n.op in _JOIN_OPS and n.dep
            and sum(g.nodes[i].dep for i in n.inputs) >= 2]


def _is_gate(g: Graph, operand: Node, out: Node) -> bool:
    """A multiplicative gate (squeeze-excitation and the like): broadcast, or a sigmoid."""
    if math.prod(operand.shape) < math.prod(out.shape) or operand.op in _GATE_OPS:
        return True
    return operand.op in _DIV_OPS and any(g.nodes[i].op in ("relu6", "hardtanh")
                                          for i in operand.inputs)  # timm's hard_sigmoid


def _scale_of(g: Graph, start: int, members: int) -> tuple[str | None, str | None]:
    """Walk back from a branch's output to the parameter that carries its scale."""
    norm: str | None = None
    i = start
    while True:
        n = g.nodes[i]
        if n.kind == "weight":
            if norm is not None:
                return norm, "norm"
            return n.param, "weight"
        if n.kind == "norm":
            norm = n.param if n.param else "<non-affine norm>"
        elif n.op in _MUL_OPS and n.param is not None:
            return n.param, "layerscale"
        ins = [j for j in n.inputs if g.nodes[j].dep and (members >> j) & 1]
        if n.op in _MUL_OPS and len(ins) > 1:
            ins = [j for j in ins if not _is_gate(g, g.nodes[j], n)]
        if len(ins) != 1:
            return None, None
        i = ins[0]


def find_branches(g: Graph) -> list[Branch]:
    """Each residual join's branch, its skip kind and the parameter that carries its scale."""
    anc = _ancestors(g)
    weighted = _mask(g, "weight")
    counts: dict[str, int] = {}
    out = []
    for j in joins(g):
        a, b = [i for i in j.inputs if g.nodes[i].dep][:2]
        only_a, only_b = anc[a] & ~anc[b], anc[b] & ~anc[a]
        wa, wb = (only_a & weighted).bit_count(), (only_b & weighted).bit_count()
        if (anc[a] >> b) & 1 or (not (anc[b] >> a) & 1 and wb < wa):
            branch, members, nw, skip_w = a, only_a, wa, wb
        else:
            branch, members, nw, skip_w = b, only_b, wb, wa
        param, kind = _scale_of(g, branch, members)
        weights = [n.param for n in g.nodes if (members >> n.idx) & 1 and n.kind == "weight"]
        if param is None and weights:  # fall back to the branch's last weighted layer
            param, kind = weights[-1], "weight"
        path = j.path
        k = counts.get(path, 0)
        counts[path] = k + 1
        out.append(Branch(f"{path}:{k}" if path else str(k), param, kind,
                          "identity" if skip_w == 0 else "projection", nw,
                          g.producers.get(branch), list(dict.fromkeys(weights))))
    return out


def path_lengths(g: Graph) -> dict[str, int]:
    """Shortest path (weighted layers + joins) and longest path (weighted layers) to the output."""
    join_ids = {n.idx for n in joins(g)}
    shortest = [0] * len(g.nodes)
    longest = [0] * len(g.nodes)
    for n in g.nodes:
        if not n.dep:
            continue
        ins = [i for i in n.inputs if g.nodes[i].dep]
        cost_s = int(n.kind == "weight") + int(n.idx in join_ids)
        shortest[n.idx] = cost_s + (min(shortest[i] for i in ins) if ins else 0)
        longest[n.idx] = int(n.kind == "weight") + (max(longest[i] for i in ins) if ins else 0)
    weighted = [n for n in g.nodes if n.kind == "weight" and n.dep]
    body = len({n.param for n in weighted if n.param not in g.classifier_params})
    return {"minimal_path": shortest[g.output], "longest_path": longest[g.output],
            "weighted_layers": body}


def is_standardized(modules: dict[str, nn.Module], param: str) -> bool:
    """Whether ``param`` belongs to a weight-standardized conv, which undoes a weight rescale."""
    owner = modules.get(param.rsplit(".", 1)[0])
    return owner is not None and type(owner).__name__.startswith(_STANDARDIZED_CONVS)
