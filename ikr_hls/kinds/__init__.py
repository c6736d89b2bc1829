"""The layer kinds, one module each: everything about a kind lives in its module, and the
rest of the converter looks it up here (docs/adding_a_kind.md says how to add one).

    kind_of(layer)         the LayerKind of an IR layer
    HARDWARE               {name: LayerKind} of the kinds that become C++
    FREE                   {name: FreeKind} of the kinds removed on the way (Flatten, Reshape, Dropout)
    KERAS_HANDLERS         {Keras class name: frontend handler}, MULTI_INPUT the classes with several inputs
"""
from __future__ import annotations

from ..hardware import PIPELINE_DEPTH
from ..ir import KINDS, Layer
from . import activation, add, concatenate, conv2d, dense, free, global_pool2d, pad2d, pool2d, scale_shift, upsampling2d
from .base import Cost, FreeKind, LayerKind, Weights

HARDWARE: dict = {k.name: k for k in (conv2d.KIND, dense.KIND, pool2d.KIND, global_pool2d.KIND, pad2d.KIND,
                                      add.KIND, activation.KIND, scale_shift.KIND, concatenate.KIND,
                                      upsampling2d.KIND)}
FREE: dict = {k.name: k for k in (free.FLATTEN, free.RESHAPE, free.DROPOUT)}

KERAS_HANDLERS: dict = {cls: handler for kind in (*HARDWARE.values(), *FREE.values())
                        for cls, handler in kind.keras.items()}
MULTI_INPUT: frozenset = frozenset().union(*(kind.multi_input for kind in (*HARDWARE.values(), *FREE.values())))

assert set(HARDWARE) | {"flatten", "reshape"} == set(KINDS), "ir.KINDS and the registry disagree"


def kind_of(layer: Layer) -> LayerKind:
    """The hardware kind of a layer (free kinds never reach the code that asks)."""
    return HARDWARE[layer.kind]


def hardware_kind(layer: Layer) -> LayerKind | None:
    """The hardware kind of a layer, or None for a free one (before the passes remove it)."""
    return HARDWARE.get(layer.kind)


__all__ = ["HARDWARE", "FREE", "KERAS_HANDLERS", "MULTI_INPUT", "PIPELINE_DEPTH", "Cost", "FreeKind",
           "LayerKind", "Weights", "hardware_kind", "kind_of"]
