"""What one conv processing element (PE) computes, in each of its three hardware forms.

A PE takes one KH x KW window of signed activations and returns the sum of products of its
weights with some of the window's positions:

- ``ikr``    `keep` multipliers; multiplier i reads the i-th position (ascending) of the
             pattern that the pattern id selects from the layer's library, a constant of the
             generated hardware;
- ``sparse`` `keep` multipliers; multiplier i reads the position its own index selects
             (unstructured sparsity: any position, a KH*KW-to-1 multiplexer per multiplier);
- ``dense``  KH*KW multipliers, multiplier j reads position j; no index.

Positions are flat, row-major: ``row * KW + col``, as in ikr_hls.patterns.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import IKRHLSError
from ..precision import FixedType

FORMS = ("ikr", "sparse", "dense")
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
    library: tuple = ()                         # ikr only: per pattern, its positions ascending

    @property
    def positions(self) -> int:
        return self.kh * self.kw

    @property
    def select_bits(self) -> int:
        """Width of the select input: pattern id (ikr), per-multiplier index (sparse), 0 (dense)."""
        if self.form == "ikr":
            return bits_for(len(self.library))
        if self.form == "sparse":
            return self.keep * self.index_bits
        return 0

    @property
    def index_bits(self) -> int:
        return bits_for(self.positions)

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

    def describe(self) -> str:
        size = f"{self.kh}x{self.kw}"
        if self.form == "ikr":
            shape = f"IKR PE {size}, keep {self.keep}, {len(self.library)}-pattern library"
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


def library_from_positions(kh: int, kw: int, patterns: Sequence[Sequence[int]]) -> np.ndarray:
    """Position lists -> bool (L, KH, KW) masks (handy for hand-written libraries)."""
    masks = np.zeros((len(patterns), kh * kw), dtype=bool)
    for row, pattern in enumerate(patterns):
        if any(not 0 <= p < kh * kw for p in pattern):
            raise IKRHLSError(f"pattern {list(pattern)}: positions must be in 0..{kh * kw - 1}")
        masks[row, list(pattern)] = True
    return masks.reshape(len(patterns), kh, kw)
