"""conv2d: Conv2D, DepthwiseConv2D (a conv whose kernel is zero between channels) and the two
halves of a SeparableConv2D. Only nonzero weights are multiplied, in three strategies:
`unrolled` (every filter's taps written out with constant offsets), `pattern` (one
processing element per IKR pattern, serving the kernels that use it) and `pe` (one PE design
for every kernel: `keep` multipliers behind pattern multiplexers, a ROM of R kernels each)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import activations, hardware
from .. import codes as C
from ..constants import array, literal
from ..hardware import PIPELINE_DEPTH
from ..ir import Layer, depthwise_as_conv, layer_kernel
from ..patterns import LayerPatterns, patterns_from_kernel
from ..precision import index_bits, requantize, to_codes, weight_bits, widen_for_sum
from . import conv_pe
from .base import SCALAR_ACTIVATIONS, Cost, LayerKind, Weights
from .conv_pe import PEPlan
from .conv_pe import drawing as _drawing
from .conv_pe import select as _select
from .keras_reading import (
    activation_name,
    check_channels_last,
    image_shape,
    read_array,
    unsupported,
    window_geometry,
    with_activation,
)
from .window import Window

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
    slots:       the pattern strategy's schedule: slots[r] lists the kernels the PE instances
                 serve in cycle r of an input pixel (`Slot`s, PE by PE, instance by instance).
    pe:          the pe strategy's plan (`PEPlan`), None in the other strategies.
    """
    nnz: int
    groups: list
    filter_taps: list
    orders: list
    patterns: LayerPatterns
    multipliers: int
    slots: list
    pe: PEPlan | None = None


@dataclass(frozen=True)
class Slot:
    """Kernel `k` of PE `g` (input channel ci, output channel co) runs on instance `i` of the
    PE in cycle `r` of each input pixel: kernel k = i * R + r."""
    g: int
    i: int
    r: int
    k: int
    ci: int
    co: int


def _slot_schedule(groups: list, rf: int) -> list:
    """ceil(kernels / R) instances per PE; instance i serves kernels i*R .. i*R + R-1 of its PE,
    one per cycle: the order in which the accumulators receive the PEs' sums."""
    slots: list = [[] for _ in range(rf)]
    for g, group in enumerate(groups):
        for k, (ci, co) in enumerate(group["kernels"]):
            slots[k % rf].append(Slot(g, k // rf, k % rf, k, ci, co))
    for cycle in slots:
        cycle.sort(key=lambda s: (s.g, s.i))
    return slots


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
    slots: list = []
    orders: list
    pe = None
    if layer.attrs["strategy"] == "pe":                      # PE by PE, cycle by cycle, tap by tap
        pe = conv_pe.plan(kernel, rf)
        orders = [[] for _ in range(f)]
        for r in range(rf):
            for ci, co, pattern in (slots[r] for slots in pe.pes if slots[r] is not None):
                orders[co].extend(ci * kh * kw + pos for pos in pe.library[pattern])
        multipliers = len(pe.pes) * pe.keep
    elif layer.attrs["strategy"] == "pattern":               # cycle by cycle, PE by PE, tap by tap
        slots = _slot_schedule(groups, rf)
        orders = [[] for _ in range(f)]
        for slot in (slot for cycle in slots for slot in cycle):
            orders[slot.co].extend(slot.ci * kh * kw + pos for pos in groups[slot.g]["positions"])
        multipliers = sum(-(-len(g["kernels"]) // rf) * len(g["positions"]) for g in groups)
    else:                                                     # filter by filter: channel, row, column
        orders = [[(ci * kh + i) * kw + j for ci, i, j in taps] for taps in filter_taps]
        multipliers = -(-nnz // rf)
    return ConvFacts(nnz, groups, filter_taps, orders, patterns_from_kernel(layer_kernel(layer)), multipliers,
                     slots, pe)


# --- frontend ----------------------------------------------------------------------------------

def _geometry(klayer, shape, source) -> dict:
    """Checks and output geometry shared by Conv2D and DepthwiseConv2D."""
    if tuple(klayer.dilation_rate) != (1, 1):
        raise unsupported(klayer, source, f"dilation {tuple(klayer.dilation_rate)} (only 1)")
    kh, kw = klayer.kernel_size
    _, geometry = window_geometry(klayer, shape, source, (kh, kw), "kernel")
    return dict(kh=kh, kw=kw, **geometry)


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


def _conv2d_transpose(klayer, shape, source):
    """A Conv2DTranspose of stride (SH, SW) is a stride-1 conv over its input with SH - 1 rows
    and SW - 1 columns of zeros inserted between pixels (a pad2d layer '<name>/dilate', whose
    zero insertion costs no multiplier), padded by the conv itself, with the kernel flipped
    (and its channel axes swapped): IKR patterns apply to that flipped kernel."""
    h, w, c = image_shape(klayer, shape, source)
    check_channels_last(klayer, source)
    if tuple(klayer.dilation_rate) != (1, 1):
        raise unsupported(klayer, source, f"dilation {tuple(klayer.dilation_rate)} (only 1)")
    if klayer.padding not in ("valid", "same"):
        raise unsupported(klayer, source, f"padding='{klayer.padding}' (valid or same)")
    kernel = read_array(klayer.kernel)                       # (KH, KW, F, C)
    kh, kw = kernel.shape[:2]
    sh, sw = klayer.strides
    pads = []
    extra = klayer.output_padding or (None, None)
    for size, k, s, op in ((h, kh, sh, extra[0]), (w, kw, sw, extra[1])):
        dilated = (size - 1) * s + 1
        if op is None:                                        # Keras's deconv_output_length
            out = size * s + (max(k - s, 0) if klayer.padding == "valid" else 0)
        else:
            out = (size - 1) * s + k - 2 * (k // 2 if klayer.padding == "same" else 0) + op
        # the padding before of the conv whose gradient this is (TensorFlow's rule for `out`)
        before = max((size - 1) * s + k - out, 0) // 2 if klayer.padding == "same" else 0
        top = k - 1 - before
        pads.append((top, out + k - 1 - top - dilated, dilated, out))
    (pt, pb, dh_size, oh), (pl, pr, dw_size, ow) = pads
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(klayer.filters)
    conv = Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=(dh_size, dw_size, c),
                 out_shape=(oh, ow, klayer.filters),
                 attrs=dict(kh=kh, kw=kw, sh=1, sw=1, padding=klayer.padding, pad_top=pt, pad_bottom=pb,
                            pad_left=pl, pad_right=pr, transpose=(sh, sw)),
                 weights=dict(kernel=np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2)), bias=bias))
    with_activation(conv, _activation(klayer, source))
    if (sh, sw) == (1, 1):
        return conv
    dilate = Layer(name="", kind="pad2d", keras_name=f"{klayer.name}/dilate", in_shape=(h, w, c),
                   out_shape=(dh_size, dw_size, c),
                   attrs=dict(pad_top=0, pad_bottom=0, pad_left=0, pad_right=0, dil_h=sh, dil_w=sw))
    return [dilate, conv]


# --- the generated code ------------------------------------------------------------------------

def template(layer: Layer) -> str:
    return {"pattern": "conv2d_pattern", "pe": "conv2d_pe"}.get(layer.attrs["strategy"], "conv2d")


def _padded(layer: Layer) -> tuple[int, int]:
    a = layer.attrs
    h, w, _ = layer.in_shape
    return h + a["pad_top"] + a["pad_bottom"], w + a["pad_left"] + a["pad_right"]


def window(layer: Layer) -> Window:
    """The layer's sliding window over its zero-padded grid (kinds/window.py)."""
    a = layer.attrs
    h, w, c = layer.in_shape
    return Window(layer.name, c, a["kh"], a["kw"], a["sh"], a["sw"], h, w, a["pad_top"], a["pad_bottom"],
                  a["pad_left"], a["pad_right"], cycles=_slots(layer))


def _activation_products(layer: Layer) -> int:
    """Multiplications of the fused activation per output pixel (a leaky ReLU's slope)."""
    return layer.out_shape[-1] if layer.activation == "leaky_relu" else 0


def _table_lookups(layer: Layer) -> int:
    return layer.out_shape[-1] if "act_table" in layer.precision else 0


def table_copies(layer: Layer) -> int:
    """Copies of the activation table: one output pixel a step reads it once per filter."""
    return hardware.table_copies(_table_lookups(layer), layer.attrs["reuse_factor"]) if _table_lookups(layer) else 1


def _slots(layer: Layer) -> int:
    """Cycles a pixel step is split into: the PE strategies' R cycles (pattern, pe), else one
    step at II = R."""
    return layer.attrs["reuse_factor"] if layer.attrs["strategy"] in ("pattern", "pe") else 1


def _copy_of(layer: Layer, co: int) -> int:
    return co // (2 * layer.attrs["reuse_factor"])


def view(layer: Layer) -> dict:
    a = layer.attrs
    facts: ConvFacts = layer.facts
    h, w, c = layer.in_shape
    oh, ow, f = layer.out_shape
    kernel = layer.weights["kernel"]
    padded = any(a[k] for k in ("pad_top", "pad_bottom", "pad_left", "pad_right"))
    ph, pw = _padded(layer)
    grid = window(layer)
    nnz = facts.nnz
    cost_ = layer.plan_cost
    out = dict(h=h, w=w, c=c, oh=oh, ow=ow, f=f, kh=a["kh"], kw=a["kw"], sh=a["sh"], sw=a["sw"],
               padding=a["padding"], pad_top=a["pad_top"], pad_bottom=a["pad_bottom"],
               pad_left=a["pad_left"], pad_right=a["pad_right"], padded=padded, ph=ph, pw=pw,
               inside=grid.inside, valid=grid.valid, nnz=nnz, dense_weights=kernel.size,
               reuse_factor=a["reuse_factor"], multipliers=facts.multipliers, keras_class="Conv2D",
               depthwise=a.get("depthwise"), act=activations.call_view(layer),
               table_pragmas=activations.partition_pragmas(layer),
               summary=f"Conv2D {a['kh']}x{a['kw']} {c}->{f}, {nnz}/{kernel.size} weights")
    if a.get("depthwise"):
        dense = kernel.size // c                              # the depthwise kernel's own weights
        out.update(keras_class="DepthwiseConv2D", dense_weights=dense,
                   summary=f"DepthwiseConv2D {a['kh']}x{a['kw']} x{a['depthwise']} on {c} channels, "
                           f"{nnz}/{dense} weights")
    if a.get("separable"):
        out.update(keras_class=f"SeparableConv2D ({a['separable']} half)",
                   summary=f"SeparableConv2D, {a['separable']}: " + out["summary"])
    if a.get("transpose"):
        out.update(keras_class="Conv2DTranspose (a stride-1 conv of its flipped kernel)",
                   summary=f"Conv2DTranspose stride {a['transpose'][0]}x{a['transpose'][1]} as a stride-1 conv of its "
                           "flipped kernel: " + out["summary"])
    out["slots"] = _slots(layer)
    out["grid"] = grid
    if a["strategy"] == "pattern":
        out.update(_pattern_view(layer))
        out["allocation"] = 0
    elif a["strategy"] == "pe":
        out.update(conv_pe.view(layer, lambda co: _copy_of(layer, co)))
        out["allocation"] = 0
    else:
        filters, k = [], 0
        for co, taps in enumerate(facts.filter_taps):
            filters.append(dict(index=co, taps=[(i, j, ci, k + n) for n, (ci, i, j) in enumerate(taps)],
                                table_copy=_copy_of(layer, co)))
            k += len(taps)
        out["filters"] = filters
        # fixed point: the host runs each filter's taps in a function (IKR_HOST_TAPS, defines.h)
        out["host_taps"] = not layer.precision["weight"].is_float
        out["allocation"] = cost_.multipliers if a["reuse_factor"] > 1 else 0
    return out


def _pattern_view(layer: Layer) -> dict:
    """One processing element per pattern: its taps are constant window positions.

    R = 1: every kernel has its own instance. The kernels of a PE are a loop, which the
    pipeline unrolls: its input and output channels come from completely partitioned tables
    read at the loop's (constant once unrolled) index, so they are wiring, and the code stays
    one loop per pattern however many kernels the layer has.
    R > 1: instance i serves R kernels, one per cycle r of the pixel, written out: its inputs
    are an R:1 choice between window registers, its weights a ROM of depth R read at r, its
    sum goes to the kernel's filter."""
    kh, kw = layer.weights["kernel"].shape[:2]
    rf = layer.attrs["reuse_factor"]
    name = layer.name
    served: dict = {}
    if rf > 1:
        for slot in (slot for cycle in layer.facts.slots for slot in cycle):
            served.setdefault((slot.g, slot.i), []).append(slot)
    pes = []
    for g, group in enumerate(layer.facts.groups):
        taps = [(p // kw, p % kw) for p in group["positions"]]
        keep, count = len(taps), -(-len(group["kernels"]) // rf)
        instances = []
        for i in range(count if rf > 1 else 0):
            slots = served[(g, i)]
            weights = [f"{name}_pe{g}_w[r * {count * keep} + {i * keep + t}]" for t in range(keep)]
            inputs = [_select([(s.r, f"window[{ti}][{tj}][{s.ci}]") for s in slots]) for ti, tj in taps]
            targets: dict = {}
            for s in slots:
                targets.setdefault(s.co, []).append(s.r)
            updates = [(None if len(cycles) == rf else " || ".join(f"r == {r}" for r in cycles), co)
                       for co, cycles in targets.items()]
            kernels = ", ".join(f"{s.ci}->{s.co}" for s in slots)
            # an instance with fewer than R kernels idles in the last cycles: it is not called
            # there (the counting build counts the products that are used, and so does the report)
            idle = f"r < {len(slots)}" if len(slots) < rf else None
            instances.append(dict(index=i, inputs=inputs, weights=weights, updates=updates, kernels=kernels,
                                  guard=idle))
        pes.append(dict(taps=taps, keep=keep, kernels=len(group["kernels"]), count=count, instances=instances,
                        drawing=_drawing(group["positions"], kh, kw),
                        partition=_pe_weights_partition(name, g, count * keep, rf)))
    copies = [dict(co=co, table_copy=_copy_of(layer, co)) for co in range(layer.out_shape[-1])]
    return dict(groups=pes, result_copies=copies,
                index_bits=max(1, int(np.ceil(np.log2(max(len(layer.facts.groups), 2))))))


def _pe_weights_partition(name: str, g: int, banks: int, rf: int) -> str:
    """Each (instance, tap) of a PE is its own memory: a constant with R = 1 (and so are the
    kernels' channels), a ROM of depth R (cyclic partition: bank = instance * keep + tap,
    address = cycle) otherwise."""
    if rf == 1:
        return "\n".join(f"#pragma HLS ARRAY_PARTITION variable={name}_pe{g}_{table} complete"
                         for table in ("w", "ci", "co"))
    return f"#pragma HLS ARRAY_PARTITION variable={name}_pe{g}_w cyclic factor={banks} dim=1" if banks > 1 else ""


def weights(layer: Layer) -> Weights:
    kernel = layer.weights["kernel"]
    kh, kw = kernel.shape[:2]
    bias = array(f"{layer.name}_b", f"{layer.name}_bias_t", layer.weights["bias"], "bias per filter",
                 literal(layer, "bias"))
    tables = activations.arrays(layer, table_copies(layer))
    if layer.attrs["strategy"] == "pe":
        return Weights(f"Conv2D on one PE design, {len(conv_pe.plan_of(layer).library)} pattern(s)",
                       conv_pe.roms(layer, array, literal) + [bias] + tables)
    if layer.attrs["strategy"] == "unrolled":
        values = [kernel[i, j, ci, co] for co, taps in enumerate(layer.facts.filter_taps) for ci, i, j in taps]
        return Weights(f"Conv2D, {layer.facts.nnz} nonzero of {kernel.size}, ordered by filter, input channel, "
                       "row, column",
                       [array(f"{layer.name}_w", f"{layer.name}_weight_t", values, "nonzero kernel weights only",
                              literal(layer, "weight")), bias] + tables)
    rf = layer.attrs["reuse_factor"]
    arrays = []
    for g, group in enumerate(layer.facts.groups):
        positions, kernels = group["positions"], group["kernels"]
        keep, count = len(positions), -(-len(kernels) // rf)
        table = np.zeros((rf, count, keep))                   # [cycle][instance][tap]; unused cycles: 0
        for k, (ci, co) in enumerate(kernels):
            table[k % rf, k // rf] = [kernel[p // kw, p % kw, ci, co] for p in positions]
        drawing = _drawing(positions, kh, kw)
        layout = ("kernel by kernel" if rf == 1 else
                  f"at [(cycle * {count} + instance) * {keep} + tap]: {count * keep} ROMs of depth {rf}")
        arrays.append(array(f"{layer.name}_pe{g}_w", f"{layer.name}_weight_t", table.reshape(-1),
                            f"PE {g} ({drawing}): {keep} weights per kernel, {layout}",
                            literal(layer, "weight")))
        if rf == 1:                                         # the kernels' channels, constants once unrolled
            arrays += [array(f"{layer.name}_pe{g}_ci", "int", [ci for ci, _ in kernels],
                             f"PE {g}: input channel of each kernel"),
                       array(f"{layer.name}_pe{g}_co", "int", [co for _, co in kernels],
                             f"PE {g}: output channel (filter) of each kernel")]
    return Weights(f"Conv2D grouped by pattern, {len(layer.facts.groups)} pattern(s)", arrays + [bias] + tables)


# --- reference, cost, report -------------------------------------------------------------------

def reference(layer: Layer, ins: list) -> np.ndarray:
    """The unrolled strategy adds each filter's products one by one into its accumulator; the
    pattern strategy sums each kernel's products in its PE (sum = x0*w0; sum += x1*w1; ...),
    then adds the PE's sum into the filter's accumulator, in the order of the slot schedule
    (cycle by cycle, PE by PE, instance by instance)."""
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
    C.check_fits(in_t.width + p["weight"].width, "product")
    product_frac = in_t.fractional + p["weight"].fractional
    acc_t = p["accum"]
    acc = np.broadcast_to(requantize(to_codes(layer.weights["bias"], p["bias"]), p["bias"].fractional, acc_t),
                          (n, oh, ow, f)).copy()
    if a["strategy"] == "pe":
        return activations.activate(layer, conv_pe.sums(layer, windows, w_codes, product_frac, acc, acc_t, C.add,
                                                        requantize), acc_t)
    if a["strategy"] == "pattern":
        for slot in (slot for cycle in layer.facts.slots for slot in cycle):
            taps = [slot.ci * kh * kw + pos for pos in layer.facts.groups[slot.g]["positions"]]
            products = [windows[..., t] * w_codes[t, slot.co] for t in taps]
            pe_sum = requantize(products[0], product_frac, acc_t)
            for product in products[1:]:
                pe_sum = C.add(pe_sum, acc_t, product, product_frac)
            acc[..., slot.co] = C.add(acc[..., slot.co], acc_t, pe_sum, acc_t.fractional)
        return activations.activate(layer, acc, acc_t)
    index, mask = C.ordered_terms(w_codes, layer.facts.orders)
    cols = np.arange(f)
    for step in range(index.shape[0]):
        taps = index[step]
        product = windows[..., taps] * w_codes[taps, cols]
        acc = C.add(acc, acc_t, product, product_frac, mask[step])
    return activations.activate(layer, acc, acc_t)


def cost(layer: Layer) -> Cost:
    """R cycles per pixel of the padded grid. Unrolled: one pipelined step per pixel at II = R,
    its products shared by ceil(products / R) multipliers (ALLOCATION of mul). Pattern: R steps
    at II = 1 per pixel (the slot loop), ceil(kernels / R) instances of each pattern's PE, each
    with a weight ROM of depth R when R > 1."""
    a = layer.attrs
    rf = a["reuse_factor"]
    kernel = layer_kernel(layer)                             # a depthwise conv's (KH, KW, C, M)
    oh, ow, f = layer.out_shape
    ph, pw = _padded(layer)
    c = layer.in_shape[-1]
    facts: ConvFacts = layer.facts
    act = _activation_products(layer)
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    w_bits = hardware.bits(layer.precision["weight"])
    memories = [hardware.Memory("line buffers", "RAM", (a["kh"] - 1) * c, pw, in_bits)] if a["kh"] > 1 else []
    muxes = []
    if a["strategy"] == "pe":
        pe = conv_pe.hardware(layer, in_bits, w_bits, hardware.Memory, hardware.Mux)
        multipliers, sharing = pe["multipliers"] + act, pe["sharing"]
        memories += pe["memories"]
        muxes += pe["muxes"]
    elif a["strategy"] == "pattern":
        multipliers = facts.multipliers + act
        sharing = (f"{sum(-(-len(g['kernels']) // rf) for g in facts.groups)} PE instance(s) for "
                   f"{sum(len(g['kernels']) for g in facts.groups)} kernel(s)")
        if rf > 1:                  # each instance: a weight ROM of depth R per tap, inputs chosen by cycle
            banks = sum(-(-len(g["kernels"]) // rf) * len(g["positions"]) for g in facts.groups)
            memories.append(hardware.Memory("PE weights", "ROM", banks, rf, w_bits))
            muxes += _pe_input_muxes(layer, in_bits)
    else:
        multipliers = hardware.shared(facts.nnz + act, rf)
        sharing = f"ALLOCATION: {multipliers} for {facts.nnz + act} products" if rf > 1 else "one per product"
        muxes += hardware.shared_operand_muxes(facts.nnz + act, multipliers, in_bits, w_bits)
    acc_bits = hardware.bits(layer.precision["accum"])
    # the layer's own registers: window, the step's pixel and column, the pattern PEs' accumulators
    accumulators = f * acc_bits if a["strategy"] in ("pattern", "pe") else 0
    registers = (a["kh"] * a["kw"] + a["kh"] + 1) * c * in_bits + accumulators
    if _table_lookups(layer):
        memories += activations.table_memories(layer, table_copies(layer))
    slots = _slots(layer)                                   # R cycles at II 1, or one step at II R
    ii, steps = rf // slots, ph * pw * slots
    # the pe strategy multiplies every live kernel's `keep` taps (a kept weight that is 0 too)
    macs = conv_pe.plan_of(layer).kernels * conv_pe.plan_of(layer).keep if a["strategy"] == "pe" else facts.nnz
    return Cost(latency=steps * ii + PIPELINE_DEPTH, ii=ii, iterations=steps, multipliers=int(multipliers),
                sharing=sharing, registers_bits=registers, memories=tuple(memories), muxes=tuple(muxes),
                product_bits=(w_bits, in_bits), macs_dense=oh * ow * int(kernel.size), macs=oh * ow * macs)



def _pe_input_muxes(layer: Layer, in_bits: int) -> list:
    """R > 1: each tap of a PE instance chooses its window register by the cycle, among the
    distinct input channels of the kernels it serves (as _pattern_view writes it)."""
    served: dict = {}
    for slot in (slot for cycle in layer.facts.slots for slot in cycle):
        served.setdefault((slot.g, slot.i), set()).add(slot.ci)
    by_ways: dict = {}
    for (g, _), channels in served.items():
        if len(channels) > 1:
            taps = len(layer.facts.groups[g]["positions"])
            by_ways[len(channels)] = by_ways.get(len(channels), 0) + taps
    return [hardware.Mux("PE inputs", count, ways, in_bits) for ways, count in sorted(by_ways.items())]


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
    keras={"Conv2D": _conv2d, "DepthwiseConv2D": _depthwise_conv2d, "SeparableConv2D": _separable_conv2d,
           "Conv2DTranspose": _conv2d_transpose},
    templates=("conv2d", "conv2d_stream", "conv2d_pattern", "conv2d_pattern_stream", "conv2d_pe", "conv2d_pe_stream"),
    roles=ROLES, template=template, view=view, weights=weights,
    reference=reference, cost=cost, report=report, values=values, default_accum=default_accum, derive=derive,
    reuses=True, strategies=("unrolled", "pattern", "pe"), activations=SCALAR_ACTIVATIONS, folds_scale_shift=True,
    takes_padding=True, loop_nest=lambda layer: window(layer).nest())
