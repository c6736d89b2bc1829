"""global_pool2d: GlobalAveragePooling2D and GlobalMaxPooling2D (with or without keepdims):
one pass over the pixels; an average multiplies each channel's sum by the constant 1/(H*W)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import codes as C
from .. import hardware
from ..attributes import attributes_of
from ..constants import array, literal
from ..expr import Var
from ..ir import Layer
from ..loops import LoopNest
from ..precision import requantize, to_codes
from .base import Cost, LayerKind, Sample, View, Weights
from .keras_reading import check_channels_last, image_shape
from .pool2d import ROLES, PoolOp, declared_roles, default_accum  # a pool whose window is the whole image


def _attributes(layer: Layer) -> PoolOp:
    return attributes_of(layer, PoolOp)


def _handler(op):
    def handler(klayer, shape, source):
        h, w, c = image_shape(klayer, shape, source)
        check_channels_last(klayer, source)
        out_shape = (1, 1, c) if klayer.keepdims else (c,)
        return Layer(name="", kind="global_pool2d", keras_name=klayer.name, in_shape=(h, w, c),
                     out_shape=out_shape, attrs=PoolOp(op=op, ph=h, pw=w))
    return handler


def template(layer: Layer) -> str:
    return "global_pool2d"


@dataclass(frozen=True, kw_only=True)
class GlobalPoolView(View):
    """global_pool2d.h.j2: one pass over the h x w pixels."""
    h: int
    w: int
    c: int
    op: str
    binding: str              # where the products go (BIND_OP impl): "dsp", "fabric", "" (no pragma)


def view(layer: Layer) -> GlobalPoolView:
    h, w, c = layer.in_shape
    op = _attributes(layer).op
    cls = "GlobalMaxPooling2D" if op == "max" else "GlobalAveragePooling2D"
    return GlobalPoolView(h=h, w=w, c=c, op=op, binding=layer.plan_cost.binding or "", keras_class=cls,
                          summary=f"{cls} over {h}x{w}")


def weights(layer: Layer) -> Weights | None:
    if _attributes(layer).op != "avg":
        return None
    h, w, _ = layer.in_shape
    return Weights("the reciprocal of the pixel count", [
        array(f"{layer.name}_recip", f"{layer.name}_recip_t", [1.0 / (h * w)], f"1 / ({h} * {w})",
              literal(layer, "recip"))])


def reference(layer: Layer, ins: list) -> np.ndarray:
    """ikr::global_*_pool2d: pixel by pixel per channel; an average multiplies the sum by 1/(H*W)."""
    (codes, in_t), = ins
    p = C.fixed_types(layer)
    n, h, w, c = codes.shape
    pixels = codes.reshape(n, h * w, c)
    if _attributes(layer).op == "max":
        return requantize(pixels.max(axis=1), in_t.fractional, p["result"])
    acc_t, recip_t = p["accum"], p["recip"]
    total = np.zeros((n, c), dtype=np.int64)
    for i in range(h * w):
        total = C.add(total, acc_t, pixels[:, i], in_t.fractional)
    recip = to_codes(np.array(1.0 / (h * w)), recip_t)
    C.check_fits(acc_t.width + recip_t.width, "product")
    return requantize(total * recip, acc_t.fractional + recip_t.fractional, p["result"])


def cost(layer: Layer) -> Cost:
    """One pixel (all its channels) per step, II 1; at the last one each channel's result is
    written (an average multiplies its sum by 1/(H*W): a multiplier per channel). A single
    pixel (a 1x1 image, as at the end of MobileNetV2 at 32x32) keeps no sum or maximum and
    tests no pixel index: the code writes each value straight through."""
    h, w, c = layer.in_shape
    avg = _attributes(layer).op == "avg"
    single = h * w == 1
    acc_bits = hardware.bits(layer.precision["accum"]) if avg else hardware.bits(layer.input_types[0]) \
        if layer.input_types else 0
    product_bits = (hardware.bits(layer.precision["recip"]), acc_bits) if avg else (0, 0)
    # a step adds (or compares) the pixel into the running result; the last one scales it
    chain = hardware.chain(("read", 1), ("add" if avg else "compare", 0 if single else 1),
                           ("multiply", 1 if avg else 0), ("write", 1))
    operators: tuple = ()
    if not single:
        # per channel: the running sum (or maximum), the first pixel's `p == 0` and the last
        # one's `p == H*W - 1`; io_stream writes its element on the last pixel (one more)
        operators = (hardware.ops("running sums", "add", acc_bits, c)
                     + hardware.ops("first pixel", "select", acc_bits, c) if avg
                     else hardware.ops("running maximum", "max", acc_bits, c))
        operators += hardware.control("first and last pixel", 2 * c + (layer.stream is not None),
                                      hardware.counter_bits(h * w))
    operators += hardware.conversion("result", layer.precision["result"], c)
    constants = hardware.constant_products(np.full(c, 1.0 / (h * w)), layer.precision["recip"]) if avg else ()
    return Cost(ii=1, iterations=h * w, chain=chain, multipliers=c if avg else None,
                sharing="one per channel" if avg else "none", registers_bits=0 if single else c * acc_bits,
                product_bits=product_bits, operators=operators, constants=constants)


def loop_nest(layer: Layer) -> LoopNest:
    """One pixel a step: every step reads, the last one writes the result."""
    h, w, _ = layer.in_shape
    return LoopNest((("p", h * w),), writes=Var("p").eq(h * w - 1))


SAMPLES = {"GlobalAveragePooling2D": Sample(lambda L: L.GlobalAveragePooling2D(), (6, 6, 2)),
           "GlobalMaxPooling2D": Sample(lambda L: L.GlobalMaxPooling2D(), (6, 6, 2))}

KIND = LayerKind(
    samples=SAMPLES,
    name="global_pool2d", attributes=PoolOp,
    keras={"GlobalMaxPooling2D": _handler("max"), "GlobalAveragePooling2D": _handler("avg")},
    templates=("global_pool2d", "global_pool2d_stream"),
    roles=ROLES, declared_roles=declared_roles, template=template, view=view,
    weights=weights, reference=reference, cost=cost, default_accum=default_accum, loop_nest=loop_nest)
