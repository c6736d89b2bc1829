"""The `pattern` conv strategy: one processing element per IKR pattern (exact support), whose
taps are constant window positions. With R = 1 every kernel has its own instance; with R > 1
instance i of a pattern's PE serves R of its kernels, one per cycle of the pixel: its inputs
chosen among window registers by the cycle, its weights a ROM of depth R read at the cycle."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ... import codes as C
from ... import hardware
from ...constants import array, literal
from ...expr import any_of, index
from ...ir import Layer
from ...precision import requantize
from .common import (
    ConvFacts,
    ConvStrategy,
    ConvView,
    R,
    StrategyCost,
    accumulator_bits,
    activation_products,
    choice,
    copy_of,
    instance_operators,
    kernel_constants,
    view_fields,
)
from .pe import drawing


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


@dataclass(frozen=True)
class Schedule:
    """The slot schedule as arrays, one entry per kernel, in the order in which the
    accumulators receive the PEs' sums: cycle by cycle, PE by PE, instance by instance. Entry n
    is kernel k[n] of PE g[n] (input channel ci[n], output channel co[n]), run by instance i[n]
    of the PE in cycle r[n] of each input pixel."""
    g: np.ndarray
    i: np.ndarray
    r: np.ndarray
    k: np.ndarray
    ci: np.ndarray
    co: np.ndarray

    def __len__(self) -> int:
        return len(self.k)


@dataclass(frozen=True)
class PatternFacts:
    """schedule: the kernels the PE instances serve, cycle by cycle (Schedule);
    multipliers: every instance's taps."""
    schedule: Schedule
    multipliers: int

    @functools.cached_property
    def slots(self) -> list:
        """slots[r]: the Slots of cycle r of an input pixel, PE by PE, instance by instance."""
        s = self.schedule
        out: list = [[] for _ in range(int(s.r.max(initial=-1)) + 1)]
        for g, i, r, k, ci, co in zip(*(a.tolist() for a in (s.g, s.i, s.r, s.k, s.ci, s.co)), strict=True):
            out[r].append(Slot(g, i, r, k, ci, co))
        return out


def _slot_schedule(groups: list, rf: int) -> Schedule:
    """ceil(kernels / R) instances per PE; instance i serves kernels i*R .. i*R + R-1 of its PE,
    one per cycle: the order in which the accumulators receive the PEs' sums."""
    sizes = [len(group["kernels"]) for group in groups]
    g = np.repeat(np.arange(len(groups), dtype=np.int64), sizes)
    k = np.concatenate([np.arange(n, dtype=np.int64) for n in sizes]) if groups else np.zeros(0, np.int64)
    kernels = np.concatenate([group["kernels"] for group in groups]) if groups else np.zeros((0, 2), np.int64)
    order = np.argsort(k % rf, kind="stable")       # by cycle; within it PE by PE, instance by instance
    return Schedule(g[order], (k // rf)[order], (k % rf)[order], k[order], kernels[order, 0], kernels[order, 1])


def derive(layer: Layer, facts: ConvFacts) -> PatternFacts:
    rf = layer.settled.reuse_factor
    return PatternFacts(_slot_schedule(facts.groups, rf),
                        sum(-(-len(g["kernels"]) // rf) * len(g["positions"]) for g in facts.groups))


@dataclass(frozen=True, kw_only=True)
class PatternView(ConvView):
    """conv2d_pattern.h.j2: a PE per pattern (taps, instances and their host form's tables,
    weight partitions)."""
    groups: list
    result_copies: list
    index_bits: int


def view(layer: Layer) -> PatternView:
    """One processing element per pattern: its taps are constant window positions.

    R = 1: every kernel has its own instance. The kernels of a PE are a loop, which the
    pipeline unrolls: its input and output channels come from completely partitioned tables
    read at the loop's (constant once unrolled) index, so they are wiring, and the code stays
    one loop per pattern however many kernels the layer has.
    R > 1: instance i serves R kernels, one per cycle r of the pixel, written out: its inputs
    are an R:1 choice between window registers, its weights a ROM of depth R read at r, its
    sum goes to the kernel's filter."""
    kh, kw = layer.weights["kernel"].shape[:2]
    rf = layer.settled.reuse_factor
    name = layer.name
    pes = []
    written, host = instances(layer), host_cycles(layer)
    for g, group in enumerate(layer.facts.groups):
        taps = [(p // kw, p % kw) for p in group["positions"]]
        keep, count = len(taps), -(-len(group["kernels"]) // rf)
        pes.append(dict(taps=taps, keep=keep, kernels=len(group["kernels"]), count=count,
                        instances=written[g], host=host[g], drawing=drawing(group["positions"], kh, kw),
                        partition=_weights_partition(name, g, count * keep, rf)))
    copies = [dict(co=co, table_copy=copy_of(layer, co)) for co in range(layer.out_shape[-1])]
    return PatternView(**view_fields(layer), groups=pes, result_copies=copies, allocation=0,
                       index_bits=max(1, int(np.ceil(np.log2(max(len(layer.facts.groups), 2))))))


def instances(layer: Layer) -> list:
    """Per PE, its instances as the code writes them out (R > 1; none at R = 1, where the
    kernels are a loop): index, inputs (a choice of window register by the cycle), weights (the
    ROM read at r), updates ((condition or None, filter)), the kernels it serves, and the
    guard of an instance that idles in the pixel's last cycles."""
    kw = layer.weights["kernel"].shape[1]
    rf = layer.settled.reuse_factor
    served: dict = {}
    if rf > 1:
        for slot in (slot for cycle in layer.facts.form.slots for slot in cycle):
            served.setdefault((slot.g, slot.i), []).append(slot)
    out = []
    for g, group in enumerate(layer.facts.groups):
        taps = [(p // kw, p % kw) for p in group["positions"]]
        keep, count = len(taps), -(-len(group["kernels"]) // rf)
        mine = []
        for i in range(count if rf > 1 else 0):
            slots = served[(g, i)]
            weights = [index(f"{layer.name}_pe{g}_w", R * (count * keep) + (i * keep + t)) for t in range(keep)]
            inputs = [choice([(s.r, index("window", ti, tj, s.ci)) for s in slots]) for ti, tj in taps]
            targets: dict = {}
            for s in slots:
                targets.setdefault(s.co, []).append(s.r)
            updates = [(None if len(cycles) == rf else choice_of_cycles(cycles), co) for co, cycles in targets.items()]
            kernels = ", ".join(f"{s.ci}->{s.co}" for s in slots)
            # an instance with fewer than R kernels idles in the last cycles: it is not called
            # there (the counting build counts the products that are used, and so does the report)
            idle = R < len(slots) if len(slots) < rf else None
            mine.append(dict(index=i, inputs=inputs, weights=weights, updates=updates, kernels=kernels, guard=idle))
        out.append(mine)
    return out


def host_cycles(layer: Layer) -> list:
    """Per PE, the instances' kernels as tables for the host-only form (IKR_HOST_CYCLES,
    conv2d_pattern.j2), whose loop calls the PE in the same order as the written-out instances
    (instance by instance) and adds into the same filters: ci[r][i], co[r][i], the input and
    output channel of the kernel instance i serves in cycle r (-1: idle). None at R = 1."""
    rf = layer.settled.reuse_factor
    if rf == 1:
        return [None for _ in layer.facts.groups]
    counts = [-(-len(group["kernels"]) // rf) for group in layer.facts.groups]
    ci = [[[-1] * n for _ in range(rf)] for n in counts]
    co = [[[-1] * n for _ in range(rf)] for n in counts]
    for slot in (slot for cycle in layer.facts.form.slots for slot in cycle):
        ci[slot.g][slot.r][slot.i], co[slot.g][slot.r][slot.i] = slot.ci, slot.co
    return [dict(ci=c, co=o) for c, o in zip(ci, co, strict=True)]


def choice_of_cycles(cycles: list):
    """r == c0 || r == c1 ...: the cycles in which an instance serves a filter."""
    return any_of(*(R.eq(r) for r in cycles))


def _weights_partition(name: str, g: int, banks: int, rf: int) -> str:
    """Each (instance, tap) of a PE is its own memory: a constant with R = 1 (and so are the
    kernels' channels), a ROM of depth R (cyclic partition: bank = instance * keep + tap,
    address = cycle) otherwise."""
    if rf == 1:
        return "\n".join(f"#pragma HLS ARRAY_PARTITION variable={name}_pe{g}_{table} complete"
                         for table in ("w", "ci", "co"))
    return f"#pragma HLS ARRAY_PARTITION variable={name}_pe{g}_w cyclic factor={banks} dim=1" if banks > 1 else ""


def arrays(layer: Layer) -> tuple:
    kernel = layer.weights["kernel"]
    kh, kw = kernel.shape[:2]
    rf = layer.settled.reuse_factor
    out = []
    for g, group in enumerate(layer.facts.groups):
        positions, kernels = group["positions"], group["kernels"]
        keep, count = len(positions), -(-len(kernels) // rf)
        table = np.zeros((rf, count, keep))                   # [cycle][instance][tap]; unused cycles: 0
        k = np.arange(len(kernels))
        flat = kernel.reshape(kh * kw, *kernel.shape[2:])
        table[k % rf, k // rf] = flat[np.asarray(positions)[:, None], kernels[:, 0], kernels[:, 1]].T
        layout = ("kernel by kernel" if rf == 1 else
                  f"at [(cycle * {count} + instance) * {keep} + tap]: {count * keep} ROMs of depth {rf}")
        out.append(array(f"{layer.name}_pe{g}_w", f"{layer.name}_weight_t", table.reshape(-1),
                         f"PE {g} ({drawing(positions, kh, kw)}): {keep} weights per kernel, {layout}",
                         literal(layer, "weight")))
        if rf == 1:                                         # the kernels' channels, constants once unrolled
            out += [array(f"{layer.name}_pe{g}_ci", "int", kernels[:, 0],
                          f"PE {g}: input channel of each kernel"),
                    array(f"{layer.name}_pe{g}_co", "int", kernels[:, 1],
                          f"PE {g}: output channel (filter) of each kernel")]
    return f"Conv2D grouped by pattern, {len(layer.facts.groups)} pattern(s)", out


def accumulate(layer: Layer, windows, w_codes, product_frac: int, acc, acc_t) -> np.ndarray:
    """Each kernel's products summed in its PE (sum = x0*w0; sum += x1*w1; ...), then the PE's
    sum added into the filter's accumulator, in the order of the slot schedule (cycle by cycle,
    PE by PE, instance by instance). Sums into different filters do not meet, so the schedule
    runs in rounds: round j of a cycle adds the j-th sum each filter receives in it, every
    filter at once (per PE, whose kernels have the same taps)."""
    kh, kw = layer.weights["kernel"].shape[:2]
    s = layer.facts.form.schedule
    for rounds in _rounds(s):
        for pe in np.unique(s.g[rounds]):
            at = rounds[s.g[rounds] == pe]
            ci, co = s.ci[at], s.co[at]
            taps = [ci * kh * kw + pos for pos in layer.facts.groups[pe]["positions"]]
            products = [windows[..., t] * w_codes[t, co] for t in taps]
            pe_sum = requantize(products[0], product_frac, acc_t)
            for product in products[1:]:
                pe_sum = C.add(pe_sum, acc_t, product, product_frac)
            acc[..., co] = C.add(acc[..., co], acc_t, pe_sum, acc_t.fractional)
    return acc


def _rounds(s: Schedule) -> list:
    """The schedule's entries in rounds, in order: per cycle, round j holds the j-th entry of
    each filter that receives j + 1 or more PE sums in that cycle (distinct filters)."""
    if not len(s):
        return []
    key = s.r * (int(s.co.max()) + 1) + s.co             # (cycle, filter), in schedule order by cycle
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    rank = np.empty(len(s), dtype=np.int64)
    rank[order] = np.arange(len(s)) - np.repeat(starts, np.diff(np.r_[starts, len(s)]))
    grouped = np.lexsort((rank, s.r))                    # by cycle, then round (entries in schedule order)
    bounds = np.flatnonzero(np.diff(s.r[grouped]) | np.diff(rank[grouped])) + 1
    return np.split(grouped, bounds)


def _input_muxes(layer: Layer, in_bits: int) -> list:
    """R > 1: each tap of a PE instance chooses its window register by the cycle, among the
    distinct input channels of the kernels it serves (as the view writes it)."""
    s = layer.facts.form.schedule
    if not len(s):
        return []
    channels, instances = int(s.ci.max()) + 1, int(s.i.max()) + 1
    served = np.unique((s.g * instances + s.i) * channels + s.ci)       # (PE, instance, channel) served
    instance, ways = np.unique(served // channels, return_counts=True)
    by_ways: dict = {}
    for g, n in zip((instance // instances).tolist(), ways.tolist(), strict=True):
        if n > 1:
            by_ways[n] = by_ways.get(n, 0) + len(layer.facts.groups[g]["positions"])
    return [hardware.Mux("PE inputs", count, ways, in_bits) for ways, count in sorted(by_ways.items())]


def _most_served(s: Schedule) -> int:
    """The most PE sums one filter receives in one cycle (the accumulator's adder tree)."""
    if not len(s):
        return 0
    return int(np.bincount(s.r * (int(s.co.max()) + 1) + s.co).max())


def cost(layer: Layer, in_bits: int, w_bits: int) -> StrategyCost:
    """R steps at II 1 per pixel, ceil(kernels / R) instances of each pattern's PE, each with a
    weight ROM of depth R when R > 1."""
    rf, facts = layer.settled.reuse_factor, layer.facts
    memories, muxes = [], []
    keep = max((len(g["positions"]) for g in facts.groups), default=0)
    served = _most_served(facts.form.schedule)
    if rf > 1:                  # each instance: a weight ROM of depth R per tap, inputs chosen by cycle
        banks = sum(-(-len(g["kernels"]) // rf) * len(g["positions"]) for g in facts.groups)
        memories.append(hardware.Memory("PE weights", "ROM", banks, rf, w_bits))
        muxes += _input_muxes(layer, in_bits)
    if rf > 1:                  # each instance: its PE's sum (keep - 1 adders) and the filters it updates
        # counted from the schedule as `instances` writes them (tests/test_auto.py compares the two)
        s = facts.form.schedule
        counts = [-(-len(g["kernels"]) // rf) for g in facts.groups]
        first = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
        taps = np.repeat([len(g["positions"]) for g in facts.groups], counts)
        ops = instance_operators(first[s.g] + s.i, s.r, s.ci, s.co, taps, rf)
        adds = int((taps - 1 + ops["updates"]).sum())
        # + the bias's r == 0 and the output's r == R-1; an idle instance's guard r < its kernels
        control = 2 + ops["input_compares"] + ops["update_compares"] + int((ops["slots"] < rf).sum())
        constants: tuple = ()
    else:                       # every kernel: its PE's sum and the accumulation, keep adders
        adds, control = facts.nnz, 0
        kernel = layer.weights["kernel"]
        kw = kernel.shape[1]
        at = [np.asarray(g["positions"]) for g in facts.groups]      # per group: each kernel's taps
        constants = kernel_constants(layer, np.concatenate(
            [kernel[p // kw, p % kw][:, g["kernels"][:, 0], g["kernels"][:, 1]].T.reshape(-1)
             for g, p in zip(facts.groups, at, strict=True)] or [np.zeros(0)]))
    return StrategyCost(multipliers=facts.multipliers + activation_products(layer), adds=adds, control=control,
                        constants=constants,
                        sharing=(f"{sum(-(-len(g['kernels']) // rf) for g in facts.groups)} PE instance(s) for "
                                 f"{sum(len(g['kernels']) for g in facts.groups)} kernel(s)"),
                        memories=tuple(memories), muxes=tuple(muxes), accumulator_bits=accumulator_bits(layer),
                        macs=facts.nnz, chain=hardware.chain(("choose", 1 if muxes else 0),
                                                             ("table", 1 if rf > 1 else 0),   # the weight ROMs
                                                             ("multiply", 1), hardware.add_tree(keep),
                                                             hardware.add_tree(served + 1)))


STRATEGY = ConvStrategy("pattern", "conv2d_pattern", cycles=lambda rf: rf, derive=derive, view=view,
                        arrays=arrays, accumulate=accumulate, cost=cost)
