"""Quantization-aware models made with HGQ2 (`pip install ikr-hls[qat]`, the package `hgq2`,
imported as `hgq`): its layers read into IR layers whose types come from their trained
quantizers, per element where HGQ2 trains them per element.

    handler_for(klayer)    the frontend handler of an HGQ2 layer (None: not an HGQ2 layer)
    is_hgq_layer(klayer)   a layer of the hgq package
    require(what)          hgq, or IKRHLSError saying what to install
    HANDLERS               {HGQ2 class name: handler}

An HGQ2 layer becomes its input quantizer(s) (kinds/quantize.py, one quantize step per input),
the layer itself (conv2d, dense, scale_shift, pool2d, global_pool2d, add) with its quantized
weights and their trained types, and its output quantizer when it has one (docs/fixed_point.md).
"""
from __future__ import annotations

from ..errors import IKRHLSError

INSTALL = "pip install 'ikr-hls[qat]' (or pip install hgq2)"


def is_hgq_layer(klayer) -> bool:
    return type(klayer).__module__.split(".")[0] == "hgq"


def available() -> bool:
    try:
        import hgq  # noqa: F401
    except ImportError:
        return False
    return True


def require(what: str):
    """The hgq package, or one line saying what to install."""
    try:
        import hgq
    except ImportError:
        raise IKRHLSError(f"{what} needs HGQ2, which is not installed: {INSTALL}") from None
    return hgq


def handler_for(klayer):
    """The handler of an HGQ2 layer's class (None when the class has none: refused by the caller)."""
    from .layers import HANDLERS

    return HANDLERS.get(type(klayer).__name__)


def is_conv2d(layer) -> bool:
    """An HGQ2 2-D convolution (QConv2D): IKR pruning prunes it like a Keras Conv2D."""
    return is_hgq_layer(layer) and type(layer).__name__ == "QConv2D"


def parameters(layer) -> list:
    """A layer's parameter variables: an HGQ2 layer's without its quantizers' bit widths (a
    sublayer's variables) and its EBOPs bookkeeping (beta, ebops)."""
    if not is_hgq_layer(layer):
        return list(layer.weights)
    inner = {id(v) for sub in layer._flatten_layers(include_self=False) for v in sub.weights}
    return [v for v in layer.weights if id(v) not in inner and v.name not in ("beta", "ebops")]


def multi_input(cls: str) -> bool:
    """The handler of this HGQ2 class takes every input's shape (a merge)."""
    from .layers import MULTI_INPUT

    return cls in MULTI_INPUT


def supported_classes() -> list:
    from .layers import HANDLERS

    return sorted(HANDLERS)


__all__ = ["INSTALL", "available", "handler_for", "is_conv2d", "is_hgq_layer", "multi_input", "parameters", "require",
           "supported_classes"]
