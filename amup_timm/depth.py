"""The three depth measures of docs/design.md §3, computed from a traced graph."""

from __future__ import annotations

from .structure import Graph, path_lengths


def depth_measures(graph: Graph, num_branches: int) -> dict[str, int]:
    """``minimal_path``, ``longest_path`` and ``blocks`` of a traced model.

    minimal_path: weighted layers plus residual joins on the shortest input-to-output path.
    longest_path: weighted layers on the longest path, classifier included.
    blocks: K for a residual model; else the weighted layers without the classifier.
    """
    paths = path_lengths(graph)
    return {"minimal_path": paths["minimal_path"], "longest_path": paths["longest_path"],
            "blocks": num_branches or paths["weighted_layers"]}
