"""Intra-Kernel Regular (IKR) patterns: libraries, assignment, and reading them back (numpy only).

Vocabulary (see docs/pruning.md):

- a *kernel* is one slice ``W[:, :, ci, co]`` of a Conv2D kernel in Keras HWIO layout;
- a *pattern* is a boolean mask over the ``KH*KW`` positions of a kernel, with ``keep`` ones;
- a layer's *library* holds at most ``library_size`` patterns, as a bool array (L, KH*KW);
- the *assignment* gives each kernel the index of its library pattern (-1: kernel removed).

Kernels are handled as rows of an energy matrix (n_kernels, KH*KW) holding w**2, row
``ci * CO + co`` for kernel ``W[:, :, ci, co]`` (see `kernel_energy`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .errors import IKRHLSError

LIBRARY_METHODS = ("refine", "all")
# Enumerating every pattern is only for small kernels (3x3: at most 126 patterns).
MAX_ENUMERATED_PATTERNS = 200_000

LibrarySpec = str | Sequence | np.ndarray


# ---------------------------------------------------------------------------------------------
# Kernels as rows


def kernel_energy(kernel_hwio: np.ndarray) -> np.ndarray:
    """(n_kernels, KH*KW) float64 array of w**2; row ``ci * CO + co`` is kernel W[:, :, ci, co]."""
    w = np.asarray(kernel_hwio, dtype=np.float64)
    if w.ndim != 4:
        raise IKRHLSError(f"a Conv2D kernel has 4 axes (KH, KW, CI, CO); got shape {w.shape}")
    kh, kw, ci, co = w.shape
    return np.square(w.reshape(kh * kw, ci * co).T)


def rows_to_hwio(rows: np.ndarray, kernel_shape: tuple) -> np.ndarray:
    """Inverse of the row layout of `kernel_energy`: (CI*CO, KH*KW) -> (KH, KW, CI, CO)."""
    kh, kw, ci, co = kernel_shape
    return np.asarray(rows).T.reshape(kh, kw, ci, co)


def center_index(kh: int, kw: int) -> int:
    """Flat index of the kernel centre; only odd kernel sizes have one."""
    if kh % 2 == 0 or kw % 2 == 0:
        raise IKRHLSError(f"force_center needs odd kernel sizes; a {kh}x{kw} kernel has no centre")
    return (kh // 2) * kw + kw // 2


def unique_masks(masks: np.ndarray) -> tuple:
    """(rows, inverse, counts) of a bool matrix, as np.unique(masks, axis=0, return_inverse=True,
    return_counts=True) gives them (rows in lexicographic order), in one sort of integers: each
    row is read as a binary number, its first position the most significant bit (rows of up to
    63 positions; longer ones take np.unique's own path)."""
    masks = np.asarray(masks, dtype=bool)
    n, width = masks.shape
    if width > 63 or n == 0:
        rows, inverse, counts = np.unique(masks, axis=0, return_inverse=True, return_counts=True)
        return rows, inverse.reshape(-1), counts
    weights = np.left_shift(np.int64(1), np.arange(width - 1, -1, -1, dtype=np.int64))
    keys = masks.astype(np.int64) @ weights
    values, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
    return masks[first], inverse.reshape(-1), counts


# ---------------------------------------------------------------------------------------------
# Candidate patterns and per-kernel best patterns


def all_patterns(kh: int, kw: int, keep: int, force_center: bool = False) -> np.ndarray:
    """Every pattern with `keep` of the KH*KW positions, as bool (C(KH*KW, keep), KH*KW)."""
    size = kh * kw
    _check_keep(keep, size, f"{kh}x{kw} kernel")
    center = center_index(kh, kw) if force_center else None
    count = math.comb(size - (center is not None), keep - (center is not None))
    if count > MAX_ENUMERATED_PATTERNS:
        raise IKRHLSError(f"{count} patterns of {keep} out of {kh}x{kw} positions are too many to "
                          f"enumerate (limit {MAX_ENUMERATED_PATTERNS}); use library='refine'")
    return _enumerate(size, keep, center)


def top_keep(energy: np.ndarray, keep: int, center: int | None = None) -> np.ndarray:
    """Bool masks (n, P) of each row's `keep` largest entries (ties: lower position first).

    With `center` (a flat index) that position is always kept: it is the best pattern under
    force_center for a kernel, or for a sum of kernels.
    """
    energy = np.atleast_2d(np.asarray(energy, dtype=np.float64))
    score = energy.copy()
    if center is not None:
        score[:, center] = np.inf
    order = np.argsort(-score, axis=1, kind="stable")[:, :keep]
    masks = np.zeros(energy.shape, dtype=bool)
    np.put_along_axis(masks, order, True, axis=1)
    return masks


def assign(energy: np.ndarray, library: np.ndarray) -> np.ndarray:
    """Index of the library pattern keeping the most energy, per kernel: one matrix product.

    Ties go to the lower index, so all-zero kernels get pattern 0.
    """
    kept = np.asarray(energy, dtype=np.float64) @ np.asarray(library, dtype=np.float64).T
    return np.argmax(kept, axis=1)


def kept_energy(energy: np.ndarray, library: np.ndarray, assignment: np.ndarray) -> np.ndarray:
    """Energy each kernel keeps under its assigned pattern (0 where assignment is -1)."""
    library = np.asarray(library, dtype=bool)
    assignment = np.asarray(assignment)
    kept = np.zeros(len(energy))
    live = assignment >= 0
    kept[live] = (energy[live] * library[assignment[live]]).sum(axis=1)
    return kept


def total_kept_energy(energy: np.ndarray, library: np.ndarray) -> float:
    """Energy the whole layer keeps when each kernel takes its best library pattern."""
    if len(library) == 0:
        return 0.0
    return float(np.max(energy @ np.asarray(library, dtype=np.float64).T, axis=1).sum())


# ---------------------------------------------------------------------------------------------
# Building a library


def seed_library(energy: np.ndarray, keep: int, size: int, center: int | None = None) -> np.ndarray:
    """The kernels' own top-`keep` position sets, most frequent first, at most `size` of them.

    Equal counts (the usual case on 5x5 kernels, where nearly every set is unique) are
    ordered by the energy those kernels hold, so large kernels seed first. All-zero kernels
    have no preference and are ignored.
    """
    energy = np.asarray(energy, dtype=np.float64)
    live = energy[energy.sum(axis=1) > 0]
    if len(live) == 0:
        return top_keep(np.zeros((1, energy.shape[1])), keep, center)
    tops = top_keep(live, keep, center)
    sets, inverse, counts = unique_masks(tops)
    weight = np.bincount(inverse, weights=(live * tops).sum(axis=1), minlength=len(sets))
    order = np.lexsort((-weight, -counts))          # last key is primary: count, then energy
    return sets[order[:size]]


def refine_library(energy: np.ndarray, library: np.ndarray, keep: int, center: int | None = None,
                   candidates: np.ndarray | None = None, max_iter: int = 100,
                   swaps: bool = True) -> np.ndarray:
    """Improve a library's total kept energy; never returns less than it was given.

    Lloyd steps: assign each kernel its best pattern; replace each pattern by the best pattern
    for the summed energy of its kernels (top-`keep` positions, or the best of `candidates`).
    Empty clusters and duplicates free a slot, which goes to the best pattern of the
    worst-served kernel. Repeated until the library no longer changes or stops gaining.
    Lloyd stalls in local optima (on trained 5x5 kernels it often cannot move at all), so with
    `swaps` each slot is then offered every pattern of a candidate pool (`candidate_pool`) and
    takes the one that raises the total most; the two alternate until neither gains.
    """
    energy = np.asarray(energy, dtype=np.float64)
    energy = energy[energy.sum(axis=1) > 0]
    library = np.asarray(library, dtype=bool)
    if len(energy) == 0 or len(library) == 0:
        return library
    cand = None if candidates is None else np.asarray(candidates, dtype=bool)
    if cand is None and len(seed_library(energy, keep, len(library) + 1, center)) <= len(library):
        # room for every kernel's own top set: nothing can keep more energy than that
        own = top_keep(energy, keep, center)
        return _fill(_unique_rows(library), len(library), energy, own, (energy * own).sum(axis=1))
    pool = pool_energy = None
    if swaps:
        pool = cand if cand is not None else candidate_pool(energy, keep, center)
        pool_energy = energy @ pool.T.astype(np.float64)                    # (n, C), once
    tol = 1e-12 * float(energy.sum())
    best, best_total = library, total_kept_energy(energy, library)
    for _ in range(max_iter):
        improved = _lloyd(energy, best, keep, center, cand, max_iter)
        if swaps:
            improved = _swap(energy, improved, pool, pool_energy, tol)
        total = total_kept_energy(energy, improved)
        if total <= best_total + tol:
            break
        best, best_total = improved, total
    return best


def _lloyd(energy, library, keep, center, cand, max_iter):
    def best_for(summed: np.ndarray) -> np.ndarray:
        if cand is None:
            return top_keep(summed, keep, center)
        return cand[np.argmax(np.atleast_2d(summed) @ cand.T.astype(np.float64), axis=1)]

    size = len(library)
    own_best = best_for(energy)
    own_best_energy = (energy * own_best).sum(axis=1)
    current, current_total = library, total_kept_energy(energy, library)
    for _ in range(max_iter):
        labels = assign(energy, current)
        rows = [best_for(energy[labels == j].sum(axis=0))[0]
                for j in range(len(current)) if np.any(labels == j)]
        updated = _fill(_unique_rows(np.array(rows)), size, energy, own_best, own_best_energy)
        total = total_kept_energy(energy, updated)
        if _same_set(updated, current) or total <= current_total:
            break
        current, current_total = updated, total
    return current


def _swap(energy, library, pool, pool_energy, tol):
    """Best-improvement single-pattern swaps against the pool until a full pass gains nothing."""
    kept = energy @ library.T.astype(np.float64)                  # (n, L)
    library = library.copy()
    improved = True
    while improved:
        improved = False
        for slot in range(len(library)):
            others = np.delete(kept, slot, axis=1)
            base = others.max(axis=1) if others.shape[1] else np.zeros(len(energy))
            totals = np.maximum(base[:, None], pool_energy).sum(axis=0)
            choice = int(np.argmax(totals))
            if totals[choice] > kept.max(axis=1).sum() + tol:
                library[slot] = pool[choice]
                kept[:, slot] = pool_energy[:, choice]
                improved = True
    return _unique_rows(library)


# Bounds of the swap search: patterns enumerated, and entries of its (kernels x patterns)
# matrix (float64: 160 MB). 3x3 kernels and 5x5 with keep <= 4 enumerate everything.
MAX_POOL_PATTERNS = 20_000
MAX_POOL_ENTRIES = 20_000_000


def candidate_pool(energy: np.ndarray, keep: int, center: int | None = None) -> np.ndarray:
    """Patterns the swap search may try: all C(KH*KW, keep) when there are few enough (see
    MAX_POOL_PATTERNS), else the kernels' own top sets, most frequent first, as many as fit."""
    n, size = energy.shape
    fixed = 0 if center is None else 1
    count = math.comb(size - fixed, keep - fixed)
    if count <= MAX_POOL_PATTERNS and count * n <= MAX_POOL_ENTRIES:
        return _enumerate(size, keep, center)
    return seed_library(energy, keep, max(1, MAX_POOL_ENTRIES // n), center)


def _enumerate(size: int, keep: int, center: int | None) -> np.ndarray:
    from itertools import combinations
    fixed = [] if center is None else [center]
    free = [p for p in range(size) if p not in fixed]
    combos = list(combinations(free, keep - len(fixed)))
    out = np.zeros((len(combos), size), dtype=bool)
    for i, chosen in enumerate(combos):
        out[i, list(chosen) + fixed] = True
    return out


def _fill(library: np.ndarray, size: int, energy: np.ndarray, own_best: np.ndarray,
          own_best_energy: np.ndarray) -> np.ndarray:
    """Grow a library to `size` with the best patterns of the worst-served kernels."""
    rows = list(library)
    while len(rows) < size:
        served = np.max(energy @ np.array(rows, dtype=np.float64).T, axis=1)
        loss = own_best_energy - served
        worst = int(np.argmax(loss))
        if loss[worst] <= 0:
            break                                   # every kernel already has its best pattern
        rows.append(own_best[worst])
    return np.array(rows, dtype=bool)


def _unique_rows(masks: np.ndarray) -> np.ndarray:
    """Distinct rows in first-seen order."""
    _, first = np.unique(masks, axis=0, return_index=True)
    return masks[np.sort(first)]


def _same_set(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and np.array_equal(np.unique(a, axis=0), np.unique(b, axis=0))


def choose_patterns(energy: np.ndarray, keep: int, kernel_size: tuple, library_size: int = 8,
                    library: LibrarySpec = "refine", force_center: bool = False):
    """(library bool (L, KH*KW), assignment int (n_kernels,)) for one layer's kernels.

    library="refine": seed (`seed_library`) then `refine_library`, at most `library_size`.
    library="all":    every C(KH*KW, keep) pattern is allowed, so each kernel simply keeps its
                      own top-`keep` positions; the library returned is the patterns in use
                      and `library_size` does not apply.
    a list/array:     the user's patterns (each with `keep` positions); if there are more than
                      `library_size`, the best `library_size` of them are chosen by the same
                      refinement restricted to the list.
    The returned library holds only patterns in use, most used first.
    """
    kh, kw = kernel_size
    size = kh * kw
    energy = np.asarray(energy, dtype=np.float64)
    _check_keep(keep, size, f"{kh}x{kw} kernel")
    _check_library_size(library_size)
    center = center_index(kh, kw) if force_center else None
    if isinstance(library, str):
        if library not in LIBRARY_METHODS:
            raise IKRHLSError(f"library={library!r} is not known; use one of {list(LIBRARY_METHODS)} "
                              "or a list of patterns")
        if library == "all":
            lib, assignment = _own_top_sets(energy, keep, center)
            return _order_by_usage(lib, assignment)
        lib = refine_library(energy, seed_library(energy, keep, library_size, center), keep, center)
    else:
        cand = as_pattern_array(library, kernel_size, keep, force_center)
        lib = cand if len(cand) <= library_size else refine_library(
            energy, _seed_from_candidates(energy, cand, library_size), keep, center, candidates=cand)
    assignment = assign(energy, lib)
    return _order_by_usage(lib, assignment)


def _own_top_sets(energy: np.ndarray, keep: int, center: int | None):
    """library="all": each kernel keeps its own top set; no (n x C) matrix is formed."""
    tops = top_keep(energy, keep, center)
    lib = seed_library(energy, keep, max(len(energy), 1), center)
    index = {row.tobytes(): i for i, row in enumerate(lib)}
    assignment = np.array([index.get(row.tobytes(), 0) for row in tops], dtype=np.int64)
    return lib, assignment


def _seed_from_candidates(energy: np.ndarray, candidates: np.ndarray, size: int) -> np.ndarray:
    """The user's patterns that most kernels prefer (then by the energy they keep), `size` of them."""
    live = energy[energy.sum(axis=1) > 0]
    if len(live) == 0:
        return candidates[:size]
    labels = assign(live, candidates)
    counts = np.bincount(labels, minlength=len(candidates))
    weight = np.bincount(labels, weights=kept_energy(live, candidates, labels), minlength=len(candidates))
    return candidates[np.lexsort((-weight, -counts))[:size]]


def _order_by_usage(library: np.ndarray, assignment: np.ndarray):
    """Most used pattern first; patterns no kernel uses are dropped (one stays if none is used)."""
    counts = np.bincount(assignment[assignment >= 0], minlength=len(library))
    order = np.argsort(-counts, kind="stable")
    order = order[:max(1, int(np.count_nonzero(counts)))]
    rank = np.zeros(len(library), dtype=np.int64)
    rank[order] = np.arange(len(order))
    new_assignment = np.where(assignment >= 0, rank[np.maximum(assignment, 0)], -1)
    return library[order], new_assignment


def as_pattern_array(patterns, kernel_size: tuple, keep: int | None = None,
                     force_center: bool = False) -> np.ndarray:
    """Validate user patterns (each KHxKW or flat KH*KW, 0/1 or bool) -> bool (L, KH*KW)."""
    kh, kw = kernel_size
    try:
        arr = np.asarray(patterns)
    except ValueError:
        raise IKRHLSError(f"patterns must all have the shape {kh}x{kw}") from None
    if arr.ndim == 3 and arr.shape[1:] == (kh, kw):
        arr = arr.reshape(len(arr), kh * kw)
    if arr.ndim != 2 or arr.shape[1] != kh * kw or len(arr) == 0:
        raise IKRHLSError(f"patterns must be a non-empty list of {kh}x{kw} masks (or flat masks of "
                          f"{kh * kw}); got an array of shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise IKRHLSError("pattern masks must hold only 0/1 or False/True")
    arr = arr.astype(bool)
    counts = arr.sum(axis=1)
    if keep is not None and np.any(counts != keep):
        raise IKRHLSError(f"every pattern must keep {keep} positions; the given ones keep "
                          f"{sorted(set(counts.tolist()))}")
    if len(set(counts.tolist())) != 1:
        raise IKRHLSError(f"all patterns of a layer must keep the same number of positions; got "
                          f"{sorted(set(counts.tolist()))}")
    if force_center and not arr[:, center_index(kh, kw)].all():
        raise IKRHLSError("force_center=True but some of the given patterns do not keep the centre")
    if len(_unique_rows(arr)) != len(arr):
        raise IKRHLSError("the given patterns contain duplicates")
    return arr


def kernel_mask(library: np.ndarray, assignment: np.ndarray, kernel_shape: tuple) -> np.ndarray:
    """Bool (KH, KW, CI, CO) mask that keeps each kernel's assigned pattern (none for -1)."""
    library = np.asarray(library, dtype=bool)
    assignment = np.asarray(assignment).reshape(-1)
    rows = np.zeros((len(assignment), library.shape[1]), dtype=bool)
    live = assignment >= 0
    rows[live] = library[assignment[live]]
    return rows_to_hwio(rows, kernel_shape)


# ---------------------------------------------------------------------------------------------
# Reading patterns back from a kernel's zeros


class LayerPatterns(NamedTuple):
    """Patterns found in a conv kernel's zeros.

    library:    bool (L, KH, KW), most used first.
    assignment: int (CI, CO), index into library; -1 for all-zero kernels.
    keep:       positions per pattern when the layer is IKR-regular, else None.
    """
    library: np.ndarray
    assignment: np.ndarray
    keep: int | None

    @property
    def regular(self) -> bool:
        return self.keep is not None

    def usage(self) -> np.ndarray:
        """How many kernels use each library pattern."""
        a = self.assignment.reshape(-1)
        return np.bincount(a[a >= 0], minlength=len(self.library))


def patterns_from_kernel(kernel_hwio: np.ndarray) -> LayerPatterns:
    """The library and assignment that a Conv2D kernel's zeros describe.

    `keep` is the largest number of nonzeros in a kernel; the library is the distinct supports
    of the kernels that have that many. A kernel with fewer nonzeros (a kept weight that is
    exactly 0.0) takes the most used library pattern that covers it: the hardware multiplies
    that weight by zero, which is still correct. If some nonzero kernel fits no library pattern
    the layer is irregular: keep is None and the library lists every distinct support, of
    varying sizes.
    """
    w = np.asarray(kernel_hwio)
    kh, kw, ci, co = w.shape
    support = (w != 0).reshape(kh * kw, ci * co).T          # (n_kernels, P), row ci*CO+co
    counts = support.sum(axis=1)
    keep = int(counts.max()) if counts.size else 0
    assignment = np.full(ci * co, -1, dtype=np.int64)
    if keep == 0:
        return LayerPatterns(np.zeros((0, kh, kw), dtype=bool), assignment.reshape(ci, co), 0)
    full = counts == keep
    library, inverse, usage = unique_masks(support[full])
    assignment[full] = inverse.reshape(-1)
    partial = np.flatnonzero((counts > 0) & ~full)
    regular = True
    if len(partial):
        # covered by pattern j  <=>  no nonzero outside it
        outside = support[partial].astype(np.int64) @ (~library).T.astype(np.int64)
        covered = outside == 0
        usage_rank = np.where(covered, usage[None, :], -1)
        best = np.argmax(usage_rank, axis=1)
        ok = covered.any(axis=1)
        assignment[partial[ok]] = best[ok]
        if not ok.all():
            regular = False
            extra, extra_inverse, _ = unique_masks(support[partial[~ok]])
            assignment[partial[~ok]] = len(library) + extra_inverse.reshape(-1)
            library = np.concatenate([library, extra])
    library, assignment = _order_by_usage(library, assignment)
    return LayerPatterns(library.reshape(-1, kh, kw), assignment.reshape(ci, co),
                         keep if regular else None)


def is_ikr_regular(kernel_hwio: np.ndarray) -> bool:
    """True when every nonzero kernel fits one pattern of a common size `keep` (see
    `patterns_from_kernel`); in particular when every nonzero kernel has the same count."""
    return patterns_from_kernel(kernel_hwio).regular


def draw(pattern: np.ndarray, kept: str = "#", pruned: str = ".") -> list:
    """A (KH, KW) mask as text rows, e.g. ['.#.', '###', '.#.']."""
    pattern = np.asarray(pattern, dtype=bool)
    return ["".join(kept if v else pruned for v in row) for row in pattern]


def draw_library(library, usage, max_drawn: int = 16, width: int = 76) -> list:
    """A pattern library as text lines: rows of numbered KHxKW grids ('#' kept, '.' pruned),
    each with the number of kernels using it below, at most `max_drawn` patterns, in rows
    of at most `width` characters. Shared by the report and pruning.summary."""
    library = np.asarray(library, dtype=bool)
    shown = list(range(min(len(library), max_drawn)))
    kw = library.shape[2] if library.ndim == 3 else 1
    cell = max(kw, 5)
    per_row = max(1, width // (cell + 2))
    lines = []
    for start in range(0, len(shown), per_row):
        chunk = shown[start:start + per_row]
        lines.append("  " + "  ".join(f"#{i}".ljust(cell) for i in chunk).rstrip())
        grids = [draw(library[i]) for i in chunk]
        for row in range(library.shape[1]):
            lines.append("  " + "  ".join(g[row].ljust(cell) for g in grids).rstrip())
        lines.append("  " + "  ".join(f"x{usage[i]}".ljust(cell) for i in chunk).rstrip())
    if len(library) > max_drawn:
        lines.append(f"  ... and {len(library) - max_drawn} more")
    return lines


# ---------------------------------------------------------------------------------------------
# Validation shared with pruning


def _check_keep(keep, size: int, where: str) -> None:
    if isinstance(keep, bool) or not isinstance(keep, (int, np.integer)) or not 1 <= keep <= size:
        raise IKRHLSError(f"keep={keep!r} for the {where}: must be an integer from 1 to {size}")


def _check_library_size(library_size) -> None:
    if isinstance(library_size, bool) or not isinstance(library_size, (int, np.integer)) or library_size < 1:
        raise IKRHLSError(f"library_size={library_size!r}: must be a positive integer")
