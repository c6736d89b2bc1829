"""Ordered graph passes between the frontend and the backend.

Each pass takes and returns an ir.Graph and does one thing. `run_passes` is the order.
"""
from __future__ import annotations

import logging

import numpy as np

from .config import ProjectConfig
from .errors import IKRHLSError
from .ir import Graph

log = logging.getLogger(__name__)

PRECISION_ROLES = ("weight", "bias", "accum", "result")
# The types each kind of layer declares (a max-pool has no weights and no accumulator).
ROLES_BY_KIND = {
    "conv2d": PRECISION_ROLES,
    "dense": PRECISION_ROLES,
    "scale_shift": PRECISION_ROLES,
    "pool2d": ("accum", "result"),
    "activation": ("accum", "result"),
}


def fold_batchnorm(graph: Graph) -> Graph:
    """Fold a scale-and-shift (BatchNormalization) into the conv/dense right before it.

    Only when that layer has no activation of its own; zeros of the kernel stay zeros, so
    pruning patterns survive the fold.
    """
    layers = []
    for layer in graph.layers:
        prev = layers[-1] if layers else None
        if (layer.kind == "scale_shift" and prev is not None and prev.kind in ("conv2d", "dense")
                and prev.activation == "linear"):
            scale, shift = layer.weights["scale"], layer.weights["shift"]
            prev.weights["kernel"] = prev.weights["kernel"] * scale     # broadcast over out channels
            prev.weights["bias"] = prev.weights["bias"] * scale + shift
            log.debug("folded %s into %s", layer.keras_name, prev.keras_name)
            continue
        layers.append(layer)
    graph.layers = layers
    return graph


def fuse_activations(graph: Graph) -> Graph:
    """Merge a standalone activation into the layer before it when that one has none."""
    layers = []
    for layer in graph.layers:
        prev = layers[-1] if layers else None
        if (layer.kind == "activation" and prev is not None and prev.activation == "linear"
                and prev.kind in ("conv2d", "dense", "scale_shift")
                and (layer.activation != "softmax" or len(prev.out_shape) == 1)):
            prev.activation = layer.activation
            continue
        if layer.kind == "activation" and layer.activation == "linear":
            continue                          # identity
        layers.append(layer)
    graph.layers = layers
    return graph


def drop_flatten(graph: Graph) -> Graph:
    """Flatten is free: buffers are already flat in channels-last order."""
    graph.layers = [layer for layer in graph.layers if layer.kind != "flatten"]
    if not graph.layers:
        raise IKRHLSError(f"{graph.source}: nothing is left to compute once Flatten is removed")
    return graph


def assign_precision(graph: Graph, config: ProjectConfig) -> Graph:
    for layer in graph.layers:
        layer.precision = {role: config.precision for role in ROLES_BY_KIND[layer.kind]}
    return graph


def assign_reuse(graph: Graph, config: ProjectConfig) -> Graph:
    """Each layer's reuse factor: its own entry in the config, else the model's."""
    per_layer = dict(config.layer_reuse)
    known = {layer.keras_name for layer in graph.layers}
    unknown = sorted(set(per_layer) - known)
    if unknown:
        raise IKRHLSError(f"reuse_factor: unknown layer(s) {', '.join(unknown)} "
                          f"(layers: {', '.join(sorted(known))})")
    for layer in graph.layers:
        layer.attrs["reuse_factor"] = per_layer.get(layer.keras_name, config.reuse_factor)
    return graph


def group_kernels_by_support(graph: Graph) -> Graph:
    """For every conv layer, the distinct sets of nonzero positions (its patterns) and the
    (input channel, output channel) kernels that use each, most used first.

    Grouping is by exact support, so a kernel is never given a tap whose weight is zero;
    all-zero kernels belong to no group. An IKR-pruned layer has at most library-size groups.
    """
    for layer in graph.layers:
        if layer.kind != "conv2d":
            continue
        kernel = layer.weights["kernel"]                        # (KH, KW, CI, CO)
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
        layer.attrs["support_groups"] = groups
    return graph


def run_passes(graph: Graph, config: ProjectConfig) -> Graph:
    for step in (fold_batchnorm, fuse_activations, drop_flatten, group_kernels_by_support):
        graph = step(graph)
    graph = assign_reuse(graph, config)
    return assign_precision(graph, config)
