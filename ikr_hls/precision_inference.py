"""Types of every value of the graph: the ones the config chooses, defaults for the others,
and accumulators wide enough that a layer's sum can neither overflow nor round.

Runs after the settings pass (reuse factor, table sizes); the kinds say which roles a layer
has and what its default accumulator is; the activations add the roles of their tables.
"""
from __future__ import annotations

import logging

import numpy as np

from . import activations, trained_types
from .attributes import SoftmaxShifts
from .config import ProjectConfig
from .errors import IKRHLSError
from .ir import INPUT, Graph, Layer
from .kinds import kind_of
from .precision import FixedType, HLSTypeLike, parse_type, signed_integer, signed_width

log = logging.getLogger(__name__)

# Fixed-point defaults of the softmax, sigmoid/tanh and average-pool tables (values are pre-rounded).
EXP_TABLE_T = "ap_ufixed<18,0,AP_RND,AP_SAT>"
RECIP_T = "ap_ufixed<18,1,AP_RND,AP_SAT>"
ACT_TABLE_T = {"sigmoid": "ap_ufixed<18,0,AP_RND,AP_SAT>", "tanh": "ap_fixed<18,1,AP_RND,AP_SAT>",
               "silu": "ap_ufixed<18,0,AP_RND,AP_SAT>", "gelu": "ap_ufixed<18,0,AP_RND,AP_SAT>"}
ACT_RANGE = 8             # sigmoid/tanh/silu/gelu tables cover [-8, 8); beyond it they saturate
# hard_sigmoid and hard_silu: 1/6 as a constant, and the hard silu's gate (both in [0, 1))
SLOPE_T = "ap_ufixed<18,0,AP_RND,AP_SAT>"
GATE_T = "ap_ufixed<18,0,AP_RND,AP_SAT>"
MAX_EMULATED_WIDTH = 62    # int64 codes in the numpy reference


def assign_types(graph: Graph, config: ProjectConfig) -> Graph:
    input_settings = config.settings_for(graph.input_name, "InputLayer")
    if config.trained:                  # a quantization-aware model: its quantizers give the types
        graph.input_precision = input_settings.precision.get("result") or trained_types.input_type(graph)
    else:
        graph.input_precision = input_settings.precision.get("result", config.precision)
    result_types: dict = {INPUT: graph.input_precision}
    for layer in graph.layers:
        in_types = [result_types[name] for name in layer.inputs]
        layer.precision = _layer_types(layer, in_types, config, graph.keras_classes.get(layer.keras_name))
        layer.input_types = in_types
        for t in in_types:
            _check_types(layer, t)
        result_types[layer.name] = layer.precision["result"]
    _warn_unusual_types(graph)
    return graph


def _warn_unusual_types(graph: Graph) -> None:
    """A type with more integer bits than bits (ap_fixed<6,16>: steps of 2^10) is legal, and is
    nearly always W and I swapped: say so, naming the layer and role."""
    named = [(graph.input_name, "input", graph.input_precision)] + [
        (layer.keras_name, role, t) for layer in graph.layers for role, t in layer.precision.items()]
    by_type: dict = {}
    for name, role, t in named:
        if isinstance(t, FixedType) and t.integer > t.width:
            by_type.setdefault(t, []).append(f"{name} {role}")
    for t, uses in by_type.items():
        shown = ", ".join(uses[:6]) + (f" and {len(uses) - 6} more" if len(uses) > 6 else "")
        log.warning("%s has %d integer bits of %d, so its smallest step is 2^%d (W and I swapped?): %s",
                    t.cpp, t.integer, t.width, t.integer - t.width, shown)


def _layer_types(layer: Layer, in_types: list, config: ProjectConfig, keras_class: str | None = None) -> dict:
    kind = kind_of(layer)
    settings = config.settings_for(layer.keras_name, keras_class)
    chosen = settings.precision
    valid = kind.roles + tuple(sorted(activations.roles(layer)))
    extra = sorted(set(chosen) - set(valid))
    if extra:
        raise IKRHLSError(f"{settings.where or 'LayerName.' + layer.keras_name}.Precision: a {layer.kind} layer "
                          f"has no {', '.join(extra)} type (it has: {', '.join(valid)})")
    roles = kind.roles_of(layer)
    if config.trained:              # the trained types, or exact ones (trained_types.py)
        types = trained_types.layer_types(layer, in_types, chosen, keras_class)
    else:
        types = {role: chosen.get(role, config.precision) for role in roles if role != "accum"}
        if "recip" in types and "recip" not in chosen and not config.precision.is_float:
            types["recip"] = parse_type(RECIP_T)
        if "accum" in roles:
            types["accum"] = chosen.get("accum") or kind.default_accum(layer, in_types, types)

    def where(key):
        return config.where_of(layer.keras_name, key)

    if layer.activation == "softmax":
        softmax_in = types["accum"] if kind.softmax_input == "accum" else in_types[0]
        types.update(_softmax_types(layer, softmax_in, chosen, where))
    elif layer.activation in activations.TABLE_ACTIVATIONS and not types["accum"].is_float:
        types.update(_table_activation_types(layer, types["accum"], chosen, where))
    elif layer.activation in activations.HARD and not types["accum"].is_float:
        types.update(_hard_activation_types(layer, types["accum"]))
    elif layer.activation == "leaky_relu":
        types["alpha"] = chosen.get("alpha") or _alpha_type(layer, types["result"])
    return types


def _alpha_type(layer: Layer, result_t: HLSTypeLike) -> HLSTypeLike:
    """The leaky ReLU slope as a constant: 16 fractional bits and room for its integer part."""
    if result_t.is_float:
        return result_t
    integer = int(np.ceil(np.log2(abs(activations.slope(layer)) + 1))) + 1
    return parse_type(f"ap_fixed<{integer + 16},{integer},AP_RND,AP_SAT>")


def _table_activation_types(layer: Layer, acc_t: FixedType, chosen: dict, where) -> dict:
    """sigmoid/tanh/silu/gelu by table over [-R, R): the table type and a type that holds acc + R."""
    r = layer.settled.act_range
    if layer.settled.table_size < 2 * r:
        raise IKRHLSError(f"{where('TableSize')}: {layer.settled.table_size} is too small for the "
                          f"{layer.activation} of layer '{layer.keras_name}' (must be at least {2 * r})")
    default = ACT_TABLE_T[layer.activation]
    table_t = chosen.get("act_table", parse_type(default))
    if table_t.is_float:
        raise IKRHLSError(f"{where('act_table')}: expected a fixed-point type for the {layer.activation} table "
                          f"of layer '{layer.keras_name}', got {table_t.cpp}")
    return {"act_table": table_t, "act_in": _shifted_type(acc_t, r)}


def _shifted_type(acc_t: FixedType, shift: int) -> FixedType:
    """A type that holds acc + shift exactly (shift > 0)."""
    integer = max(signed_integer(acc_t), int(np.log2(shift)) + 2) + 1
    return parse_type(f"ap_fixed<{integer + acc_t.fractional},{integer}>")


def _hard_activation_types(layer: Layer, acc_t: FixedType) -> dict:
    """hard_sigmoid/hard_silu: x + 3 exactly, 1/6 as a constant, and a hard silu's gate."""
    shifted, slope = _shifted_type(acc_t, activations.HARD_SHIFT), parse_type(SLOPE_T)
    if shifted.width + slope.width > MAX_EMULATED_WIDTH:
        # a wide accumulator: only s in (0, 6) reaches the product, so s saturates at 4 integer
        # bits (+-8: beyond, the result is 0 or its top either way) and s * 1/6 stays in int64
        shifted = parse_type(f"ap_fixed<{4 + acc_t.fractional},4,AP_TRN,AP_SAT>")
    types = {"act_in": shifted, "slope": slope}
    if layer.activation == "hard_silu":
        types["gate"] = parse_type(GATE_T)
    return types


def _softmax_types(layer: Layer, in_type: HLSTypeLike, chosen: dict, where=None) -> dict:
    """The softmax's tables and its difference and sum types; `where(key)` says where a setting
    was given, for messages."""
    if not isinstance(in_type, FixedType):
        return {}
    where = where or (lambda key: f"layer '{layer.keras_name}'")
    n = layer.out_size
    p = max(1, int(np.ceil(np.log2(n))))               # a sum of n values below 1 is below 2**p
    inv_shift = int(np.log2(layer.settled.table_size)) - p
    if inv_shift < 0:
        raise IKRHLSError(f"{where('TableSize')}: {layer.settled.table_size} is too small for the softmax of "
                          f"layer '{layer.keras_name}' over {n} values (needs at least {2 ** p})")
    exp_t = chosen.get("exp_table", parse_type(EXP_TABLE_T))
    inv_t = chosen.get("inv_table", parse_type(f"ap_ufixed<{inv_shift + 18},{inv_shift + 2},AP_RND,AP_SAT>"))
    exp_t, inv_t = (_unsigned_table(t, role, layer, where) for role, t in (("exp_table", exp_t), ("inv_table", inv_t)))
    diff = parse_type(f"ap_fixed<{signed_width(in_type) + 1},{signed_integer(in_type) + 1}>")
    exp_sum = parse_type(f"ap_ufixed<{exp_t.width + p},{exp_t.integer + p}>")
    layer.softmax = SoftmaxShifts(inv_shift=inv_shift, sum_bits=p)
    return {"exp_table": exp_t, "inv_table": inv_t, "diff": diff, "exp_sum": exp_sum}


def _unsigned_table(t: HLSTypeLike, role: str, layer: Layer, where) -> FixedType:
    """A softmax table holds positive values only: a signed type (hls4ml's default exp_table and
    inv_table are ap_fixed<18,8,AP_RND,AP_SAT>) reads as the ap_ufixed of its non-negative
    values, one bit narrower (ap_ufixed<17,7,AP_RND,AP_SAT>): the same table entries."""
    if not isinstance(t, FixedType) or (t.signed and t.width < 2):
        raise IKRHLSError(f"{where(role)}: expected a fixed-point type for the softmax's {role} of layer "
                          f"'{layer.keras_name}', got {t.cpp}")
    if not t.signed:
        return t
    unsigned = FixedType(False, t.width - 1, t.integer - 1, t.quantization, t.overflow)
    log.debug("%s: %s %s holds positive values only: read as %s", layer.keras_name, role, t.cpp, unsigned.cpp)
    return unsigned


def _check_types(layer: Layer, in_type: HLSTypeLike) -> None:
    kinds = {t.is_float for t in layer.precision.values()} | {in_type.is_float}
    if len(kinds) > 1:
        raise IKRHLSError(f"layer {layer.keras_name}: mixes floating-point and fixed-point types; "
                          "use one or the other for the whole model")
    if not in_type.is_float:
        for role, t in layer.precision.items():
            if isinstance(t, FixedType) and t.width > MAX_EMULATED_WIDTH:
                raise IKRHLSError(f"layer {layer.keras_name}: {role} type {t.cpp} is wider than "
                                  f"{MAX_EMULATED_WIDTH} bits; narrow the input or weight types")
