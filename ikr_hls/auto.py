"""reuse_factor="auto" and strategy="auto": each such layer's reuse factor (and strategy) chosen
so that the estimate fits `fit_limit` of the part at the smallest DATAFLOW interval.

The interval of the DATAFLOW region is its slowest process's latency, so the choice is made
for a target interval T: every auto layer takes, among its candidates (each strategy it has,
reuse factors 1, 2, 4, ... up to its products, and to 64 for the pattern and pe strategies),
the one whose latency is at most T and whose estimate takes the smallest sum of shares of the
part's LUT, FF, DSP and BRAM_18K; the layers
that are not auto keep their settings and their estimates. T runs through the candidates'
latencies from the smallest up; the first T whose total fits is taken (greedy: the per-layer
choice by the sum of shares is not an exact multi-resource knapsack). Candidates are priced
only as T reaches them (per strategy in increasing reuse factor, whose latency grows with it).
When none fits, every auto layer takes its cheapest candidate (the report's fit check then
says it does not fit).
The DATAFLOW buffers are not in the search: they do not depend on the reuse factor.

An unknown part has no totals: its auto layers take reuse factor 1 (and their first strategy),
with a warning.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from . import fpga_estimate
from .config import DEFAULT_PART
from .hardware import has_figures
from .ir import Graph, Layer
from .kinds import kind_of
from .parts import RESOURCES, family_of, lookup

log = logging.getLogger("ikr_hls")
MAX_AUTO_REUSE = 1 << 12          # the largest reuse factor tried (II 4096)
# the pattern and pe strategies choose each PE input among up to R registers by a chain of R
# selects written out: beyond this their code grows deep and long, so auto tries no more
MAX_AUTO_PE_REUSE = 64


@dataclass(frozen=True)
class Candidate:
    strategy: str
    reuse_factor: int
    latency: int
    estimate: dict                # {lut, ff, dsp, bram_18k}
    share: float                  # sum of its shares of the part's resources


def _evaluate(layer: Layer, strategy: str, reuse: int, part: str, family: str) -> tuple:
    """(latency, estimate) of the layer with these settings (its facts derived for them)."""
    from .plan import priced

    kind = kind_of(layer)
    layer.settings = layer.settled.replace(strategy=strategy, reuse_factor=reuse)
    layer.facts = kind.derive(layer) if kind.derive else None
    cost = priced(layer, kind.cost_of(layer), part)
    return cost.latency, fpga_estimate.estimate(cost, family)


def _reuse_factors(layer: Layer) -> list:
    """1, 2, 4, ... up to the layer's products at R = 1 (beyond them nothing is saved), and up to
    MAX_AUTO_PE_REUSE for the pattern and pe strategies."""
    kind = kind_of(layer)
    products = kind.cost_of(layer).multipliers or 1
    most = MAX_AUTO_PE_REUSE if layer.settled.strategy in ("pattern", "pe") else MAX_AUTO_REUSE
    out, r = [], 1
    while r <= min(products, most):
        out.append(r)
        r *= 2
    return out


def streams(layer: Layer, part: str, family: str, available: dict) -> list:
    """Per strategy the layer may take, its candidates in increasing reuse factor (so, latency),
    each priced when it is asked for; the layer keeps its settings in between."""
    kind = kind_of(layer)
    settings = layer.settled
    strategies = kind.strategies if settings.auto_strategy else (settings.strategy,)

    def stream(strategy: str):
        saved = layer.settings, layer.facts
        try:
            layer.settings = settings.replace(strategy=strategy, reuse_factor=1)
            layer.facts = kind.derive(layer) if kind.derive else None
            reuses = _reuse_factors(layer) if settings.auto_reuse else [settings.reuse_factor]
        finally:
            layer.settings, layer.facts = saved
        for reuse in reuses:
            saved = layer.settings, layer.facts
            try:
                latency, estimate = _evaluate(layer, strategy, reuse, part, family)
            finally:
                layer.settings, layer.facts = saved
            share = sum(estimate[k] / available[k] for k in RESOURCES if available[k])
            yield Candidate(strategy, reuse, latency, estimate, share)

    return [stream(strategy) for strategy in strategies]


def candidates(layer: Layer, part: str, family: str, available: dict) -> list:
    """Every (strategy, reuse factor) the layer may take, priced."""
    return [c for stream in streams(layer, part, family, available) for c in stream]


def _fixed_estimate(graph: Graph, auto: set, part: str, family: str) -> dict:
    """The estimate of the layers that keep their settings."""
    from .plan import priced

    total = dict.fromkeys(RESOURCES, 0.0)
    for layer in graph.layers:
        if layer.name in auto or not has_figures(layer):
            continue
        for k, v in fpga_estimate.estimate(priced(layer, kind_of(layer).cost_of(layer), part), family).items():
            total[k] += v
    return total


def _cheapest(candidates: list) -> Candidate:
    return min(candidates, key=lambda c: (c.share, c.latency))


def choose(options: dict, fixed: dict, budget: dict) -> dict:
    """{layer name: Candidate}: the smallest target interval T at which every layer's cheapest
    candidate within T makes the total fit `budget`; the cheapest of each when none does.
    `options`: layer name -> its streams of candidates, each in increasing latency; a stream is
    read only as far as T needs (the next candidate beyond T sets the next T)."""
    pending: dict = {}                 # name -> [[next candidate or None, its stream], ...]
    seen: dict = {}
    for name, layer_streams in options.items():
        pending[name] = []
        for stream in layer_streams:
            it = iter(stream)
            pending[name].append([next(it, None), it])
        seen[name] = []
    firsts = [min(p[0].latency for p in ps if p[0] is not None) for ps in pending.values()]  # each has one
    target = max(firsts, default=0)
    while True:
        for name, ps in pending.items():
            for p in ps:
                while p[0] is not None and p[0].latency <= target:
                    seen[name].append(p[0])
                    p[0] = next(p[1], None)
        chosen = {name: _cheapest(cands) for name, cands in seen.items()}
        total = {k: fixed[k] + sum(c.estimate[k] for c in chosen.values()) for k in RESOURCES}
        if all(total[k] <= budget[k] for k in RESOURCES):
            return chosen
        later = [p[0].latency for ps in pending.values() for p in ps if p[0] is not None]
        if not later:
            return chosen              # every candidate seen: each layer's cheapest
        target = min(later)


def choose_settings(graph: Graph, part: str, limit: float) -> Graph:
    """Each auto layer's strategy and reuse factor (its settings; its facts derived again)."""
    auto = [l for l in graph.layers if (l.settled.auto_reuse or l.settled.auto_strategy) and has_figures(l)]
    if not auto:
        return graph
    part = part or DEFAULT_PART
    device = lookup(part)
    if device is None:
        log.warning("part %s: not in ikr-hls's table of parts (ikr_hls/parts.json), so 'auto' cannot fit it: "
                    "%s keep reuse factor 1", part, ", ".join(l.name for l in auto))
        return graph
    family = family_of(part)
    available = device.available()
    options = {l.name: streams(l, part, family, available) for l in auto}
    fixed = _fixed_estimate(graph, {l.name for l in auto}, part, family)
    chosen = choose(options, fixed, {k: limit * available[k] for k in RESOURCES})
    for layer in auto:
        c = chosen[layer.name]
        kind = kind_of(layer)
        layer.settings = layer.settled.replace(strategy=c.strategy, reuse_factor=c.reuse_factor)
        layer.facts = kind.derive(layer) if kind.derive else None
    log.info("auto (%s, %.0f%% of it): %s", device.device, 100 * limit,
             ", ".join(f"{l.name} {chosen[l.name].strategy} R={chosen[l.name].reuse_factor}" for l in auto))
    return graph


__all__ = ["Candidate", "candidates", "choose", "choose_settings", "streams"]
