"""pool2d: MaxPooling2D and AveragePooling2D, valid or same padding, any strides. 'same'
padding never counts: a max ignores it, an average multiplies its sum by the reciprocal of
the valid count, from a table."""
from __future__ import annotations

import numpy as np

from .. import codes as C
from .. import tables
from ..constants import array, literal
from ..ir import Layer, conv_output_size
from ..precision import requantize, to_codes, widen_for_sum
from .base import PIPELINE_DEPTH, Cost, LayerKind, Weights
from .keras_reading import check_channels_last, image_shape, unsupported

ROLES = ("accum", "recip", "result")


def _handler(op):
    def handler(klayer, shape, source):
        h, w, c = image_shape(klayer, shape, source)
        check_channels_last(klayer, source)
        if klayer.padding not in ("valid", "same"):
            raise unsupported(klayer, source, f"padding='{klayer.padding}'")
        ph, pw = klayer.pool_size
        sh, sw = klayer.strides
        oh, pt, pb = conv_output_size(h, ph, sh, klayer.padding)
        ow, pl, pr = conv_output_size(w, pw, sw, klayer.padding)
        if oh < 1 or ow < 1:
            raise unsupported(klayer, source, f"a {ph}x{pw} pool on a {h}x{w} input (no output pixel)")
        return Layer(name="", kind="pool2d", keras_name=klayer.name, in_shape=(h, w, c),
                     out_shape=(oh, ow, c),
                     attrs=dict(op=op, ph=ph, pw=pw, sh=sh, sw=sw, padding=klayer.padding,
                                pad_top=pt, pad_left=pl))
    return handler


def _keras_class(layer: Layer) -> str:
    return "MaxPooling2D" if layer.attrs["op"] == "max" else "AveragePooling2D"


def template(layer: Layer) -> str:
    return "pool2d"


def view(layer: Layer) -> dict:
    a = layer.attrs
    h, w, c = layer.in_shape
    oh, ow, _ = layer.out_shape
    cls = _keras_class(layer)
    return dict(h=h, w=w, c=c, oh=oh, ow=ow, op=a["op"], ph=a["ph"], pw=a["pw"], sh=a["sh"],
                sw=a["sw"], padding=a["padding"], pad_top=a["pad_top"], pad_left=a["pad_left"],
                keras_class=cls, summary=f"{cls} {a['ph']}x{a['pw']}")


def weights(layer: Layer) -> Weights | None:
    if layer.attrs["op"] != "avg":
        return None
    return Weights("reciprocals of the window counts", [
        array(f"{layer.name}_recip", f"{layer.name}_recip_t", tables.recip_table(layer),
              "1 / count, count = 0 .. PH*PW (0 unused)", literal(layer, "recip"))])


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    a = layer.attrs
    p = C.fixed_types(layer)
    n, h, w, c = codes.shape
    oh, ow = layer.out_shape[:2]
    ys = np.arange(oh)[:, None] * a["sh"] - a["pad_top"]
    xs = np.arange(ow)[None, :] * a["sw"] - a["pad_left"]
    if a["op"] == "max":
        best = None
        for i in range(a["ph"]):
            for j in range(a["pw"]):
                y, x = ys + i, xs + j
                valid = ((y >= 0) & (y < h) & (x >= 0) & (x < w))[None, :, :, None]
                v = codes[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
                v = np.where(valid, v, np.iinfo(np.int64).min)
                best = v if best is None else np.maximum(best, v)
        return requantize(best, in_t.fractional, p["result"])
    acc_t = p["accum"]
    total = np.zeros((n, oh, ow, c), dtype=np.int64)
    count = np.zeros((oh, ow), dtype=np.int64)
    for i in range(a["ph"]):
        for j in range(a["pw"]):
            y, x = ys + i, xs + j
            valid = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            v = codes[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
            total = C.add(total, acc_t, v, in_t.fractional, valid[None, :, :, None])
            count += valid
    recip_t = p["recip"]
    recip = to_codes(tables.recip_table(layer), recip_t)[count][None, :, :, None]
    C.check_fits(acc_t.width + recip_t.width, "product")
    return requantize(total * recip, acc_t.fractional + recip_t.fractional, p["result"])


def cost(layer: Layer) -> Cost:
    return Cost(latency=int(layer.out_shape[0] * layer.out_shape[1]) + PIPELINE_DEPTH)


def declared_roles(layer: Layer) -> tuple:
    """A max pool has no reciprocal to store."""
    return tuple(r for r in ROLES if not (r == "recip" and layer.attrs["op"] == "max"))


def default_accum(layer: Layer, in_types: list, types: dict):
    """An average's sum of the window cannot overflow or round; a max passes values as they are."""
    in_type = in_types[0]
    if in_type.is_float or types["result"].is_float:
        return types["result"]
    if layer.attrs["op"] == "max":
        return in_type
    return widen_for_sum(in_type, None, None, layer.attrs["ph"] * layer.attrs["pw"])


KIND = LayerKind(
    name="pool2d", keras={"MaxPooling2D": _handler("max"), "AveragePooling2D": _handler("avg")},
    roles=ROLES, declared_roles=declared_roles, templates=("pool2d",), template=template, view=view,
    weights=weights, reference=reference, cost=cost, default_accum=default_accum)
