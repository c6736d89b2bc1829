"""Kinds without hardware: Flatten and Reshape (buffers are already flat in channels-last
order, so a pass removes them) and Dropout (the identity at inference: the frontend drops it)."""
from __future__ import annotations

import numpy as np

from ..ir import Layer
from .base import FreeKind, Sample
from .keras_reading import check_channels_last, unsupported


def _flatten(klayer, shape, source):
    check_channels_last(klayer, source)
    return Layer(name="", kind="flatten", keras_name=klayer.name, in_shape=shape,
                 out_shape=(int(np.prod(shape)),))


def _reshape(klayer, shape, source):
    target = tuple(int(d) for d in klayer.target_shape)
    if -1 in target:                       # Keras infers one axis
        known = int(np.prod([d for d in target if d != -1]))
        target = tuple(int(np.prod(shape)) // known if d == -1 else d for d in target)
    if int(np.prod(target)) != int(np.prod(shape)):
        raise unsupported(klayer, source, f"target shape {klayer.target_shape} for an input of shape {shape}")
    return Layer(name="", kind="reshape", keras_name=klayer.name, in_shape=shape, out_shape=target)


def _dropout(klayer, shape, source):
    return None                            # inference: the identity


FLATTEN = FreeKind("flatten", {"Flatten": _flatten}, "free (buffers are already flat)",
                   samples={"Flatten": Sample(lambda L: L.Flatten(), (6, 6, 2))})
RESHAPE = FreeKind("reshape", {"Reshape": _reshape}, "free (buffers are already flat)",
                   samples={"Reshape": Sample(lambda L: L.Reshape((72,)), (6, 6, 2))})
DROPOUT = FreeKind("dropout", {"Dropout": _dropout}, "removed for inference",
                   samples={"Dropout": Sample(lambda L: L.Dropout(0.5), (6, 6, 2))})
FREE_KINDS = (FLATTEN, RESHAPE, DROPOUT)
