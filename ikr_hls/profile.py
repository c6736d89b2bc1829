"""Value ranges of a model's weights and layer outputs on calibration data, the integer bits
each needs, and fixed-point types chosen from them (precision="auto")."""
from __future__ import annotations

import math

import numpy as np

from .errors import IKRHLSError
from .kinds import kind_of


def integer_bits(max_abs: float) -> int:
    """Integer bits (sign included) of the narrowest signed ap_fixed whose range
    [-2**(I-1), 2**(I-1)) holds every value of magnitude up to max_abs."""
    if not max_abs > 0:
        return 1
    return math.floor(math.log2(max_abs)) + 2


def keras_layer_outputs(keras_model, graph, x) -> dict:
    """{IR layer name: Keras's output of the same layer}, reshaped to the layer's shape."""
    from .modelfile import import_keras

    keras = import_keras()
    probe = keras.Model(keras_model.inputs, [_keras_tensor(keras, keras_model, layer) for layer in graph.layers])
    names = [layer.name for layer in graph.layers]
    outputs = probe.predict(np.asarray(x, np.float32), verbose=0)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {name: np.asarray(y, np.float64).reshape(len(x), *graph.layer(name).out_shape)
            for name, y in zip(names, outputs, strict=True)}


def _keras_tensor(keras, keras_model, layer):
    """Keras's tensor of the same values as an IR layer's output. The depthwise half of a
    SeparableConv2D has no tensor of its own in Keras: it is computed from the layer's input."""
    if layer.attrs.get("separable") == "depthwise":
        sep = keras_model.get_layer(layer.keras_name.rsplit("/", 1)[0])
        return keras.ops.depthwise_conv(sep.input, sep.depthwise_kernel, strides=sep.strides,
                                        padding=sep.padding)
    if layer.attrs.get("dil_h", 1) > 1 or layer.attrs.get("dil_w", 1) > 1:
        transpose = keras_model.get_layer(layer.keras_name.rsplit("/", 1)[0])   # its zero insertion
        x = transpose.input
        for axis, d in ((1, layer.attrs.get("dil_h", 1)), (2, layer.attrs.get("dil_w", 1))):
            x = _spread(keras, x, axis, d)
        return x
    return keras_model.get_layer(layer.attrs.get("keras_output", layer.keras_name)).output


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


def profile_graph(graph, keras_model, x) -> dict:
    """{name: {role: {"min", "max", "integer_bits"}}} for the input and every layer's weight,
    bias and result, the results measured on the calibration data x."""
    x = np.asarray(x, np.float64)
    if x.ndim < 1 or x.shape[1:] != tuple(graph.input_shape) or len(x) == 0:
        raise IKRHLSError(f"calibration data: expected shape (N, {', '.join(map(str, graph.input_shape))}) "
                          f"with N > 0, got {x.shape}")
    outputs = keras_layer_outputs(keras_model, graph, x)
    report = {graph.input_name: {"result": _stats(x)}}
    for layer in graph.layers:
        entry = {role: _stats(values) for role, values in kind_of(layer).values(layer).items()}
        entry["result"] = _stats(outputs[layer.name])
        report[layer.keras_name] = entry
    return report


def _stats(values) -> dict:
    values = np.asarray(values, np.float64)
    lo, hi = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    return {"min": lo, "max": hi, "integer_bits": integer_bits(max(abs(lo), abs(hi)))}


def auto_config(report: dict, width: int = 16) -> dict:
    """A LayerName config giving each value ap_fixed<width, I> with the integer bits it needs;
    results round and saturate (AP_RND, AP_SAT), accumulators stay automatic."""
    if isinstance(width, bool) or not isinstance(width, int) or not 4 <= width <= 32:
        raise IKRHLSError(f"auto width: expected an integer from 4 to 32, got {width!r}")
    layers = {}
    for name, roles in report.items():
        precision = {}
        for role, stats in roles.items():
            bits = min(stats["integer_bits"], width)
            mode = ",AP_RND,AP_SAT" if role == "result" else ",AP_RND_CONV"
            precision[role] = f"ap_fixed<{width},{bits}{mode}>"
        layers[name] = {"Precision": precision}
    return {"Model": {"Precision": f"ap_fixed<{width},{width // 2}>"}, "LayerName": layers}
