"""A starting config for a model, like hls4ml's `config_from_keras_model`: one precision for
the whole model, or an entry per layer that stays after the passes, types spelled out."""
from __future__ import annotations

from .config import make_config, validate_reuse, validate_strategy
from .errors import IKRHLSError
from .kinds import kind_of
from .pipeline import structural_graph
from .precision import parse_type

# The roles a starting config spells out per layer (accumulators and tables stay automatic).
_SPELLED_OUT = ("weight", "bias", "result")


def config_from_keras_model(model, granularity="model", default_precision="ap_fixed<16,6>",
                            default_reuse_factor=1, default_strategy="unrolled") -> dict:
    """A starting config like hls4ml's: granularity 'model' (one precision) or 'name' (an entry
    per layer, input included, with its types spelled out; accumulators left automatic; a
    ReuseFactor only for the layers whose multipliers it shares)."""
    if not isinstance(granularity, str) or granularity.strip().lower() not in ("model", "name"):
        raise IKRHLSError(f"granularity: unknown value {granularity!r} (valid: model, name)")
    granularity = granularity.strip().lower()
    parse_type(default_precision, "default_precision")
    config: dict = {"Model": {"Precision": default_precision,
                              "ReuseFactor": validate_reuse(default_reuse_factor, "default_reuse_factor"),
                              "Strategy": validate_strategy(default_strategy, "default_strategy")}}
    if granularity == "name":
        graph, _ = structural_graph(model, make_config(precision=default_precision))   # the layers that stay
        layers = {graph.input_name: {"Precision": {"result": default_precision}}}
        for layer in graph.layers:
            kind = kind_of(layer)
            entry: dict = {"Precision": {r: default_precision for r in _SPELLED_OUT if r in kind.roles_of(layer)}}
            if kind.reuses:                  # a reuse factor only where it shares multipliers
                entry["ReuseFactor"] = default_reuse_factor
            layers[layer.keras_name] = entry
        config["LayerName"] = layers
    return config
