"""What one conv processing element (PE) computes, in each of its four hardware forms.

A PE takes one KH x KW window of signed activations and returns the sum of products of its
weights with some of the window's positions:

- ``ikr``    `keep` multipliers; multiplier i reads the i-th position (ascending) of the
             pattern that the pattern id selects from the layer's library, a constant of the
             generated hardware;
- ``sparse`` `keep` multipliers; multiplier i reads the position its own index selects
             (unstructured sparsity: any position, a KH*KW-to-1 multiplexer per multiplier);
- ``dense``  KH*KW multipliers, multiplier j reads position j; no index;
- ``rom``    the PE of the conv strategy `pe` (ikr_hls/kinds/conv2d/pe.py): the ``ikr`` datapath
             serving R kernels, one per cycle of a pixel, from its own ROM of depth R, read at
             the cycle r (an input): per kernel its `keep` weights and its pattern id. Weights
             and pattern ids are constants of the netlist, not inputs.

Positions are flat, row-major: ``row * KW + col``, as in ikr_hls.patterns.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import IKRHLSError
from ..precision import FixedType

FORMS = ("ikr", "sparse", "dense", "rom")
LATENCY = 2                 # cycles: input registers, then the output register
MAX_ACC_BITS = 52           # the widest fixed-point type the package models
MAX_OPERAND_BITS = 24       # keeps every product and sum exact in int64


def bits_for(count: int) -> int:
    """Bits of an index that selects one of `count` things (at least 1, so the port exists)."""
    return max(1, (count - 1).bit_length())


@dataclass(frozen=True)
class PESpec:
    form: str
    kh: int
    kw: int
    keep: int                                   # multipliers (KH*KW for the dense form)
    weight_bits: int
    act_bits: int
    acc_bits: int
    library: tuple = ()                         # ikr, rom: per pattern, its positions ascending
    rom: tuple = ()                             # rom only: per cycle r, (pattern id, keep weight
                                                # codes), or None for a cycle the PE idles

    @property
    def positions(self) -> int:
        return self.kh * self.kw

    @property
    def select_bits(self) -> int:
        """Width of the select input: pattern id (ikr), per-multiplier index (sparse), the cycle
        (rom: the ROM address), 0 (dense)."""
        if self.form == "ikr":
            return bits_for(len(self.library))
        if self.form == "rom":
            return bits_for(self.depth)
        if self.form == "sparse":
            return self.keep * self.index_bits
        return 0

    @property
    def index_bits(self) -> int:
        return bits_for(self.positions)

    @property
    def pattern_bits(self) -> int:
        """Width of a pattern id (ikr: the select input; rom: a field of each ROM word)."""
        return bits_for(len(self.library))

    @property
    def depth(self) -> int:
        """ROM depth R: the kernels a rom PE serves (0 for the other forms)."""
        return len(self.rom)

    @property
    def weight_type(self) -> FixedType:
        return FixedType(True, self.weight_bits, self.weight_bits)

    @property
    def act_type(self) -> FixedType:
        return FixedType(True, self.act_bits, self.act_bits)

    @property
    def acc_type(self) -> FixedType:
        """Integer codes, two's complement, wrapping: what the Verilog accumulator does."""
        return FixedType(True, self.acc_bits, self.acc_bits, "AP_TRN", "AP_WRAP")

    def slot_positions(self, slot: int) -> list[tuple[int, list[int]]]:
        """IKR multiplexer of multiplier `slot`: the distinct positions it can read, each with
        the pattern ids that select it (patterns sharing a position share one mux input)."""
        chosen: dict[int, list[int]] = {}
        for pattern_id, pattern in enumerate(self.library):
            chosen.setdefault(pattern[slot], []).append(pattern_id)
        return sorted(chosen.items())

    def library_array(self) -> np.ndarray:
        """(L, keep) int array: row p lists pattern p's positions, ascending."""
        return np.array(self.library, dtype=np.int64).reshape(len(self.library), self.keep)

    def rom_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The ROM as ((R,) pattern ids, (R, keep) weight codes); an idle cycle holds zeros,
        as the pe strategy's ROMs do (conv_pe.arrays), so the PE sums zero in it."""
        patterns = np.zeros(self.depth, dtype=np.int64)
        weights = np.zeros((self.depth, self.keep), dtype=np.int64)
        for r, slot in enumerate(self.rom):
            if slot is not None:
                patterns[r], weights[r] = slot[0], slot[1]
        return patterns, weights

    def describe(self) -> str:
        size = f"{self.kh}x{self.kw}"
        if self.form == "ikr":
            shape = f"IKR PE {size}, keep {self.keep}, {len(self.library)}-pattern library"
        elif self.form == "rom":
            shape = (f"IKR ROM PE {size}, keep {self.keep}, {len(self.library)}-pattern library, "
                     f"ROM of {self.depth} kernels")
        elif self.form == "sparse":
            shape = f"unstructured sparse PE {size}, keep {self.keep}"
        else:
            shape = f"dense PE {size}"
        return f"{shape}, W{self.weight_bits} A{self.act_bits} ACC{self.acc_bits}"


def default_acc_bits(weight_bits: int, act_bits: int, terms: int) -> int:
    """Wide enough that the sum of `terms` products never overflows."""
    return weight_bits + act_bits + (terms - 1).bit_length()          # + ceil(log2(terms))


def library_positions(library, kh: int | None = None, kw: int | None = None):
    """A library as bool (L, KH, KW) or (L, KH*KW) masks -> (kh, kw, patterns as ascending
    position tuples). A flat library needs kh and kw."""
    masks = np.asarray(library)
    if masks.dtype != bool:
        raise IKRHLSError(f"pattern library: expected a bool mask array, got dtype {masks.dtype}")
    if masks.ndim == 3:
        if kh is not None and (kh, kw) != masks.shape[1:]:
            raise IKRHLSError(f"pattern library: patterns are {masks.shape[1]}x{masks.shape[2]}, "
                              f"not {kh}x{kw}")
        kh, kw = masks.shape[1:]
    elif masks.ndim != 2 or kh is None or kw is None or masks.shape[1] != kh * kw:
        raise IKRHLSError("pattern library: expected bool masks of shape (L, KH, KW), or (L, KH*KW) "
                          f"with the kernel size given; got shape {masks.shape}")
    flat = masks.reshape(len(masks), kh * kw)
    return int(kh), int(kw), tuple(tuple(int(p) for p in np.flatnonzero(row)) for row in flat)


def _check_widths(weight_bits: int, act_bits: int, acc_bits: int) -> None:
    for name, bits in (("weight_bits", weight_bits), ("act_bits", act_bits)):
        if not isinstance(bits, (int, np.integer)) or not 2 <= bits <= MAX_OPERAND_BITS:
            raise IKRHLSError(f"PE {name} must be an integer in 2..{MAX_OPERAND_BITS}, got {bits!r}")
    if not isinstance(acc_bits, (int, np.integer)) or not 1 <= acc_bits <= MAX_ACC_BITS:
        raise IKRHLSError(f"PE acc_bits must be an integer in 1..{MAX_ACC_BITS}, got {acc_bits!r}")


def _check_kernel(kh: int, kw: int) -> None:
    for name, size in (("kh", kh), ("kw", kw)):
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise IKRHLSError(f"PE kernel size {name} must be a positive integer, got {size!r}")


def _make(form, kh, kw, keep, weight_bits, act_bits, acc_bits, library=()) -> PESpec:
    if acc_bits is None:
        acc_bits = default_acc_bits(weight_bits, act_bits, keep)
    _check_widths(weight_bits, act_bits, acc_bits)
    if default_acc_bits(weight_bits, act_bits, keep) > 62:
        raise IKRHLSError(f"PE of {keep} products of {weight_bits}x{act_bits} bits: the exact sum needs "
                          "more than 62 bits, beyond the int64 reference")
    return PESpec(form, int(kh), int(kw), int(keep), int(weight_bits), int(act_bits), int(acc_bits),
                  library)


def ikr_pe(library, keep: int | None = None, kh: int | None = None, kw: int | None = None,
           weight_bits: int = 8, act_bits: int = 8, acc_bits: int | None = None) -> PESpec:
    """The IKR PE of a layer whose pattern library is `library` (bool (L, KH, KW), e.g.
    ikr_hls.patterns.patterns_from_kernel(kernel).library). `keep` defaults to the library's."""
    kh, kw, patterns = library_positions(library, kh, kw)
    _check_kernel(kh, kw)
    if not patterns:
        raise IKRHLSError("pattern library is empty: an IKR PE needs at least one pattern")
    sizes = sorted({len(p) for p in patterns})
    if len(sizes) != 1:
        raise IKRHLSError(f"pattern library is irregular: patterns keep {sizes} positions; "
                          "an IKR PE needs the same number in every pattern")
    if keep is None:
        keep = sizes[0]
    if keep != sizes[0] or keep < 1:
        raise IKRHLSError(f"pattern library keeps {sizes[0]} positions per pattern, not keep={keep}")
    if len(set(patterns)) != len(patterns):
        raise IKRHLSError("pattern library lists the same pattern twice")
    return _make("ikr", kh, kw, keep, weight_bits, act_bits, acc_bits, patterns)


def _rom_slot(slot, r: int, library_size: int, keep: int, t: FixedType):
    """One ROM word, checked: None (idle) or (pattern id, `keep` weight codes of type t)."""
    if slot is None:
        return None
    try:
        pattern_id, weights = slot
        weights = tuple(int(w) for w in weights)
        pattern_id = int(pattern_id)
    except (TypeError, ValueError):
        raise IKRHLSError(f"ROM cycle {r}: expected None or (pattern id, {keep} weight codes), "
                          f"got {slot!r}") from None
    if not 0 <= pattern_id < library_size:
        raise IKRHLSError(f"ROM cycle {r}: pattern id {pattern_id} not in 0..{library_size - 1}")
    if len(weights) != keep:
        raise IKRHLSError(f"ROM cycle {r}: {len(weights)} weights, the PE has keep={keep} multipliers")
    if any(not t.min_code <= w <= t.max_code for w in weights):
        raise IKRHLSError(f"ROM cycle {r}: weight codes must lie in {t.min_code}..{t.max_code} "
                          f"({t.width}-bit signed), got {list(weights)}")
    return pattern_id, weights


def rom_pe(library, slots: Sequence, keep: int | None = None, kh: int | None = None,
           kw: int | None = None, weight_bits: int = 8, act_bits: int = 8,
           acc_bits: int | None = None) -> PESpec:
    """The PE of the conv strategy `pe`: the IKR PE of `library` (as ikr_pe) with a ROM of
    depth R = len(slots). slots[r] is the kernel it runs in cycle r of a pixel, (pattern id,
    `keep` weight codes, tap t's weight first), or None when it idles in that cycle."""
    ikr = ikr_pe(library, keep, kh, kw, weight_bits, act_bits, acc_bits)
    if len(slots) < 1:
        raise IKRHLSError("a ROM PE needs a ROM of at least one kernel (reuse factor R >= 1)")
    rom = tuple(_rom_slot(slot, r, len(ikr.library), ikr.keep, ikr.weight_type) for r, slot in enumerate(slots))
    return replace(ikr, form="rom", rom=rom)


def plan_slots(plan, pe: int, kernel_codes) -> list:
    """The ROM of PE `pe` of a conv_pe.PEPlan: per cycle, (pattern id, its `keep` weight codes
    read from kernel_codes (KH, KW, CI, CO) integers at the pattern's positions, in tap order,
    as conv_pe.arrays does) or None. A PE that reads several input channels (it chooses one by
    cycle: the plan's shared remainders) has no RTL form here."""
    if not 0 <= pe < len(plan.pes):
        raise IKRHLSError(f"the plan has PEs 0..{len(plan.pes) - 1}, not {pe}")
    codes = np.asarray(kernel_codes)
    if codes.ndim != 4 or not np.issubdtype(codes.dtype, np.integer):
        raise IKRHLSError(f"kernel codes: expected integers of shape (KH, KW, CI, CO), got {codes.dtype} {codes.shape}")
    channels = plan.channels(pe)
    if len(channels) > 1:
        raise IKRHLSError(f"PE {pe} reads input channels {channels}, one chosen by cycle (a shared PE): "
                          "its channel multiplexer is not part of the ROM PE's RTL")
    kw = codes.shape[1]
    return [None if slot is None else
            (slot[2], [int(codes[pos // kw, pos % kw, slot[0], slot[1]]) for pos in plan.library[slot[2]]])
            for slot in plan.pes[pe]]


def plan_library(plan, kh: int, kw: int) -> np.ndarray:
    """A conv_pe.PEPlan's library (position lists, ids in order) as bool (L, KH, KW) masks."""
    return library_from_positions(kh, kw, plan.library)


def rom_pe_of_plan(plan, pe: int, kernel_codes, weight_bits: int = 8, act_bits: int = 8,
                   acc_bits: int | None = None) -> PESpec:
    """The ROM PE `pe` of a conv_pe.PEPlan (conv_pe.plan(kernel, R)), with the weight codes
    kernel_codes (KH, KW, CI, CO) integers, e.g. the kernel quantised to the layer's weight type."""
    kh, kw = np.asarray(kernel_codes).shape[:2]
    return rom_pe(plan_library(plan, kh, kw), plan_slots(plan, pe, kernel_codes), plan.keep,
                  weight_bits=weight_bits, act_bits=act_bits, acc_bits=acc_bits)


def sparse_pe(kh: int, kw: int, keep: int, weight_bits: int = 8, act_bits: int = 8,
              acc_bits: int | None = None) -> PESpec:
    """Unstructured sparse PE: `keep` multipliers, each with a free position index."""
    _check_kernel(kh, kw)
    if not isinstance(keep, (int, np.integer)) or not 1 <= keep <= kh * kw:
        raise IKRHLSError(f"sparse PE keep must be in 1..{kh * kw} for a {kh}x{kw} kernel, got {keep!r}")
    return _make("sparse", kh, kw, keep, weight_bits, act_bits, acc_bits)


def dense_pe(kh: int, kw: int, weight_bits: int = 8, act_bits: int = 8,
             acc_bits: int | None = None) -> PESpec:
    """Dense PE: one multiplier per kernel position."""
    _check_kernel(kh, kw)
    return _make("dense", kh, kw, kh * kw, weight_bits, act_bits, acc_bits)


def random_library(kh: int, kw: int, keep: int, size: int, seed: int) -> np.ndarray:
    """`size` distinct random patterns of `keep` positions, bool (size, KH, KW), reproducible."""
    positions = kh * kw
    if size > math.comb(positions, keep):
        raise IKRHLSError(f"a {kh}x{kw} kernel has only {math.comb(positions, keep)} patterns of "
                          f"{keep} positions, fewer than {size}")
    rng = np.random.default_rng(seed)
    chosen: list[tuple] = []
    while len(chosen) < size:
        pattern = tuple(sorted(rng.choice(positions, keep, replace=False).tolist()))
        if pattern not in chosen:
            chosen.append(pattern)
    masks = np.zeros((size, positions), dtype=bool)
    for row, pattern in enumerate(chosen):
        masks[row, list(pattern)] = True
    return masks.reshape(size, kh, kw)


def random_rom(library_size: int, keep: int, depth: int, weight_bits: int, seed: int) -> list:
    """`depth` ROM words (pattern id, keep weight codes) for rom_pe, reproducible: uniform
    pattern ids and weight codes, a fifth of the weights at the extreme codes."""
    rng = np.random.default_rng(seed)
    t = FixedType(True, weight_bits, weight_bits)
    patterns = rng.integers(0, library_size, size=depth)
    codes = rng.integers(t.min_code, t.max_code + 1, size=(depth, keep))
    edge = rng.random((depth, keep)) < 0.2
    codes = np.where(edge, rng.choice([t.min_code, t.max_code], size=(depth, keep)), codes)
    return [(int(p), [int(w) for w in row]) for p, row in zip(patterns, codes, strict=True)]


def library_from_positions(kh: int, kw: int, patterns: Sequence[Sequence[int]]) -> np.ndarray:
    """Position lists -> bool (L, KH, KW) masks (handy for hand-written libraries)."""
    masks = np.zeros((len(patterns), kh * kw), dtype=bool)
    for row, pattern in enumerate(patterns):
        if any(not 0 <= p < kh * kw for p in pattern):
            raise IKRHLSError(f"pattern {list(pattern)}: positions must be in 0..{kh * kw - 1}")
        masks[row, list(pattern)] = True
    return masks.reshape(len(patterns), kh, kw)
