"""The Keras side of conv2d: Conv2D, DepthwiseConv2D (a conv whose kernel is zero between
channels), SeparableConv2D (two conv layers) and Conv2DTranspose (a zero insertion, then a
stride-1 conv of its flipped kernel), read into IR layers."""
from __future__ import annotations

import numpy as np

from ...ir import Layer
from ..base import Sample
from ..keras_reading import (
    activation_name,
    check_channels_last,
    image_shape,
    read_array,
    unsupported,
    window_geometry,
    with_activation,
)
from ..pad2d import Pad2DAttributes
from .common import ConvAttributes, conv_attributes, depthwise_as_conv


def _geometry(klayer, shape, source) -> dict:
    """Checks and output geometry shared by Conv2D and DepthwiseConv2D."""
    if tuple(klayer.dilation_rate) != (1, 1):
        raise unsupported(klayer, source, f"dilation {tuple(klayer.dilation_rate)} (only 1)")
    kh, kw = klayer.kernel_size
    _, geometry = window_geometry(klayer, shape, source, (kh, kw), "kernel")
    return dict(kh=kh, kw=kw, **geometry)


def _activation(klayer, source) -> str:
    name = activation_name(klayer, source)
    if name == "softmax":
        raise unsupported(klayer, source, "a softmax activation (softmax over a vector only)")
    return name


def _layer(klayer, shape, source, kernel, bias, extra_attrs, activation) -> Layer:
    geometry = _geometry(klayer, shape, source)
    oh, ow = geometry.pop("oh"), geometry.pop("ow")
    layer = Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=tuple(shape),
                  out_shape=(oh, ow, kernel.shape[-1]), attrs=ConvAttributes(**geometry, **extra_attrs),
                  weights=dict(kernel=kernel, bias=bias))
    return with_activation(layer, activation)


def conv_layer(klayer, shape, source, kernel, bias, extra_attrs: dict, activation: str) -> Layer:
    """A conv2d layer of a Keras conv layer's geometry with the given (KH, KW, C, F) kernel and
    bias (a quantization-aware conv's quantized ones, ikr_hls/hgq/)."""
    return _layer(klayer, shape, source, kernel, bias, extra_attrs, activation)


def _conv2d(klayer, shape, source):
    if getattr(klayer, "groups", 1) != 1:
        raise unsupported(klayer, source, f"groups={klayer.groups} (only 1)")
    kernel = read_array(klayer.kernel)
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(klayer.filters)
    return _layer(klayer, shape, source, kernel, bias, {}, _activation(klayer, source))


def _depthwise_conv2d(klayer, shape, source):
    """A depthwise conv is a conv whose kernel is zero between different channels
    (common.depthwise_as_conv): the generated code multiplies nonzeros only, so those structural
    zeros cost nothing, and each depthwise kernel keeps its own IKR pattern."""
    depthwise = read_array(klayer.kernel)                    # (KH, KW, C, M)
    c, m = depthwise.shape[2:]
    if m != klayer.depth_multiplier:
        raise unsupported(klayer, source, f"a kernel of shape {depthwise.shape} for depth_multiplier "
                          f"{klayer.depth_multiplier}")
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(c * m)
    return _layer(klayer, shape, source, depthwise_as_conv(depthwise), bias, dict(depthwise=m),
                  _activation(klayer, source))


def _separable_conv2d(klayer, shape, source):
    """A SeparableConv2D is two layers here: its depthwise half (no activation, no bias;
    Keras-side name '<name>/depthwise', so configured as such and C++ name <name>_depthwise)
    and its 1x1 pointwise half ('<name>'), which carries the bias and the activation."""
    depthwise = read_array(klayer.depthwise_kernel)          # (KH, KW, C, M)
    c, m = depthwise.shape[2:]
    first = _layer(klayer, shape, source, depthwise_as_conv(depthwise), np.zeros(c * m),
                   dict(depthwise=m, separable="depthwise"), "linear")
    first.keras_name = f"{klayer.name}/depthwise"
    pointwise = read_array(klayer.pointwise_kernel)          # (1, 1, C*M, F)
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(klayer.filters)
    oh, ow, _ = first.out_shape
    second = Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=first.out_shape,
                   out_shape=(oh, ow, klayer.filters),
                   attrs=ConvAttributes(kh=1, kw=1, sh=1, sw=1, padding="valid", pad_top=0, pad_bottom=0,
                                        pad_left=0, pad_right=0, separable="pointwise"),
                   weights=dict(kernel=pointwise, bias=bias))
    return [first, with_activation(second, _activation(klayer, source))]


def _conv2d_transpose(klayer, shape, source):
    """A Conv2DTranspose of stride (SH, SW) is a stride-1 conv over its input with SH - 1 rows
    and SW - 1 columns of zeros inserted between pixels (a pad2d layer '<name>/dilate', whose
    zero insertion costs no multiplier), padded by the conv itself, with the kernel flipped
    (and its channel axes swapped): IKR patterns apply to that flipped kernel."""
    h, w, c = image_shape(klayer, shape, source)
    check_channels_last(klayer, source)
    if tuple(klayer.dilation_rate) != (1, 1):
        raise unsupported(klayer, source, f"dilation {tuple(klayer.dilation_rate)} (only 1)")
    if klayer.padding not in ("valid", "same"):
        raise unsupported(klayer, source, f"padding='{klayer.padding}' (valid or same)")
    kernel = read_array(klayer.kernel)                       # (KH, KW, F, C)
    kh, kw = kernel.shape[:2]
    sh, sw = klayer.strides
    pads = []
    extra = klayer.output_padding or (None, None)
    for size, k, s, op in ((h, kh, sh, extra[0]), (w, kw, sw, extra[1])):
        dilated = (size - 1) * s + 1
        if op is None:                                        # Keras's deconv_output_length
            out = size * s + (max(k - s, 0) if klayer.padding == "valid" else 0)
        else:
            out = (size - 1) * s + k - 2 * (k // 2 if klayer.padding == "same" else 0) + op
        # the padding before of the conv whose gradient this is (TensorFlow's rule for `out`)
        before = max((size - 1) * s + k - out, 0) // 2 if klayer.padding == "same" else 0
        top = k - 1 - before
        pads.append((top, out + k - 1 - top - dilated, dilated, out))
    (pt, pb, dh_size, oh), (pl, pr, dw_size, ow) = pads
    bias = read_array(klayer.bias) if klayer.use_bias else np.zeros(klayer.filters)
    conv = Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=(dh_size, dw_size, c),
                 out_shape=(oh, ow, klayer.filters),
                 attrs=ConvAttributes(kh=kh, kw=kw, sh=1, sw=1, padding=klayer.padding, pad_top=pt, pad_bottom=pb,
                                      pad_left=pl, pad_right=pr, transpose=(int(sh), int(sw))),
                 weights=dict(kernel=np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2)), bias=bias))
    with_activation(conv, _activation(klayer, source))
    if (sh, sw) == (1, 1):
        return conv
    dilate = Layer(name="", kind="pad2d", keras_name=f"{klayer.name}/dilate", in_shape=(h, w, c),
                   out_shape=(dh_size, dw_size, c),
                   attrs=Pad2DAttributes(pad_top=0, pad_bottom=0, pad_left=0, pad_right=0, dil_h=sh, dil_w=sw))
    return [dilate, conv]


def keras_tensor(layer: Layer, keras_model, keras):
    """The depthwise half of a SeparableConv2D has no tensor of its own in Keras: it is computed
    from the layer's input (None: the layer's own output is the tensor)."""
    if conv_attributes(layer).separable != "depthwise":
        return None
    sep = keras_model.get_layer(layer.keras_name.rsplit("/", 1)[0])
    return keras.ops.depthwise_conv(sep.input, sep.depthwise_kernel, strides=sep.strides, padding=sep.padding)


SAMPLES = {"Conv2D": Sample(lambda L: L.Conv2D(2, 3), (6, 6, 2)),
           "DepthwiseConv2D": Sample(lambda L: L.DepthwiseConv2D(3), (6, 6, 2)),
           "SeparableConv2D": Sample(lambda L: L.SeparableConv2D(2, 3), (6, 6, 2)),
           "Conv2DTranspose": Sample(lambda L: L.Conv2DTranspose(2, 3), (6, 6, 2))}
KERAS = {"Conv2D": _conv2d, "DepthwiseConv2D": _depthwise_conv2d, "SeparableConv2D": _separable_conv2d,
         "Conv2DTranspose": _conv2d_transpose}
