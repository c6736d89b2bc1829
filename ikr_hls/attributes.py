"""Typed attributes of IR layers: each kind declares what it reads from its Keras layer as a
frozen dataclass (kinds/<kind>), checked field by field against its annotations when the
frontend builds the layer (the idea of hls4ml's `_expected_attributes`); `Settings` is what
the config gives every layer, `SoftmaxShifts` what the types decide of a softmax's tables.

A mismatch is a converter bug, not a user error: it raises TypeError or ValueError naming the
class and the field.
"""
from __future__ import annotations

import dataclasses
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Literal, TypeVar

A = TypeVar("A", bound="Attributes")


class Attributes:
    """Base of the attribute dataclasses (subclasses are frozen dataclasses)."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):          # type: ignore[arg-type]
            value = getattr(self, f.name)
            if not _conforms(value, hints[f.name]):
                raise TypeError(f"{type(self).__name__}.{f.name}: expected {_spelled(hints[f.name])}, got {value!r}")
        self.check()

    def check(self) -> None:
        """Constraints beyond the types (a subclass's own), raising ValueError."""

    def replace(self, **changes):
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)     # type: ignore[type-var]


_HINTS: dict = {}


def _hints(cls) -> dict:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _conforms(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(v, args[0]) for v in value)
        return len(value) == len(args) and all(_conforms(v, a) for v, a in zip(value, args, strict=True))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    return isinstance(value, hint)


def _spelled(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def attributes_of(layer, cls: type[A]) -> A:
    """A layer's attributes as its kind's class (each kind's modules read them through this)."""
    if not isinstance(layer.attrs, cls):
        raise TypeError(f"layer {layer.keras_name}: attributes {type(layer.attrs).__name__}, expected {cls.__name__}")
    return layer.attrs


def positive(obj, *names: str) -> None:
    """Each named field is at least 1."""
    for name in names:
        if getattr(obj, name) < 1:
            raise ValueError(f"{type(obj).__name__}.{name}: expected at least 1, got {getattr(obj, name)}")


def not_negative(obj, *names: str) -> None:
    for name in names:
        if getattr(obj, name) < 0:
            raise ValueError(f"{type(obj).__name__}.{name}: expected at least 0, got {getattr(obj, name)}")


@dataclass(frozen=True)
class NoAttributes(Attributes):
    """A kind that reads nothing beyond its shapes and weights."""


@dataclass(frozen=True)
class Settings(Attributes):
    """What the config gives a layer (passes.apply_settings): its code's strategy and reuse
    factor, its lookup tables' size and ranges."""
    strategy: str
    reuse_factor: int
    table_size: int
    exp_range: int
    act_range: int
    auto_strategy: bool = False        # strategy "auto": ikr_hls/auto.py chooses it (and keeps it here)
    auto_reuse: bool = False           # reuse_factor "auto": ikr_hls/auto.py chooses it

    def check(self) -> None:
        positive(self, "reuse_factor", "table_size", "exp_range", "act_range")


@dataclass(frozen=True)
class SoftmaxShifts(Attributes):
    """A softmax's table addressing, decided with its types (precision_inference): the shift
    that indexes the inverse table by the sum, and the sum's bits."""
    inv_shift: int
    sum_bits: int
