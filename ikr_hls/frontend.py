"""Keras model or file -> ir.Graph.

The kinds (ikr_hls/kinds/) say which Keras layers convert and how (SUPPORTED: Keras class
name -> handler); anything else raises IKRHLSError naming the layer, its class and what is
supported. This module walks the model's graph and calls the handlers.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from . import hgq
from .errors import IKRHLSError
from .ir import INPUT, Graph, Layer, c_identifier
from .kinds import KERAS_HANDLERS, MULTI_INPUT, OPERATION_HANDLERS, check_layer
from .modelfile import import_keras, load_keras_model

# Keras class name -> frontend handler(keras layer, input shape (or shapes), source)
SUPPORTED = KERAS_HANDLERS

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
        raise IKRHLSError(f"{source}: a model with {_count(len(inputs), 'input')} and "
                          f"{_count(len(outputs), 'output')} is not supported (one input, one output)")
    in_shape = tuple(inputs[0].shape[1:])
    if any(d is None for d in in_shape):
        raise IKRHLSError(f"{source}: input shape {tuple(inputs[0].shape)} is not supported "
                          "(every dimension but the batch must be fixed)")

    graph = Graph(source=source, input_shape=tuple(int(d) for d in in_shape),
                  input_name=inputs[0]._keras_history[0].name)
    taken: set[str] = set()
    shapes = {INPUT: graph.input_shape}
    alias: dict = {}                       # id(Keras layer) -> IR name of the buffer it produces
    refused = _Refused(source)             # every layer that does not convert, told at once
    for klayer, sources in _ops_in_order(model, source):
        cls = type(klayer).__name__
        names = [INPUT if s is None else alias[id(s)] for s in sources]
        if not all(n in shapes for n in names):    # it reads a refused layer: Keras's shapes go on
            in_shapes = [_keras_shape(s) if s is not None else graph.input_shape for s in sources]
        else:
            in_shapes = [shapes[n] for n in names]
        try:
            made = _handle(klayer, cls, in_shapes, source, keras)
        except IKRHLSError as exc:
            refused.add(klayer, cls, exc)
            alias[id(klayer)] = f"refused {klayer.name}"    # no shape: its readers use Keras's
            continue
        if made is None:
            graph.removed[klayer.name] = "removed for inference"
            alias[id(klayer)] = names[0]
            continue
        sources_of = names
        made_names: dict = {}                  # id(made layer) -> its IR name
        for layer in made if isinstance(made, list) else [made]:    # a SeparableConv2D makes two
            check_layer(layer)
            _check_finite(layer, source)
            layer.name = c_identifier(layer.keras_name, taken)   # 'sep/depthwise' -> sep_depthwise
            # a handler may wire its layers itself: an int is the Keras layer's input at that
            # position, a layer one it made before (an HGQ2 merge's quantizer per input)
            layer.inputs = [sources_of[ref] if isinstance(ref, int) else made_names[id(ref)]
                            for ref in layer.inputs] if layer.inputs else names
            made_names[id(layer)] = layer.name
            # for a config's LayerType: the Keras class, or the layer's own (a quantizer's)
            graph.keras_classes[layer.keras_name] = getattr(layer.attrs, "keras_class", None) or (
                cls if isinstance(klayer, keras.layers.Layer) else f"keras.ops.{cls}")
            graph.trained = graph.trained or layer.trained is not None
            graph.layers.append(layer)
            shapes[layer.name] = layer.out_shape
            names = [layer.name]
        alias[id(klayer)] = names[0]
    refused.raise_all()
    if not graph.layers:
        raise IKRHLSError(f"{source}: the model has no layers to convert")
    return graph


def _handle(klayer, cls: str, in_shapes: list, source: str, keras):
    """The frontend handler's layer(s) for a Keras layer; IKRHLSError when it does not convert."""
    if not isinstance(klayer, keras.layers.Layer):     # x + y, x * 2 on Keras tensors: keras.ops
        operation = OPERATION_HANDLERS.get(cls)
        if operation is None:
            raise _NotALayer()
        return operation(klayer, in_shapes, source)
    if hgq.is_hgq_layer(klayer):                       # a quantization-aware layer (ikr_hls/hgq/)
        handler = hgq.handler_for(klayer)
        if handler is None:
            raise IKRHLSError(f"{source}: HGQ2 layer '{klayer.name}' ({cls}) is not supported (supported HGQ2 "
                              f"layers: {', '.join(hgq.supported_classes())})")
        return handler(klayer, in_shapes if hgq.multi_input(cls) else in_shapes[0], source)
    handler = SUPPORTED.get(cls)
    if handler is None:
        raise _UnknownClass()
    quantized = getattr(getattr(klayer, "dtype_policy", None), "quantization_mode", None)
    if quantized:              # its kernel holds int8/float8 codes and a scale, not weights
        raise IKRHLSError(f"{source}: layer '{klayer.name}' ({cls}) is quantized by Keras "
                          f"({klayer.dtype_policy.name}); convert the float model and choose "
                          "ap_fixed types with precision/config instead")
    return handler(klayer, in_shapes if cls in MULTI_INPUT else in_shapes[0], source)


class _NotALayer(IKRHLSError):
    pass


class _UnknownClass(IKRHLSError):
    pass


def _keras_shape(klayer) -> tuple:
    """A layer's output shape as Keras built it (for the readers of a refused layer)."""
    return tuple(int(d) for d in klayer.output.shape[1:])


class _Refused:
    """The layers and operations that do not convert, named in one message: an option a handler
    refuses (in model order), then the classes ikr-hls has no kind for, then the operations."""

    def __init__(self, source: str):
        self.source = source
        self.refusals: list = []
        self.classes: list = []
        self.operations: list = []

    def add(self, klayer, cls: str, exc: IKRHLSError) -> None:
        if isinstance(exc, _NotALayer):
            self.operations.append(f"'{klayer.name}' (keras.ops {cls})")
        elif isinstance(exc, _UnknownClass):
            self.classes.append(f"'{klayer.name}' ({cls})")
        else:
            self.refusals.append(str(exc).removeprefix(f"{self.source}: "))

    def raise_all(self) -> None:
        parts = list(self.refusals)
        if self.classes:
            parts.append(f"{_several('layer', self.classes)} not supported; supported layers: "
                         f"{', '.join(sorted(SUPPORTED))}")
        if self.operations:
            parts.append(f"{_several('operation', self.operations)} not supported; use layers "
                         "(keras.layers.Add for a sum of tensors; keras.ops operations of a tensor and a "
                         f"constant convert: {', '.join(sorted(OPERATION_HANDLERS))})")
        if parts:
            raise IKRHLSError(f"{self.source}: " + "; ".join(parts))


def _several(what: str, names: list) -> str:
    """"layer 'a' (LSTM) is" or "layers 'a' (LSTM) and 'b' (GRU) are"."""
    if len(names) == 1:
        return f"{what} {names[0]} is"
    return f"{what}s {', '.join(names[:-1])} and {names[-1]} are"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


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
    nodes: dict = {}                             # id(op) -> (its producers, the node index used)
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
