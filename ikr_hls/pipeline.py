"""Keras model -> converted graph: the frontend, then the passes. `float_graph` is the same
in floating point, for what needs a model's layers before types are chosen (profiling,
precision="auto", a starting config)."""
from __future__ import annotations

from .config import ProjectConfig, make_config
from .frontend import keras_to_graph
from .ir import Graph
from .passes import run_passes


def convert_graph(model_or_path, config: ProjectConfig) -> tuple[Graph, object]:
    """(graph after the passes, keras model) of a keras.Model or a model file."""
    graph, keras_model = keras_to_graph(model_or_path)
    return run_passes(graph, config), keras_model


def float_graph(model_or_path) -> tuple[Graph, object]:
    """convert_graph with the default config: float types, the layers as they convert."""
    return convert_graph(model_or_path, make_config())
