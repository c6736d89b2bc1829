"""The layer kinds, one module each: everything about a kind lives in its module, and the
rest of the converter looks it up here (docs/adding_a_kind.md says how to add one).

    kind_of(layer)         the LayerKind of an IR layer
    HARDWARE               {name: LayerKind} of the kinds that become C++
    FREE                   {name: FreeKind} of the kinds removed on the way (Flatten, Reshape, Dropout)
    KINDS                  every kind's name (a Layer's kind is one of them)
    KERAS_HANDLERS         {Keras class name: frontend handler}, MULTI_INPUT the classes with several inputs
    check_layer(layer)     a layer a handler built: a known kind, with its kind's typed attributes
"""
from __future__ import annotations

from ..hardware import PIPELINE_DEPTH
from ..ir import Layer
from . import activation, add, concatenate, conv2d, dense, free, global_pool2d, pad2d, pool2d, scale_shift, upsampling2d
from .base import Cost, FreeKind, LayerKind, Weights

HARDWARE: dict = {k.name: k for k in (conv2d.KIND, dense.KIND, pool2d.KIND, global_pool2d.KIND, pad2d.KIND,
                                      add.KIND, activation.KIND, scale_shift.KIND, concatenate.KIND,
                                      upsampling2d.KIND)}
FREE: dict = {k.name: k for k in (free.FLATTEN, free.RESHAPE, free.DROPOUT)}

KERAS_HANDLERS: dict = {cls: handler for kind in (*HARDWARE.values(), *FREE.values())
                        for cls, handler in kind.keras.items()}
MULTI_INPUT: frozenset = frozenset().union(*(kind.multi_input for kind in (*HARDWARE.values(), *FREE.values())))

KINDS: tuple = (*HARDWARE, *FREE)


def kind_of(layer: Layer) -> LayerKind:
    """The hardware kind of a layer (free kinds never reach the code that asks)."""
    return HARDWARE[layer.kind]


def check_layer(layer: Layer) -> Layer:
    """A layer as a frontend handler built it: its kind is registered and its attributes are
    that kind's (their fields were checked when they were made); a converter bug otherwise."""
    kind = HARDWARE.get(layer.kind) or FREE.get(layer.kind)
    if kind is None:
        raise ValueError(f"layer {layer.keras_name}: unknown layer kind {layer.kind!r}")
    if not isinstance(layer.attrs, kind.attributes):
        raise TypeError(f"layer {layer.keras_name}: a {layer.kind} layer's attributes are "
                        f"{kind.attributes.__name__}, got {type(layer.attrs).__name__}")
    return layer


def hardware_kind(layer: Layer) -> LayerKind | None:
    """The hardware kind of a layer, or None for a free one (before the passes remove it)."""
    return HARDWARE.get(layer.kind)


__all__ = ["HARDWARE", "FREE", "KINDS", "KERAS_HANDLERS", "MULTI_INPUT", "PIPELINE_DEPTH", "Cost", "FreeKind",
           "LayerKind", "Weights", "check_layer", "hardware_kind", "kind_of"]
