"""Masks that agree across the workers of a multi-worker tf.distribute job.

Every worker computes the masks itself from its copy of the weights and writes them into its
own copy (`assign` in the cross-replica context talks to no other worker). The copies start
equal and receive the same all-reduced gradients, but a pattern choice turns a last-bit
difference (another CPU, another math library) into another pattern. So under a multi-worker
strategy the masks are computed from the kernels averaged over the workers: one all-reduce per
schedule update, and every worker gets the same bits back, hence the same masks. The mean only
chooses the masks: each worker multiplies its own copy by them. With equal copies on 2 or 4
workers the mean is the kernel itself (x + x is exact in binary).
"""
from __future__ import annotations

import weakref

import numpy as np

_MEANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # strategy -> its traced all-reduce


def workers(model) -> int:
    """How many worker tasks train `model` (1 without a multi-worker strategy)."""
    strategy = getattr(model, "distribute_strategy", None)       # TensorFlow backend only
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(1, len(spec.get("worker", [])) + len(spec.get("chief", [])))


def agreed_kernels(model, kernels: dict) -> dict:
    """{name: kernel}: as given on one worker; the mean over the workers with several."""
    if workers(model) == 1 or not kernels:
        return kernels
    names = list(kernels)
    flat = np.concatenate([kernels[n].ravel() for n in names]).astype(np.float32)
    flat = np.asarray(_mean_over_replicas(model.distribute_strategy)(flat))
    out, start = {}, 0
    for n in names:
        size = kernels[n].size
        out[n] = flat[start:start + size].reshape(kernels[n].shape).astype(kernels[n].dtype)
        start += size
    return out


def _mean_over_replicas(strategy):
    """A tf.function (traced once per strategy: run eagerly, collectives are slow and TF warns)
    that returns the mean of a float32 vector over every replica of every worker."""
    if strategy not in _MEANS:
        import tensorflow as tf

        def mean(values):
            # identity: a tensor on this replica's device (a traced input has none, and the
            # all-reduce needs one to know where the result goes)
            return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, tf.identity(values))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def run(values):
            return strategy.experimental_local_results(strategy.run(mean, args=(values,)))[0]

        _MEANS[strategy] = run
    return _MEANS[strategy]
