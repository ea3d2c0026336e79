"""The base LR of a run: the depth law from a reference, or ``optim.lr``.

With a reference named (``amup.ref_depth`` or ``amup.ref_model``) and no ``amup.ref_lr``,
``optim.lr`` (or ``optim.log10_lr``) is the LR tuned at the reference. The probe's LR
(``amup.lr_rule=probe``) is the lab's step after this one (``experiments.resolve.probe_lr``)."""

from __future__ import annotations

from typing import Any

from torch import nn

from .law import transfer_lr
from .schemes import get_scheme


def resolve_lr(model: nn.Module, optim: Any) -> tuple[float, dict]:
    """Base LR and its record: the depth law from the reference ``create_model`` resolved, or
    ``optim.lr`` when there is no reference. The reference's LR is ``amup.ref_lr`` (given, or
    read from ``amup.ref_run`` by the lab's ``resolve_config``), else ``optim.lr``."""
    amup = model.amup.config
    report = model.amup.report
    measure = get_scheme(amup.scheme).measure(amup)
    # the law's Transfer under its own names (lr: the law's LR), None without a reference
    record = {"scheme": amup.scheme, "K": model.amup.K, "K_base": model.amup.K_base,
              "measure": measure, "depths": report.depth, "L": report.depth[measure],
              **{k: None for k in ("lr", "ref_lr", "L_ref", "K_ref", "exponent", "ref_model",
                                   "ref_kwargs", "ref_depths")},
              "ref_source": model.amup.ref_source, "lr_rule": amup.lr_rule,
              "exponent_from": amup.exponent_from}
    own = float(optim.lr if optim.get("log10_lr") is None else 10 ** optim.log10_lr)
    if amup.ref_lr is None and not amup.has_reference_model:
        return own, record
    if amup.ref_lr is None:
        record["ref_source"] = "optim.lr" if optim.get("log10_lr") is None else "optim.log10_lr"
    elif record["ref_source"] is None:
        record["ref_source"] = "amup.ref_lr"
    t = transfer_lr(model, optimizer=optim.opt, ref_lr=amup.ref_lr or own)
    record.update(t.as_dict())
    return t.lr, record


def lr_message(lr: float, record: dict) -> str:
    """Where the base LR came from, for the log: "reference LR 0.1 from optim.lr (give the LR
    tuned at resnet18 there) -> 0.01925 by the -1.5 law"."""
    source = record["ref_source"]
    if record["ref_lr"] is None:
        return f"base LR {lr:.4g} (optim.lr, no reference)"
    hint = f" (give the LR tuned at {record['ref_model']} there)" if source.startswith("optim.") \
        else ""
    rule = (f"by the probe (the law gives {record['lr']:.4g})" if record["lr_rule"] != "law"
            else "kept (depth exponent 0)" if record["exponent"] == 0
            else f"by the {record['exponent']:g} law")
    return f"reference LR {record['ref_lr']:.4g} from {source}{hint} -> {lr:.4g} {rule}"
