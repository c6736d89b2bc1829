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
from .ir import ACTIVATIONS, Graph, Layer, c_identifier, conv_output_size

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
    shape = graph.input_shape
    for klayer in _chain(model, source):
        cls = type(klayer).__name__
        handler = SUPPORTED.get(cls)
        if handler is None:
            raise IKRHLSError(f"{source}: layer '{klayer.name}' ({cls}) is not supported; "
                              f"supported layers: {', '.join(sorted(SUPPORTED))}")
        layer = handler(klayer, shape, source)
        if layer is None:
            graph.removed[klayer.name] = "removed for inference"
        else:
            layer.name = c_identifier(klayer.name, taken)
            graph.layers.append(layer)
            shape = layer.out_shape
    if not graph.layers:
        raise IKRHLSError(f"{source}: the model has no layers to convert")
    return graph


def _chain(model, source) -> list:
    """The model's layers from input to output, checked to form one chain.

    Walks back from the output tensor through each layer's inbound node, which works the
    same for Sequential and functional models (and ignores the extra nodes Keras records
    when a Sequential model is rebuilt on load).
    """
    chain, seen = [], set()
    tensor, target = model.outputs[0], model.inputs[0]
    while tensor is not target:
        op, node_index, _ = tensor._keras_history
        if type(op).__name__ == "InputLayer":
            raise IKRHLSError(f"{source}: the output does not depend on the model input")
        inputs = op._inbound_nodes[node_index].input_tensors
        if len(inputs) != 1:
            raise IKRHLSError(f"{source}: layer '{op.name}' ({type(op).__name__}) takes {len(inputs)} "
                              "inputs; only single-chain models are supported")
        if id(op) in seen:
            raise IKRHLSError(f"{source}: layer '{op.name}' is used more than once; only "
                              "single-chain models are supported")
        seen.add(id(op))
        chain.append(op)
        tensor = inputs[0]
    return chain[::-1]


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


def _check_channels_last(klayer, source):
    fmt = getattr(klayer, "data_format", "channels_last")
    if fmt != "channels_last":
        raise _unsupported(klayer, source, f"data_format='{fmt}' (only channels_last)")


def _image_shape(klayer, shape, source):
    if len(shape) != 3:
        raise _unsupported(klayer, source, f"input shape {shape} (needs an (H, W, C) image)")
    return shape


def _conv2d(klayer, shape, source):
    h, w, c = _image_shape(klayer, shape, source)
    _check_channels_last(klayer, source)
    if tuple(klayer.dilation_rate) != (1, 1):
        raise _unsupported(klayer, source, f"dilation {tuple(klayer.dilation_rate)} (only 1)")
    if getattr(klayer, "groups", 1) != 1:
        raise _unsupported(klayer, source, f"groups={klayer.groups} (only 1)")
    if klayer.padding not in ("valid", "same"):
        raise _unsupported(klayer, source, f"padding='{klayer.padding}' (valid or same)")
    kh, kw = klayer.kernel_size
    sh, sw = klayer.strides
    oh, pt, pb = conv_output_size(h, kh, sh, klayer.padding)
    ow, pl, pr = conv_output_size(w, kw, sw, klayer.padding)
    kernel = _array(klayer.kernel)
    bias = (_array(klayer.bias) if klayer.use_bias
            else np.zeros(klayer.filters))
    activation = _activation_name(klayer, source)
    if activation == "softmax":
        raise _unsupported(klayer, source, "a softmax activation (softmax over a vector only)")
    return Layer(name="", kind="conv2d", keras_name=klayer.name, in_shape=(h, w, c),
                 out_shape=(oh, ow, klayer.filters),
                 attrs=dict(kh=kh, kw=kw, sh=sh, sw=sw, padding=klayer.padding,
                            pad_top=pt, pad_bottom=pb, pad_left=pl, pad_right=pr),
                 weights=dict(kernel=kernel, bias=bias), activation=activation)


def _dense(klayer, shape, source):
    if len(shape) != 1:
        raise _unsupported(klayer, source, f"input shape {shape} (Dense needs a vector; add Flatten)")
    kernel = _array(klayer.kernel)
    bias = (_array(klayer.bias) if klayer.use_bias
            else np.zeros(klayer.units))
    return Layer(name="", kind="dense", keras_name=klayer.name, in_shape=shape,
                 out_shape=(klayer.units,), weights=dict(kernel=kernel, bias=bias),
                 activation=_activation_name(klayer, source))


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
        return Layer(name="", kind="pool2d", keras_name=klayer.name, in_shape=(h, w, c),
                     out_shape=(oh, ow, c),
                     attrs=dict(op=op, ph=ph, pw=pw, sh=sh, sw=sw, padding=klayer.padding,
                                pad_top=pt, pad_left=pl))
    return handler


def _flatten(klayer, shape, source):
    _check_channels_last(klayer, source)
    return Layer(name="", kind="flatten", keras_name=klayer.name, in_shape=shape,
                 out_shape=(int(np.prod(shape)),))


def _dropout(klayer, shape, source):
    return None  # inference: identity


def _activation_layer(klayer, shape, source):
    return Layer(name="", kind="activation", keras_name=klayer.name, in_shape=shape,
                 out_shape=shape, activation=_activation_name(klayer, source))


def _relu(klayer, shape, source):
    max_value = klayer.max_value
    slope = float(np.asarray(klayer.negative_slope))
    threshold = float(np.asarray(klayer.threshold))
    if max_value is not None or slope != 0.0 or threshold != 0.0:
        raise _unsupported(klayer, source, f"max_value={max_value}, negative_slope={slope}, "
                           f"threshold={threshold} (only the plain ReLU)")
    return Layer(name="", kind="activation", keras_name=klayer.name, in_shape=shape,
                 out_shape=shape, activation="relu")


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
    "Dense": _dense,
    "MaxPooling2D": _pool2d("max"),
    "AveragePooling2D": _pool2d("avg"),
    "Flatten": _flatten,
    "Dropout": _dropout,
    "Activation": _activation_layer,
    "ReLU": _relu,
    "Softmax": _softmax,
    "BatchNormalization": _batchnorm,
}
