"""The plan: what the converter decides about the hardware, once, after the other passes.

`plan_hardware` (the last pass) gives every layer its Cost in its io form and, for a kind that
states one, its loop nest; then wires the DATAFLOW region (wiring.Wiring: buffers, streams,
clones, partitions, FIFO depths from the depth model) and freezes the graph. The backend, the
report, the summary and the checks read what is stored here and never compute it again.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .hardware import Cost, has_figures
from .ir import Graph, Layer
from .kinds import kind_of
from .wiring import Wiring


def priced(layer: Layer, cost: Cost, part: str, binding: str | None = None) -> Cost:
    """The cost with its products' binding: `binding`, else the rule of fpga_estimate.binding
    (none for a floating-point layer, which is not priced)."""
    if not has_figures(layer) or not cost.multipliers:
        return cost
    from .config import DEFAULT_PART
    from .fpga_estimate import binding as rule

    return replace(cost, binding=binding or rule(cost, part or DEFAULT_PART))


@dataclass(frozen=True)
class Plan:
    wiring: Wiring                 # buffers and streams of the top function, who writes and reads each


def plan_hardware(graph: Graph, wiring: Wiring | None = None) -> Graph:
    """Costs and loop nests per layer, where each layer's products go (fpga_estimate.binding:
    DSPs or fabric, for the part), then the wiring; the graph is read-only afterwards.
    `wiring`: the one a fit check built of this graph as it stands (passes.fit_by_default and
    fit_with_buffers keep the costs and the wiring of a design that fits), else it is built."""
    for layer in graph.layers:
        kind = kind_of(layer)
        if layer.cost is None:            # a fit check may have priced it already
            layer.cost = priced(layer, kind.cost_of(layer), graph.part)
        layer.nest = kind.loop_nest(layer) if kind.loop_nest is not None else None
    graph.freeze(Plan(wiring if wiring is not None else Wiring(graph)))
    return graph
