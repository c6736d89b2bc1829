"""ikr_hls.patterns: libraries, assignment and reading patterns back, checked by brute force."""
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikr_hls import IKRHLSError
from ikr_hls import patterns as P

LENET = Path(__file__).resolve().parents[1] / "examples" / "models" / "lenet5.h5"


def random_kernel(seed, shape=(3, 3, 4, 6)):
    """Gaussian weights with a per-position scale, so some positions matter more (as in training)."""
    rng = np.random.default_rng(seed)
    kh, kw = shape[:2]
    return rng.normal(size=shape) * rng.uniform(0.2, 2.0, size=(kh, kw, 1, 1))


def lenet_kernel(name):
    import h5py  # Keras's own dependency

    assert LENET.is_file(), f"{LENET} is shipped with the repository (examples/train_lenet5.py makes it)"
    with h5py.File(LENET, "r") as f:
        found = []
        f.visititems(lambda path, obj: found.append(path)
                     if isinstance(obj, h5py.Dataset) and f"/{name}/" in f"/{path}" and "kernel" in path
                     and "optimizer" not in path else None)
        assert len(found) == 1, found
        return np.array(f[found[0]])


def brute_total(energy, library):
    """Kept energy of a library: every kernel tries every pattern in a plain loop."""
    total = 0.0
    for row in energy:
        total += max(sum(row[p] for p in range(len(row)) if pattern[p]) for pattern in library)
    return total


# ----- layout and basic operations

def test_kernel_energy_rows_are_kernels_in_ci_co_order():
    w = random_kernel(0, (3, 5, 2, 4))
    energy = P.kernel_energy(w)
    for ci in range(2):
        for co in range(4):
            np.testing.assert_array_equal(energy[ci * 4 + co], w[:, :, ci, co].ravel() ** 2)
    np.testing.assert_array_equal(P.rows_to_hwio(np.sqrt(energy) * np.sign(w.reshape(15, 8).T), w.shape), w)


def test_all_patterns_count_and_centre():
    pats = P.all_patterns(3, 3, 4)
    assert pats.shape == (126, 9) and np.all(pats.sum(axis=1) == 4)
    assert len(np.unique(pats, axis=0)) == 126
    centred = P.all_patterns(3, 3, 4, force_center=True)
    assert len(centred) == 56 and centred[:, 4].all()          # C(8, 3)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 9), st.integers(1, 12), st.integers(1, 20))
def test_assign_equals_brute_force_loop(seed, keep, n_lib, n_kernels):
    rng = np.random.default_rng(seed)
    energy = rng.random((n_kernels, 9))
    pool = P.all_patterns(3, 3, keep)
    library = pool[rng.choice(len(pool), size=min(n_lib, len(pool)), replace=False)]
    got = P.assign(energy, library)
    for k, row in enumerate(energy):
        kept = [sum(row[p] for p in range(9) if pattern[p]) for pattern in library]
        assert kept[got[k]] == pytest.approx(max(kept), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.booleans())
def test_top_keep_is_the_best_single_pattern(seed, keep, centre):
    energy = np.random.default_rng(seed).random((5, 9))
    tops = P.top_keep(energy, keep, 4 if centre else None)
    pool = P.all_patterns(3, 3, keep, force_center=centre)
    for row, top in zip(energy, tops, strict=True):
        assert top.sum() == keep and (top[4] or not centre)
        assert (row * top).sum() == pytest.approx(max((row * p).sum() for p in pool), rel=1e-12)


# ----- library quality

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape,keep,size", [((3, 3, 8, 8), 4, 8), ((3, 3, 4, 16), 2, 4),
                                             ((5, 5, 6, 16), 3, 8), ((5, 5, 6, 16), 6, 8)])
def test_refined_library_keeps_at_least_the_seed_energy_on_random_weights(seed, shape, keep, size):
    energy = P.kernel_energy(random_kernel(seed, shape))
    seed_lib = P.seed_library(energy, keep, size)
    lloyd = P.refine_library(energy, seed_lib, keep, swaps=False)
    refined = P.refine_library(energy, seed_lib, keep)
    for lib in (lloyd, refined):
        assert len(lib) <= size and np.all(lib.sum(axis=1) == keep)
        assert len(np.unique(lib, axis=0)) == len(lib)                # no duplicates
    assert brute_total(energy, lloyd) >= brute_total(energy, seed_lib) - 1e-9
    assert brute_total(energy, refined) >= brute_total(energy, lloyd) - 1e-9


@pytest.mark.parametrize("keep", [2, 3, 4, 6, 9])
def test_refined_library_beats_the_seed_on_trained_lenet_conv2(keep):
    energy = P.kernel_energy(lenet_kernel("conv2"))
    seed_lib = P.seed_library(energy, keep, 8)
    library, assignment = P.choose_patterns(energy, keep, (5, 5), 8)
    refined = brute_total(energy, library)
    # nearly every kernel's top set is unique there, so only the refinement can do better
    assert refined > brute_total(energy, seed_lib)
    assert refined == pytest.approx(P.kept_energy(energy, library, assignment).sum(), rel=1e-12)
    assert refined <= brute_total(energy, P.top_keep(energy, keep)) + 1e-9   # per-kernel optimum


def test_refinement_is_swap_optimal_and_often_globally_optimal():
    """Exhaustive check on small problems: the best library of L patterns out of all C(9, keep)."""
    hits_refined = hits_seed = 0
    cases = [(seed, keep, size) for seed in range(8) for keep, size in ((2, 2), (3, 3), (4, 2))]
    for seed, keep, size in cases:
        energy = P.kernel_energy(random_kernel(seed))
        pool = P.all_patterns(3, 3, keep)
        table = energy @ pool.T
        optimum = max(table[:, list(c)].max(axis=1).sum()
                      for c in itertools.combinations(range(len(pool)), size))
        library, _ = P.choose_patterns(energy, keep, (3, 3), size)
        got = brute_total(energy, library)
        assert got <= optimum + 1e-9
        # no single pattern swap improves it (checked over every slot and every pattern)
        for slot in range(len(library)):
            for candidate in pool:
                trial = library.copy()
                trial[slot] = candidate
                assert brute_total(energy, trial) <= got + 1e-9
        hits_refined += got >= optimum - 1e-9
        hits_seed += brute_total(energy, P.seed_library(energy, keep, size)) >= optimum - 1e-9
    assert hits_refined > hits_seed
    assert hits_refined >= len(cases) // 2


def test_library_smaller_than_size_when_few_top_sets():
    # 6 kernels (conv1 of LeNet): every kernel gets its own best pattern
    energy = P.kernel_energy(random_kernel(3, (5, 5, 1, 6)))
    library, assignment = P.choose_patterns(energy, 4, (5, 5), 8)
    assert len(library) <= 6
    np.testing.assert_allclose(P.kept_energy(energy, library, assignment),
                               (energy * P.top_keep(energy, 4)).sum(axis=1))


def test_force_center_patterns_all_hold_the_centre():
    energy = P.kernel_energy(random_kernel(1, (3, 3, 8, 8)))
    library, _ = P.choose_patterns(energy, 3, (3, 3), 4, force_center=True)
    assert library[:, 4].all() and np.all(library.sum(axis=1) == 3)
    with pytest.raises(IKRHLSError, match="4x4"):
        P.choose_patterns(P.kernel_energy(random_kernel(1, (4, 4, 2, 2))), 3, (4, 4), 4, force_center=True)


def test_library_all_gives_every_kernel_its_best_pattern():
    energy = P.kernel_energy(random_kernel(2, (3, 3, 6, 6)))
    library, assignment = P.choose_patterns(energy, 4, (3, 3), 8, library="all")
    pool = P.all_patterns(3, 3, 4)
    best = (energy @ pool.T).max(axis=1)
    np.testing.assert_allclose(P.kept_energy(energy, library, assignment), best)
    assert len(library) > 8                  # library_size does not apply to "all"


def test_explicit_library_is_used_as_given_or_narrowed_to_size():
    energy = P.kernel_energy(random_kernel(4, (3, 3, 6, 6)))
    pool = P.all_patterns(3, 3, 3)
    given = pool[::10]                        # 9 user patterns
    library, assignment = P.choose_patterns(energy, 3, (3, 3), 16, library=given.reshape(-1, 3, 3))
    assert {r.tobytes() for r in library} <= {r.tobytes() for r in given}
    np.testing.assert_allclose(P.kept_energy(energy, library, assignment), (energy @ given.T).max(axis=1))
    narrowed, _ = P.choose_patterns(energy, 3, (3, 3), 4, library=given)
    assert len(narrowed) <= 4 and {r.tobytes() for r in narrowed} <= {r.tobytes() for r in given}
    seed = P._seed_from_candidates(energy, given, 4)
    assert brute_total(energy, narrowed) >= brute_total(energy, seed) - 1e-9


@pytest.mark.parametrize("bad,match", [
    ([[1, 1, 0, 0, 0, 0, 0, 0, 0]], "keep 3"),                     # wrong count
    ([[1, 1, 1, 0]], "3x3"),                                        # wrong shape
    ([[1, 1, 1, 0, 0, 0, 0, 0, 0]] * 2, "duplicates"),
    ([[2, 1, 1, 0, 0, 0, 0, 0, 0]], "0/1"),
])
def test_explicit_library_validation(bad, match):
    energy = P.kernel_energy(random_kernel(0))
    with pytest.raises(IKRHLSError, match=match):
        P.choose_patterns(energy, 3, (3, 3), 8, library=bad)


@pytest.mark.parametrize("keep", [0, 10, 2.5, True])
def test_keep_out_of_range_raises(keep):
    with pytest.raises(IKRHLSError, match="keep"):
        P.choose_patterns(P.kernel_energy(random_kernel(0)), keep, (3, 3))


def test_unknown_library_method_raises_with_valid_values():
    with pytest.raises(IKRHLSError, match="refine"):
        P.choose_patterns(P.kernel_energy(random_kernel(0)), 3, (3, 3), library="frequent")


# ----- reading patterns back

def test_patterns_from_kernel_round_trip():
    rng = np.random.default_rng(5)
    w = random_kernel(5, (5, 5, 6, 16))
    library = P.all_patterns(5, 5, 3)[rng.choice(2300, size=5, replace=False)]
    assignment = rng.integers(-1, 5, size=6 * 16)
    pruned = w * P.kernel_mask(library, assignment, w.shape)
    found = P.patterns_from_kernel(pruned)
    assert found.keep == 3 and found.regular and P.is_ikr_regular(pruned)
    assert found.library.shape[1:] == (5, 5) and found.assignment.shape == (6, 16)
    # the same partition of kernels, pattern for pattern
    flat = found.assignment.reshape(-1)
    np.testing.assert_array_equal(flat < 0, assignment < 0)
    for k in np.flatnonzero(assignment >= 0):
        np.testing.assert_array_equal(found.library[flat[k]].ravel(), library[assignment[k]])
    np.testing.assert_array_equal(found.usage(), np.sort(np.bincount(assignment[assignment >= 0]))[::-1])


def test_dense_kernel_is_regular_with_one_full_pattern():
    found = P.patterns_from_kernel(random_kernel(0))
    assert found.keep == 9 and len(found.library) == 1 and found.library.all()
    assert np.all(found.assignment == 0)


def test_irregular_kernel_detected():
    w = np.zeros((3, 3, 1, 3))
    w[0, 0, 0, 0] = w[0, 1, 0, 0] = 1                # 2 nonzeros
    w[1, 1, 0, 1] = w[2, 2, 0, 1] = 1
    w[2, 0, 0, 2] = 1                                # 1 nonzero, not inside any 2-pattern
    found = P.patterns_from_kernel(w)
    assert found.keep is None and not P.is_ikr_regular(w) and len(found.library) == 3
    w[0, 0, 0, 2], w[2, 0, 0, 2] = 1, 0             # now inside the first kernel's pattern
    found = P.patterns_from_kernel(w)
    assert found.keep == 2 and P.is_ikr_regular(w)
    assert found.assignment[0, 2] == found.assignment[0, 0]


def test_all_zero_kernels_get_minus_one():
    w = random_kernel(0, (3, 3, 2, 2))
    w[:, :, 1, 0] = 0
    found = P.patterns_from_kernel(w)
    assert found.assignment[1, 0] == -1 and (found.assignment >= 0).sum() == 3


def test_draw():
    """A drawing is the mask, row by row: reading it back gives the mask, for any shape and
    with any two symbols."""
    assert P.draw(np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]])) == [".#.", "###", ".#."]
    rng = np.random.default_rng(4)
    for kh, kw in [(1, 1), (3, 3), (5, 5), (2, 7), (7, 1)]:
        mask = rng.random((kh, kw)) < 0.5
        for kept, pruned in (("#", "."), ("X", "-")):
            rows = P.draw(mask, kept, pruned)
            assert [len(row) for row in rows] == [kw] * kh
            assert np.array_equal(np.array([[c == kept for c in row] for row in rows]), mask)
            assert set("".join(rows)) <= {kept, pruned}
