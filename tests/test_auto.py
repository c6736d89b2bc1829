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
