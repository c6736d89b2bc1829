"""pad2d: a ZeroPadding2D that is not merged into the conv after it (it feeds a pooling, an
Add, or several layers); and the zero insertion of a Conv2DTranspose (kinds/conv2d.py), which
writes its input pixels DH rows and DW columns apart with zeros between them (attrs dil_h,
dil_w; no border padding: its conv pads the borders)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import codes as C
from ..attributes import Attributes, attributes_of, not_negative, positive
from ..expr import Expr, Var, all_of
from ..ir import Layer
from ..loops import LoopNest
from ..precision import requantize
from .base import Cost, LayerKind, Sample, View, no_accumulator, pixel_steps_cost
from .keras_reading import check_channels_last, image_shape
from .window import COL_PHASE, ROW_PHASE, X, Y

ROLES = ("result",)


@dataclass(frozen=True)
class Pad2DAttributes(Attributes):
    """Rows and columns of zeros around the image; a Conv2DTranspose's zero insertion also puts
    its input pixels dil_h rows and dil_w columns apart."""
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    dil_h: int = 1
    dil_w: int = 1

    def check(self) -> None:
        not_negative(self, "pad_top", "pad_bottom", "pad_left", "pad_right")
        positive(self, "dil_h", "dil_w")


def _attributes(layer: Layer) -> Pad2DAttributes:
    return attributes_of(layer, Pad2DAttributes)


def _zero_padding2d(klayer, shape, source):
    h, w, c = image_shape(klayer, shape, source)
    check_channels_last(klayer, source)
    (pt, pb), (pl, pr) = klayer.padding
    return Layer(name="", kind="pad2d", keras_name=klayer.name, in_shape=(h, w, c),
                 out_shape=(h + pt + pb, w + pl + pr, c),
                 attrs=Pad2DAttributes(pad_top=pt, pad_bottom=pb, pad_left=pl, pad_right=pr))


def template(layer: Layer) -> str:
    return "pad2d"


def _dilation(layer: Layer) -> tuple[int, int]:
    return _attributes(layer).dil_h, _attributes(layer).dil_w


def _inside(layer: Layer) -> Expr:
    """The output step (y, x) carries an input pixel (not padding, not an inserted zero)."""
    a = _attributes(layer)
    h, w, _ = layer.in_shape
    dh, dw = _dilation(layer)
    if dh > 1 or dw > 1:            # zero insertion: phase counters say which steps carry a pixel
        return all_of(ROW_PHASE.eq(0) if dh > 1 else None, COL_PHASE.eq(0) if dw > 1 else None)
    return all_of(Y >= a.pad_top if a.pad_top else None, Y < a.pad_top + h if a.pad_bottom else None,
                  X >= a.pad_left if a.pad_left else None, X < a.pad_left + w if a.pad_right else None)


@dataclass(frozen=True, kw_only=True)
class Pad2DView(View):
    """pad2d.h.j2: one output pixel a step, an input pixel where `inside` holds, else zeros."""
    h: int
    w: int
    c: int
    oh: int
    ow: int
    dil_h: int
    dil_w: int
    inside: Expr
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    in_element: Expr          # io_parallel: channel ci of the step's input pixel (where inside)
    out_element: Expr         # and of its output pixel: loop variables and constants only


def _elements(layer: Layer) -> dict:
    """The flat indices io_parallel reads and writes at step (y, x), channel ci."""
    h, w, c = layer.in_shape
    a = _attributes(layer)
    ci = Var("ci")
    source = (Y - a.pad_top) // a.dil_h * w + (X - a.pad_left) // a.dil_w
    return dict(in_element=source * c + ci, out_element=(Y * layer.out_shape[1] + X) * c + ci)


def view(layer: Layer) -> Pad2DView:
    h, w, c = layer.in_shape
    a = _attributes(layer)
    dh, dw = _dilation(layer)
    if dh > 1 or dw > 1:
        return Pad2DView(**_elements(layer), h=h, w=w, c=c, oh=layer.out_shape[0], ow=layer.out_shape[1],
                         dil_h=dh, dil_w=dw,
                    inside=_inside(layer), pad_top=0, pad_bottom=0, pad_left=0, pad_right=0,
                    keras_class="Conv2DTranspose", summary=f"zero insertion {dh}x{dw} of a Conv2DTranspose")
    return Pad2DView(**_elements(layer), h=h, w=w, c=c, oh=layer.out_shape[0], ow=layer.out_shape[1],
                inside=_inside(layer),
                pad_top=a.pad_top, pad_bottom=a.pad_bottom, pad_left=a.pad_left,
                pad_right=a.pad_right, keras_class="ZeroPadding2D", dil_h=1, dil_w=1,
                summary=f"ZeroPadding2D {a.pad_top},{a.pad_bottom} x {a.pad_left},{a.pad_right}")


def loop_nest(layer: Layer) -> LoopNest:
    """One step per output pixel, raster order: each writes, the ones inside the image read.
    The phase counters (zero insertion) count rows and columns modulo the dilation."""
    oh, ow = layer.out_shape[:2]
    dh, dw = _dilation(layer)
    counters = ((("row_phase", Y % dh),) if dh > 1 else ()) + ((("col_phase", X % dw),) if dw > 1 else ())
    return LoopNest((("y", oh), ("x", ow)), reads=_inside(layer), counters=counters)


def keras_tensor(layer: Layer, keras_model, keras):
    """A Conv2DTranspose's zero insertion has no tensor in Keras: its input with zeros inserted
    (None for a ZeroPadding2D, whose own output is the tensor)."""
    dh, dw = _dilation(layer)
    if dh == 1 and dw == 1:
        return None
    x = keras_model.get_layer(layer.keras_name.rsplit("/", 1)[0]).input
    for axis, d in ((1, dh), (2, dw)):
        x = _spread(keras, x, axis, d)
    return x


def _spread(keras, x, axis: int, d: int):
    """x with d - 1 zeros inserted between its elements along `axis` (1: rows, 2: columns)."""
    if d == 1:
        return x
    shape = list(x.shape[1:])
    pieces = [keras.ops.expand_dims(x, axis + 1)] + [keras.ops.expand_dims(keras.ops.zeros_like(x), axis + 1)] * (d - 1)
    size = shape[axis - 1]
    shape[axis - 1] = size * d
    y = keras.ops.reshape(keras.ops.concatenate(pieces, axis=axis + 1), (-1, *shape))
    return y[:, :(size - 1) * d + 1] if axis == 1 else y[:, :, :(size - 1) * d + 1]


def reference(layer: Layer, ins: list) -> np.ndarray:
    (codes, in_t), = ins
    a = _attributes(layer)
    dh, dw = _dilation(layer)
    if dh > 1 or dw > 1:
        n, h, w, c = codes.shape
        spread = np.zeros((n, (h - 1) * dh + 1, (w - 1) * dw + 1, c), dtype=np.int64)
        spread[:, ::dh, ::dw] = codes
        codes = spread
    padded = np.pad(codes, ((0, 0), (a.pad_top, a.pad_bottom), (a.pad_left, a.pad_right), (0, 0)))
    return requantize(padded, in_t.fractional, C.fixed_types(layer)["result"])


def cost(layer: Layer) -> Cost:
    """One output pixel per step, II 1: a pixel or zeros (a choice per value), by `inside` and
    the phase updates of a zero insertion (two comparisons each)."""
    from .. import hardware

    dh, dw = _dilation(layer)
    c = layer.in_shape[-1]
    in_bits = hardware.bits(layer.input_types[0]) if layer.input_types else 0
    operators = (hardware.ops("padding zeros", "select", in_bits, c)
                 + hardware.control("inside", hardware.comparisons(_inside(layer)) + 2 * (dh > 1) + 2 * (dw > 1),
                                    hardware.counter_bits(max(layer.out_shape[:2]))))
    return pixel_steps_cost(layer, operators=operators)



SAMPLES = {"ZeroPadding2D": Sample(lambda L: L.ZeroPadding2D(1), (6, 6, 2))}

KIND = LayerKind(
    samples=SAMPLES,
    name="pad2d", keras={"ZeroPadding2D": _zero_padding2d},
    attributes=Pad2DAttributes, roles=ROLES, templates=("pad2d", "pad2d_stream"), template=template, view=view,
    reference=reference, cost=cost, default_accum=no_accumulator, loop_nest=loop_nest, keras_tensor=keras_tensor)
