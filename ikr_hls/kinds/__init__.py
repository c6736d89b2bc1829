"""The layer kinds, one module each: everything about a kind lives in its module (and its
templates), and the rest of the converter looks it up here (docs/adding_a_kind.md).

The registry finds the kinds itself: every module of this package that defines `KIND` (a
LayerKind) or `FREE_KINDS` (FreeKinds) is registered when the package is imported, so a new
kind is one new module and its templates. `register` adds a kind from elsewhere (a plugin, a
test), with the folder of its templates.

    kind_of(layer)         the LayerKind of an IR layer
    HARDWARE               {name: LayerKind} of the kinds that become C++
    FREE                   {name: FreeKind} of the kinds removed on the way (Flatten, Reshape, Dropout)
    KERAS_HANDLERS         {Keras class name: frontend handler}, MULTI_INPUT the classes with several inputs
    OPERATION_HANDLERS     {keras.ops operation class name: frontend handler} (x + 3.0 on a Keras tensor)
    check_layer(layer)     a layer a handler built: a known kind, with its kind's typed attributes
    register(kind, templates), unregister(kind), registered(kind, templates): kinds from outside
    template_dirs()        the template folders of kinds registered from outside the package
"""
from __future__ import annotations

import contextlib
import importlib
import pkgutil
from pathlib import Path

from ..ir import Layer
from .base import Cost, FreeKind, LayerKind, Sample, Weights

HARDWARE: dict = {}
FREE: dict = {}
KERAS_HANDLERS: dict = {}
MULTI_INPUT: set = set()
OPERATION_HANDLERS: dict = {}
_TEMPLATE_DIRS: dict = {}              # kind name -> the template folder of a kind registered from outside


def register(kind: LayerKind | FreeKind, templates: Path | str | None = None) -> None:
    """Add a kind: its Keras classes convert from now on. `templates`: a folder holding its
    templates as firmware/layers/<template>.h.j2 (the package's own folder is searched too, for
    the shared macros)."""
    table = HARDWARE if isinstance(kind, LayerKind) else FREE
    if kind.name in HARDWARE or kind.name in FREE:
        raise ValueError(f"kind {kind.name!r} is registered already")
    operations = getattr(kind, "keras_ops", {})
    claimed = set(kind.keras) & set(KERAS_HANDLERS) | set(operations) & set(OPERATION_HANDLERS)
    if claimed:
        raise ValueError(f"kind {kind.name!r}: Keras class(es) {sorted(claimed)} belong to another kind")
    table[kind.name] = kind
    KERAS_HANDLERS.update(kind.keras)
    OPERATION_HANDLERS.update(operations)
    MULTI_INPUT.update(kind.multi_input)
    if templates is not None:
        _TEMPLATE_DIRS[kind.name] = str(Path(templates).resolve())


def unregister(kind: LayerKind | FreeKind) -> None:
    (HARDWARE if isinstance(kind, LayerKind) else FREE).pop(kind.name)
    for cls in kind.keras:
        KERAS_HANDLERS.pop(cls, None)
    for cls in getattr(kind, "keras_ops", {}):
        OPERATION_HANDLERS.pop(cls, None)
    MULTI_INPUT.difference_update(kind.multi_input)
    _TEMPLATE_DIRS.pop(kind.name, None)


@contextlib.contextmanager
def registered(kind: LayerKind | FreeKind, templates: Path | str | None = None):
    """`register` for the duration of a with block."""
    register(kind, templates)
    try:
        yield kind
    finally:
        unregister(kind)


def template_dirs() -> tuple:
    """The template folders of the kinds registered from outside the package, in order."""
    return tuple(dict.fromkeys(_TEMPLATE_DIRS.values()))


def _discover() -> None:
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        found = importlib.import_module(f"{__name__}.{module}")
        for kind in ([found.KIND] if hasattr(found, "KIND") else []) + list(getattr(found, "FREE_KINDS", ())):
            register(kind)


_discover()


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


__all__ = ["HARDWARE", "FREE", "KERAS_HANDLERS", "MULTI_INPUT", "OPERATION_HANDLERS", "Cost", "FreeKind", "LayerKind",
           "Sample", "Weights", "check_layer", "hardware_kind", "kind_of", "register", "registered", "template_dirs",
           "unregister"]
