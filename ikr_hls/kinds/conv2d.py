"""conv2d: Conv2D, DepthwiseConv2D (a conv whose kernel is zero between channels) and the two
halves of a SeparableConv2D. Only nonzero weights are multiplied, in two strategies:
`unrolled` (every filter's taps written out with constant offsets) and `pattern` (one
processing element per IKR pattern, serving the kernels that use it)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import activations
from .. import codes as C
from ..constants import array, literal
from ..ir import Layer, conv_output_size, depthwise_as_conv, layer_kernel
from ..patterns import LayerPatterns, patterns_from_kernel
from ..precision import index_bits, requantize, to_codes, weight_bits, widen_for_sum
from .base import PIPELINE_DEPTH, SCALAR_ACTIVATIONS, Cost, LayerKind, Weights
from .keras_reading import activation_name, check_channels_last, image_shape, read_array, unsupported, with_activation

ROLES = ("weight", "bias", "accum", "result")


# --- facts derived from the weights (passes.derive_facts) --------------------------------------

@dataclass(frozen=True)
class ConvFacts:
    """What the weights of a conv layer decide, computed once for backend, emulate and report.

    groups:      the exact-support groups ("positions", "kernels" as (ci, co)), most used first:
                 the pattern strategy's processing elements; all-zero kernels belong to none.
    filter_taps: per filter, its nonzero taps (ci, kh, kw) in the unrolled strategy's order.
    orders:      per filter, its taps as (ci*KH + kh)*KW + kw in the order the generated code
                 accumulates them (the layer's strategy).
    patterns:    the IKR library of the layer's own kernels (a depthwise conv's compact ones).
    multipliers: the multipliers the generated code asks for at the layer's reuse factor.
    """
    nnz: int
    groups: list
    filter_taps: list
    orders: list
    patterns: LayerPatterns
    multipliers: int


def _support_groups(kernel: np.ndarray) -> list:
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
    return groups


def derive(layer: Layer) -> ConvFacts:
    kernel = layer.weights["kernel"]                         # (KH, KW, CI, CO)
    kh, kw, c, f = kernel.shape
    groups = _support_groups(kernel)
    filter_taps = [[(ci, i, j) for ci in range(c) for i in range(kh) for j in range(kw) if kernel[i, j, ci, co] != 0]
                   for co in range(f)]
    rf = layer.attrs["reuse_factor"]
    nnz = int(np.count_nonzero(kernel))
    if layer.attrs["strategy"] == "pattern":                 # PE by PE, kernel by kernel, tap by tap
        orders: list = [[] for _ in range(f)]
        for group in groups:
            for ci, co in group["kernels"]:
                orders[co].extend(ci * kh * kw + pos for pos in group["positions"])
        multipliers = sum(-(-len(g["kernels"]) // rf) * len(g["positions"]) for g in groups)
    else:                                                     # filter by filter: channel, row, column
        orders = [[(ci * kh + i) * kw + j for ci, i, j in taps] for taps in filter_taps]
        multipliers = -(-nnz // rf)
    return ConvFacts(nnz, groups, filter_taps, orders, patterns_from_kernel(layer_kernel(layer)), multipliers)


# --- frontend ----------------------------------------------------------------------------------

def _geometry(klayer, shape, source) -> dict:
    """Checks and output geometry shared by Conv2D and DepthwiseConv2D."""
    h, w, c = image_shape(klayer, shape, source)
    check_channels_last(klayer, source)
    if tuple(klayer.dilation_rate) != (1, 1):
        raise unsupported(klayer, source, f"dilation {tuple(klayer.dilation_rate)} (only 1)")
    if klayer.padding not in ("valid", "same"):
        raise unsupported(klayer, source, f"padding='{klayer.padding}' (valid or same)")
    kh, kw = klayer.kernel_size
    sh, sw = klayer.strides
    oh, pt, pb = conv_output_size(h, kh, sh, klayer.padding)
    ow, pl, pr = conv_output_size(w, kw, sw, klayer.padding)
    if oh < 1 or ow < 1:
        raise unsupported(klayer, source, f"a {kh}x{kw} kernel on a {h}x{w} input (no output pixel)")
    return dict(kh=kh, kw=kw, sh=sh, sw=sw, padding=klayer.padding,
                pad_top=pt, pad_bottom=pb, pad_left=pl, pad_right=pr, oh=oh, ow=ow)


def _activation(klayer, source) -> str:
    name = activation_name(klayer, source)
    if name == "softmax":
        raise unsupported(klayer, source, "a softmax activation (softmax over a vector only)")
    return name


def _layer(klayer, shape, source, kernel, bias, extra_attrs, activation) -> Layer:
    geometry = _geometry(klayer, shape, source)
    oh, ow = geometry.pop("oh"), geometry.pop("ow")
    layer = Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=tuple(shape),
                  out_shape=(oh, ow, kernel.shape[-1]), attrs=dict(geometry, **extra_attrs),
                  weights=dict(kernel=kernel, bias=bias))
    return with_activation(layer, activation)


def _conv2d(klayer, shape, source):
    if getattr(klayer, "groups", 1) != 1:
        raise unsupported(klayer, source, f"groups={klayer.groups} (only 1)")
    kernel = read_array(klayer.kernel)
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(klayer.filters)
    return _layer(klayer, shape, source, kernel, bias, {}, _activation(klayer, source))


def _depthwise_conv2d(klayer, shape, source):
    """A depthwise conv is a conv whose kernel is zero between different channels
    (ir.depthwise_as_conv): the generated code multiplies nonzeros only, so those structural
    zeros cost nothing, and each depthwise kernel keeps its own IKR pattern."""
    depthwise = read_array(klayer.kernel)                    # (KH, KW, C, M)
    c, m = depthwise.shape[2:]
    if m != klayer.depth_multiplier:
        raise unsupported(klayer, source, f"a kernel of shape {depthwise.shape} for depth_multiplier "
                          f"{klayer.depth_multiplier}")
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(c * m)
    return _layer(klayer, shape, source, depthwise_as_conv(depthwise), bias, dict(depthwise=m),
                  _activation(klayer, source))


def _separable_conv2d(klayer, shape, source):
    """A SeparableConv2D is two layers here: its depthwise half (no activation, no bias;
    Keras-side name '<name>/depthwise', so configured as such and C++ name <name>_depthwise)
    and its 1x1 pointwise half ('<name>'), which carries the bias and the activation."""
    depthwise = read_array(klayer.depthwise_kernel)          # (KH, KW, C, M)
    c, m = depthwise.shape[2:]
    first = _layer(klayer, shape, source, depthwise_as_conv(depthwise), np.zeros(c * m),
                   dict(depthwise=m, separable="depthwise"), "linear")
    first.keras_name = f"{klayer.name}/depthwise"
    pointwise = read_array(klayer.pointwise_kernel)          # (1, 1, C*M, F)
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(klayer.filters)
    oh, ow, _ = first.out_shape
    second = Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=first.out_shape,
                   out_shape=(oh, ow, klayer.filters),
                   attrs=dict(kh=1, kw=1, sh=1, sw=1, padding="valid", pad_top=0, pad_bottom=0,
                              pad_left=0, pad_right=0, separable="pointwise"),
                   weights=dict(kernel=pointwise, bias=bias))
    return [first, with_activation(second, _activation(klayer, source))]


# --- the generated code ------------------------------------------------------------------------

def template(layer: Layer) -> str:
    return "conv2d_pattern" if layer.attrs["strategy"] == "pattern" else "conv2d"


def _padded_width(layer: Layer) -> int:
    return layer.in_shape[1] + layer.attrs["pad_left"] + layer.attrs["pad_right"]


def view(layer: Layer) -> dict:
    a = layer.attrs
    facts: ConvFacts = layer.facts
    h, w, c = layer.in_shape
    oh, ow, f = layer.out_shape
    kernel = layer.weights["kernel"]
    padded = any(a[k] for k in ("pad_top", "pad_bottom", "pad_left", "pad_right"))
    ph, pw = h + a["pad_top"] + a["pad_bottom"], _padded_width(layer)
    nnz = facts.nnz
    out = dict(h=h, w=w, c=c, oh=oh, ow=ow, f=f, kh=a["kh"], kw=a["kw"], sh=a["sh"], sw=a["sw"],
               padding=a["padding"], pad_top=a["pad_top"], pad_bottom=a["pad_bottom"],
               pad_left=a["pad_left"], pad_right=a["pad_right"], padded=padded, ph=ph, pw=pw,
               src="padded" if padded else "in", nnz=nnz, dense_weights=kernel.size,
               reuse_factor=a["reuse_factor"], multipliers=facts.multipliers, keras_class="Conv2D",
               depthwise=a.get("depthwise"), act=activations.call_view(layer),
               summary=f"Conv2D {a['kh']}x{a['kw']} {c}->{f}, {nnz}/{kernel.size} weights")
    if a.get("depthwise"):
        dense = kernel.size // c                              # the depthwise kernel's own weights
        out.update(keras_class="DepthwiseConv2D", dense_weights=dense,
                   summary=f"DepthwiseConv2D {a['kh']}x{a['kw']} x{a['depthwise']} on {c} channels, "
                           f"{nnz}/{dense} weights")
    if a.get("separable"):
        out.update(keras_class=f"SeparableConv2D ({a['separable']} half)",
                   summary=f"SeparableConv2D, {a['separable']}: " + out["summary"])
    if a["strategy"] == "pattern":
        out.update(_pattern_view(layer, pw, c))
    else:
        filters, k = [], 0
        for co, taps in enumerate(facts.filter_taps):
            filters.append(dict(index=co, taps=[((i * pw + j) * c + ci, k + n) for n, (ci, i, j) in enumerate(taps)]))
            k += len(taps)
        out["filters"] = filters
    return out


def _ci_bits(layer: Layer) -> int:
    return max(1, int(np.ceil(np.log2(layer.weights["kernel"].shape[2]))))


def _drawing(positions, kh, kw) -> str:
    grid = np.zeros(kh * kw, dtype=bool)
    grid[positions] = True
    return "/".join("".join("#" if v else "." for v in row) for row in grid.reshape(kh, kw))


def _pattern_view(layer: Layer, pw: int, c: int) -> dict:
    """One processing element per pattern: constant tap offsets, a kernel table, a drawing."""
    kh, kw = layer.weights["kernel"].shape[:2]
    rf = layer.attrs["reuse_factor"]
    groups = layer.facts.groups
    ci_bits = _ci_bits(layer)
    pes = [dict(taps=[((p // kw) * pw + p % kw) * c for p in g["positions"]], kernels=len(g["kernels"]),
                unroll=-(-len(g["kernels"]) // rf), drawing=_drawing(g["positions"], kh, kw)) for g in groups]
    return dict(groups=pes, ci_bits=ci_bits, ci_mask=(1 << ci_bits) - 1,
                index_bits=max(1, int(np.ceil(np.log2(max(len(groups), 2))))))


def weights(layer: Layer) -> Weights:
    kernel = layer.weights["kernel"]
    kh, kw = kernel.shape[:2]
    bias = array(f"{layer.name}_b", f"{layer.name}_bias_t", layer.weights["bias"], "bias per filter",
                 literal(layer, "bias"))
    if layer.attrs["strategy"] == "unrolled":
        values = [kernel[i, j, ci, co] for co, taps in enumerate(layer.facts.filter_taps) for ci, i, j in taps]
        return Weights(f"Conv2D, {layer.facts.nnz} nonzero of {kernel.size}, ordered by filter, input channel, "
                       "row, column",
                       [array(f"{layer.name}_w", f"{layer.name}_weight_t", values, "nonzero kernel weights only",
                              literal(layer, "weight")), bias] + activations.arrays(layer))
    ci_bits = _ci_bits(layer)
    arrays = []
    for g, group in enumerate(layer.facts.groups):
        positions = group["positions"]
        packed = [(co << ci_bits) | ci for ci, co in group["kernels"]]
        values = [kernel[p // kw, p % kw, ci, co] for ci, co in group["kernels"] for p in positions]
        drawing = _drawing(positions, kh, kw)
        arrays.append(array(f"{layer.name}_pe{g}_kernels", _index_type(max(packed) + 1), packed,
                            f"PE {g} ({drawing}): output channel << {ci_bits} | input channel"))
        arrays.append(array(f"{layer.name}_pe{g}_w", f"{layer.name}_weight_t", values,
                            f"PE {g}: {len(positions)} weights per kernel, in tap order", literal(layer, "weight")))
    return Weights(f"Conv2D grouped by pattern, {len(layer.facts.groups)} pattern(s)",
                   arrays + [bias] + activations.arrays(layer))


def _index_type(limit: int) -> str:
    return "uint16_t" if limit <= 0xFFFF else "uint32_t"


# --- reference, cost, report -------------------------------------------------------------------

def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    a = layer.attrs
    p = C.fixed_types(layer)
    kernel = layer.weights["kernel"]
    kh, kw, c, f = kernel.shape
    n = codes.shape[0]
    padded = np.pad(codes, ((0, 0), (a["pad_top"], a["pad_bottom"]), (a["pad_left"], a["pad_right"]), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(1, 2))[:, ::a["sh"], ::a["sw"]]
    oh, ow = layer.out_shape[:2]
    windows = windows[:, :oh, :ow].reshape(n, oh, ow, c * kh * kw)      # tap index = (ci*KH + kh)*KW + kw
    w_codes = to_codes(kernel, p["weight"]).transpose(2, 0, 1, 3).reshape(c * kh * kw, f)
    index, mask = C.ordered_terms(w_codes, layer.facts.orders)
    C.check_fits(in_t.width + p["weight"].width, "product")
    acc_t = p["accum"]
    acc = np.broadcast_to(requantize(to_codes(layer.weights["bias"], p["bias"]), p["bias"].fractional, acc_t),
                          (n, oh, ow, f)).copy()
    cols = np.arange(f)
    for step in range(index.shape[0]):
        taps = index[step]
        product = windows[..., taps] * w_codes[taps, cols]
        acc = C.add(acc, acc_t, product, in_t.fractional + p["weight"].fractional, mask[step])
    return activations.activate(layer, acc, acc_t)


def cost(layer: Layer) -> Cost:
    a = layer.attrs
    kernel = layer_kernel(layer)                             # a depthwise conv's (KH, KW, C, M)
    oh, ow = layer.out_shape[:2]
    pads = [a.get(k, 0) for k in ("pad_top", "pad_bottom", "pad_left", "pad_right")]
    pad = 0
    if any(pads):                                             # the padded copy, one pixel a cycle
        pad = (layer.in_shape[0] + pads[0] + pads[1]) * (layer.in_shape[1] + pads[2] + pads[3])
    return Cost(latency=int(pad + oh * ow * a["reuse_factor"] + PIPELINE_DEPTH),
                macs_dense=oh * ow * int(kernel.size), macs=oh * ow * layer.facts.nnz,
                multipliers=int(layer.facts.multipliers))


def values(layer: Layer) -> dict:
    return {"weight": layer.weights["kernel"], "bias": layer.weights["bias"]}


def report(layer: Layer) -> dict:
    """Parameters, the IKR pattern library and the weight storage of the three schemes."""
    kernel = np.asarray(layer_kernel(layer))
    kh, kw, ci, co = kernel.shape
    w_t, b_t = layer.precision["weight"], layer.precision["bias"]
    bias = layer.weights["bias"]
    own_bias = layer.attrs.get("separable") != "depthwise"     # a depthwise half's zeros are not Keras's
    nnz = int(np.count_nonzero(kernel))
    found = layer.facts.patterns
    usage = found.usage()
    assignment = found.assignment.reshape(-1)
    live = assignment >= 0
    n_kernels = ci * co
    removed = int(n_kernels - np.count_nonzero(live))
    taps = found.library.reshape(len(found.library), kh * kw).sum(axis=1)   # (0, P): no kernel left
    slots = int(taps[assignment[live]].sum()) if live.any() else 0
    idx = index_bits(len(found.library) + (1 if removed else 0))
    wb = weight_bits(w_t)
    ptr_bits = nnz.bit_length()                              # pointers hold 0 .. nnz
    return {
        "weight_type": w_t.cpp, "weight_bits": wb, "bias_type": b_t.cpp,
        "params_dense": int(kernel.size + (bias.size if own_bias else 0)),
        "params_nonzero": nnz + (int(np.count_nonzero(bias)) if own_bias else 0),
        "kernel_size": [int(kh), int(kw)],
        "kernels": int(n_kernels),
        "kernels_removed": removed,
        "kernel_nonzero": nnz,
        "keep": found.keep,
        "regular": found.regular,
        "library_size": int(len(found.library)),
        "index_bits": idx,
        "weight_slots": slots,
        "support_groups": len(layer.facts.groups),
        "patterns": [{"grid": found.library[i].astype(int).tolist(), "kernels": int(usage[i]),
                      "taps": int(taps[i])} for i in range(len(found.library))],
        "storage_bits": {
            "dense": int(kernel.size) * wb,
            "ikr": slots * wb + n_kernels * idx,
            "csr": nnz * (wb + index_bits(kh * kw)) + (n_kernels + 1) * ptr_bits,
        },
        "bias_bits": int(bias.size) * weight_bits(b_t) if own_bias else 0,
    }


def default_accum(layer: Layer, in_types: list, types: dict):
    """An accumulator in which the layer's sum can neither overflow nor round."""
    if in_types[0].is_float or types["result"].is_float:
        return types["result"]
    kernel = layer.weights["kernel"]
    per_output = (kernel != 0).reshape(-1, kernel.shape[-1]).sum(axis=0)
    return widen_for_sum(in_types[0], types["weight"], types["bias"], int(per_output.max(initial=0)))


KIND = LayerKind(
    name="conv2d",
    keras={"Conv2D": _conv2d, "DepthwiseConv2D": _depthwise_conv2d, "SeparableConv2D": _separable_conv2d},
    roles=ROLES, templates=("conv2d", "conv2d_pattern"), template=template, view=view, weights=weights,
    reference=reference, cost=cost, report=report, values=values, default_accum=default_accum, derive=derive,
    reuses=True, activations=SCALAR_ACTIVATIONS, folds_scale_shift=True, takes_padding=True)
