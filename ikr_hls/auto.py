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
only as T reaches them (per strategy in increasing reuse factor, whose latency grows with it),
each once; what only a layer's weights decide is derived once and kept across its candidates
(LayerKind.derive_again), and the cheapest candidate of each layer so far is kept as they
arrive (docs/report.md: what the search costs).
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


def _evaluate(layer: Layer, strategy: str, reuse: int, part: str, earlier) -> tuple:
    """(cost, facts) of the layer with these settings, its facts derived for them (from
    `earlier`, its facts at other settings, where its kind can reuse what only the weights
    decide); the layer keeps its own settings and facts."""
    from .plan import priced

    kind = kind_of(layer)
    saved = layer.settings, layer.facts
    try:
        layer.settings = layer.settled.replace(strategy=strategy, reuse_factor=reuse)
        if kind.derive is None:
            layer.facts = None
        elif kind.derive_again is not None and earlier is not None:
            layer.facts = kind.derive_again(layer, earlier)
        else:
            layer.facts = kind.derive(layer)
        return priced(layer, kind.cost_of(layer), part), layer.facts
    finally:
        layer.settings, layer.facts = saved


def _fan_in(layer: Layer) -> int:
    """Inputs per output of a layer with a kernel (a conv's KH x KW x C, a depthwise conv's KH x KW,
    a Dense's inputs): the longest lane of the resource strategy (lanes.py)."""
    kernel = layer.weights.get("kernel")
    return int(kernel.size // layer.out_shape[-1]) if kernel is not None else 0


def _reuse_factors(strategy: str, products: int, fan_in: int = 0) -> list:
    """1, 2, 4, ... up to the layer's products at R = 1 (beyond them nothing is saved), up to
    MAX_AUTO_PE_REUSE for the pattern and pe strategies, and for the resource strategy up to the
    first power of two that holds the layer's fan-in in one lane (beyond it every lane is as
    short as it gets: only idle cycles and deeper ROMs are added)."""
    most = MAX_AUTO_PE_REUSE if strategy in ("pattern", "pe") else MAX_AUTO_REUSE
    if strategy == "resource" and fan_in:
        most = min(most, 1 << (fan_in - 1).bit_length())
    out, r = [], 1
    while r <= min(products or 1, most):
        out.append(r)
        r *= 2
    return out


def streams(layer: Layer, part: str, family: str, available: dict, memo: dict | None = None) -> list:
    """Per strategy the layer may take, its candidates in increasing reuse factor (so, latency),
    each priced when it is asked for, once; the layer keeps its settings in between. The
    first candidate (R = 1, or the layer's own R) says how far R goes (its products); the
    facts that do not depend on R are derived once per layer and reused (LayerKind.derive_again).
    `memo`: (layer, strategy, R) -> (candidate, multipliers), kept by the caller across searches
    of one graph with the same types and part (passes.fit_with_buffers searches again)."""
    kind = kind_of(layer)
    settings = layer.settled
    strategies = kind.strategies if settings.auto_strategy else (settings.strategy,)
    shared: list = [None]          # the layer's facts at the last settings priced
    memo = {} if memo is None else memo

    def candidate(strategy: str, reuse: int) -> tuple:
        key = (layer.name, strategy, reuse)
        if key not in memo:
            cost, shared[0] = _evaluate(layer, strategy, reuse, part, shared[0])
            estimate = fpga_estimate.estimate(cost, family)
            share = sum(estimate[k] / available[k] for k in RESOURCES if available[k])
            memo[key] = Candidate(strategy, reuse, cost.latency, estimate, share), cost.multipliers
        return memo[key]

    def stream(strategy: str):
        if not settings.auto_reuse:
            yield candidate(strategy, settings.reuse_factor)[0]
            return
        first, multipliers = candidate(strategy, 1)
        yield first
        for reuse in _reuse_factors(strategy, multipliers, _fan_in(layer))[1:]:
            yield candidate(strategy, reuse)[0]

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


def _cheaper(a: Candidate, b: Candidate) -> bool:
    """a costs less than b: the smaller sum of shares, then the smaller latency."""
    return (a.share, a.latency) < (b.share, b.latency)


def choose(options: dict, fixed: dict, budget: dict) -> dict:
    """{layer name: Candidate}: the smallest target interval T at which every layer's cheapest
    candidate within T makes the total fit `budget`; the cheapest of each when none does (of
    equally cheap candidates, the first one read).
    `options`: layer name -> its streams of candidates, each in increasing latency; a stream is
    read only as far as T needs (the next candidate beyond T sets the next T)."""
    pending: dict = {}                 # name -> [[next candidate or None, its stream], ...]
    for name, layer_streams in options.items():
        pending[name] = []
        for stream in layer_streams:
            it = iter(stream)
            pending[name].append([next(it, None), it])
    firsts = [min(p[0].latency for p in ps if p[0] is not None) for ps in pending.values()]  # each has one
    target = max(firsts, default=0)
    chosen: dict = {}                  # name -> its cheapest candidate read so far
    while True:
        for name, ps in pending.items():
            for p in ps:
                while p[0] is not None and p[0].latency <= target:
                    if name not in chosen or _cheaper(p[0], chosen[name]):
                        chosen[name] = p[0]
                    p[0] = next(p[1], None)
        total = {k: fixed[k] + sum(c.estimate[k] for c in chosen.values()) for k in RESOURCES}
        if all(total[k] <= budget[k] for k in RESOURCES):
            return dict(chosen)
        later = [p[0].latency for ps in pending.values() for p in ps if p[0] is not None]
        if not later:
            return dict(chosen)        # every candidate seen: each layer's cheapest
        target = min(later)


def choose_settings(graph: Graph, part: str, limit: float, reserve: dict | None = None,
                    memo: dict | None = None) -> Graph:
    """Each auto layer's strategy and reuse factor (its settings; its facts derived again).
    `reserve`: resources held back for what the search does not price (the DATAFLOW buffers,
    passes.fit_with_buffers); `memo`: the candidates an earlier search of this graph priced
    (streams)."""
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
    memo = {} if memo is None else memo
    options = {l.name: streams(l, part, family, available, memo.setdefault(part, {})) for l in auto}
    fixed = _fixed_estimate(graph, {l.name for l in auto}, part, family)
    for k, v in (reserve or {}).items():
        fixed[k] += v
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
