"""The `da` conv strategy (distributed arithmetic, issue 28): the layer's per-pixel constant
matrix over the window's used positions, solved by da4ml into a graph of shifts and adders
(ikr_hls/da/), is the step's whole product: no multiplier, no weight table. Each filter's
accumulator takes its bias, then the graph's output once. Reuse factor 1 only (the weights are
wires); asked for by name, never auto's choice."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import codes as C
from ... import hardware
from ...da import form as da
from ...ir import Layer
from .common import ConvFacts, ConvStrategy, ConvView, StrategyCost, activation_products, copy_of, view_fields


def _window_register(row: tuple) -> str:
    i, j, ci = row
    return f"window[{i}][{j}][{ci}]"


def derive(layer: Layer, facts: ConvFacts) -> da.DAForm:
    return da.DAForm(layer, _window_register)


@dataclass(frozen=True, kw_only=True)
class DAView(ConvView):
    """conv2d_da.j2: the graph's statements, then per filter its output (None: the bias alone)
    and the activation table copy it reads; used: the window positions the graph reads."""
    adders: tuple
    outputs: list
    depth: int
    used: int


def view(layer: Layer) -> DAView:
    form: da.DAForm = layer.facts.form
    outputs = [dict(index=f, out=out, table_copy=copy_of(layer, f)) for f, out in enumerate(form.graph.outputs)]
    return DAView(**view_fields(layer), adders=form.graph.adders, outputs=outputs, depth=form.solution.depth,
                  used=form.matrix.shape[0], allocation=0)


def arrays(layer: Layer) -> tuple:
    form: da.DAForm = layer.facts.form
    return (f"Conv2D by distributed arithmetic: its {layer.facts.nnz} nonzero weights are shifts and "
            f"{len(form.graph.adders)} adders of the layer's code, no table", [])


def accumulate(layer: Layer, windows, w_codes, product_frac: int, acc, acc_t) -> np.ndarray:
    """The graph's exact sums (every tap; the zero ones add nothing), added once to the bias."""
    p = C.fixed_types(layer)
    in_t = layer.input_types[0]
    return da.accumulate(windows, w_codes, in_t.width, in_t.fractional, p["weight"].width, p["weight"].fractional,
                         acc, acc_t)


def cost(layer: Layer, in_bits: int, w_bits: int) -> StrategyCost:
    """One step a pixel at II 1: the graph's adders at their widths, its depth in adder levels,
    no multiplier (the activation's products, a leaky slope, stay products)."""
    form: da.DAForm = layer.facts.form
    multipliers = activation_products(layer)
    acc_bits = hardware.bits(layer.precision["accum"])
    return StrategyCost(multipliers=multipliers, adds=0, operators=da.operators(form, acc_bits),
                        sharing="none: shifts and adds" if not multipliers else "one per product",
                        macs=layer.facts.nnz, chain=da.chain(form))


STRATEGY = ConvStrategy("da", "conv2d_da", cycles=lambda rf: 1, derive=derive, view=view, arrays=arrays,
                        accumulate=accumulate, cost=cost)
