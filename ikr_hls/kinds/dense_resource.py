"""The `resource` form of a Dense (ikr_hls/lanes.py): its inputs in lanes of R consecutive
inputs, a multiply-accumulate per (lane, output) with a nonzero weight, each a multiplier, an
adder and a ROM of depth R; R cycles at II 1 a call, the activation in the last. Multipliers
and adders both shrink with R, where the unrolled form's ALLOCATION shares only multipliers."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import activations, hardware, lanes
from ..activations import ActivationCall, SoftmaxView
from ..constants import array, literal
from ..expr import index
from ..ir import Layer
from .base import Cost, View


def plan(layer: Layer, rf: int) -> lanes.Lanes:
    kernel = layer.weights["kernel"]                          # (inputs, outputs)
    n_in, n_out = kernel.shape
    return lanes.plan([(list(range(n_in)), list(range(n_out)))], kernel, rf, lambda i: index("in", i))


@dataclass(frozen=True, kw_only=True)
class DenseResourceView(View, SoftmaxView):
    """dense_resource.h.j2: the lanes' choices, each output's multiply-accumulates; host_lanes:
    their tables for the host-only form (lanes.host_form)."""
    n_in: int
    n_out: int
    nnz: int
    dense_weights: int
    reuse_factor: int
    lanes: list
    outputs: list
    host_lanes: dict
    rom: int
    per_copy: int
    exp_copies: int
    table_pragmas: list
    act: ActivationCall
    binding: str


def view(layer: Layer, found: lanes.Lanes, common: dict) -> DenseResourceView:
    return DenseResourceView(**common, lanes=[lanes.lane_value(found, lane) for lane in found.lanes],
                             outputs=lanes.macs_by_output(found, lambda k: lanes.rom_read(f"{layer.name}_w", found, k)),
                             host_lanes=lanes.host_form(found, lambda i: (i,)), rom=found.multipliers)


def weight_arrays(layer: Layer, found: lanes.Lanes) -> list:
    where = f"[cycle * {found.multipliers} + MAC]" if found.rf > 1 else "[MAC]"
    return [array(f"{layer.name}_w", f"{layer.name}_weight_t", lanes.rom(found, layer.weights["kernel"]).reshape(-1),
                  f"each multiply-accumulate's weight by cycle, at {where}", literal(layer, "weight"))]


def cost(layer: Layer, found: lanes.Lanes, activation_products: int, table_memories: tuple) -> Cost:
    """R cycles at II 1: a multiplier and an adder per multiply-accumulate (and the activation's
    products, written out per output), the ROMs and the lanes' choices."""
    kernel = layer.weights["kernel"]
    rf, n_out = found.rf, kernel.shape[1]
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    w_bits = hardware.bits(layer.precision["weight"])
    own = lanes.cost(found, in_bits, w_bits)
    acc_bits = hardware.bits(layer.precision["accum"])
    operators = (hardware.ops("accumulation", "add", acc_bits, found.multipliers)
                 + activations.operators(layer, n_out, acc_bits)
                 + hardware.control("cycle conditions", own.control, hardware.counter_bits(rf))
                 + hardware.conversion("result", layer.precision["result"], n_out))
    constants = hardware.merge_constants(
        hardware.constant_products(lanes.used_weights(found, kernel), layer.precision["weight"]) if rf == 1 else (),
        activations.constant_products(layer, n_out))
    return Cost(ii=1, iterations=rf, chain=hardware.chain(own.chain, activations.chain(layer, n_out), ("write", 1)),
                multipliers=found.multipliers + activation_products,
                sharing=f"{found.multipliers} multiply-accumulate(s) on {found.lane_count} lane(s), {rf} cycle(s) each"
                if rf > 1 else "one per product",
                registers_bits=n_out * acc_bits, memories=own.memories + table_memories, muxes=own.muxes,
                product_bits=(hardware.product_weight_bits(layer, kernel), in_bits), macs_dense=int(kernel.size),
                macs=own.macs, operators=operators, constants=constants)


def accumulate(found: lanes.Lanes, codes: np.ndarray, w_codes: np.ndarray, product_frac: int, acc, acc_t):
    return lanes.accumulate(found, codes, w_codes, product_frac, acc, acc_t)
