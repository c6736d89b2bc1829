"""The `unrolled` conv strategy: every filter's surviving taps written out, each a constant
window position times a constant weight; reuse factor R gives II = R with an ALLOCATION of
ceil(products / R) multipliers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import codes as C
from ... import hardware
from ...constants import array, literal
from ...ir import Layer
from .common import (
    ConvFacts,
    ConvStrategy,
    ConvView,
    StrategyCost,
    activation_products,
    copy_of,
    kernel_constants,
    view_fields,
)


@dataclass(frozen=True)
class UnrolledFacts:
    """orders: per filter, its taps as (ci*KH + kh)*KW + kw (an array) in the order the code
    accumulates them (channel, row, column). multipliers: ceil(products / R)."""
    orders: list
    multipliers: int


def derive(layer: Layer, facts: ConvFacts) -> UnrolledFacts:
    nnz = sum(len(taps) for taps in facts.filter_taps)
    return UnrolledFacts(facts.filter_orders, -(-nnz // layer.settled.reuse_factor))


@dataclass(frozen=True, kw_only=True)
class UnrolledView(ConvView):
    """conv2d.h.j2: per filter, its taps (row, column, channel, weight index) written out."""
    filters: list
    host_taps: bool           # fixed point: the host runs each filter's taps in a function


def view(layer: Layer) -> UnrolledView:
    filters, k = [], 0
    for co, taps in enumerate(layer.facts.filter_taps):
        filters.append(dict(index=co, taps=[(i, j, ci, k + n) for n, (ci, i, j) in enumerate(taps.tolist())],
                            table_copy=copy_of(layer, co)))
        k += len(taps)
    return UnrolledView(**view_fields(layer), filters=filters,
                        # fixed point: the host runs each filter's taps in a function (IKR_HOST_TAPS, defines.h)
                        host_taps=not layer.precision["weight"].is_float,
                        allocation=int(layer.plan_cost.multipliers or 0) if layer.settled.reuse_factor > 1 else 0)


def arrays(layer: Layer) -> tuple:
    kernel = layer.weights["kernel"]
    values = np.concatenate([kernel[taps[:, 1], taps[:, 2], taps[:, 0], co]
                             for co, taps in enumerate(layer.facts.filter_taps)])
    return (f"Conv2D, {layer.facts.nnz} nonzero of {kernel.size}, ordered by filter, input channel, row, column",
            [array(f"{layer.name}_w", f"{layer.name}_weight_t", values, "nonzero kernel weights only",
                   literal(layer, "weight"))])


def accumulate(layer: Layer, windows, w_codes, product_frac: int, acc, acc_t) -> np.ndarray:
    """Each filter's products added one by one into its accumulator, in the code's order."""
    index, mask = C.ordered_terms(w_codes, layer.facts.form.orders)
    cols = np.arange(acc.shape[-1])
    for step in range(index.shape[0]):
        taps = index[step]
        product = windows[..., taps] * w_codes[taps, cols]
        acc = C.add(acc, acc_t, product, product_frac, mask[step])
    return acc


def cost(layer: Layer, in_bits: int, w_bits: int) -> StrategyCost:
    """One step per pixel at II = R, its products shared by ceil(products / R) multipliers."""
    nnz, rf = layer.facts.nnz, layer.settled.reuse_factor
    products = nnz + activation_products(layer)
    multipliers = hardware.shared(products, rf)
    taps = max((len(t) for t in layer.facts.filter_taps), default=0) + 1     # a filter's taps and its bias
    kernel = layer.weights["kernel"]
    return StrategyCost(multipliers=multipliers, adds=nnz, constants=kernel_constants(layer, kernel[kernel != 0]),
                        sharing=f"ALLOCATION: {multipliers} for {products} products" if rf > 1 else "one per product",
                        muxes=tuple(hardware.shared_operand_muxes(products, multipliers, in_bits, w_bits)), macs=nnz,
                        chain=hardware.chain(("multiply", 1), hardware.add_tree(taps), hardware.sharing_cycles(rf)))


STRATEGY = ConvStrategy("unrolled", "conv2d", cycles=lambda rf: 1, derive=derive, view=view, arrays=arrays,
                        accumulate=accumulate, cost=cost)
