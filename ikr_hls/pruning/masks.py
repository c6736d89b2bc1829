"""Masks: for a layer and how far the schedule has gone, which weights stay. Conv kernels keep
the positions of their IKR pattern (a library chosen from the weights); Dense kernels lose
their smallest weights."""
from __future__ import annotations

import keras
import numpy as np

from .. import patterns as pat
from .options import LayerPlan
from .schedule import count_to_prune, keep_at


def layer_mask(plan: LayerPlan, kernel: np.ndarray, fraction: float):
    """(mask bool like kernel, info dict) for one layer, `fraction` of the way to its targets."""
    if plan.kind == "dense":
        return _dense_mask(plan, kernel, plan.dense_sparsity * fraction)
    return _conv_mask(plan, kernel, fraction)


def _dense_mask(plan: LayerPlan, kernel: np.ndarray, sparsity: float):
    """Magnitude pruning: exactly round(sparsity * size) smallest |w| go (ties: first index)."""
    flat = np.abs(kernel).reshape(-1)
    n_prune = count_to_prune(sparsity, flat.size)
    mask = np.ones(flat.size, dtype=bool)
    mask[np.argsort(flat, kind="stable")[:n_prune]] = False
    energy = float(np.sum(flat ** 2))
    info = {"kind": "dense", "sparsity": n_prune / flat.size, "nonzero_kernel": int(flat.size - n_prune),
            "kernel_size": int(flat.size),
            "kept_energy": float(np.sum(flat[mask] ** 2)) / energy if energy > 0 else 1.0}
    return mask.reshape(kernel.shape), info


def _conv_mask(plan: LayerPlan, kernel: np.ndarray, fraction: float):
    kh, kw, ci, co = kernel.shape
    size = kh * kw
    energy = pat.kernel_energy(kernel)
    keep = size if plan.keep is None else keep_at(fraction, plan.keep, size)
    if keep < size:
        # a user's library holds patterns of the final keep only; on the way there, refine
        spec = plan.library if keep == plan.keep or isinstance(plan.library, str) else "refine"
        library, assignment = pat.choose_patterns(energy, keep, (kh, kw), plan.library_size, spec,
                                                  plan.force_center)
    else:
        library, assignment = np.ones((1, size), dtype=bool), np.zeros(len(energy), dtype=np.int64)
    n_drop = count_to_prune(plan.kernel_sparsity * fraction, len(energy))
    if n_drop:                                  # connectivity pruning: weakest kernels go whole
        kept = pat.kept_energy(energy, library, assignment)
        assignment = assignment.copy()
        assignment[np.argsort(kept, kind="stable")[:n_drop]] = -1
    mask = pat.kernel_mask(library, assignment, kernel.shape)
    total = float(energy.sum())
    info = {"kind": "conv2d", "keep": keep, "library": library.reshape(-1, kh, kw),
            "assignment": assignment.reshape(ci, co), "kernels_removed": n_drop,
            "nonzero_kernel": int(mask.sum()), "kernel_size": int(mask.size),
            "kept_energy": float(np.sum(energy * mask.reshape(size, -1).T)) / total if total > 0 else 1.0}
    info["sparsity"] = 1.0 - info["nonzero_kernel"] / info["kernel_size"]
    return mask, info


def read(variable) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(variable))
