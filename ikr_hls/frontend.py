"""Keras model or file -> ir.Graph.

One table (SUPPORTED) says which Keras layers convert and how; anything else raises
IKRHLSError naming the layer, its class and what is supported.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from .errors import IKRHLSError
from .modelfile import import_keras, load_keras_model
from .ir import ACTIVATIONS, INPUT, Graph, Layer, c_identifier, conv_output_size, depthwise_as_conv

log = logging.getLogger(__name__)


def keras_to_graph(model_or_path) -> tuple[Graph, object]:
    """Return (graph, keras_model) for a keras.Model or a path to a saved model."""
    if isinstance(model_or_path, (str, os.PathLike)):
        model = load_keras_model(model_or_path)
        source = str(model_or_path)
    else:
        model = model_or_path
        source = getattr(model, "name", "model")
    return _build_graph(model, source), model


def _build_graph(model, source: str) -> Graph:
    keras = import_keras()

    if not isinstance(model, keras.Model):
        raise IKRHLSError(f"{source}: expected a keras.Model, got {type(model).__name__}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs:
        raise IKRHLSError(f"{source}: the model is not built (give it an Input or call it once)")
    if len(inputs) != 1 or len(outputs) != 1:
        raise IKRHLSError(f"{source}: models with {len(inputs)} inputs and {len(outputs)} outputs "
                          "are not supported (one input, one output)")
    in_shape = tuple(inputs[0].shape[1:])
    if any(d is None for d in in_shape):
        raise IKRHLSError(f"{source}: input shape {tuple(inputs[0].shape)} is not supported "
                          "(every dimension but the batch must be fixed)")

    graph = Graph(source=source, input_shape=tuple(int(d) for d in in_shape),
                  input_name=inputs[0]._keras_history[0].name)
    taken: set[str] = set()
    shapes = {INPUT: graph.input_shape}
    alias: dict = {}                       # id(Keras layer) -> IR name of the buffer it produces
    for klayer, sources in _ops_in_order(model, source):
        cls = type(klayer).__name__
        if not isinstance(klayer, keras.layers.Layer):     # x + y, x * 2 on Keras tensors: keras.ops
            raise IKRHLSError(f"{source}: operation '{klayer.name}' (keras.ops {cls}) is not supported; "
                              "use layers (keras.layers.Add for a sum of tensors)")
        handler = SUPPORTED.get(cls)
        if handler is None:
            raise IKRHLSError(f"{source}: layer '{klayer.name}' ({cls}) is not supported; "
                              f"supported layers: {', '.join(sorted(SUPPORTED))}")
        quantized = getattr(getattr(klayer, "dtype_policy", None), "quantization_mode", None)
        if quantized:              # its kernel holds int8/float8 codes and a scale, not weights
            raise IKRHLSError(f"{source}: layer '{klayer.name}' ({cls}) is quantized by Keras "
                              f"({klayer.dtype_policy.name}); convert the float model and choose "
                              "ap_fixed types with precision/config instead")
        names = [INPUT if s is None else alias[id(s)] for s in sources]
        in_shapes = [shapes[n] for n in names]
        made = handler(klayer, in_shapes if cls in MULTI_INPUT else in_shapes[0], source)
        if made is None:
            graph.removed[klayer.name] = "removed for inference"
            alias[id(klayer)] = names[0]
            continue
        for layer in made if isinstance(made, list) else [made]:    # a SeparableConv2D makes two
            _check_finite(layer, source)
            layer.name = c_identifier(layer.keras_name, taken)   # 'sep/depthwise' -> sep_depthwise
            layer.inputs = names
            graph.layers.append(layer)
            shapes[layer.name] = layer.out_shape
            names = [layer.name]
        alias[id(klayer)] = names[0]
    if not graph.layers:
        raise IKRHLSError(f"{source}: the model has no layers to convert")
    return graph


def _check_finite(layer: Layer, source: str) -> None:
    for role, values in layer.weights.items():
        if not np.all(np.isfinite(values)):
            raise IKRHLSError(f"{source}: layer '{layer.keras_name}': {role} values are not finite "
                              "(NaN or infinity); the file is damaged or training diverged")


def _ops_in_order(model, source) -> list:
    """[(keras layer, [layer producing each input, None for the model input])] from input to
    output, in topological order (the layers an output needs come before it).

    Walks back from the output tensor through each layer's inbound node, which works the
    same for Sequential and functional models (and ignores the extra nodes Keras records
    when a Sequential model is rebuilt on load).
    """
    target = model.inputs[0]
    order, done = [], set()

    def producer(tensor):
        if tensor is target:
            return None
        op, node_index, tensor_index = tensor._keras_history
        if type(op).__name__ == "InputLayer":
            raise IKRHLSError(f"{source}: layer reads an input that is not the model input")
        if tensor_index != 0:
            raise IKRHLSError(f"{source}: layer '{op.name}' ({type(op).__name__}) has several outputs; "
                              "not supported")
        return op, node_index

    stack = [(producer(model.outputs[0]), False)]
    nodes = {}                             # id(op) -> (its producers, the node index used)
    while stack:
        item, expanded = stack.pop()
        if item is None:
            continue
        op, node_index = item
        if expanded:                       # every input's producer is in `order` already
            if id(op) not in done:
                done.add(id(op))
                order.append(op)
            continue
        if id(op) in nodes:
            if nodes[id(op)][1] != node_index:
                raise IKRHLSError(f"{source}: layer '{op.name}' is applied more than once (shared "
                                  "weights); give each use its own layer")
            continue
        inputs = op._inbound_nodes[node_index].input_tensors
        if not inputs:
            raise IKRHLSError(f"{source}: the output does not depend on the model input")
        producers = [producer(t) for t in inputs]
        nodes[id(op)] = (producers, node_index)
        stack.append((item, True))
        stack.extend((p, False) for p in reversed(producers))   # seen ones are checked when popped
    return [(op, [None if p is None else p[0] for p in nodes[id(op)][0]]) for op in order]


def _array(variable) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable), dtype=np.float64)


def _unsupported(klayer, source, what):
    return IKRHLSError(f"{source}: layer '{klayer.name}' ({type(klayer).__name__}) with {what} "
                       "is not supported")


def _activation_name(klayer, source, fn=None) -> str:
    fn = fn if fn is not None else klayer.activation
    name = getattr(fn, "__name__", str(fn))
    if name not in ACTIVATIONS:
        raise _unsupported(klayer, source, f"activation '{name}' (supported: {', '.join(ACTIVATIONS)})")
    return name


# Parameters of activations given by name (activation="leaky_relu" uses Keras's default slope).
_ACTIVATION_DEFAULTS = {"leaky_relu": {"alpha": 0.2}}


def _with_activation(layer: Layer, name: str, **params) -> Layer:
    """Set a layer's activation and its parameters (the slope of a leaky ReLU)."""
    layer.activation = name
    layer.attrs.update(_ACTIVATION_DEFAULTS.get(name, {}), **params)
    return layer


def _check_channels_last(klayer, source):
    fmt = getattr(klayer, "data_format", "channels_last")
    if fmt != "channels_last":
        raise _unsupported(klayer, source, f"data_format='{fmt}' (only channels_last)")


def _image_shape(klayer, shape, source):
    if len(shape) != 3:
        raise _unsupported(klayer, source, f"input shape {shape} (needs an (H, W, C) image)")
    return shape


def _conv_geometry(klayer, shape, source) -> dict:
    """Checks and output geometry shared by Conv2D and DepthwiseConv2D."""
    h, w, c = _image_shape(klayer, shape, source)
    _check_channels_last(klayer, source)
    if tuple(klayer.dilation_rate) != (1, 1):
        raise _unsupported(klayer, source, f"dilation {tuple(klayer.dilation_rate)} (only 1)")
    if klayer.padding not in ("valid", "same"):
        raise _unsupported(klayer, source, f"padding='{klayer.padding}' (valid or same)")
    kh, kw = klayer.kernel_size
    sh, sw = klayer.strides
    oh, pt, pb = conv_output_size(h, kh, sh, klayer.padding)
    ow, pl, pr = conv_output_size(w, kw, sw, klayer.padding)
    if oh < 1 or ow < 1:
        raise _unsupported(klayer, source, f"a {kh}x{kw} kernel on a {h}x{w} input (no output pixel)")
    return dict(kh=kh, kw=kw, sh=sh, sw=sw, padding=klayer.padding,
                pad_top=pt, pad_bottom=pb, pad_left=pl, pad_right=pr, oh=oh, ow=ow)


def _conv_activation(klayer, source) -> str:
    activation = _activation_name(klayer, source)
    if activation == "softmax":
        raise _unsupported(klayer, source, "a softmax activation (softmax over a vector only)")
    return activation


def _conv_layer(klayer, shape, source, kernel, bias, extra_attrs, activation) -> Layer:
    geometry = _conv_geometry(klayer, shape, source)
    oh, ow = geometry.pop("oh"), geometry.pop("ow")
    layer = Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=tuple(shape),
                  out_shape=(oh, ow, kernel.shape[-1]), attrs=dict(geometry, **extra_attrs),
                  weights=dict(kernel=kernel, bias=bias))
    return _with_activation(layer, activation)


def _conv2d(klayer, shape, source):
    if getattr(klayer, "groups", 1) != 1:
        raise _unsupported(klayer, source, f"groups={klayer.groups} (only 1)")
    kernel = _array(klayer.kernel)
    bias = _array(klayer.bias) if klayer.use_bias else np.zeros(klayer.filters)
    return _conv_layer(klayer, shape, source, kernel, bias, {}, _conv_activation(klayer, source))


def _depthwise_conv2d(klayer, shape, source):
    """A depthwise conv is a conv whose kernel is zero between different channels
    (ir.depthwise_as_conv): the generated code multiplies nonzeros only, so those structural
    zeros cost nothing, and each depthwise kernel keeps its own IKR pattern."""
    depthwise = _array(klayer.kernel)                       # (KH, KW, C, M)
    c, m = depthwise.shape[2:]
    bias = _array(klayer.bias) if klayer.use_bias else np.zeros(c * m)
    return _conv_layer(klayer, shape, source, depthwise_as_conv(depthwise), bias, dict(depthwise=m),
                       _conv_activation(klayer, source))


def _separable_conv2d(klayer, shape, source):
    """A SeparableConv2D is two layers here: its depthwise half (no activation, no bias;
    Keras-side name '<name>/depthwise', so configured as such and C++ name <name>_depthwise)
    and its 1x1 pointwise half ('<name>'), which carries the bias and the activation."""
    depthwise = _array(klayer.depthwise_kernel)             # (KH, KW, C, M)
    c, m = depthwise.shape[2:]
    first = _conv_layer(klayer, shape, source, depthwise_as_conv(depthwise), np.zeros(c * m),
                        dict(depthwise=m, separable="depthwise"), "linear")
    first.keras_name = f"{klayer.name}/depthwise"
    pointwise = _array(klayer.pointwise_kernel)             # (1, 1, C*M, F)
    bias = _array(klayer.bias) if klayer.use_bias else np.zeros(klayer.filters)
    oh, ow, _ = first.out_shape
    second = Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=first.out_shape,
                   out_shape=(oh, ow, klayer.filters),
                   attrs=dict(kh=1, kw=1, sh=1, sw=1, padding="valid", pad_top=0, pad_bottom=0,
                              pad_left=0, pad_right=0, separable="pointwise"),
                   weights=dict(kernel=pointwise, bias=bias))
    return [first, _with_activation(second, _conv_activation(klayer, source))]


def _dense(klayer, shape, source):
    if len(shape) != 1:
        raise _unsupported(klayer, source, f"input shape {shape} (Dense needs a vector; add Flatten)")
    kernel = _array(klayer.kernel)
    bias = (_array(klayer.bias) if klayer.use_bias
            else np.zeros(klayer.units))
    layer = Layer(name="", kind="dense", keras_name=klayer.name, in_shape=shape,
                  out_shape=(klayer.units,), weights=dict(kernel=kernel, bias=bias))
    return _with_activation(layer, _activation_name(klayer, source))


def _pool2d(op):
    def handler(klayer, shape, source):
        h, w, c = _image_shape(klayer, shape, source)
        _check_channels_last(klayer, source)
        if klayer.padding not in ("valid", "same"):
            raise _unsupported(klayer, source, f"padding='{klayer.padding}'")
        ph, pw = klayer.pool_size
        sh, sw = klayer.strides
        oh, pt, pb = conv_output_size(h, ph, sh, klayer.padding)
        ow, pl, pr = conv_output_size(w, pw, sw, klayer.padding)
        if oh < 1 or ow < 1:
            raise _unsupported(klayer, source, f"a {ph}x{pw} pool on a {h}x{w} input (no output pixel)")
        return Layer(name="", kind="pool2d", keras_name=klayer.name, in_shape=(h, w, c),
                     out_shape=(oh, ow, c),
                     attrs=dict(op=op, ph=ph, pw=pw, sh=sh, sw=sw, padding=klayer.padding,
                                pad_top=pt, pad_left=pl))
    return handler


def _flatten(klayer, shape, source):
    _check_channels_last(klayer, source)
    return Layer(name="", kind="flatten", keras_name=klayer.name, in_shape=shape,
                 out_shape=(int(np.prod(shape)),))


def _global_pool2d(op):
    def handler(klayer, shape, source):
        h, w, c = _image_shape(klayer, shape, source)
        _check_channels_last(klayer, source)
        out_shape = (1, 1, c) if klayer.keepdims else (c,)
        return Layer(name="", kind="global_pool2d", keras_name=klayer.name, in_shape=(h, w, c),
                     out_shape=out_shape, attrs=dict(op=op, ph=h, pw=w))
    return handler


def _zero_padding2d(klayer, shape, source):
    h, w, c = _image_shape(klayer, shape, source)
    _check_channels_last(klayer, source)
    (pt, pb), (pl, pr) = klayer.padding
    return Layer(name="", kind="pad2d", keras_name=klayer.name, in_shape=(h, w, c),
                 out_shape=(h + pt + pb, w + pl + pr, c),
                 attrs=dict(pad_top=pt, pad_bottom=pb, pad_left=pl, pad_right=pr))


def _reshape(klayer, shape, source):
    target = tuple(int(d) for d in klayer.target_shape)
    if -1 in target:                       # Keras infers one axis
        known = int(np.prod([d for d in target if d != -1]))
        target = tuple(int(np.prod(shape)) // known if d == -1 else d for d in target)
    if int(np.prod(target)) != int(np.prod(shape)):
        raise _unsupported(klayer, source, f"target shape {klayer.target_shape} for an input of shape {shape}")
    return Layer(name="", kind="reshape", keras_name=klayer.name, in_shape=shape, out_shape=target)


def _add(klayer, shapes, source):
    if any(tuple(s) != tuple(shapes[0]) for s in shapes):
        raise _unsupported(klayer, source, f"inputs of shapes {', '.join(map(str, shapes))} "
                           "(broadcasting; all inputs must have the same shape)")
    return Layer(name="", kind="add", keras_name=klayer.name, in_shape=tuple(shapes[0]),
                 out_shape=tuple(shapes[0]))


def _dropout(klayer, shape, source):
    return None  # inference: identity


def _activation_layer(klayer, shape, source):
    layer = Layer(name="", kind="activation", keras_name=klayer.name, in_shape=shape, out_shape=shape)
    return _with_activation(layer, _activation_name(klayer, source))


def _relu(klayer, shape, source):
    """ReLU, ReLU6 (max_value=6) and leaky ReLU (negative_slope, no max)."""
    max_value = None if klayer.max_value is None else float(np.asarray(klayer.max_value))
    slope = float(np.asarray(klayer.negative_slope))
    threshold = float(np.asarray(klayer.threshold))
    layer = Layer(name="", kind="activation", keras_name=klayer.name, in_shape=shape, out_shape=shape)
    if threshold == 0.0 and slope == 0.0 and max_value in (None, 6.0):
        return _with_activation(layer, "relu" if max_value is None else "relu6")
    if threshold == 0.0 and max_value is None:
        return _with_activation(layer, "leaky_relu", alpha=slope)
    raise _unsupported(klayer, source, f"max_value={klayer.max_value}, negative_slope={slope}, "
                       f"threshold={threshold} (supported: ReLU, ReLU(max_value=6), ReLU(negative_slope=a))")


def _leaky_relu(klayer, shape, source):
    layer = Layer(name="", kind="activation", keras_name=klayer.name, in_shape=shape, out_shape=shape)
    return _with_activation(layer, "leaky_relu", alpha=float(np.asarray(klayer.negative_slope)))


def _softmax(klayer, shape, source):
    axis = klayer.axis
    if axis not in (-1, len(shape)) or len(shape) != 1:
        raise _unsupported(klayer, source, f"axis={axis} on shape {shape} (softmax over a vector)")
    return Layer(name="", kind="activation", keras_name=klayer.name, in_shape=shape,
                 out_shape=shape, activation="softmax")


def _batchnorm(klayer, shape, source):
    axis = klayer.axis if isinstance(klayer.axis, int) else list(klayer.axis)
    if axis not in (-1, len(shape), [-1], [len(shape)]):
        raise _unsupported(klayer, source, f"axis={klayer.axis} (only the channel axis, -1)")
    channels = shape[-1]
    gamma = _array(klayer.gamma) if klayer.scale else np.ones(channels)
    beta = _array(klayer.beta) if klayer.center else np.zeros(channels)
    mean = _array(klayer.moving_mean)
    var = _array(klayer.moving_variance)
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + klayer.epsilon)
    shift = np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * scale
    return Layer(name="", kind="scale_shift", keras_name=klayer.name, in_shape=shape,
                 out_shape=shape, weights=dict(scale=scale, shift=shift))


# The table of supported Keras layers: class name -> handler(keras_layer, input_shape, source).
SUPPORTED = {
    "Conv2D": _conv2d,
    "DepthwiseConv2D": _depthwise_conv2d,
    "SeparableConv2D": _separable_conv2d,
    "Dense": _dense,
    "MaxPooling2D": _pool2d("max"),
    "AveragePooling2D": _pool2d("avg"),
    "GlobalMaxPooling2D": _global_pool2d("max"),
    "GlobalAveragePooling2D": _global_pool2d("avg"),
    "ZeroPadding2D": _zero_padding2d,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Add": _add,
    "Dropout": _dropout,
    "Activation": _activation_layer,
    "ReLU": _relu,
    "LeakyReLU": _leaky_relu,
    "Softmax": _softmax,
    "BatchNormalization": _batchnorm,
}
MULTI_INPUT = {"Add"}                     # handlers that get the list of input shapes
