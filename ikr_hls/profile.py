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
    """Keras's tensor of the same values as an IR layer's output: its own hook where the kind
    has one (a layer Keras does not have as such), else the output of its Keras layer (or of
    the layer merged into it last)."""
    hook = kind_of(layer).keras_tensor
    tensor = hook(layer, keras_model, keras) if hook is not None else None
    return tensor if tensor is not None else _operation(keras_model, layer.keras_output or layer.keras_name).output


def _operation(keras_model, name: str):
    """The model's layer, or keras.ops operation (x + 3.0), of that name (a Sequential model
    has layers only, and no `operations`)."""
    for operation in getattr(keras_model, "operations", keras_model.layers):
        if operation.name == name:
            return operation
    return keras_model.get_layer(name)          # its error names what is missing


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
