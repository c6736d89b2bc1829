"""The plan: what the converter decides about the hardware, once, after the other passes.

`plan_hardware` (the last pass) gives every layer its Cost in its io form and, for a kind that
states one, its loop nest; then wires the DATAFLOW region (wiring.Wiring: buffers, streams,
clones, partitions, FIFO depths from the depth model) and freezes the graph. The backend, the
report, the summary and the checks read what is stored here and never compute it again.
"""
from __future__ import annotations

from dataclasses import dataclass

from .ir import Graph
from .kinds import kind_of
from .wiring import Wiring


@dataclass(frozen=True)
class Plan:
    wiring: Wiring                 # buffers and streams of the top function, who writes and reads each


def plan_hardware(graph: Graph) -> Graph:
    """Costs and loop nests per layer, then the wiring; the graph is read-only afterwards."""
    for layer in graph.layers:
        kind = kind_of(layer)
        layer.cost = kind.cost_of(layer)
        layer.nest = kind.loop_nest(layer) if kind.loop_nest is not None else None
    graph.freeze(Plan(Wiring(graph)))
    return graph
