"""The `resource` conv strategy: multiply-accumulate lanes shared over R cycles (ikr_hls/lanes.py),
for large layers, as hls4ml's Resource strategy is for Dense.

A pixel takes R cycles. The window's taps of a channel group (every input channel for a
Conv2D, one channel for a depthwise conv) are cut into lanes of R consecutive taps in (row,
column, channel) order; each filter of the group has a multiply-accumulate per lane it has a
nonzero weight in, with a ROM of depth R. Multipliers, adders and operand choices all shrink
as R grows (about taps x filters / R of each), and the code has a line per lane and per
multiply-accumulate whatever R is. Within a lane the weights are stored densely: a pruned
weight is a 0 in its ROM and its multiplication is still done. IKR sparsity is used better by
the pattern and pe strategies; this one is for size.
"""
from __future__ import annotations

from dataclasses import dataclass

from ... import activations, lanes
from ...constants import array, literal
from ...expr import index
from ...ir import Layer
from .common import (
    ConvFacts,
    ConvStrategy,
    ConvView,
    StrategyCost,
    accumulator_bits,
    activation_products,
    conv_attributes,
    copy_of,
    kernel_constants,
    view_fields,
)


def _weights(layer: Layer):
    """The kernel as the reference's (taps, filters) matrix, tap (ci * KH + kh) * KW + kw."""
    kernel = layer.weights["kernel"]                          # (KH, KW, CI, CO), a depthwise conv's expanded
    return kernel.transpose(2, 0, 1, 3).reshape(-1, kernel.shape[3])


def _position(layer: Layer):
    """A tap's (row, column, channel) in the window."""
    kh, kw = layer.weights["kernel"].shape[:2]

    def position(tap: int) -> tuple:
        ci, rest = divmod(tap, kh * kw)
        return rest // kw, rest % kw, ci
    return position


def plan(layer: Layer, rf: int) -> lanes.Lanes:
    kh, kw = layer.weights["kernel"].shape[:2]
    c, f = layer.in_shape[-1], layer.out_shape[-1]
    m = conv_attributes(layer).depthwise
    groups = ([([ci], list(range(ci * m, (ci + 1) * m))) for ci in range(c)] if m
              else [(list(range(c)), list(range(f)))])

    def taps(channels):                                       # (row, column, channel) order
        return [(ci * kh + i) * kw + j for i in range(kh) for j in range(kw) for ci in channels]

    position = _position(layer)

    def read(tap: int):
        return index("window", *position(tap))

    return lanes.plan([(taps(channels), filters) for channels, filters in groups], _weights(layer), rf, read)


def plan_of(layer: Layer) -> lanes.Lanes:
    found = layer.facts.form
    if not isinstance(found, lanes.Lanes):
        raise ValueError(f"{layer.name}: strategy {layer.settled.strategy}, not resource")
    return found


def derive(layer: Layer, facts: ConvFacts) -> lanes.Lanes:
    return plan(layer, layer.settled.reuse_factor)


@dataclass(frozen=True, kw_only=True)
class ResourceView(ConvView):
    """conv2d_resource.h.j2 (and dense_resource): the lanes' choices, each output's
    multiply-accumulates; host_lanes: their tables for the host-only form (lanes.host_form)."""
    lanes: list
    outputs: list
    host_lanes: dict
    result_copies: list
    rom: int


def view(layer: Layer) -> ResourceView:
    p_ = plan_of(layer)
    return ResourceView(**view_fields(layer), lanes=[lanes.lane_value(p_, lane) for lane in p_.lanes],
                        outputs=lanes.macs_by_output(p_, lambda k: lanes.rom_read(f"{layer.name}_w", p_, k)),
                        host_lanes=lanes.host_form(p_, _position(layer)),
                        result_copies=[dict(co=co, table_copy=copy_of(layer, co)) for co in range(layer.out_shape[-1])],
                        rom=p_.multipliers, allocation=0)


def arrays(layer: Layer) -> tuple:
    p_ = plan_of(layer)
    where = f"[cycle * {p_.multipliers} + MAC]" if p_.rf > 1 else "[MAC]"
    return (f"Conv2D in {p_.lane_count} lane(s) of {p_.rf} cycle(s), {p_.multipliers} multiply-accumulates",
            [array(f"{layer.name}_w", f"{layer.name}_weight_t", lanes.rom(p_, _weights(layer)).reshape(-1),
                   f"each multiply-accumulate's weight by cycle, at {where}", literal(layer, "weight"))])


def accumulate(layer: Layer, windows, w_codes, product_frac: int, acc, acc_t):
    return lanes.accumulate(plan_of(layer), windows, w_codes, product_frac, acc, acc_t)


def cost(layer: Layer, in_bits: int, w_bits: int) -> StrategyCost:
    """A multiplier and an adder per multiply-accumulate; at R > 1 a ROM of depth R each and a
    choice of window register per lane."""
    p_ = plan_of(layer)
    rf, n = p_.rf, p_.multipliers
    own = lanes.cost(p_, in_bits, w_bits)
    if rf == 1:
        constants = kernel_constants(layer, lanes.used_weights(p_, _weights(layer)))
    else:            # the activation is written out per filter, not shared by an ALLOCATION: its
        # products stay by constants (common.cost adds them at R = 1)
        constants = activations.constant_products(layer, layer.out_shape[-1])
    return StrategyCost(
        multipliers=n + activation_products(layer),
        sharing=f"{n} multiply-accumulate(s) on {p_.lane_count} lane(s), {rf} cycle(s) each" if rf > 1
        else "one per product",
        memories=own.memories, muxes=own.muxes, adds=n, constants=constants, control=own.control,
        accumulator_bits=accumulator_bits(layer), macs=own.macs, chain=own.chain)


STRATEGY = ConvStrategy("resource", "conv2d_resource", cycles=lambda rf: rf, derive=derive, view=view,
                        arrays=arrays, accumulate=accumulate, cost=cost)
