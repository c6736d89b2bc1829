"""Keras model -> converted graph: the frontend, then the passes. `structural_graph` stops
before types are chosen, for what needs a model's layers as they convert but no types
(profiling, precision="auto", a starting config)."""
from __future__ import annotations

from .config import ProjectConfig, make_config
from .frontend import keras_to_graph
from .ir import Graph
from .passes import finish, run_passes, structure


def convert_graph(model_or_path, config: ProjectConfig) -> tuple[Graph, object]:
    """(graph after the passes, with its frozen plan; keras model) of a keras.Model or a model file."""
    graph, keras_model = keras_to_graph(model_or_path)
    return run_passes(graph, config), keras_model


def structural_graph(model_or_path, config: ProjectConfig | None = None) -> tuple[Graph, object]:
    """The graph after the structural passes (folds, fusions, removals, settings, facts), its
    types not chosen yet; `finish_graph` completes it."""
    graph, keras_model = keras_to_graph(model_or_path)
    return structure(graph, config or make_config()), keras_model


def finish_graph(graph: Graph, config: ProjectConfig) -> Graph:
    """Types, stream widths and the frozen plan of a structural graph."""
    return finish(graph, config)
