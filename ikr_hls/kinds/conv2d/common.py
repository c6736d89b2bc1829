"""What every conv strategy shares: the facts its weights decide, the sliding window, the
view, arrays, reference and cost parts that do not depend on the strategy, and the report."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ... import activations, hardware
from ...activations import ActivationCall
from ...attributes import Attributes, attributes_of, not_negative, positive
from ...expr import Expr, Var
from ...expr import choice as expr_choice
from ...ir import Layer
from ...lanes import R  # the cycle of a pixel, in the strategies of R cycles
from ...patterns import LayerPatterns, patterns_from_kernel, unique_masks
from ...precision import index_bits, weight_bits, widen_for_sum
from ..base import View
from ..window import Window


@dataclass(frozen=True)
class ConvAttributes(Attributes):
    """A conv's geometry: kernel and strides, its padding (Keras's mode and the rows and
    columns it adds), and what kind of Keras conv it came from."""
    kh: int
    kw: int
    sh: int
    sw: int
    padding: Literal["valid", "same"]
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    depthwise: int | None = None                               # a DepthwiseConv2D's multiplier
    separable: Literal["depthwise", "pointwise"] | None = None  # a half of a SeparableConv2D
    transpose: tuple[int, int] | None = None                   # a Conv2DTranspose's strides

    def check(self) -> None:
        positive(self, "kh", "kw", "sh", "sw")
        not_negative(self, "pad_top", "pad_bottom", "pad_left", "pad_right")

    @property
    def padded(self) -> bool:
        return bool(self.pad_top or self.pad_bottom or self.pad_left or self.pad_right)


def conv_attributes(layer: Layer) -> ConvAttributes:
    return attributes_of(layer, ConvAttributes)


def depthwise_as_conv(depthwise: np.ndarray) -> np.ndarray:
    """A (KH, KW, C, M) depthwise kernel as the (KH, KW, C, C*M) conv kernel the converter
    uses: input channel c feeds only outputs c*M .. c*M+M-1 (Keras's order), zeros elsewhere."""
    kh, kw, c, m = depthwise.shape
    kernel = np.zeros((kh, kw, c, c, m))
    channels = np.arange(c)
    kernel[:, :, channels, channels, :] = depthwise
    return kernel.reshape(kh, kw, c, c * m)


def layer_kernel(layer: Layer) -> np.ndarray:
    """A conv layer's own kernels as (KH, KW, CI, CO): for a depthwise conv, (KH, KW, C, M),
    without the zeros between channels of depthwise_as_conv's form."""
    kernel = layer.weights["kernel"]
    m = conv_attributes(layer).depthwise
    if not m:
        return kernel
    kh, kw, c, _ = kernel.shape
    return np.stack([kernel[:, :, ci, ci * m:(ci + 1) * m] for ci in range(c)], axis=2)


@dataclass(frozen=True)
class ConvFacts:
    """What the weights of a conv layer decide, computed once for backend, emulate and report.

    groups:      the exact-support groups ("positions", "kernels": (n, 2) of (ci, co)), most used first:
                 the pattern strategy's processing elements; all-zero kernels belong to none.
    filter_taps: per filter, its nonzero taps, (n, 3) of (ci, kh, kw), in the unrolled strategy's order.
    patterns:    the IKR library of the layer's own kernels (a depthwise conv's compact ones).
    cycles:      the pipelined steps a pixel takes in the layer's strategy (R for a PE strategy).
    form:        the strategy's own facts (its module says what they are); form.multipliers:
                 the multipliers the generated code asks for at the layer's reuse factor.
    """
    nnz: int
    groups: list
    patterns: LayerPatterns
    cycles: int
    form: Any
    kernel: np.ndarray = field(repr=False, compare=False)    # the layer's (KH, KW, CI, CO) kernel

    @property
    def multipliers(self) -> int:
        return self.form.multipliers

    @functools.cached_property
    def filter_taps(self) -> list:
        """Computed when a strategy asks (the unrolled one): it walks every weight."""
        return filter_taps(self.kernel)

    @functools.cached_property
    def filter_orders(self) -> list:
        """Per filter, its taps as (ci*KH + kh)*KW + kw, in the order of filter_taps."""
        kh, kw = self.kernel.shape[:2]
        return [(taps[:, 0] * kh + taps[:, 1]) * kw + taps[:, 2] for taps in self.filter_taps]

    @functools.cached_property
    def kernel_patterns(self) -> LayerPatterns:
        """The IKR library of the whole (KH, KW, CI, CO) kernel (a depthwise conv's zeros
        between channels are not live either): the pe strategy's."""
        return patterns_from_kernel(self.kernel)


@dataclass(frozen=True)
class ConvStrategy:
    """One form of the conv's generated code (a module of this package each): its template and
    how it schedules, stores, computes and costs the layer's products."""
    name: str
    template: str                                   # under templates/firmware/layers/, no .h.j2
    cycles: Callable[[int], int]                    # pipelined steps per pixel at reuse factor R
    derive: Callable[[Layer, Any], Any]             # (layer, its ConvFacts but form) -> its form
    view: Callable[[Layer], View]                   # its template's variables (a ConvView)
    arrays: Callable[[Layer], tuple]                # (description, [weight arrays]) (bias, tables: common)
    accumulate: Callable[..., np.ndarray]           # reference: (layer, windows, w_codes, product_frac,
                                                    # acc, acc_t) -> acc with every product added
    cost: Callable[[Layer, int, int], StrategyCost]  # (layer, input bits, weight bits)


@dataclass(frozen=True)
class StrategyCost:
    """A strategy's share of a conv's Cost (common.cost adds the window, tables and steps)."""
    multipliers: int
    sharing: str
    memories: tuple = ()
    muxes: tuple = ()
    accumulator_bits: int = 0      # registers of accumulators kept over a pixel's cycles
    macs: int = 0                  # products per output pixel
    chain: tuple = ()              # the operators from the window's registers to the accumulator
    adds: int = 0                  # adders of its sums and accumulations a step (accumulator width)
    control: int = 0               # its comparisons of the cycle r (choices, guards, updates)
    constants: tuple = ()          # its products by constants ((CSD digits, count), ...): R = 1
    operators: tuple = ()          # its own operators at their widths (hardware.Operator: da's adder graph)


def choice(choices: list, by: Var = R) -> Expr:
    """expr.choice, by the cycle r unless told: [(key, value)] -> `(r == 0 || r == 2) ? a : b`."""
    return expr_choice(choices, by)


def support_groups(kernel: np.ndarray) -> list:
    """The kernels grouped by their exact support, most used first (ties: in the order of the
    supports as bit rows): [{"positions": [flat positions], "kernels": (n, 2) array of (ci, co)}],
    each group's kernels in the order of their row ci * CO + co; all-zero kernels in none."""
    kh, kw, ci, co = kernel.shape
    support = (kernel != 0).reshape(kh * kw, ci * co).T     # row = ci * CO + co
    live = np.flatnonzero(support.any(axis=1))
    if not len(live):
        return []
    patterns, inverse, counts = unique_masks(support[live])
    members = live[np.argsort(inverse, kind="stable")]      # by pattern, each in row order
    starts = np.r_[0, np.cumsum(counts)]
    groups = []
    for p in np.argsort(-counts, kind="stable"):
        rows = members[starts[p]:starts[p + 1]]
        groups.append(dict(positions=np.flatnonzero(patterns[p]).tolist(),
                           kernels=np.column_stack(np.divmod(rows, co))))
    return groups


def filter_taps(kernel: np.ndarray) -> list:
    """Per filter, its nonzero taps as an (n, 3) array of (ci, kh, kw): channel, row, column."""
    f = kernel.shape[3]
    co, ci, i, j = np.nonzero(kernel.transpose(3, 2, 0, 1))
    return np.split(np.stack([ci, i, j], axis=1), np.cumsum(np.bincount(co, minlength=f))[:-1])


def padded_grid(layer: Layer) -> tuple[int, int]:
    a = conv_attributes(layer)
    h, w, _ = layer.in_shape
    return h + a.pad_top + a.pad_bottom, w + a.pad_left + a.pad_right


def window(layer: Layer) -> Window:
    """The layer's sliding window over its zero-padded grid (kinds/window.py), `cycles` steps
    a pixel as its strategy decides."""
    a = conv_attributes(layer)
    h, w, c = layer.in_shape
    return Window(layer.name, c, a.kh, a.kw, a.sh, a.sw, h, w, a.pad_top, a.pad_bottom, a.pad_left, a.pad_right,
                  cycles=layer.facts.cycles, out_c=layer.out_shape[-1])


def activation_products(layer: Layer) -> int:
    """Multiplications of the fused activation per output pixel (a leaky ReLU's slope, ...)."""
    return layer.out_shape[-1] * activations.products(layer)


def _table_lookups(layer: Layer) -> int:
    return layer.out_shape[-1] if "act_table" in layer.precision else 0


def table_copies(layer: Layer) -> int:
    """Copies of the activation table: one output pixel a step reads it once per filter."""
    return hardware.table_copies(_table_lookups(layer), layer.settled.reuse_factor) if _table_lookups(layer) else 1


def copy_of(layer: Layer, co: int) -> int:
    """The activation table copy filter `co` reads."""
    return co // (2 * layer.settled.reuse_factor)


@dataclass(frozen=True, kw_only=True)
class ConvView(View):
    """What conv2d_base.h.j2 reads, whatever the strategy (each strategy's view adds its own)."""
    h: int
    w: int
    c: int
    oh: int
    ow: int
    f: int
    kh: int
    kw: int
    sh: int
    sw: int
    padding: str
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    padded: bool
    ph: int                   # the zero-padded grid the loops walk
    pw: int
    inside: Expr
    valid: Expr
    nnz: int
    dense_weights: int
    reuse_factor: int
    multipliers: int
    depthwise: int | None
    act: ActivationCall
    table_pragmas: list
    slots: int                # pipelined steps per pixel
    grid: Window
    allocation: int           # the ALLOCATION limit on multipliers (0: none)
    binding: str              # where the products go (BIND_OP impl): "dsp", "fabric", "" (no pragma)


def view_fields(layer: Layer) -> dict:
    """ConvView's fields (but `allocation`, the strategy's), for a strategy's view."""
    a = conv_attributes(layer)
    facts: ConvFacts = layer.facts
    h, w, c = layer.in_shape
    oh, ow, f = layer.out_shape
    kernel = layer.weights["kernel"]
    ph, pw = padded_grid(layer)
    grid = window(layer)
    nnz = facts.nnz
    out = dict(h=h, w=w, c=c, oh=oh, ow=ow, f=f, kh=a.kh, kw=a.kw, sh=a.sh, sw=a.sw,
               padding=a.padding, pad_top=a.pad_top, pad_bottom=a.pad_bottom,
               pad_left=a.pad_left, pad_right=a.pad_right, padded=a.padded, ph=ph, pw=pw,
               inside=grid.inside, valid=grid.valid, nnz=nnz, dense_weights=kernel.size,
               reuse_factor=layer.settled.reuse_factor, multipliers=facts.multipliers, keras_class="Conv2D",
               depthwise=a.depthwise, act=activations.call_view(layer),
               table_pragmas=activations.partition_pragmas(layer),
               summary=f"Conv2D {a.kh}x{a.kw} {c}->{f}, {nnz}/{kernel.size} weights")
    if a.depthwise:
        dense = kernel.size // c                              # the depthwise kernel's own weights
        out.update(keras_class="DepthwiseConv2D", dense_weights=dense,
                   summary=f"DepthwiseConv2D {a.kh}x{a.kw} x{a.depthwise} on {c} channels, {nnz}/{dense} weights")
    if a.separable:
        out.update(keras_class=f"SeparableConv2D ({a.separable} half)",
                   summary=f"SeparableConv2D, {a.separable}: " + out["summary"])
    if a.transpose:
        out.update(keras_class="Conv2DTranspose (a stride-1 conv of its flipped kernel)",
                   summary=f"Conv2DTranspose stride {a.transpose[0]}x{a.transpose[1]} as a stride-1 conv of its "
                           "flipped kernel: " + out["summary"])
    out["slots"] = facts.cycles
    out["grid"] = grid
    out["binding"] = layer.plan_cost.binding or ""
    return out


def cost(layer: Layer, own: StrategyCost) -> hardware.Cost:
    """R cycles per pixel of the padded grid (a PE strategy's R steps at II 1, or one step at
    II R); the window's registers and line buffers, the activation tables; the strategy's
    multipliers, memories, operand choices and accumulators."""
    a = conv_attributes(layer)
    rf = layer.settled.reuse_factor
    kernel = layer_kernel(layer)                             # a depthwise conv's (KH, KW, C, M)
    oh, ow, f = layer.out_shape
    ph, pw = padded_grid(layer)
    c = layer.in_shape[-1]
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    memories = [hardware.Memory("line buffers", "RAM", (a.kh - 1) * c, pw, in_bits)] if a.kh > 1 else []
    memories += own.memories
    # the layer's own registers: window, the step's pixel and column, the PE strategies' accumulators
    registers = (a.kh * a.kw + a.kh + 1) * c * in_bits + own.accumulator_bits
    if _table_lookups(layer):
        memories += activations.table_memories(layer, table_copies(layer))
    slots = layer.facts.cycles                              # R cycles at II 1, or one step at II R
    ii, steps = rf // slots, ph * pw * slots
    # a line-buffer read, the strategy's products and sums, the activation, the write
    chain = hardware.chain(("read", 1), own.chain, activations.chain(layer), ("write", 1))
    acc_bits = hardware.bits(layer.precision["accum"])
    grid = window(layer)
    operators = (hardware.ops("accumulation", "add", acc_bits, own.adds) + own.operators
                 + activations.operators(layer, f, acc_bits)
                 + hardware.ops("padding zeros", "select", in_bits, c if a.padded else 0)
                 + hardware.control("window and cycle conditions",
                                    grid.control_compares(layer.stream is not None) + own.control,
                                    hardware.counter_bits(max(ph, pw, slots)))
                 + hardware.conversion("result", layer.precision["result"], f))
    return hardware.Cost(ii=ii, iterations=steps, chain=chain,
                         multipliers=int(own.multipliers), sharing=own.sharing, registers_bits=registers,
                         memories=tuple(memories), muxes=tuple(own.muxes),
                         product_bits=(hardware.product_weight_bits(layer, layer.weights["kernel"]), in_bits),
                         macs_dense=oh * ow * int(kernel.size), macs=oh * ow * own.macs, operators=operators,
                         constants=hardware.merge_constants(
                             own.constants, activations.constant_products(layer, f) if rf == 1 else ()))


def kernel_constants(layer: Layer, values) -> tuple:
    """Products by constant weights (R = 1: every weight reaches its multiplier as a constant)."""
    return hardware.constant_products(values, layer.precision["weight"]) if layer.settled.reuse_factor == 1 else ()


def accumulation(most_served: int) -> tuple:
    """The adder tree that adds, in one cycle, the sums of the PEs serving each filter to its
    accumulator: the widest one's, of `most_served` PE sums (the most one filter receives in
    one cycle)."""
    return hardware.add_tree(most_served + 1)


def instance_operators(instance: np.ndarray, r: np.ndarray, ci: np.ndarray, co: np.ndarray, input_taps: np.ndarray,
                       rf: int) -> dict:
    """What the PE instances of a PE strategy at R > 1 write out (each strategy's `instances`,
    as its view prints them), counted from the schedule without building the expressions:
    per slot (a kernel in cycle r of an instance) its instance, cycle, input and output
    channel; per instance its input taps. Returns per instance "slots", "updates" (the
    filters it adds to), and over all instances "input_compares" (each tap's choice of window
    register by cycle: a comparison per cycle but those of the channel the choice falls back
    to, the one that comes last), "update_compares" (a filter served in fewer than R cycles
    checks them)."""
    n = len(input_taps)
    slots = np.bincount(instance, minlength=n)
    filters = int(co.max(initial=0)) + 1
    pairs, pair_slots = np.unique(instance * filters + co, return_counts=True)
    updates = np.bincount(pairs // filters, minlength=n)
    channels = int(ci.max(initial=0)) + 1
    by_cycle = np.argsort(r, kind="stable")
    keys, first, uses = np.unique((instance * channels + ci)[by_cycle], return_index=True, return_counts=True)
    owner, first_r = keys // channels, r[by_cycle][first]
    last = np.lexsort((first_r, owner))                  # per instance, the channel first used last
    ends = np.r_[np.flatnonzero(np.diff(owner[last])), len(last) - 1] if len(last) else np.zeros(0, np.int64)
    fallback = np.zeros(n, np.int64)
    fallback[owner[last][ends]] = uses[last][ends]       # its slots: no comparison
    return dict(slots=slots, updates=updates, input_compares=int(((slots - fallback) * input_taps).sum()),
                update_compares=int(pair_slots[pair_slots != rf].sum()))


def accumulator_bits(layer: Layer) -> int:
    """The filters' accumulators a PE strategy keeps over a pixel's cycles."""
    return layer.out_shape[-1] * hardware.bits(layer.precision["accum"])


def values(layer: Layer) -> dict:
    return {"weight": layer.weights["kernel"], "bias": layer.weights["bias"]}


def report(layer: Layer) -> dict:
    """Parameters, the IKR pattern library and the weight storage of the three schemes."""
    kernel = np.asarray(layer_kernel(layer))
    kh, kw, ci, co = kernel.shape
    w_t, b_t = layer.precision["weight"], layer.precision["bias"]
    bias = layer.weights["bias"]
    own_bias = conv_attributes(layer).separable != "depthwise"     # a depthwise half's zeros are not Keras's
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
        "depthwise_multiplier": conv_attributes(layer).depthwise,
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
