"""The `pe` strategy of a conv layer: one IKR processing element design for every kernel.

Every kernel of an IKR layer keeps `keep` taps, so one PE serves any of them: `keep`
multipliers, each fed by a multiplexer over the positions the layer's patterns give that tap
(at most library-size inputs), selected by the kernel's pattern id. A layer has P PEs; each
serves R kernels per input pixel, one per cycle (reuse factor R), from ROMs of depth R read at
the cycle: the kernel's `keep` weights and its pattern id (ceil(log2 L) bits). Its channels
are not stored: the schedule fixes them by cycle.

Schedule (input-channel stationary): each input channel's live kernels, by output channel,
fill PEs R at a time, so most PEs read one input channel in every cycle and need no choice of
channel; the remainders (fewer than R kernels of a channel) share PEs, which then choose their
input channel by cycle (an R:1 choice at most). In cycle r each output channel receives the
sums of the PEs whose slot r serves it: a constant adder per (cycle, output channel), so no
two PEs ever write one register, and no write conflict can occur.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ... import codes as C
from ... import hardware
from ...constants import array, literal
from ...expr import Var, any_of, index
from ...ir import Layer
from ...patterns import LayerPatterns, patterns_from_kernel
from ...precision import IndexType, index_bits, requantize
from .common import (
    ConvFacts,
    ConvStrategy,
    ConvView,
    R,
    StrategyCost,
    accumulation,
    accumulator_bits,
    activation_products,
    choice,
    copy_of,
    instance_operators,
    kernel_constants,
    view_fields,
)


@dataclass(frozen=True)
class PEPlan:
    """keep:    taps per kernel (the layer's largest support).
    library:  per pattern id, its `keep` window positions (i * KW + j), ascending: tap t of a
              kernel reads its pattern's t-th position. A pattern of fewer positions (a layer
              that is not regular) is filled up with unused positions, whose weights are 0.
    pes:      per PE, its R slots: (ci, co, pattern id) of the kernel it runs in that cycle,
              or None (the PE idles).
    """
    keep: int
    library: list
    rf: int
    count: int                                             # PEs
    table: np.ndarray = field(repr=False, compare=False)   # the live slots: (PE, cycle, ci, co, pattern id) rows

    @functools.cached_property
    def pes(self) -> list:
        out: list = [[None] * self.rf for _ in range(self.count)]
        for p, r, ci, co, pid in self.table.tolist():
            out[p][r] = (ci, co, pid)
        return out

    @property
    def kernels(self) -> int:
        return len(self.slots[0])

    @property
    def slots(self) -> tuple:
        """The live slots as arrays (PE, cycle, input channel, output channel), PE by PE, cycle
        by cycle: what the cost counts."""
        return tuple(self.table[:, j] for j in range(4))

    @functools.cached_property
    def channel_counts(self) -> np.ndarray:
        """Per PE, how many input channels it reads (len(channels(p)))."""
        p, _, ci, _ = self.slots
        pairs = np.unique(p * (int(ci.max(initial=0)) + 1) + ci)
        return np.bincount(pairs // (int(ci.max(initial=0)) + 1), minlength=self.count)

    @property
    def positions(self) -> list:
        """The window positions some pattern uses: the PE's inputs."""
        return sorted({pos for pattern in self.library for pos in pattern})

    def choices(self, t: int) -> list:
        """Tap t's position for each pattern id: what its multiplexer chooses among."""
        return [pattern[t] for pattern in self.library]

    def ways(self, t: int) -> int:
        return len(set(self.choices(t)))

    def channels(self, p: int) -> list:
        """The input channels PE p reads, in order of first use."""
        return list(dict.fromkeys(slot[0] for slot in self.pes[p] if slot is not None))

    @property
    def pattern_bits(self) -> int:
        return index_bits(len(self.library))

    @property
    def multipliers(self) -> int:
        return self.count * self.keep


def plan(kernel: np.ndarray, rf: int, found: LayerPatterns | None = None) -> PEPlan:
    """The PEs of a conv kernel (KH, KW, CI, CO) at reuse factor `rf` (`found`: the kernel's
    patterns, if known)."""
    kh, kw, c, f = kernel.shape
    if found is None:                          # of the conv's own kernel: a depthwise conv's zeros are not live
        found = patterns_from_kernel(kernel)
    masks = found.library.reshape(len(found.library), kh * kw)
    keep = int(masks.sum(axis=1).max()) if len(masks) else 0
    library = []
    for mask in masks:
        own = [int(p) for p in np.flatnonzero(mask)]
        spare = [p for p in range(kh * kw) if p not in own]
        library.append(sorted(own + spare[:keep - len(own)]))
    # input-channel stationary: each channel's live kernels (by output channel) fill PEs R at a
    # time; the remainders of all channels, in channel order, share the PEs after them
    ci, co = np.nonzero(found.assignment >= 0)                 # channel by channel, filter by filter
    pid = found.assignment[ci, co]
    per_channel = np.bincount(ci, minlength=c)
    whole = per_channel - per_channel % rf
    start = np.r_[0, np.cumsum(per_channel)[:-1]]
    j = np.arange(len(ci)) - start[ci]                         # the kernel's rank in its channel
    full = j < whole[ci]
    full_pes = whole // rf
    first_pe = np.r_[0, np.cumsum(full_pes)[:-1]]
    rest_rank = np.cumsum(~full) - 1                           # among the remainders, in order
    pe = np.where(full, first_pe[ci] + j // rf, int(full_pes.sum()) + rest_rank // rf)
    r = np.where(full, j % rf, rest_rank % rf)
    order = np.lexsort((r, pe))
    table = np.column_stack([pe, r, ci, co, pid])[order].astype(np.int64)
    return PEPlan(keep, library, rf, int(pe.max(initial=-1)) + 1, table)


def plan_of(layer: Layer) -> PEPlan:
    """The plan of a conv layer in the pe strategy (passes.derive_facts made it)."""
    found = layer.facts.form
    if not isinstance(found, PEPlan):
        raise ValueError(f"{layer.name}: strategy {layer.settled.strategy}, not pe")
    return found


def derive(layer: Layer, facts: ConvFacts) -> PEPlan:
    return plan(layer.weights["kernel"], layer.settled.reuse_factor, facts.kernel_patterns)


def drawing(positions, kh: int, kw: int) -> str:
    grid = np.zeros(kh * kw, dtype=bool)
    grid[positions] = True
    return "/".join("".join("#" if v else "." for v in row) for row in grid.reshape(kh, kw))


def instances(layer: Layer) -> list:
    """The PEs as the code writes them out (R > 1; none at R = 1, where they are a loop):
    index, inputs (a choice of window register by the cycle), updates ((condition or None,
    filter)), the guard of a PE that idles in some cycles, its kernels, and its ROM reads."""
    p_ = plan_of(layer)
    kw = layer.weights["kernel"].shape[1]
    rf, name, count = p_.rf, layer.name, len(p_.pes)
    out = []
    for p, slots in enumerate(p_.pes if rf > 1 else []):
        live = [(r, slot) for r, slot in enumerate(slots) if slot is not None]
        inputs = [choice([(r, index("window", pos // kw, pos % kw, ci)) for r, (ci, _, _) in live])
                  for pos in p_.positions]
        targets: dict = {}
        for r, (_, co, _) in live:
            targets.setdefault(co, []).append(r)
        updates = [(None if len(cycles) == rf else any_of(*(R.eq(r) for r in cycles)), co)
                   for co, cycles in targets.items()]
        # an idle cycle does not call the PE (the counting build counts the products that are
        # used, and so does the report)
        guard = any_of(*(R.eq(r) for r, _ in live)) if len(live) < rf else None
        out.append(dict(index=p, inputs=inputs, updates=updates, guard=guard,
                        kernels=", ".join(f"{ci}->{co}" for _, (ci, co, _) in live),
                        pattern=index(f"{name}_pe_pattern", R * count + p),
                        weights=[index(f"{name}_pe_w", R * (count * p_.keep) + (p * p_.keep + t))
                                 for t in range(p_.keep)]))
    return out


@dataclass(frozen=True, kw_only=True)
class PEView(ConvView):
    """conv2d_pe.h.j2: the PE design (taps and their multiplexers) and its instances."""
    pe: dict
    result_copies: list


def view(layer: Layer) -> PEView:
    """The template's variables. R = 1: the PEs are a loop whose channels and pattern ids come
    from completely partitioned tables (constants once unrolled). R > 1: each PE is written
    out: its inputs chosen by cycle when it reads several channels, its ROMs read at r, its sum
    added to the output channel of each cycle's kernel."""
    p_ = plan_of(layer)
    kh, kw = layer.weights["kernel"].shape[:2]
    count = len(p_.pes)
    taps = [dict(index=t, select=choice([(pid, Var(f"x{pos}")) for pid, pos in enumerate(p_.choices(t))],
                                        Var("pattern")),
                 ways=p_.ways(t)) for t in range(p_.keep)]
    return PEView(
        **view_fields(layer),
        pe=dict(keep=p_.keep, count=count, kernels=p_.kernels, library=len(p_.library), pattern_bits=p_.pattern_bits,
                inputs=[dict(pos=pos, i=pos // kw, j=pos % kw) for pos in p_.positions], taps=taps,
                instances=instances(layer), shared=sum(len(p_.channels(p)) > 1 for p in range(count)),
                drawings=[drawing(pattern, kh, kw) for pattern in p_.library]),
        result_copies=[dict(co=co, table_copy=copy_of(layer, co)) for co in range(layer.out_shape[-1])],
        index_types=(("pattern", IndexType(p_.pattern_bits)),) if p_.pattern_bits else (), allocation=0)


def arrays(layer: Layer) -> tuple:
    """The PEs' ROMs, read at the pixel's cycle r: `keep` weights and a pattern id per kernel,
    at [r * PEs + PE] (weights: times keep, plus the tap), so that a cyclic partition by PEs
    (x keep) gives every PE (and tap) its own ROM of depth R. Idle cycles hold zeros. With R = 1
    also each kernel's channels (constants once the loop over PEs is unrolled)."""
    p_ = plan_of(layer)
    kernel = layer.weights["kernel"]
    kw = kernel.shape[1]
    rf, count, keep = p_.rf, len(p_.pes), p_.keep
    w = np.zeros((rf, count, keep))
    pattern = np.zeros((rf, count), dtype=np.int64)
    for p, slots in enumerate(p_.pes):
        for r, slot in enumerate(slots):
            if slot is not None:
                ci, co, pid = slot
                w[r, p] = [kernel[pos // kw, pos % kw, ci, co] for pos in p_.library[pid]]
                pattern[r, p] = pid
    name = layer.name
    where = f"[(cycle * {count} + PE) * {keep} + tap]" if rf > 1 else f"[PE * {keep} + tap]"
    out = [array(f"{name}_pe_w", f"{name}_weight_t", w.reshape(-1), f"the PEs' weights, {keep} per kernel, at {where}",
                 literal(layer, "weight"))]
    if p_.pattern_bits:
        out.append(array(f"{name}_pe_pattern", f"{name}_pattern_t", pattern.reshape(-1),
                         f"each kernel's pattern id, at [{'cycle * ' + str(count) + ' + ' if rf > 1 else ''}PE]",
                         integers=True))
    if rf == 1:
        out += [array(f"{name}_pe_{field}", "int", [slots[0][k] for slots in p_.pes],
                      f"each PE's {what}") for k, (field, what) in enumerate((("ci", "input channel"),
                                                                                ("co", "output channel")))]
    return f"Conv2D on one PE design, {len(p_.library)} pattern(s)", out


def accumulate(layer: Layer, windows, w_codes, product_frac: int, acc, acc_t) -> np.ndarray:
    """The arithmetic: a PE sums its kernel's products in tap order; cycle by cycle, PE by PE,
    that sum is added into the output channel's accumulator (acc, which holds the biases)."""
    p_ = plan_of(layer)
    kh, kw = layer.weights["kernel"].shape[:2]
    for r in range(p_.rf):
        for slots in p_.pes:
            if slots[r] is None:
                continue
            ci, co, pid = slots[r]
            products = [windows[..., ci * kh * kw + pos] * w_codes[ci * kh * kw + pos, co] for pos in p_.library[pid]]
            pe_sum = requantize(products[0], product_frac, acc_t)
            for product in products[1:]:
                pe_sum = C.add(pe_sum, acc_t, product, product_frac)
            acc[..., co] = C.add(acc[..., co], acc_t, pe_sum, acc_t.fractional)
    return acc


def cost(layer: Layer, in_bits: int, w_bits: int) -> StrategyCost:
    """The PEs' multipliers, ROMs and operand choices; the pe strategy multiplies every live
    kernel's `keep` taps (a kept weight that is 0 too)."""
    p_ = plan_of(layer)
    rf, count = p_.rf, p_.count
    memories, muxes = [], []
    if rf > 1 and count:                       # per PE, ROMs of depth R
        memories.append(hardware.Memory("PE weights", "ROM", count * p_.keep, rf, w_bits))
        if p_.pattern_bits:
            memories.append(hardware.Memory("PE pattern ids", "ROM", count, rf, p_.pattern_bits))
    channels = p_.channel_counts              # per PE, the input channels it reads
    many, pes = np.unique(channels[channels > 1] if rf > 1 else channels[:0], return_counts=True)
    # a PE reading several channels chooses by cycle
    muxes += [hardware.Mux("PE inputs", int(n) * len(p_.positions), int(ways), in_bits)
              for ways, n in zip(many, pes, strict=True)]
    by_ways: dict = {}
    for t in range(p_.keep if rf > 1 else 0):   # each PE's tap multiplexers, by pattern id (R = 1: a
        if p_.ways(t) > 1:                      # constant id, inlined: no multiplexer left)
            by_ways[p_.ways(t)] = by_ways.get(p_.ways(t), 0) + count
    muxes += [hardware.Mux("PE pattern", n, ways, in_bits) for ways, n in sorted(by_ways.items())]
    shared = int((channels > 1).sum())
    sharing = (f"{count} PE(s) of {p_.keep} multipliers for {p_.kernels} kernel(s), {rf} cycle(s) each"
               + (f"; {shared} choose their input channel by cycle" if shared else ""))
    pe, r, ci, co = p_.slots
    # the most PE sums added to one filter in one cycle
    served = int(np.bincount(r * (int(co.max(initial=0)) + 1) + co).max(initial=0)) if len(co) else 0
    # a PE input's choice of channel by cycle, then the pattern multiplexer, the products, the PE's sum
    choose = (1 if shared and rf > 1 else 0) \
        + (hardware.tree_levels(max((p_.ways(t) for t in range(p_.keep)), default=1)) if rf > 1 else 0)
    if rf > 1:                  # each PE: its sum (keep - 1 adders) and the filters it updates
        # counted from the plan as `instances` writes them (tests/test_auto.py compares the two)
        ops = instance_operators(pe, r, ci, co, np.full(count, len(p_.positions)), rf)
        adds = int((p_.keep - 1 + ops["updates"]).sum())
        # + the bias's r == 0 and the output's r == R-1; an idle PE's guard compares each of its cycles
        idle = ops["slots"] < rf
        control = 2 + ops["input_compares"] + ops["update_compares"] + int(ops["slots"][idle].sum())
        constants: tuple = ()
    else:                       # every kernel: its PE's sum and the accumulation, keep adders
        adds, control = p_.kernels * p_.keep, 0
        kernel = layer.weights["kernel"]
        kw = kernel.shape[1]
        # each live kernel's `keep` weights, at its pattern's positions
        at = np.array(p_.library, dtype=np.int64).reshape(len(p_.library), p_.keep)[p_.table[:, 4]]
        constants = kernel_constants(layer, kernel[at // kw, at % kw, ci[:, None], co[:, None]].reshape(-1))
    return StrategyCost(multipliers=p_.multipliers + activation_products(layer), sharing=sharing, adds=adds,
                        control=control, constants=constants,
                        memories=tuple(memories), muxes=tuple(muxes), accumulator_bits=accumulator_bits(layer),
                        macs=p_.kernels * p_.keep,
                        chain=hardware.chain(("choose", choose), ("table", 1 if rf > 1 else 0),   # the PE ROMs
                                             ("multiply", 1), hardware.add_tree(p_.keep),
                                             accumulation(served)))


STRATEGY = ConvStrategy("pe", "conv2d_pe", cycles=lambda rf: rf, derive=derive, view=view, arrays=arrays,
                        accumulate=accumulate, cost=cost)
