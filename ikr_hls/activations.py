"""Activations, whichever layer applies them (fused into a conv, a Dense, a scale-shift or an
Add, or a layer of their own): the precision roles they add, the view of the C++ call
(templates/firmware/layers/activation_call.j2), their constant arrays (lookup tables, a
leaky ReLU's slope), and their bit-exact numpy reference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import codes as C
from . import hardware, tables
from .constants import Array, array, literal
from .errors import IKRHLSError
from .hardware import Memory
from .ir import Layer
from .precision import requantize, to_codes, weight_bits
from .tables import softmax_shifts

# The precision roles an activation adds to its layer (in fixed point) that a config may set.
ROLES = {"softmax": ("exp_table", "inv_table"), "sigmoid": ("act_table",), "tanh": ("act_table",),
         "silu": ("act_table",), "gelu": ("act_table",), "leaky_relu": ("alpha",)}
ALL_ROLES = tuple(sorted({role for roles in ROLES.values() for role in roles}))
# A table of f over [-R, R): sigmoid and tanh are the table's value; silu and gelu multiply the
# input by it (their gate: sigmoid(x), the normal distribution's Phi(x)).
TABLE_ACTIVATIONS = ("sigmoid", "tanh", "silu", "gelu")
GATED = ("silu", "gelu")
# Piecewise linear in fixed point, no table: hard_sigmoid(x) = relu6(x + 3) / 6, 1/6 a constant
# (`slope`); hard_silu(x) = x * hard_sigmoid(x) (the gate rounded to `gate` first).
HARD = ("hard_sigmoid", "hard_silu")
HARD_SHIFT = 3                  # relu6(x + 3) / 6: 0 at x <= -3, 1 at x >= 3


def slope(layer: Layer) -> float:
    """A leaky ReLU's slope (the frontend gives every leaky ReLU one)."""
    if layer.alpha is None:
        raise ValueError(f"layer {layer.name}: a leaky ReLU without a slope")
    return layer.alpha


def roles(layer: Layer) -> tuple:
    return ROLES.get(layer.activation, ())


@dataclass(frozen=True)
class ActivationCall:
    """How the C++ applies a layer's scalar activation (activation_call.j2's `activate`):
    kind "leaky" (its slope a constant), "table" (a lookup table: shift, size, input range),
    "gated" (the input times a table's value: silu, gelu), "hard" (ikr::<function>_fx, its 1/6
    a constant: hard_sigmoid, hard_silu) or "function" (ikr::<function>). Its products go
    where the layer's binding puts them (`binding`: "dsp", "fabric", "" for Vitis's choice)."""
    kind: str
    name: str
    binding: str
    function: str = ""
    shift: int = 0
    table_size: int = 0
    range: int = 0


def call_view(layer: Layer) -> ActivationCall:
    binding = layer.plan_cost.binding or ""
    if layer.activation == "leaky_relu":
        return ActivationCall("leaky", layer.name, binding)
    if "slope" in layer.precision:
        return ActivationCall("hard", layer.name, binding, function=layer.activation)
    if "act_table" in layer.precision:
        return ActivationCall("gated" if layer.activation in GATED else "table", layer.name, binding,
                              shift=tables.act_shift(layer), table_size=layer.settled.table_size,
                              range=layer.settled.act_range)
    return ActivationCall("function", layer.name, binding, function=layer.activation)


def products(layer: Layer) -> int:
    """Multiplications the fused activation makes per value: a leaky ReLU's slope, a hard
    sigmoid's 1/6, a hard silu's 1/6 and gate, a silu's or gelu's gate (none for a softmax,
    counted by the kinds that apply it, nor for the others)."""
    return {"leaky_relu": 1, "hard_sigmoid": 1, "hard_silu": 2, "silu": 1, "gelu": 1}.get(layer.activation, 0)


def product_bits(layer: Layer) -> tuple:
    """The widths of the activation's (constant, data) product operands, (0, 0) without a
    product or in floating point."""
    roles = {"leaky_relu": ("alpha", "accum"), "hard_sigmoid": ("slope", "act_in"), "hard_silu": ("slope", "act_in"),
             "silu": ("act_table", "accum"), "gelu": ("act_table", "accum")}.get(layer.activation)
    if roles is None or not all(role in layer.precision for role in roles):
        return (0, 0)
    return tuple(hardware.bits(layer.precision[role]) for role in roles)


@dataclass(frozen=True, kw_only=True)
class SoftmaxView:
    """The fields of a template that may apply a softmax: whether it uses lookup tables (fixed
    point), and their constants (0 when it does not)."""
    softmax_lut: bool = False
    table_size: int = 0
    exp_shift: int = 0
    inv_shift: int = 0


def chain(layer: Layer, lanes: int = 1) -> tuple:
    """The operators the layer's activation adds to a step's chain (hardware.Op): a ReLU's
    compare, a leaky ReLU's product, a table's index and read; a softmax over `lanes` values:
    the exp table, the sum's adder tree, the inverse table and the product."""
    name = layer.activation
    if name == "softmax":
        return hardware.chain(("table", 1), hardware.add_tree(lanes), ("table", 1), ("multiply", 1))
    if name in ("relu", "relu6"):
        return hardware.chain(("compare", 1))
    if name == "leaky_relu":
        return hardware.chain(("multiply", 1))
    if "slope" in layer.precision:          # x + 3, its compares, the product by 1/6 (and by x)
        return hardware.chain(("add", 1), ("compare", 1), ("multiply", products(layer)))
    if "act_table" in layer.precision:
        return hardware.chain(("add", 1), ("table", 1), ("multiply", products(layer)))
    return ()


def operators(layer: Layer, lanes: int, width: int) -> tuple:
    """The datapath operators of the activation on `lanes` values of `width` bits a step, as
    ikr_activation.h and ikr_fixed.h write them: a ReLU's compare, a ReLU6's two (a clip), a
    leaky ReLU's compare and choice (priced as a max); a hard sigmoid's or hard silu's offset
    (x + 3, an add) and its two bounds; a table lookup's offset (an add) and its
    two index clamps; a softmax over `lanes` values: the maximum (lanes - 1), the differences
    and the sum's adders, the index clamps of every exp read and of the inverse's."""
    name = layer.activation
    ops = hardware.ops
    if name == "relu":
        return ops("ReLU", "relu", width, lanes)
    if name == "relu6":
        return ops("ReLU6", "clip", width, lanes)
    if name == "leaky_relu":
        return ops("leaky ReLU sign", "max", width, lanes)
    if name == "softmax":
        if "exp_table" not in layer.precision:
            return ()
        diff, total = hardware.bits(layer.precision["diff"]), hardware.bits(layer.precision["exp_sum"])
        return (ops("softmax maximum", "max", width, lanes - 1) + ops("softmax differences", "add", diff, lanes)
                + ops("softmax sum", "add", total, lanes - 1)
                + ops("softmax table index clamps", "max", diff, lanes) + ops("softmax inverse index clamp", "max",
                                                                               total, 1))
    if name in ("hard_sigmoid", "hard_silu") and "act_in" in layer.precision:
        shifted = hardware.bits(layer.precision["act_in"])      # ikr_fixed.h: s = x + 3, s <= 0, s >= 6
        return ops(f"{name} offset", "add", shifted, lanes) + ops(f"{name} bounds", "compare", shifted, 2 * lanes)
    if "act_table" in layer.precision:
        shifted = hardware.bits(layer.precision["act_in"]) if "act_in" in layer.precision else width
        gated = ops(f"{name} upper bound (x from there on)", "compare", shifted, lanes) \
            if name in ("silu", "gelu") else ()                       # ikr::gated_lookup's s >= 2 RANGE
        return ops(f"{name} table offset", "add", shifted, lanes) + ops(f"{name} table index clamps", "max",
                                                                        shifted, 2 * lanes) + gated
    return ()


def constant_products(layer: Layer, lanes: int) -> tuple:
    """A leaky ReLU's products by its slope, a hard sigmoid's or hard silu's by 1/6: constants
    (hardware.constant_products)."""
    if layer.activation in ("hard_sigmoid", "hard_silu") and "slope" in layer.precision:
        return hardware.constant_products([1.0 / (2 * HARD_SHIFT)] * lanes, layer.precision["slope"])
    if layer.activation != "leaky_relu" or "alpha" not in layer.precision:
        return ()
    return hardware.constant_products([slope(layer)] * lanes, layer.precision["alpha"])


def softmax_view(layer: Layer) -> dict:
    """SoftmaxView's fields for the layer."""
    if not (layer.activation == "softmax" and "exp_table" in layer.precision):
        return dict(softmax_lut=False)
    return dict(softmax_lut=True, table_size=layer.settled.table_size, exp_shift=tables.exp_shift(layer),
                inv_shift=softmax_shifts(layer).inv_shift)


def arrays(layer: Layer, copies: int = 1) -> list[Array]:
    """Constants of the layer's activation: lookup tables (`copies` copies of a sigmoid/tanh
    table, or of the softmax exp table, read by several lanes a step), or a leaky ReLU's slope."""
    if layer.activation == "leaky_relu":
        return [array(f"{layer.name}_alpha", f"{layer.name}_alpha_t", [slope(layer)],
                      "negative slope of the leaky ReLU", literal(layer, "alpha"))]
    if "slope" in layer.precision:
        return [array(f"{layer.name}_slope", f"{layer.name}_slope_t", [1.0 / (2 * HARD_SHIFT)],
                      f"1/6 of the {layer.activation}", literal(layer, "slope"))]
    if "act_table" in layer.precision:
        gate = {"silu": "sigmoid, the gate of the silu,", "gelu": "Phi (the normal distribution), the gate of "
                "the gelu,"}.get(layer.activation, layer.activation)
        return [array(f"{layer.name}_act_table", f"{layer.name}_act_table_t", tables.act_table(layer),
                      f"{gate} at the middle of each bin ({copies} identical copies: each ROM is "
                      "read at most twice a cycle)", literal(layer, "act_table"), copies=copies)]
    if softmax_view(layer)["softmax_lut"]:
        return [array(f"{layer.name}_exp_table", f"{layer.name}_exp_table_t", tables.exp_table(layer),
                      f"exp(-d) at the middle of each bin of d = max - x ({copies} identical copies: each ROM "
                      "is read at most twice a cycle)", literal(layer, "exp_table"), copies=copies),
                array(f"{layer.name}_inv_table", f"{layer.name}_inv_table_t", tables.inv_table(layer),
                      "1/s at the middle of each bin of the exp sum s", literal(layer, "inv_table"))]
    return []


_CONSTANTS = ("_alpha", "_slope")          # single constants (registers, wires), not memories


def table_memories(layer: Layer, copies: int = 1) -> list[Memory]:
    """The ROMs of the activation's tables (a leaky slope or a hard activation's 1/6 is a
    constant, not a memory)."""
    out = []
    for table in arrays(layer, copies):
        if table.name.endswith(_CONSTANTS):
            continue
        role = table.cpp_type[len(layer.name) + 1:-len("_t")]
        out.append(Memory(table.name, "ROM", table.copies or 1, table.size, weight_bits(layer.precision[role])))
    return out


def partition_pragmas(layer: Layer) -> list[str]:
    """The pragmas that keep the activation's constants within their ports: a leaky slope, a
    hard activation's 1/6 and the copies of a table are separate memories (the copies' index is
    a constant in the code)."""
    out = []
    for constant in arrays(layer):
        if constant.name.endswith(_CONSTANTS):
            out.append(f"#pragma HLS ARRAY_PARTITION variable={constant.name} complete")
        elif constant.copies:
            out.append(f"#pragma HLS ARRAY_PARTITION variable={constant.name} complete dim=1")
    return out


# --- the numpy reference -----------------------------------------------------------------------

def activate(layer: Layer, acc, acc_t):
    """The fused activation on the accumulator codes, then the result type."""
    if layer.activation == "relu":
        acc = np.maximum(acc, 0)
    elif layer.activation == "relu6":
        six = 6 << acc_t.fractional                   # a Python int: never overflows
        acc = np.maximum(acc, 0)
        if six <= np.iinfo(np.int64).max:
            acc = np.minimum(acc, six)
    elif layer.activation == "leaky_relu":
        return _leaky_relu(layer, acc, acc_t)
    elif layer.activation == "softmax":
        return softmax(layer, acc, acc_t)
    elif layer.activation in TABLE_ACTIVATIONS:
        return _table_activation(layer, acc, acc_t)
    elif layer.activation in HARD:
        return _hard_activation(layer, acc, acc_t)
    elif layer.activation != "linear":
        raise IKRHLSError(f"emulate: activation '{layer.activation}' has no fixed-point version")
    return requantize(acc, acc_t.fractional, C.fixed_types(layer)["result"])


def _leaky_relu(layer: Layer, acc, acc_t):
    """ikr::leaky_relu: result_t(x) for x >= 0, else result_t(x * alpha) (exact product)."""
    p = C.fixed_types(layer)
    result_t, alpha_t = p["result"], p["alpha"]
    alpha = to_codes(np.array(slope(layer)), alpha_t)
    C.check_fits(acc_t.width + alpha_t.width, "product")
    negative = requantize(acc * alpha, acc_t.fractional + alpha_t.fractional, result_t)
    return np.where(acc >= 0, requantize(acc, acc_t.fractional, result_t), negative)


def softmax(layer: Layer, codes, in_t):
    p = C.fixed_types(layer)
    size = layer.settled.table_size
    diff_t, sum_t = p["diff"], p["exp_sum"]
    d = requantize(codes.max(axis=-1, keepdims=True) - codes, in_t.fractional, diff_t)
    e = to_codes(tables.exp_table(layer), p["exp_table"])[C.floor_index(d, diff_t, tables.exp_shift(layer), size)]
    total = np.zeros(codes.shape[:-1], dtype=np.int64)
    for i in range(codes.shape[-1]):
        total = C.add(total, sum_t, e[..., i], p["exp_table"].fractional)
    inv_index = C.floor_index(total, sum_t, softmax_shifts(layer).inv_shift, size)
    inv = to_codes(tables.inv_table(layer), p["inv_table"])[inv_index][..., None]
    return requantize(e * inv, p["exp_table"].fractional + p["inv_table"].fractional, p["result"])


def _table_activation(layer: Layer, codes, in_t):
    """ikr::lut_lookup: table[min(floor((x + R) * 2**shift), T - 1)], table[0] below -R; a gated
    one (ikr::gated_lookup, silu and gelu): x * that entry, 0 below -R and x from R on."""
    p = C.fixed_types(layer)
    shifted_t, table_t, result_t = p["act_in"], p["act_table"], p["result"]
    r = layer.settled.act_range
    s = requantize(codes + (np.int64(r) << in_t.fractional), in_t.fractional, shifted_t)
    idx = np.where(s < 0, 0, C.floor_index(np.maximum(s, 0), shifted_t, tables.act_shift(layer),
                                           layer.settled.table_size))
    values = to_codes(tables.act_table(layer), table_t)[idx]
    if layer.activation not in GATED:
        return requantize(values, table_t.fractional, result_t)
    C.check_fits(in_t.width + table_t.width, "product")
    gated = requantize(codes * values, in_t.fractional + table_t.fractional, result_t)
    above = np.int64(2 * r) << shifted_t.fractional
    return np.where(s < 0, 0, np.where(s >= above, requantize(codes, in_t.fractional, result_t), gated))


def _hard_activation(layer: Layer, codes, in_t):
    """ikr::hard_sigmoid_fx and hard_silu_fx: s = x + 3 (exact), then 0 at s <= 0, 1 (the hard
    silu: x) at s >= 6, else result_t(s * slope) (hard silu: result_t(x * gate_t(s * slope)))."""
    p = C.fixed_types(layer)
    shifted_t, slope_t, result_t = p["act_in"], p["slope"], p["result"]
    s = requantize(codes + (np.int64(HARD_SHIFT) << in_t.fractional), in_t.fractional, shifted_t)
    one_sixth = to_codes(np.array(1.0 / (2 * HARD_SHIFT)), slope_t)
    C.check_fits(shifted_t.width + slope_t.width, "product")
    scaled = s * one_sixth
    if layer.activation == "hard_sigmoid":
        middle = requantize(scaled, shifted_t.fractional + slope_t.fractional, result_t)
        top = requantize(np.int64(1), 0, result_t)
    else:
        gate_t = p["gate"]
        gate = requantize(scaled, shifted_t.fractional + slope_t.fractional, gate_t)
        C.check_fits(in_t.width + gate_t.width, "product")
        middle = requantize(codes * gate, in_t.fractional + gate_t.fractional, result_t)
        top = requantize(codes, in_t.fractional, result_t)
    six = np.int64(2 * HARD_SHIFT) << shifted_t.fractional
    return np.where(s <= 0, 0, np.where(s >= six, top, middle))
