"""Ordered graph passes between the frontend and the backend.

Each pass takes and returns an ir.Graph and does one thing. `run_passes` is the order.
"""
from __future__ import annotations

import logging

import numpy as np

from .config import LayerSettings, ProjectConfig
from .errors import IKRHLSError
from .precision import parse_type
from .ir import INPUT, Graph

log = logging.getLogger(__name__)

# The types each kind of layer declares (a pooling layer has no weights; an average pool
# multiplies its sum by a table of reciprocals).
ROLES_BY_KIND = {
    "conv2d": ("weight", "bias", "accum", "result"),
    "dense": ("weight", "bias", "accum", "result"),
    "scale_shift": ("weight", "bias", "accum", "result"),
    "pool2d": ("accum", "recip", "result"),
    "global_pool2d": ("accum", "recip", "result"),
    "pad2d": ("result",),
    "add": ("accum", "result"),
    "activation": ("accum", "result"),
}


def _sole_producer(graph: Graph, layer):
    """The layer that `layer` reads, when `layer` is its only reader (else None): only then
    may the two merge without changing what another reader sees."""
    if len(layer.inputs) != 1 or layer.inputs[0] == INPUT:
        return None
    producer = graph.layer(layer.inputs[0])
    return producer if graph.consumers(producer.name) == [layer] else None


def _merge_into(graph: Graph, layer, producer, why: str) -> None:
    graph.removed[layer.keras_name] = f"{why} {producer.keras_name}"
    producer.attrs["keras_output"] = layer.keras_name
    graph.bypass(layer)


def fold_batchnorm(graph: Graph) -> Graph:
    """Fold a scale-and-shift (BatchNormalization) into the conv/dense it reads.

    Only when that layer has no activation of its own and no other reader; zeros of the
    kernel stay zeros, so pruning patterns survive the fold.
    """
    for layer in list(graph.layers):
        prev = _sole_producer(graph, layer)
        if (layer.kind == "scale_shift" and prev is not None and prev.kind in ("conv2d", "dense")
                and prev.activation == "linear"):
            scale, shift = layer.weights["scale"], layer.weights["shift"]
            prev.weights["kernel"] = prev.weights["kernel"] * scale     # broadcast over out channels
            prev.weights["bias"] = prev.weights["bias"] * scale + shift
            _merge_into(graph, layer, prev, "folded into")
    return graph


def fuse_activations(graph: Graph) -> Graph:
    """Merge a standalone activation into the layer it reads when that one has none (and no
    other reader); drop identity activations. A softmax merges only into a Dense, whose code
    applies it to the whole vector; elsewhere it stays a layer of its own."""
    for layer in list(graph.layers):
        if layer.kind != "activation":
            continue
        prev = _sole_producer(graph, layer)
        if (prev is not None and prev.activation == "linear"
                and prev.kind in (("dense",) if layer.activation == "softmax"     # the one vector softmax
                                  else ("conv2d", "dense", "scale_shift", "add"))):
            prev.activation = layer.activation
            if "alpha" in layer.attrs:
                prev.attrs["alpha"] = layer.attrs["alpha"]
            _merge_into(graph, layer, prev, "fused into")
        elif layer.activation == "linear":
            graph.removed[layer.keras_name] = "an identity"
            graph.bypass(layer)
    return graph


def drop_reshapes(graph: Graph) -> Graph:
    """Flatten and Reshape are free: buffers are already flat in channels-last order."""
    for layer in list(graph.layers):
        if layer.kind in ("flatten", "reshape"):
            graph.removed[layer.keras_name] = "free (buffers are already flat)"
            graph.bypass(layer)
    if not graph.layers:
        raise IKRHLSError(f"{graph.source}: nothing is left to compute once Flatten/Reshape are removed")
    return graph


def merge_zero_padding(graph: Graph) -> Graph:
    """A ZeroPadding2D read only by a conv becomes part of that conv's padding (the conv pads
    its window with zeros anyway); elsewhere it stays a layer of its own."""
    for layer in list(graph.layers):
        readers = graph.consumers(layer.name)
        if layer.kind != "pad2d" or len(readers) != 1 or readers[0].kind != "conv2d":
            continue
        conv = readers[0]
        for side in ("pad_top", "pad_bottom", "pad_left", "pad_right"):
            conv.attrs[side] += layer.attrs[side]
        conv.in_shape = layer.in_shape
        graph.removed[layer.keras_name] = f"merged into the padding of {conv.keras_name}"
        graph.bypass(layer)
    return graph


# Fixed-point defaults of the softmax and average-pool tables (values are pre-rounded).
EXP_TABLE_T = "ap_ufixed<18,0,AP_RND,AP_SAT>"
RECIP_T = "ap_ufixed<18,1,AP_RND,AP_SAT>"
ACT_TABLE_T = {"sigmoid": "ap_ufixed<18,0,AP_RND,AP_SAT>", "tanh": "ap_fixed<18,1,AP_RND,AP_SAT>"}
ACT_RANGE = 8             # sigmoid/tanh tables cover [-8, 8); beyond it they saturate
MAX_EMULATED_WIDTH = 62    # int64 codes in the numpy reference


def apply_settings(graph: Graph, config: ProjectConfig) -> Graph:
    """Per-layer strategy, reuse factor, softmax tables and types, from the config."""
    known = {layer.keras_name for layer in graph.layers} | {graph.input_name}
    for name in config.layers:
        if name in graph.removed:
            raise IKRHLSError(f"LayerName.{name}: this layer has no hardware of its own ({graph.removed[name]}); "
                              "configure the layer it became part of")
    unknown = sorted(set(config.layers) - known)
    if unknown:
        raise IKRHLSError(f"LayerName/reuse_factor: unknown layer(s) {', '.join(unknown)} "
                          f"(layers: {', '.join(sorted(known))})")
    for layer in graph.layers:
        settings = config.layers.get(layer.keras_name, LayerSettings())
        layer.attrs["reuse_factor"] = settings.reuse_factor or config.reuse_factor
        layer.attrs["strategy"] = settings.strategy or config.strategy
        layer.attrs["table_size"] = settings.table_size or config.table_size
        layer.attrs["exp_range"] = settings.exp_range or config.exp_range
        layer.attrs["act_range"] = ACT_RANGE
    return _assign_precision(graph, config)


def _assign_precision(graph: Graph, config: ProjectConfig) -> Graph:
    input_settings = config.layers.get(graph.input_name, LayerSettings())
    graph.input_precision = input_settings.precision.get("result", config.precision)
    result_types = {INPUT: graph.input_precision}
    for layer in graph.layers:
        in_types = [result_types[name] for name in layer.inputs]
        in_type = in_types[0]
        chosen = config.layers.get(layer.keras_name, LayerSettings()).precision
        valid = ROLES_BY_KIND[layer.kind] + tuple(sorted(_activation_roles(layer)))
        extra = sorted(set(chosen) - set(valid))
        if extra:
            raise IKRHLSError(f"LayerName.{layer.keras_name}.Precision: a {layer.kind} layer has no "
                              f"{', '.join(extra)} type (it has: {', '.join(valid)})")
        roles = [r for r in ROLES_BY_KIND[layer.kind] if not (r == "recip" and layer.attrs.get("op") == "max")]
        types = {role: chosen.get(role, config.precision) for role in roles if role != "accum"}
        if "recip" in types and "recip" not in chosen and not config.precision.is_float:
            types["recip"] = parse_type(RECIP_T)
        if "accum" in roles:
            types["accum"] = chosen.get("accum") or (_sum_type(in_types, types) if layer.kind == "add"
                                                     else _auto_accum(layer, in_type, types))
        if layer.activation == "softmax":
            types.update(_softmax_types(layer, types["accum"] if layer.kind == "dense" else in_type, chosen))
        elif layer.activation in ("sigmoid", "tanh") and not types["accum"].is_float:
            types.update(_table_activation_types(layer, types["accum"], chosen))
        elif layer.activation == "leaky_relu":
            types["alpha"] = chosen.get("alpha") or _alpha_type(layer, types["result"])
        layer.precision = types
        for t in in_types:
            _check_types(layer, t)
        result_types[layer.name] = types["result"]
    return graph


def _activation_roles(layer) -> set:
    return {"softmax": {"exp_table", "inv_table"}, "sigmoid": {"act_table"},
            "tanh": {"act_table"}, "leaky_relu": {"alpha"}}.get(layer.activation, set())


def _alpha_type(layer, result_t):
    """The leaky ReLU slope as a constant: 16 fractional bits and room for its integer part."""
    if result_t.is_float:
        return result_t
    integer = int(np.ceil(np.log2(abs(layer.attrs["alpha"]) + 1))) + 1
    return parse_type(f"ap_fixed<{integer + 16},{integer},AP_RND,AP_SAT>")


def _sum_type(in_types, types):
    """A type that holds the sum of the inputs of an Add exactly."""
    if any(t.is_float for t in in_types) or types["result"].is_float:
        return types["result"]
    frac = max(t.fractional for t in in_types)
    integer = max(_signed_int(t) for t in in_types) + int(np.ceil(np.log2(len(in_types))))
    return parse_type(f"ap_fixed<{integer + frac},{integer}>")


def _table_activation_types(layer, acc_t, chosen):
    """sigmoid/tanh by table over [-R, R): the table type and a type that holds acc + R."""
    r = layer.attrs["act_range"]
    if layer.attrs["table_size"] < 2 * r:
        raise IKRHLSError(f"LayerName.{layer.keras_name}.TableSize: must be at least {2 * r}")
    default = ACT_TABLE_T[layer.activation]
    table_t = chosen.get("act_table", parse_type(default))
    if table_t.is_float:
        raise IKRHLSError(f"LayerName.{layer.keras_name}.Precision.act_table: expected a fixed-point type")
    integer = max(_signed_int(acc_t), int(np.log2(r)) + 2) + 1
    shifted = parse_type(f"ap_fixed<{integer + acc_t.fractional},{integer}>")
    return {"act_table": table_t, "act_in": shifted}


def _auto_accum(layer, in_type, types):
    """An accumulator in which the layer's sum can neither overflow nor round."""
    if in_type.is_float or types["result"].is_float:
        return types["result"]
    if layer.kind in ("conv2d", "dense"):
        kernel = layer.weights["kernel"]
        per_output = (kernel != 0).reshape(-1, kernel.shape[-1]).sum(axis=0)
        return widen_for_sum(in_type, types["weight"], types["bias"], int(per_output.max(initial=0)))
    if layer.kind == "scale_shift":
        return widen_for_sum(in_type, types["weight"], types["bias"], 1)
    if layer.kind in ("pool2d", "global_pool2d") and layer.attrs["op"] == "avg":
        return widen_for_sum(in_type, None, None, layer.attrs["ph"] * layer.attrs["pw"])
    return in_type                                     # max pool, activations: values pass as they are


def _softmax_types(layer, in_type, chosen):
    if in_type.is_float:
        return {}
    n = layer.out_size
    p = max(1, int(np.ceil(np.log2(n))))               # a sum of n values below 1 is below 2**p
    inv_shift = int(np.log2(layer.attrs["table_size"])) - p
    if inv_shift < 0:
        raise IKRHLSError(f"LayerName.{layer.keras_name}.TableSize: {layer.attrs['table_size']} is too "
                          f"small for a softmax over {n} values (needs at least {2 ** p})")
    exp_t = chosen.get("exp_table", parse_type(EXP_TABLE_T))
    inv_t = chosen.get("inv_table", parse_type(f"ap_ufixed<{inv_shift + 18},{inv_shift + 2},AP_RND,AP_SAT>"))
    for role, t in (("exp_table", exp_t), ("inv_table", inv_t)):
        if t.is_float or t.signed:
            raise IKRHLSError(f"LayerName.{layer.keras_name}.Precision.{role}: expected an ap_ufixed type, got {t.cpp}")
    diff = parse_type(f"ap_fixed<{_signed_width(in_type) + 1},{_signed_int(in_type) + 1}>")
    exp_sum = parse_type(f"ap_ufixed<{exp_t.width + p},{exp_t.integer + p}>")
    layer.attrs["softmax"] = dict(inv_shift=inv_shift, sum_bits=p)
    return {"exp_table": exp_t, "inv_table": inv_t, "diff": diff, "exp_sum": exp_sum}


def _signed_width(t):
    return t.width + (0 if t.signed else 1)


def _signed_int(t):
    return t.integer + (0 if t.signed else 1)


def widen_for_sum(in_type, weight_type, bias_type, terms: int):
    """An ap_fixed type that holds a sum of `terms` products in_type x weight_type plus a bias
    exactly (in_type alone when weight_type is None)."""
    frac = in_type.fractional + (weight_type.fractional if weight_type else 0)
    integer = _signed_int(in_type) + (_signed_int(weight_type) if weight_type else 0)
    if bias_type is not None:
        frac = max(frac, bias_type.fractional)
        integer = max(integer, _signed_int(bias_type))
    integer += int(np.ceil(np.log2(terms + 1)))
    return parse_type(f"ap_fixed<{integer + frac},{integer}>")


def _check_types(layer, in_type):
    kinds = {t.is_float for t in layer.precision.values()} | {in_type.is_float}
    if len(kinds) > 1:
        raise IKRHLSError(f"layer {layer.keras_name}: mixes floating-point and fixed-point types; "
                          "use one or the other for the whole model")
    if not in_type.is_float:
        for role, t in layer.precision.items():
            if t.width > MAX_EMULATED_WIDTH:
                raise IKRHLSError(f"layer {layer.keras_name}: {role} type {t.cpp} is wider than "
                                  f"{MAX_EMULATED_WIDTH} bits; narrow the input or weight types")


def group_kernels_by_support(graph: Graph) -> Graph:
    """For every conv layer, the distinct sets of nonzero positions (its patterns) and the
    (input channel, output channel) kernels that use each, most used first.

    Grouping is by exact support, so a kernel is never given a tap whose weight is zero;
    all-zero kernels belong to no group. An IKR-pruned layer has at most library-size groups.
    """
    for layer in graph.layers:
        if layer.kind != "conv2d":
            continue
        kernel = layer.weights["kernel"]                        # (KH, KW, CI, CO)
        kh, kw, ci, co = kernel.shape
        support = (kernel != 0).reshape(kh * kw, ci * co).T     # row = ci * CO + co
        live = np.flatnonzero(support.any(axis=1))
        groups = []
        if len(live):
            patterns, inverse = np.unique(support[live], axis=0, return_inverse=True)
            inverse = inverse.reshape(-1)
            for p in np.argsort(-np.bincount(inverse), kind="stable"):
                members = live[inverse == p]
                groups.append(dict(positions=[int(i) for i in np.flatnonzero(patterns[p])],
                                   kernels=[(int(m // co), int(m % co)) for m in members]))
        layer.attrs["support_groups"] = groups
    return graph


def run_passes(graph: Graph, config: ProjectConfig) -> Graph:
    for step in (fold_batchnorm, fuse_activations, drop_reshapes, merge_zero_padding,
                 group_kernels_by_support):
        graph = step(graph)
    return apply_settings(graph, config)
