"""strategy="da": conv (Conv2D, DepthwiseConv2D, SeparableConv2D's halves) and Dense layers as
da4ml adder graphs. How it is asked for (convert, config, CLI), what it refuses, its fallback,
its report, and its host build against the bit-exact reference and Keras."""
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("da4ml")

from cli_helpers import assert_one_line_error, run_cli  # noqa: E402
from ikr_hls import IKRHLSError, convert  # noqa: E402
from ikr_hls.cli import DEFAULT_MAX_ERROR_FRACTION  # noqa: E402
from ikr_hls.fpga_estimate import operator_price  # noqa: E402
from ikr_hls.hls_model import plan_model  # noqa: E402
from ikr_hls.report import build_report  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LENET = REPO / "examples" / "models" / "lenet5_ikr.h5"
PRECISION = "ap_fixed<16,6>"
FAST = "ap_fixed<8,3>"           # where only the plan matters: LeNet-5's fc1 solves in seconds, not a minute
DA_KINDS = ("conv2d", "dense")


def strategies(graph) -> dict:
    return {layer.keras_name: layer.settled.strategy for layer in graph.layers if layer.kind in DA_KINDS}


def test_strategy_da_is_asked_for_model_wide_and_per_layer(tmp_path):
    graph, _, _ = plan_model(str(LENET), precision=FAST, strategy="da")
    assert set(strategies(graph).values()) == {"da"}
    assert all(layer.facts.multipliers == 0 for layer in graph.layers if layer.kind == "conv2d")
    config = tmp_path / "cfg.yml"
    config.write_text("Model:\n  Precision: ap_fixed<8,3>\n  Strategy: unrolled\n"
                      "LayerName:\n  conv2:\n    Strategy: da\n  fc3:\n    Strategy: da\n")
    graph, _, _ = plan_model(str(LENET), config=str(config))
    assert strategies(graph) == {"conv1": "unrolled", "conv2": "da", "fc1": "unrolled", "fc2": "unrolled",
                                 "fc3": "da"}


def test_auto_never_chooses_da():
    graph, _, _ = plan_model(str(LENET), precision=FAST, strategy="auto", reuse_factor="auto")
    assert "da" not in strategies(graph).values()


def test_reuse_above_one_is_refused_naming_the_layer():
    with pytest.raises(IKRHLSError, match=r"^layer conv1: strategy 'da' works at reuse factor 1 only .*not 2\)?$"):
        plan_model(str(LENET), precision=FAST, strategy="da", reuse_factor=2)
    # with reuse "auto", a da layer has nothing to share: it keeps reuse factor 1
    graph, _, _ = plan_model(str(LENET), precision=FAST, strategy="da", reuse_factor="auto")
    assert {layer.settled.reuse_factor for layer in graph.layers if layer.kind in DA_KINDS} == {1}


def test_above_the_bound_a_layer_falls_back_to_unrolled(monkeypatch, caplog):
    """conv1's matrix is far smaller than conv2's: a bound between them keeps conv1 da."""
    from ikr_hls.da import bound, csd_digits, layer_matrix

    graph, _, _ = plan_model(str(LENET), precision=FAST, strategy="da")
    digits = {layer.keras_name: csd_digits(layer_matrix(layer)) for layer in graph.layers if layer.kind in DA_KINDS}
    assert digits["conv1"] < digits["conv2"] < digits["fc3"]
    monkeypatch.setattr(bound, "MAX_DIGITS", digits["conv1"])
    with caplog.at_level(logging.WARNING):
        graph, _, _ = plan_model(str(LENET), precision=FAST, strategy="da")
    assert strategies(graph) == dict.fromkeys(digits, "unrolled") | {"conv1": "da"}
    warned = [r.getMessage() for r in caplog.records if "falls back" in r.getMessage()]
    assert len(warned) == 4 and any(m.startswith("layer conv2: ") and f"bound of {digits['conv1']}" in m
                                    for m in warned)


def test_solve_time_shows_in_verbose_output(caplog):
    with caplog.at_level(logging.INFO, logger="ikr_hls"):
        plan_model(str(LENET), precision=FAST, strategy="da")
    solved = [r.getMessage() for r in caplog.records if "da adder graph" in r.getMessage()]
    assert [m.split(":")[0] for m in solved] == [f"layer {n}" for n in ("conv1", "conv2", "fc1", "fc2", "fc3")]
    assert all(" s (" in m for m in solved)


def test_without_da4ml_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "da4ml", None)        # import da4ml raises ImportError
    with pytest.raises(IKRHLSError, match=r"^strategy 'da' needs da4ml: pip install 'ikr-hls\[da\]'$"):
        plan_model(str(LENET), precision=FAST, strategy="da")


def test_da_needs_fixed_point_types():
    with pytest.raises(IKRHLSError, match="layer conv1: distributed arithmetic needs fixed-point types"):
        plan_model(str(LENET), precision="float", strategy="da")


def test_the_report_prices_the_adder_graph():
    """0 DSP and 0 multipliers for a da layer; its adders are the solution's, priced as adders;
    its latency is the graph's depth more than the window's read and write."""
    graph, config, _ = plan_model(str(LENET), precision=FAST, strategy="da")
    unrolled, config_u, _ = plan_model(str(LENET), precision=FAST, strategy="unrolled")
    da_layers = {entry["name"]: entry for entry in build_report(graph, config)["layers"]}
    ref_layers = {entry["name"]: entry for entry in build_report(unrolled, config_u)["layers"]}
    for layer in graph.layers:
        if layer.kind not in DA_KINDS:
            continue
        entry, form = da_layers[layer.name], (layer.facts.form if layer.kind == "conv2d" else layer.facts.da)
        assert entry["strategy"] == "da"
        softmax = layer.activation == "softmax"                       # its normalisation multiplies
        assert entry["multipliers"] == (layer.out_shape[-1] if softmax else 0), layer.name
        if not softmax:
            assert entry["resources_estimate"]["dsp"] == 0 and "products" not in entry["resources_by_part"]
        # the adders priced by the operator table, each at its own width
        priced = sum(op["count"] * operator_price("add", op["width"])["lut"] for op in entry["operators"]
                     if op["op"] == "add" and op["part"] != "control")
        assert entry["resources_by_part"]["adders"]["lut"] == pytest.approx(priced) and priced > 0
        graph_adders = sum(op["count"] for op in entry["operators"] if op["what"] == "adder graph")
        assert graph_adders == len(form.graph.adders) > 0
        assert form.solution.adders >= graph_adders              # the solution's, less any unused
        adds = [op for op in entry["chain"] if op["op"] == "add"]
        if not softmax:                                            # (a softmax adds its sum's levels)
            assert sum(op["levels"] for op in adds) == form.solution.depth + 1
        assert ref_layers[layer.name]["multipliers"] > entry["multipliers"]
    assert sum(e["resources_estimate"]["dsp"] for n, e in da_layers.items() if n != "fc3") == 0


def test_cli_strategy_da(tmp_path):
    proc = run_cli("report", LENET, "--precision", FAST, "--strategy", "da", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert {e["name"]: e["strategy"] for e in report["layers"] if e["kind"] in DA_KINDS} == dict.fromkeys(
        ("conv1", "conv2", "fc1", "fc2", "fc3"), "da")
    proc = run_cli("convert", LENET, "-o", tmp_path / "prj", "--precision", FAST, "--strategy", "da",
                   "--reuse-factor", "2")
    assert_one_line_error(proc, "conv1", "reuse factor 1 only")


# --- host builds: the C++ against the bit-exact reference and Keras --------------------------

def check_host(hls, keras_model, x):
    """C++ == the reference bit for bit; within the CLI check's bound of Keras (a fraction of
    its largest output); the same as unrolled's reference where the accumulators are exact."""
    y = hls.predict(x)
    np.testing.assert_array_equal(y, hls.emulate(x))
    expected = np.asarray(keras_model.predict(x, verbose=0), dtype=np.float64).reshape(y.shape)
    assert np.max(np.abs(y - expected)) <= DEFAULT_MAX_ERROR_FRACTION * np.max(np.abs(expected))
    return y


@pytest.fixture(scope="module")
def lenet_model():
    from ikr_hls.modelfile import load_keras_model

    return load_keras_model(LENET)


@pytest.mark.cpp
@pytest.mark.slow
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_lenet_host_build_is_bit_exact(lenet_model, tmp_path, io_type):
    hls = convert(lenet_model, output_dir=tmp_path / "prj", precision=PRECISION, strategy="da", io_type=io_type)
    assert set(strategies(hls.graph).values()) == {"da"}
    hls.compile()
    x = np.random.default_rng(5).uniform(0, 1, (24, 28, 28, 1)).astype("float32")
    y = check_host(hls, lenet_model, x)
    # the default accumulators neither round nor overflow: unrolled's reference is the same
    unrolled = convert(lenet_model, output_dir=tmp_path / "u", precision=PRECISION, io_type=io_type)
    np.testing.assert_array_equal(y, unrolled.emulate(x))


@pytest.fixture(scope="module")
def separable():
    from zoo import build_dag

    return build_dag("depthwise_separable", seed=3, keep=4)


@pytest.mark.cpp
@pytest.mark.parametrize("io_type", [pytest.param("io_parallel", marks=pytest.mark.slow), "io_stream"])
def test_depthwise_separable_host_build_is_bit_exact(separable, tmp_path, io_type):
    """DepthwiseConv2D and both halves of a SeparableConv2D (every conv2d layer) as da, and
    its Dense; an 8-bit accumulator that rounds and saturates is bit-exact too; and the
    counting build executes no multiplication in them; the ap_types build equals the integer one."""
    for precision in (PRECISION, "ap_fixed<8,3,AP_RND,AP_SAT>"):
        hls = convert(separable, output_dir=tmp_path / precision[9:13].replace(",", "_"), precision=precision,
                      strategy="da", io_type=io_type)
        da_layers = [layer for layer in hls.graph.layers if layer.settled.strategy == "da"]
        classes = {hls.graph.keras_classes.get(layer.keras_name) for layer in da_layers}
        assert {"DepthwiseConv2D", "SeparableConv2D", "Dense"} <= classes, classes
        hls.compile()
        x = np.random.default_rng(2).normal(0, 1, (16, *hls.input_shape)).astype("float32")
        y = hls.predict(x)
        np.testing.assert_array_equal(y, hls.emulate(x))
        if precision == PRECISION:
            check_host(hls, separable, x)
            if io_type == "io_parallel":
                counts = hls.count_ops(x[:2])
                assert all(counts[layer.name] == 0 for layer in da_layers if layer.activation != "softmax")
                # through the ap_types headers Vitis compiles (ikr::da_shift's range() form): the same
                hls.compile(arithmetic="ap_fixed")
                np.testing.assert_array_equal(hls.predict(x), y)


@pytest.mark.cpp
def test_pruned_away_kernels_and_columns(tmp_path):
    """A conv whose kernels are all zero (no matrix row: every output its bias) and a Dense with
    zero columns (those outputs their bias): the code and the reference agree."""
    import keras

    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="dead")(inputs)
    x = keras.layers.Conv2D(4, 3, name="live")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5, name="d")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(4)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = (w.numpy() for w in layer.weights)
            kernel = rng.normal(0, 0.5, kernel.shape) * (rng.random(kernel.shape) < 0.4)
            if layer.name == "dead":
                kernel[:] = 0
            if layer.name == "d":
                kernel[:, [1, 3]] = 0
            layer.set_weights([kernel, rng.normal(0, 0.5, bias.shape)])
    hls = convert(model, output_dir=tmp_path / "prj", precision=PRECISION, strategy="da")
    assert set(strategies(hls.graph).values()) == {"da"}
    hls.compile()
    x = rng.normal(0, 1, (8, 6, 6, 2)).astype("float32")
    check_host(hls, model, x)
