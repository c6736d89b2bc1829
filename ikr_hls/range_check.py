"""Types that cannot hold the values they are given (issue 19 item 2): a layer's weights or
biases outside their type's range, and, measured on calibration or testbench data, a result
(or the input) outside its type's range. Each is one warning line naming the layer, the role,
the type's range, the values and how many integer bits would hold them. Float types hold
everything; the check never changes a type."""
from __future__ import annotations

import numpy as np

from .kinds import kind_of
from .profile import integer_bits


def _span(t) -> tuple:
    """(lowest, highest) value of a fixed-point type."""
    step = 2.0 ** -t.fractional
    top = (2.0 ** (t.width - (1 if t.signed else 0)) - 1) * step
    return (-(top + step) if t.signed else 0.0), top


def _problem(where: str, role: str, t, lo: float, hi: float, what: str) -> str | None:
    if t is None or t.is_float:
        return None
    low, high = _span(t)
    if low <= lo and hi <= high:
        return None
    needed = integer_bits(max(abs(lo), abs(hi))) + (0 if t.signed or lo >= 0 else 1)
    sign = "; it is unsigned and the values go negative" if not t.signed and lo < 0 else ""
    return (f"{where}: {role} type {t.cpp} holds [{low:.4g}, {high:.4g}], {what} give [{lo:.4g}, {hi:.4g}] "
            f"({'saturated' if 'SAT' in t.overflow else 'wrapped'}; {needed} integer bits would hold them{sign})")


def range_warnings(graph, profile: dict | None, data: str) -> list:
    """One line per (layer, role) whose type cannot hold its values: weights and biases always,
    results (and the input) from `profile` (profile.profile_graph on `data`), when given."""
    out = []
    for layer in graph.layers:
        for role, values in kind_of(layer).values(layer).items():
            values = np.asarray(values, dtype=float)
            if values.size:
                found = _problem(layer.keras_name, role, layer.precision.get(role), float(values.min()),
                                 float(values.max()), "its values")
                if found:
                    out.append(found)
        if profile is not None and layer.keras_name in profile:
            r = profile[layer.keras_name]["result"]
            found = _problem(layer.keras_name, "result", layer.precision.get("result"), r["min"], r["max"],
                             f"the {data}")
            if found:
                out.append(found)
    if profile is not None and graph.input_name in profile:
        r = profile[graph.input_name]["result"]
        found = _problem(graph.input_name, "input", graph.input_type, r["min"], r["max"], f"the {data}")
        if found:
            out.append(found)
    return out
