"""The frontend handlers of HGQ2's layers: each returns its input quantizer(s) as quantize
steps, the layer itself with its quantized weights (the values HGQ2's forward uses) and their
trained types, and its output quantizer when it has one.

Each handler reuses the handler of the Keras class the HGQ2 class derives from (its geometry,
options and refusals), then puts the quantized values and types in. Only activations that are
exact in fixed point are taken (linear, relu, relu6): a sigmoid or tanh computes in floating
point in Keras, which no fixed-point design reproduces bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import IKRHLSError
from ..ir import Layer, Trained
from ..kinds import KERAS_HANDLERS
from ..kinds.conv2d.common import depthwise_as_conv
from ..kinds.conv2d.frontend import conv_layer
from ..kinds.keras_reading import activation_name, unsupported
from ..kinds.quantize import quantize_layer
from ..kinds.scale_shift import ScaleShiftAttributes
from . import quantizers

EXACT_ACTIVATIONS = ("linear", "relu", "relu6")


class InputRef(int):
    """A handler-made layer's input: the Keras layer's input at this position (frontend.py)."""


def _where(klayer, source, what: str) -> str:
    return f"{source}: layer '{klayer.name}' ({type(klayer).__name__}) {what}"


def _quantize(klayer, quantizer, shape, source, suffix: str, what: str) -> Layer | None:
    """A quantize step for one of the layer's quantizers over a tensor of `shape`, or None
    when the quantizer passes values unchanged."""
    formats = quantizers.read(quantizer, tuple(shape), _where(klayer, source, f"{what} quantizer"))
    if formats is None:
        return None
    layer = quantize_layer(klayer.name, suffix, tuple(shape), formats.k, formats.i, formats.f,
                           formats.round, formats.overflow, f"{what} of {klayer.name}")
    layer.trained = Trained(types={"result": formats.container()}, widths={"result": formats.width})
    return layer


def _around(klayer, core: list, shape, source, inputs: int = 1, input_shapes=None) -> list:
    """[input quantizer(s)] + core layers + [output quantizer], wired: each input quantizer
    reads the Keras layer's input at its position, the first core layer reads them all."""
    head: list = []
    if getattr(klayer, "enable_iq", False):
        if inputs == 1:
            q = _quantize(klayer, klayer.iq, shape, source, "iq", "input")
            head = [q] if q is not None else []
        else:
            for n, (iq, s) in enumerate(zip(klayer.iq, input_shapes, strict=True)):
                q = _quantize(klayer, iq, s, source, f"iq{n}", f"input {n}")
                if q is not None:
                    q.inputs = [InputRef(n)]
                    head.append(q)
                else:
                    head.append(InputRef(n))
    if inputs > 1:                 # the merge reads each input's quantizer, or the input itself
        core[0].inputs = head if head else [InputRef(n) for n in range(inputs)]
        head = [h for h in head if isinstance(h, Layer)]
    tail = []
    if getattr(klayer, "enable_oq", False):
        q = _quantize(klayer, klayer.oq, core[-1].out_shape, source, "oq", "output")
        if q is not None:
            tail = [q]
    return head + core + tail


def _activation(klayer, source) -> str:
    name = activation_name(klayer, source)
    if name not in EXACT_ACTIVATIONS:
        raise unsupported(klayer, source, f"activation '{name}' (it computes in floating point in Keras, "
                          f"which no fixed-point design reproduces bit for bit; exact: {', '.join(EXACT_ACTIVATIONS)})")
    return name


def _array(value) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


def _trained(klayer, source, kernel, kernel_q, bias, bias_q) -> Trained:
    """The weight and bias types of the quantized values, and each weight's own width."""
    kf = quantizers.read(kernel_q, kernel.shape, _where(klayer, source, "weight quantizer"))
    if kf is None:
        raise IKRHLSError(_where(klayer, source, "has a weight quantizer that does not quantize (dummy): its "
                                 "weights are floating point; give the layer a fixed-point quantizer"))
    types = {"weight": quantizers.values_type(kernel, kf, _where(klayer, source, "weights"))}
    widths = {"weight": np.where(kernel != 0, kf.width, 0.0)}
    if bias_q is not None:
        bf = quantizers.read(bias_q, bias.shape, _where(klayer, source, "bias quantizer"))
        if bf is None:
            raise IKRHLSError(_where(klayer, source, "has a bias quantizer that does not quantize (dummy)"))
        types["bias"] = quantizers.values_type(bias, bf, _where(klayer, source, "biases"))
        widths["bias"] = np.where(bias != 0, bf.width, 0.0)
    else:                                     # no bias: zeros, exact in any type
        types["bias"] = quantizers.Formats(*(np.zeros(1),) * 3, "TRN", "WRAP").container()
    return Trained(types=types, widths=widths)


def _qconv2d(klayer, shape, source):
    if getattr(klayer, "rank", 2) != 2:
        raise unsupported(klayer, source, f"rank {klayer.rank} (only 2-D convolutions)")
    kernel = _array(klayer.qkernel)                          # (KH, KW, C / groups, F)
    bias = _array(klayer.qbias) if klayer.use_bias else np.zeros(klayer.filters)
    groups = int(getattr(klayer, "groups", 1))
    trained = _trained(klayer, source, kernel, klayer.kq, bias, klayer.bq if klayer.use_bias else None)
    widths = trained.widths["weight"]
    extra: dict = {}
    if groups > 1:
        c, f = int(shape[-1]), klayer.filters
        if groups == c:                                       # a depthwise conv: one input channel per group
            m = f // c
            kernel = depthwise_as_conv(kernel[:, :, 0, :].reshape(*kernel.shape[:2], c, m))
            widths = depthwise_as_conv(widths[:, :, 0, :].reshape(*widths.shape[:2], c, m))
            extra = dict(depthwise=m)
        else:                                                 # groups of C/g channels: zeros between groups
            kernel, widths = _grouped(kernel, groups, c), _grouped(widths, groups, c)
    layer = conv_layer(klayer, shape, source, kernel, bias, extra, _activation(klayer, source))
    layer.trained = Trained(types=trained.types, widths={**trained.widths, "weight": widths})
    return _around(klayer, [layer], shape, source)


def _grouped(kernel: np.ndarray, groups: int, channels: int) -> np.ndarray:
    """A grouped conv's (KH, KW, C/g, F) kernel as (KH, KW, C, F), zeros between groups."""
    kh, kw, per, f = kernel.shape
    out = np.zeros((kh, kw, channels, f))
    per_out = f // groups
    for g in range(groups):
        out[:, :, g * per:(g + 1) * per, g * per_out:(g + 1) * per_out] = kernel[:, :, :, g * per_out:(g + 1) * per_out]
    return out


def _qdense(klayer, shape, source):
    layer = KERAS_HANDLERS["Dense"](klayer, shape, source)
    kernel = _array(klayer.qkernel)          # QBatchNormDense's: fused with its moving statistics, as its forward
    bias = _array(klayer.qbias) if klayer.use_bias else np.zeros(klayer.units)
    layer.weights = dict(kernel=kernel, bias=bias)
    layer.activation = _activation(klayer, source)
    layer.trained = _trained(klayer, source, kernel, klayer.kq, bias, klayer.bq if klayer.use_bias else None)
    return _around(klayer, [layer], shape, source)


def _qbatchnorm(klayer, shape, source):
    axis = klayer.axis if isinstance(klayer.axis, int) else list(klayer.axis)
    if axis not in (-1, len(shape), [-1], [len(shape)]):
        raise unsupported(klayer, source, f"axis={klayer.axis} (only the channel axis, -1)")
    scale, shift = (_array(v) for v in klayer.qscaler_and_qoffset)     # HGQ2's quantized scale and offset
    layer = Layer(name="", kind="scale_shift", keras_name=klayer.name, in_shape=tuple(shape),
                  out_shape=tuple(shape), weights=dict(scale=scale, shift=shift),
                  attrs=ScaleShiftAttributes(origin="BatchNormalization"))
    layer.trained = _trained(klayer, source, scale, klayer.kq, shift, klayer.bq)
    return _around(klayer, [layer], shape, source)


def _pool(keras_class: str, average: bool):
    def handler(klayer, shape, source):
        layer = KERAS_HANDLERS[keras_class](klayer, shape, source)
        if average:
            n = layer.attrs.ph * layer.attrs.pw
            if not power_of_two(n) or getattr(layer.attrs, "padded", False):
                padding = ", same padding" if power_of_two(n) else ""
                raise unsupported(klayer, source, f"an average over {n} values{padding} (Keras divides in floating "
                                  "point: exact for a power-of-two count, valid padding)")
        return _around(klayer, [layer], shape, source)
    return handler


def _qactivation(klayer, shape, source):
    """QUnaryFunctionLUT: its input quantizer, the activation, its output quantizer; only an
    activation exact in fixed point (HGQ2 computes the others in float, then quantizes)."""
    layer = KERAS_HANDLERS["Activation"](klayer, shape, source)
    _activation(klayer, source)
    return _around(klayer, [layer], shape, source)


def _qadd(klayer, shapes, source):
    layer = KERAS_HANDLERS["Add"](klayer, shapes, source)
    return _around(klayer, [layer], shapes[0], source, inputs=len(shapes), input_shapes=shapes)


HANDLERS = {
    "QConv2D": _qconv2d,
    "QDense": _qdense,
    "QBatchNormDense": _qdense,
    "QBatchNormalization": _qbatchnorm,
    "QMaxPooling2D": _pool("MaxPooling2D", False),
    "QAveragePooling2D": _pool("AveragePooling2D", True),
    "QGlobalMaxPooling2D": _pool("GlobalMaxPooling2D", False),
    "QGlobalAveragePooling2D": _pool("GlobalAveragePooling2D", True),
    "QAdd": _qadd,
    "QUnaryFunctionLUT": _qactivation,
}
MULTI_INPUT = {"QAdd"}


def power_of_two(n: int) -> bool:
    return n > 0 and math.log2(n).is_integer()
