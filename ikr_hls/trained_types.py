"""Types of a quantization-aware model whose quantizers give them (an HGQ2 model converted
without precision=; ikr_hls/hgq/): every value has its trained type (a quantize step's result,
a layer's quantized weights and biases) or the type that holds what its layer computes from
its inputs exactly (accumulators; the result of a layer without an output quantizer, which
HGQ2 leaves in float32, exact for fixed-point inputs), so that the fixed-point code computes
Keras's forward bit for bit. What has neither (a plain Keras layer's float weights, a sigmoid)
is refused, naming the layer: a config then chooses its types.

The model input: its readers are input quantizers, and the input port is an ap_fixed of TRN
rounding with one fractional bit more than they keep (two for none), so that each quantizer's
own rounding of the port's value is its rounding of the float input (a tie of RND lies on the
port's grid), and their overflow mode with room for every element's range.
"""
from __future__ import annotations

import math

import numpy as np

from .attributes import attributes_of
from .errors import IKRHLSError
from .ir import INPUT, Graph, Layer
from .kinds import kind_of
from .kinds.pool2d import PoolOp
from .kinds.quantize import QuantizeAttributes
from .precision import FixedType, HLSTypeLike, signed_integer

TABLE_ROLES = ("exp_table", "inv_table", "act_table", "alpha")
MODEL_TYPES = "the types of its quantizers"        # what messages and reports say of the model-wide type


def input_type(graph: Graph) -> FixedType:
    """The input port's type, from the quantizers that read the input."""
    readers = graph.consumers(INPUT)
    plain = [r for r in readers if not isinstance(r.attrs, QuantizeAttributes)]
    if plain:
        r = plain[0]
        raise IKRHLSError(f"{graph.source}: the model input is read by layer '{r.keras_name}' "
                          f"({graph.keras_classes.get(r.keras_name, r.kind)}), which does not quantize it: give "
                          f"the input type (config LayerName.{graph.input_name}.Precision.result), or quantize the "
                          "input first (an HGQ2 layer's input quantizer)")
    attrs = [attributes_of(r, QuantizeAttributes) for r in readers]
    if any(a.round == "RND_CONV" for a in attrs):
        raise IKRHLSError(f"{graph.source}: the input quantizer of {attrs[0].source} rounds to even (RND_CONV), which "
                          "no input port of a fixed width reproduces for every float input; use RND or TRN there, "
                          f"or give the input type (config LayerName.{graph.input_name}.Precision.result)")
    saturating = {a.overflow != "WRAP" for a in attrs}
    if len(saturating) > 1:
        raise IKRHLSError(f"{graph.source}: the model input is read by quantizers that wrap and quantizers that "
                          "saturate; no input port serves both: give the input type "
                          f"(config LayerName.{graph.input_name}.Precision.result)")
    k = np.concatenate([r.facts.k[r.facts.width > 0] for r in readers])
    i = np.concatenate([r.facts.i[r.facts.width > 0] for r in readers])
    f = np.concatenate([r.facts.f[r.facts.width > 0] for r in readers])
    if not len(k):
        return FixedType(False, 1, 1)
    rounds = any(a.round == "RND" for a in attrs)
    signed = bool(k.any())
    frac = int(f.max()) + (1 if rounds else 0)
    integer = int((i + (1 if signed else 0)).max())
    return FixedType(signed, max(integer + frac, 1), integer, "AP_TRN", "AP_SAT" if saturating == {True} else "AP_WRAP")


def layer_types(layer: Layer, in_types: list, chosen: dict, keras_class: str | None) -> dict:
    """role -> type of a layer of a quantization-aware model: the config's (`chosen`) over the
    trained ones, over the exact ones."""
    kind = kind_of(layer)
    roles = kind.roles_of(layer)
    trained = layer.trained.types if layer.trained is not None else {}
    what = f"layer '{layer.keras_name}' ({keras_class or layer.kind})"
    types: dict = {}
    for role in roles:
        if role in ("accum", "result", "recip"):
            continue
        found = chosen.get(role) or trained.get(role)
        if found is None:
            raise IKRHLSError(f"{what}: its {role} values are floating point (no quantizer gives them a type); use the "
                              f"HGQ2 layer, or give its types (config LayerName.{layer.keras_name}.Precision)")
        types[role] = found
    act_roles = [r for r in TABLE_ROLES if r in _activation_roles(layer)]
    if act_roles and not any(r in chosen for r in act_roles):
        raise IKRHLSError(f"{what}: its {layer.activation} computes in floating point in Keras, which no fixed-point "
                          f"design reproduces bit for bit; remove it (an argmax needs none), or give its types "
                          f"(config LayerName.{layer.keras_name}.Precision: {', '.join(act_roles)})")
    if "recip" in roles:
        types["recip"] = chosen.get("recip") or _exact_reciprocal(layer, what)
    provisional = chosen.get("result") or trained.get("result") or in_types[0]
    if "accum" in roles:
        types["accum"] = chosen.get("accum") or kind.default_accum(layer, in_types, {**types, "result": provisional})
    result = chosen.get("result") or trained.get("result")
    if result is None:
        result = _exact_result(layer, in_types, types, roles)
    types["result"] = result
    return types


def _activation_roles(layer: Layer) -> tuple:
    from . import activations

    return activations.roles(layer)


def _exact_reciprocal(layer: Layer, what: str) -> FixedType:
    """1/n of an average over n values, exact: n a power of two (Keras divides in float)."""
    a = attributes_of(layer, PoolOp)
    n = a.ph * a.pw
    if n & (n - 1) or getattr(a, "padded", False):
        padding = " with same padding" if not n & (n - 1) else ""
        raise IKRHLSError(f"{what}: an average over {n} values{padding} is not a fixed-point value (Keras divides "
                          "in float); use a power-of-two window and valid padding, "
                          f"or give its types (config LayerName.{layer.keras_name}.Precision)")
    shift = int(math.log2(n))
    return FixedType(False, 1, 1 - shift)             # holds 2^-shift exactly


def _exact_result(layer: Layer, in_types: list, types: dict, roles: tuple) -> HLSTypeLike:
    """The type that holds the layer's result exactly: its exact accumulator (an average's
    divided by its power-of-two count), or the union of its inputs' types."""
    if "accum" in roles:
        acc = types["accum"]
        if "recip" in types and isinstance(acc, FixedType) and isinstance(types["recip"], FixedType):
            shift = types["recip"].fractional                   # 1/n = 2^-shift: the same bits, moved
            return FixedType(acc.signed, acc.width, acc.integer - shift)
        return acc
    return union(in_types)


def union(in_types: list) -> HLSTypeLike:
    """A type that holds every value of each of the given types exactly."""
    if any(not isinstance(t, FixedType) for t in in_types):
        return in_types[0]
    if len(in_types) == 1:
        return in_types[0]
    signed = any(t.signed for t in in_types)
    frac = max(t.fractional for t in in_types)
    integer = max(signed_integer(t) if signed else t.integer for t in in_types)
    return FixedType(signed, integer + frac, integer)
