"""pool2d: MaxPooling2D and AveragePooling2D, valid or same padding, any strides. 'same'
padding never counts: a max ignores it, an average multiplies its sum by the reciprocal of
the valid count, from a table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import codes as C
from .. import hardware, tables
from ..attributes import Attributes, attributes_of, not_negative, positive
from ..constants import array, literal
from ..expr import Expr, all_of
from ..ir import Layer
from ..precision import requantize, to_codes, widen_for_sum
from .base import Cost, LayerKind, Sample, View, Weights
from .keras_reading import window_geometry
from .window import Window, X, Y

ROLES = ("accum", "recip", "result")


@dataclass(frozen=True)
class PoolOp(Attributes):
    """A pooling's operation and window (global pooling: the whole image)."""
    op: Literal["max", "avg"]
    ph: int
    pw: int

    def check(self) -> None:
        positive(self, "ph", "pw")


@dataclass(frozen=True)
class PoolAttributes(PoolOp):
    """A pooling's operation, window, strides and padding (Keras's mode and what it adds)."""
    sh: int
    sw: int
    padding: Literal["valid", "same"]
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int

    def check(self) -> None:
        positive(self, "ph", "pw", "sh", "sw")
        not_negative(self, "pad_top", "pad_bottom", "pad_left", "pad_right")

    @property
    def padded(self) -> bool:
        return bool(self.pad_top or self.pad_bottom or self.pad_left or self.pad_right)


def _attributes(layer: Layer) -> PoolAttributes:
    return attributes_of(layer, PoolAttributes)


def _handler(op):
    def handler(klayer, shape, source):
        ph, pw = klayer.pool_size
        (h, w, c), g = window_geometry(klayer, shape, source, (ph, pw), "pool")
        return Layer(name="", kind="pool2d", keras_name=klayer.name, in_shape=(h, w, c),
                     out_shape=(g["oh"], g["ow"], c),
                     attrs=PoolAttributes(op=op, ph=ph, pw=pw, **{k: v for k, v in g.items() if k not in ("oh", "ow")}))
    return handler


def _keras_class(layer: Layer) -> str:
    return "MaxPooling2D" if _attributes(layer).op == "max" else "AveragePooling2D"


def template(layer: Layer) -> str:
    return "pool2d"


def window(layer: Layer) -> Window:
    """The layer's sliding window over its (padded) grid (kinds/window.py)."""
    a = _attributes(layer)
    h, w, c = layer.in_shape
    return Window(layer.name, c, a.ph, a.pw, a.sh, a.sw, h, w, a.pad_top, a.pad_bottom,
                  a.pad_left, a.pad_right)


@dataclass(frozen=True, kw_only=True)
class PoolView(View):
    """pool2d.h.j2: the sliding window (grid) and the operation over it."""
    h: int
    w: int
    c: int
    oh: int
    ow: int
    op: str
    grid: Window
    ph: int
    pw: int
    sh: int
    sw: int
    padding: str
    grid_h: int
    grid_w: int
    padded: bool
    valid: Expr
    binding: str              # where the products go (BIND_OP impl): "dsp", "fabric", "" (no pragma)
    row_in: list              # per window row: it holds an image row (not padding), an Expr
    col_in: list


def _image_rows_cols(layer: Layer) -> tuple[list, list]:
    """Per window row and column: it holds an image row (column), not padding (an Expr)."""
    a = _attributes(layer)
    h, w, _ = layer.in_shape
    pt, pb, pl, pr = a.pad_top, a.pad_bottom, a.pad_left, a.pad_right
    # window row i at step y holds grid row y - (PH-1) + i: an image row when pt <= it < pt + H
    row_in = [all_of(Y >= pt + a.ph - 1 - i if pt + a.ph - 1 - i > 0 else None,
                     Y < pt + h + a.ph - 1 - i if pb else None) for i in range(a.ph)]
    col_in = [all_of(X >= pl + a.pw - 1 - j if pl + a.pw - 1 - j > 0 else None,
                     X < pl + w + a.pw - 1 - j if pr else None) for j in range(a.pw)]
    return row_in, col_in


def view(layer: Layer) -> PoolView:
    a = _attributes(layer)
    h, w, c = layer.in_shape
    oh, ow, _ = layer.out_shape
    cls = _keras_class(layer)
    grid = window(layer)
    row_in, col_in = _image_rows_cols(layer)
    return PoolView(h=h, w=w, c=c, oh=oh, ow=ow, op=a.op, grid=grid, ph=a.ph, pw=a.pw, sh=a.sh,
                sw=a.sw, padding=a.padding, grid_h=grid.gh, grid_w=grid.gw, padded=grid.padded,
                valid=grid.valid, row_in=row_in, col_in=col_in, binding=layer.plan_cost.binding or "", keras_class=cls,
                    summary=f"{cls} {a.ph}x{a.pw}")


def _reciprocals(layer: Layer):
    a = _attributes(layer)
    return tables.recip_table(layer, a.ph * a.pw)


def weights(layer: Layer) -> Weights | None:
    if _attributes(layer).op != "avg":
        return None
    return Weights("reciprocals of the window counts", [
        array(f"{layer.name}_recip", f"{layer.name}_recip_t", _reciprocals(layer),
              "1 / count, count = 0 .. PH*PW (0 unused)", literal(layer, "recip"))])


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    a = _attributes(layer)
    p = C.fixed_types(layer)
    n, h, w, c = codes.shape
    oh, ow = layer.out_shape[:2]
    ys = np.arange(oh)[:, None] * a.sh - a.pad_top
    xs = np.arange(ow)[None, :] * a.sw - a.pad_left
    if a.op == "max":
        best = None
        for i in range(a.ph):
            for j in range(a.pw):
                y, x = ys + i, xs + j
                valid = ((y >= 0) & (y < h) & (x >= 0) & (x < w))[None, :, :, None]
                v = codes[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
                v = np.where(valid, v, np.iinfo(np.int64).min)
                best = v if best is None else np.maximum(best, v)
        return requantize(best, in_t.fractional, p["result"])
    acc_t = p["accum"]
    total = np.zeros((n, oh, ow, c), dtype=np.int64)
    count = np.zeros((oh, ow), dtype=np.int64)
    for i in range(a.ph):
        for j in range(a.pw):
            y, x = ys + i, xs + j
            valid = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            v = codes[:, np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
            total = C.add(total, acc_t, v, in_t.fractional, valid[None, :, :, None])
            count += valid
    recip_t = p["recip"]
    recip = to_codes(_reciprocals(layer), recip_t)[count][None, :, :, None]
    C.check_fits(acc_t.width + recip_t.width, "product")
    return requantize(total * recip, acc_t.fractional + recip_t.fractional, p["result"])


def cost(layer: Layer) -> Cost:
    """One step per pixel of the (padded) grid at II 1; an average multiplies each channel's
    sum by one reciprocal, read once a step."""
    a = _attributes(layer)
    grid = window(layer)
    grid_h, grid_w = grid.gh, grid.gw
    c = layer.in_shape[-1]
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    avg = a.op == "avg"
    memories = [hardware.Memory("line buffers", "RAM", (a.ph - 1) * c, grid_w, in_bits)] if a.ph > 1 else []
    product_bits = (0, 0)
    if avg:                     # 1/count for each count of valid window positions
        recip_bits = hardware.bits(layer.precision["recip"])
        memories.append(hardware.Memory("reciprocals", "ROM", 1, a.ph * a.pw + 1, recip_bits))
        product_bits = (recip_bits, hardware.bits(layer.precision["accum"]))
    # a max's compare tree, or an average's sum, its reciprocal (a table read when padding
    # makes the count vary, a constant otherwise) and product
    window_values = a.ph * a.pw
    over = (hardware.chain(hardware.add_tree(window_values), ("table", 1 if a.padded else 0), ("multiply", 1)) if avg
            else hardware.compare_tree(window_values))
    chain = hardware.chain(("read", 1), over, ("write", 1))
    row_in, col_in = _image_rows_cols(layer)
    terms = (window_values - 1) * c
    operators = (hardware.ops("window sums", "add", hardware.bits(layer.precision["accum"]), terms) if avg
                 else hardware.ops("window maximum", "max", in_bits, terms))
    operators += hardware.ops("padding zeros", "select", in_bits, c if a.padded else 0)
    conditions = grid.control_compares(layer.stream is not None) + (
        hardware.comparisons(*row_in, *col_in) if a.padded else 0)
    operators += hardware.control("window conditions", conditions, hardware.counter_bits(max(grid_h, grid_w)))
    operators += hardware.conversion("result", layer.precision["result"], c)
    # an unpadded average multiplies by the one reciprocal of a full window, a constant
    constants = hardware.constant_products([_reciprocals(layer)[a.ph * a.pw]] * c, layer.precision["recip"]) \
        if avg and not a.padded else ()
    return Cost(ii=1, iterations=grid_h * grid_w, chain=chain,
                multipliers=c if avg else None, sharing="one per channel" if avg else "none",
                registers_bits=(a.ph * a.pw + a.ph + 1) * c * in_bits + (a.ph + a.pw if a.padded else 0),
                memories=tuple(memories), product_bits=product_bits, operators=operators, constants=constants)


def declared_roles(layer: Layer) -> tuple:
    """A max pool has no reciprocal to store."""
    return tuple(r for r in ROLES if not (r == "recip" and attributes_of(layer, PoolOp).op == "max"))


def default_accum(layer: Layer, in_types: list, types: dict):
    """An average's sum of the window cannot overflow or round; a max passes values as they are."""
    in_type = in_types[0]
    if in_type.is_float or types["result"].is_float:
        return types["result"]
    a = attributes_of(layer, PoolOp)
    if a.op == "max":
        return in_type
    return widen_for_sum(in_type, None, None, a.ph * a.pw)


SAMPLES = {"MaxPooling2D": Sample(lambda L: L.MaxPooling2D(2), (6, 6, 2)),
           "AveragePooling2D": Sample(lambda L: L.AveragePooling2D(2), (6, 6, 2))}

KIND = LayerKind(
    samples=SAMPLES,
    name="pool2d", attributes=PoolAttributes,
    keras={"MaxPooling2D": _handler("max"), "AveragePooling2D": _handler("avg")},
    roles=ROLES, declared_roles=declared_roles, templates=("pool2d", "pool2d_stream"), template=template, view=view,
    weights=weights, reference=reference, cost=cost, default_accum=default_accum,
    loop_nest=lambda layer: window(layer).nest())
