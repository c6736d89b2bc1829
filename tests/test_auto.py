"""reuse_factor="auto" and strategy="auto" (ikr_hls/auto.py): the search's rule on hand-made
candidates against brute force, its prices against the report of the settings it picks, and
the shipped IKR LeNet-5 on parts it does and does not fit."""
import itertools
import logging
from pathlib import Path

import pytest

import ikr_hls
from ikr_hls import auto
from ikr_hls.config import make_config
from ikr_hls.errors import IKRHLSError
from ikr_hls.frontend import keras_to_graph
from ikr_hls.modelfile import load_keras_model
from ikr_hls.parts import RESOURCES, family_of, lookup
from ikr_hls.passes import plan_streams, settings_of, structure
from ikr_hls.pipeline import structural_graph
from ikr_hls.precision_inference import assign_types

IKR = Path(__file__).resolve().parent.parent / "examples" / "models" / "lenet5_ikr.h5"
PART = "xc7z045ffg900-2"
PRECISION = "ap_fixed<16,6>"


def _candidate(latency, lut, dsp=0, share=None):
    estimate = {"lut": lut, "ff": 0, "dsp": dsp, "bram_18k": 0}
    return auto.Candidate("unrolled", 1, latency, estimate, share if share is not None else lut / 100 + dsp / 10)


def test_the_rule_finds_the_smallest_interval_that_fits():
    """Three layers, three candidates each (faster ones cost more): the rule's interval is the
    smallest interval of any combination that fits, found by brute force."""
    options = {"a": [_candidate(10, 60), _candidate(20, 30), _candidate(40, 10)],
               "b": [_candidate(5, 50), _candidate(25, 20), _candidate(50, 5)],
               "c": [_candidate(15, 40, dsp=2), _candidate(30, 10)]}
    budget = {"lut": 80, "ff": 0, "dsp": 0, "bram_18k": 0}
    fixed = dict.fromkeys(RESOURCES, 0.0)
    streams = {name: [sorted(cands, key=lambda c: c.latency)] for name, cands in options.items()}
    chosen = auto.choose(streams, fixed, budget)
    best = min(max(c.latency for c in combo) for combo in itertools.product(*options.values())
               if all(sum(c.estimate[k] for c in combo) <= budget[k] for k in RESOURCES))
    assert max(c.latency for c in chosen.values()) == best == 30
    assert sum(c.estimate["lut"] for c in chosen.values()) <= 80
    # nothing fits: every layer its cheapest candidate
    chosen = auto.choose(streams, fixed, dict(budget, lut=10))
    assert [c.latency for c in chosen.values()] == [40, 50, 30]


def _unplanned(config):
    """The graph as auto.choose_settings gets it: structure, types and streams, no plan."""
    graph = structure(keras_to_graph(load_keras_model(IKR))[0], config)
    config = settings_of(graph, config, warn=False)
    return plan_streams(assign_types(graph, config), config)


def test_the_search_prices_what_the_report_prices():
    """conv2's candidates are the layer's report figures (latency, estimate) converted with
    those settings."""
    config = make_config(precision=PRECISION, strategy="auto", reuse_factor="auto", part=PART)
    graph = _unplanned(config)
    conv2 = next(l for l in graph.layers if l.name == "conv2")
    device = lookup(PART)
    candidates = auto.candidates(conv2, PART, family_of(PART), device.available())
    assert {c.strategy for c in candidates} == {"unrolled", "pattern", "pe", "resource"}
    assert {c.reuse_factor for c in candidates} >= {1, 2, 4, 8}
    for c in [c for c in candidates if c.reuse_factor in (1, 4)]:
        report = ikr_hls.convert(str(IKR), output_dir="unused", precision=PRECISION, strategy=c.strategy,
                                 reuse_factor=c.reuse_factor, part=PART).report()
        entry = next(l for l in report["layers"] if l["name"] == "conv2")
        assert (entry["latency_estimate_cycles"], entry["resources_estimate"]) == (c.latency, c.estimate), c


def test_auto_fits_a_zynq_at_the_interval_its_slowest_choice_gives():
    hls = ikr_hls.convert(str(IKR), output_dir="unused", precision=PRECISION, strategy="auto",
                          reuse_factor="auto", part=PART)
    report = hls.report()
    t = report["totals"]
    assert t["fit"]["fits"] is True
    # the chosen layers: settings the kinds have, and the interval is the slowest process's
    chosen = {l["name"]: (l["strategy"], l["reuse_factor"]) for l in report["layers"] if l["multipliers"]}
    assert any(r > 1 for _, r in chosen.values())
    assert t["interval_estimate_cycles"] == max(l["latency_estimate_cycles"] for l in report["layers"])
    # with every layer at R = 1 (the fastest) it does not fit
    fastest = ikr_hls.convert(str(IKR), output_dir="unused", precision=PRECISION, reuse_factor=1,
                              part=PART).report()["totals"]
    assert fastest["fit"]["fits"] is False
    assert fastest["interval_estimate_cycles"] <= t["interval_estimate_cycles"]


def test_auto_on_the_default_part_keeps_the_fastest_interval():
    """Everything fits the xcvu13p at R = 1: auto keeps that interval, and within it takes
    each layer's cheapest setting (never more of the part than R = 1 everywhere)."""
    a = ikr_hls.convert(str(IKR), output_dir="unused", precision="ap_fixed<8,3>", strategy="auto",
                        reuse_factor="auto").report()["totals"]
    one = ikr_hls.convert(str(IKR), output_dir="unused", precision="ap_fixed<8,3>").report()["totals"]
    assert one["fit"]["fits"] and a["interval_estimate_cycles"] == one["interval_estimate_cycles"]
    avail = a["fit"]["available"]
    share = {n: sum(t["resources_estimate"][k] / avail[k] for k in RESOURCES) for n, t in (("a", a), ("one", one))}
    assert share["a"] <= share["one"] * 1.01         # the DATAFLOW buffers are not in the search


def test_auto_per_layer_from_the_config_and_the_unknown_part(caplog):
    config = {"Model": {"Precision": PRECISION, "ReuseFactor": 2},
              "LayerName": {"conv2": {"ReuseFactor": "auto", "Strategy": "auto"}}}
    report = ikr_hls.convert(str(IKR), output_dir="unused", config=config, part=PART).report()
    r = {l["name"]: l["reuse_factor"] for l in report["layers"] if l["multipliers"]}
    assert all(v == 2 for n, v in r.items() if n != "conv2")
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        report = ikr_hls.convert(str(IKR), output_dir="unused", precision=PRECISION, reuse_factor="auto",
                                 part="xc7k70tfbg676-1").report()
    assert "'auto' cannot fit it" in caplog.text
    assert {l["reuse_factor"] for l in report["layers"] if l["multipliers"]} == {1}


@pytest.mark.parametrize("value", ["automatic", "0", 2.5])
def test_a_bad_reuse_factor_names_auto(value):
    with pytest.raises(IKRHLSError, match="or 'auto'"):
        make_config(precision=PRECISION, reuse_factor=value)


def test_a_large_unrolled_model_is_warned_about(monkeypatch, caplog):
    """More taps written out than UNROLLED_TAPS_WARNING: one warning naming the largest layers
    and the strategies that do not write them out (the limit lowered for LeNet-5)."""
    from ikr_hls import passes

    conv = {l.name: l for l in ikr_hls.convert(str(IKR), output_dir="unused").graph.layers if l.kind == "conv2d"}
    taps = sum(l.facts.nnz for l in conv.values())
    monkeypatch.setattr(passes, "UNROLLED_TAPS_WARNING", taps - 1)
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        ikr_hls.convert(str(IKR), output_dir="unused", strategy="pattern")
        assert "writes out" not in caplog.text
        ikr_hls.convert(str(IKR), output_dir="unused")
    lines = [r.getMessage() for r in caplog.records if "writes out" in r.getMessage()]
    assert len(lines) == 1 and f"{taps:,} taps" in lines[0] and f"conv2 {conv['conv2'].facts.nnz:,}" in lines[0]
    assert "strategy='pattern'" in lines[0]


# --- the search's speed: what it caches must not change what it prices or chooses -------------

def _pruned_depthwise_model():
    """A small conv / depthwise (x2) / pointwise model, half its weights zero: support groups
    of several sizes, PEs that share channels and idle cycles."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(1)
    inp = keras.Input((12, 12, 5))
    x = keras.layers.Conv2D(7, 3, padding="same", activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)(x)
    x = keras.layers.Conv2D(6, 1)(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(0)
    for layer in model.layers[1:]:
        w = layer.get_weights()
        w[0] = w[0] * (rng.random(w[0].shape) < 0.5)
        layer.set_weights(w)
    return model


@pytest.fixture(scope="module")
def pruned():
    return _pruned_depthwise_model()


@pytest.mark.parametrize("strategy", ["pattern", "pe"])
@pytest.mark.parametrize("rf", [2, 3, 8, 64])
def test_the_pe_strategies_count_what_their_instances_write(pruned, strategy, rf):
    """The cost counts the PE instances' adders and comparisons from the schedule
    (common.instance_operators); the view builds every instance's expressions: the same."""
    from ikr_hls.hardware import comparisons
    from ikr_hls.kinds.conv2d import STRATEGIES, pattern, pe

    for src in (pruned, str(IKR)):
        graph = ikr_hls.convert(src, output_dir="unused", strategy=strategy, reuse_factor=rf, precision=PRECISION,
                                io_type="io_stream").graph
        for layer in (l for l in graph.layers if l.kind == "conv2d"):
            if strategy == "pattern":
                by_group = pattern.instances(layer)
                written = [inst for group in by_group for inst in group]
                adds = sum(len(layer.facts.groups[g]["positions"]) - 1 + len(inst["updates"])
                           for g, group in enumerate(by_group) for inst in group)
            else:
                written = pe.instances(layer)
                adds = sum(layer.facts.form.keep - 1 + len(inst["updates"]) for inst in written)
            control = 2 + sum(comparisons(*inst["inputs"], *(c for c, _ in inst["updates"]), inst["guard"])
                              for inst in written)
            assert written, layer.name
            own = STRATEGIES[strategy].cost(layer, 16, 16)
            assert (own.adds, own.control) == (adds, control), layer.name


def _pe_lists(kernel, rf):
    """The pe strategy's schedule as its docstring states it, written as plain loops: each
    input channel's live kernels fill PEs R at a time, the remainders share PEs after them."""
    from ikr_hls.patterns import patterns_from_kernel

    found = patterns_from_kernel(kernel)
    c, f = kernel.shape[2:]
    pes, rests = [], []
    for ci in range(c):
        live = [(ci, co, int(found.assignment[ci, co])) for co in range(f) if found.assignment[ci, co] >= 0]
        whole = len(live) - len(live) % rf
        pes += [live[k:k + rf] for k in range(0, whole, rf)]
        rests += live[whole:]
    pes += [rests[k:k + rf] for k in range(0, len(rests), rf)]
    return [pe + [None] * (rf - len(pe)) for pe in pes]


@pytest.mark.parametrize("shape", [(3, 3, 5, 7), (1, 1, 16, 9), (3, 3, 1, 4), (5, 5, 3, 3)])
def test_the_pe_plan_is_the_schedule_its_loops_give(shape):
    import numpy as np

    from ikr_hls.kinds.conv2d import pe

    rng = np.random.default_rng(sum(shape))
    for density in (0.0, 0.3, 1.0):
        kernel = rng.normal(size=shape) * (rng.random(shape) < density)
        for rf in (1, 2, 3, 8, 64):
            plan = pe.plan(kernel, rf)
            assert plan.pes == _pe_lists(kernel, rf), (density, rf)
            assert plan.kernels == sum(s is not None for slots in plan.pes for s in slots)
            assert plan.channel_counts.tolist() == [len(plan.channels(p)) for p in range(len(plan.pes))]


def _slow_choose(options: dict, fixed: dict, budget: dict) -> dict:
    """auto.choose as first written: every candidate read up to T kept, each layer's cheapest
    found again at every T."""
    pending: dict = {}
    for name, streams in options.items():
        pending[name] = []
        for stream in streams:
            it = iter(stream)
            pending[name].append([next(it, None), it])
    seen: dict = {name: [] for name in options}
    target = max(min(p[0].latency for p in ps if p[0] is not None) for ps in pending.values())
    while True:
        for name, ps in pending.items():
            for p in ps:
                while p[0] is not None and p[0].latency <= target:
                    seen[name].append(p[0])
                    p[0] = next(p[1], None)
        chosen = {name: min(c, key=lambda c: (c.share, c.latency)) for name, c in seen.items()}
        total = {k: fixed[k] + sum(c.estimate[k] for c in chosen.values()) for k in RESOURCES}
        later = [p[0].latency for ps in pending.values() for p in ps if p[0] is not None]
        if all(total[k] <= budget[k] for k in RESOURCES) or not later:
            return chosen
        target = min(later)


def test_the_rule_keeps_the_first_of_equally_cheap_candidates_as_first_written():
    """Random candidates with many ties in share and latency, several streams per layer: the
    incremental choice is the one that searched every candidate read again at each T."""
    import random

    rng = random.Random(0)
    for trial in range(200):
        options = {}
        for name in "abcd"[:rng.randint(1, 4)]:
            options[name] = []
            for _ in range(rng.randint(1, 3)):
                latency, stream = rng.randint(1, 4), []
                for _ in range(rng.randint(1, 5)):
                    stream.append(_candidate(latency, rng.randint(0, 6) * 10, rng.randint(0, 2),
                                             share=rng.randint(0, 4) / 2))
                    latency += rng.randint(0, 3)
                options[name].append(stream)
        fixed = dict.fromkeys(RESOURCES, 0.0)
        budget = {"lut": rng.randint(0, 150), "ff": 0, "dsp": rng.randint(0, 6), "bram_18k": 0}
        fast = auto.choose({n: [list(s) for s in ss] for n, ss in options.items()}, fixed, budget)
        slow = _slow_choose({n: [list(s) for s in ss] for n, ss in options.items()}, fixed, budget)
        assert list(fast) == list(slow) and all(fast[n] is slow[n] for n in fast), trial


def _search(source, monkeypatch=None, fresh=False):
    """Each auto layer's candidates as the search prices them, and the settings it chooses;
    `fresh`: every candidate's facts derived from nothing (no derive_again)."""
    from ikr_hls.kinds import HARDWARE

    config = make_config(precision=PRECISION, strategy="auto", reuse_factor="auto", part=PART, io_type="io_stream")
    graph, _ = structural_graph(source, config)
    config = settings_of(graph, config, warn=False)
    graph = plan_streams(assign_types(graph, config), config)
    if fresh:
        import dataclasses

        for name, kind in list(HARDWARE.items()):
            if getattr(kind, "derive_again", None) is not None:
                monkeypatch.setitem(HARDWARE, name, dataclasses.replace(kind, derive_again=None))
    device = lookup(PART)
    priced = {l.name: [c for s in auto.streams(l, PART, family_of(PART), device.available()) for c in s]
              for l in graph.layers if l.settled.auto_reuse or l.settled.auto_strategy}
    auto.choose_settings(graph, PART, config.fit_limit)
    return priced, {l.name: (l.settings.strategy, l.settings.reuse_factor) for l in graph.layers if l.name in priced}


@pytest.mark.parametrize("model", ["lenet", "pruned"])
def test_the_search_with_its_caches_is_the_search_without(model, pruned, monkeypatch):
    """Every candidate (strategy, R, latency, estimate) and the settings chosen are the same
    when each candidate's facts are derived from nothing."""
    source = str(IKR) if model == "lenet" else pruned
    fast = _search(source)
    slow = _search(source, monkeypatch, fresh=True)
    assert fast == slow
    assert sum(len(c) for c in fast[0].values()) > 10


def test_each_setting_of_a_layer_is_derived_once(monkeypatch, pruned):
    """derive + derive_again: once per (layer, strategy, R) the search prices, and the chosen
    setting once more (its final facts), so a layer is derived at most (its candidates + 1)
    times; kind.derive itself (what the weights decide, from nothing) once in the search."""
    import collections
    import dataclasses

    from ikr_hls.kinds import HARDWARE

    calls: dict = collections.Counter()
    fresh: dict = collections.Counter()
    for name, kind in list(HARDWARE.items()):
        if kind.derive is None:
            continue

        def counted(layer, *earlier, _derive=kind.derive, _again=kind.derive_again):
            calls[(layer.name, layer.settled.strategy, layer.settled.reuse_factor)] += 1
            if earlier:
                return _again(layer, *earlier)
            fresh[layer.name] += 1
            return _derive(layer)

        monkeypatch.setitem(HARDWARE, name, dataclasses.replace(
            kind, derive=counted, derive_again=counted if kind.derive_again else None))
    config = make_config(precision=PRECISION, strategy="auto", reuse_factor="auto", part=PART, io_type="io_stream")
    graph, _ = structural_graph(pruned, config)
    config = settings_of(graph, config, warn=False)
    graph = plan_streams(assign_types(graph, config), config)
    calls.clear()
    fresh.clear()
    auto.choose_settings(graph, PART, config.fit_limit)
    auto_layers = [l for l in graph.layers if l.settled.auto_reuse]
    assert auto_layers
    for layer in auto_layers:
        mine = {key: n for key, n in calls.items() if key[0] == layer.name}
        final = (layer.name, layer.settings.strategy, layer.settings.reuse_factor)
        assert all(n == 1 for key, n in mine.items() if key != final), mine
        assert mine[final] <= 2
        assert fresh[layer.name] == 2          # the search's first candidate and the chosen setting
        assert len(mine) >= 3                  # a candidate of each strategy at least


def test_resource_candidates_stop_where_every_lane_is_as_short_as_it_gets():
    """The search tries the resource strategy up to the first power of two R that holds a
    layer's fan-in in one lane: there its multipliers, adders and lane choices stop shrinking,
    so doubling R again only adds idle cycles and deeper ROMs (a candidate no cheaper and slower)."""
    config = make_config(precision=PRECISION, strategy="resource", reuse_factor=1, part=PART)
    graph, _ = structural_graph(IKR, config)
    config = settings_of(graph, config, warn=False)
    graph = plan_streams(assign_types(graph, config), config)
    checked = 0
    for layer in graph.layers:
        if layer.kind not in ("conv2d", "dense"):
            continue
        fan_in = auto._fan_in(layer)
        last = auto._reuse_factors("resource", 1 << 20, fan_in)[-1]
        assert last >= fan_in > last // 2, (layer.name, fan_in, last)
        (at, _), (beyond, _) = (auto._evaluate(layer, "resource", r, PART, None) for r in (last, 2 * last))
        assert beyond.multipliers == at.multipliers and beyond.muxes == at.muxes, layer.name
        assert beyond.latency > at.latency, layer.name
        family = family_of(PART)
        cheap, dear = (auto.fpga_estimate.estimate(c, family) for c in (at, beyond))
        assert all(dear[k] >= cheap[k] for k in RESOURCES), (layer.name, cheap, dear)
        checked += 1
    assert checked == 5
