"""Fixed point: the C++ host model equals the numpy reference of the hardware bit for bit,
on the pruned LeNet-5 and the model set, for ap_fixed<16,6>, ap_fixed<8,3,AP_RND,AP_SAT> and
mixed per-layer configurations; and the shipped IKR LeNet-5 keeps its accuracy."""
from pathlib import Path

import keras
import numpy as np
import pytest

import ikr_hls
from builds import run_two_at_a_time, selected_params
from ikr_hls.datasets import mnist_split
from zoo import build, ikr_prune

pytestmark = pytest.mark.cpp                  # every test here builds C++

SHIPPED_IKR = Path(__file__).resolve().parent.parent / "examples" / "models" / "lenet5_ikr.h5"
# The zoo without the dense-ish LeNet (its 1000 unrolled ap_fixed products take minutes of g++;
# LeNet is covered by the pruned model, as shipped).
ZOO = ("same_stride2", "nonsquare_bn", "avgpool_same", "mlp")
PATTERN_GEOMETRY = ("same_stride2", "nonsquare_bn", "avgpool_same")
PRECISIONS = {"16_6": "ap_fixed<16,6>", "8_3_rnd_sat": "ap_fixed<8,3,AP_RND,AP_SAT>"}
ARITHMETIC = ("ap_fixed", "int")


def mixed_config(model):
    """Per-layer types that differ from layer to layer, a narrow rounding and saturating
    accumulator (it saturates part-way through sums, so the order of accumulation matters),
    an unsigned-free input type, and for a softmax an exp table wide enough that its last
    entries differ (inputs far below the maximum read the table's end)."""
    cfg = ikr_hls.config_from_keras_model(model, granularity="name", default_precision="ap_fixed<14,5>")
    layers = cfg["LayerName"]
    names = [n for n in layers if "Precision" in layers[n]]
    layers[names[0]]["Precision"] = {"result": "ap_fixed<10,4,AP_RND_CONV,AP_SAT>"}       # the input
    weighted = [n for n in names[1:] if "weight" in layers[n]["Precision"]]
    for i, name in enumerate(weighted):
        p = layers[name]["Precision"]
        p["weight"] = ["ap_fixed<8,2,AP_RND>", "ap_fixed<12,3>"][i % 2]
        p["result"] = ["ap_fixed<12,5,AP_RND_ZERO,AP_SAT_SYM>", "ap_fixed<16,6,AP_TRN,AP_WRAP>"][i % 2]
        if i == 0:
            p["accum"] = "ap_fixed<12,3,AP_RND,AP_SAT>"       # rounds and saturates as it sums
    last = model.layers[-1]
    if "softmax" in (type(last).__name__.lower(), getattr(getattr(last, "activation", None), "__name__", "")):
        layers[weighted[-1]]["Precision"].update(exp_table="ap_ufixed<32,0,AP_RND,AP_SAT>",
                                                 result="ap_fixed<32,2,AP_RND,AP_SAT>")
    return cfg


def _cases():
    cases = {}
    for key, precision in PRECISIONS.items():
        cases[("lenet_ikr", key, "unrolled")] = dict(precision=precision)
        for name in ZOO:
            cases[(name, key, "unrolled")] = dict(precision=precision)
    cases[("lenet_ikr", "16_6", "pattern")] = dict(precision="ap_fixed<16,6>")
    # the pattern strategy on stride 2, non-square strides, padding same and an average
    # pooling with padding same; with a narrow rounding accumulator, the order of its sums
    # (PE by PE) matters too
    for name in PATTERN_GEOMETRY:
        cases[(name, "16_6", "pattern")] = dict(precision="ap_fixed<16,6>")
        cases[(name, "mixed", "pattern")] = dict(mixed=True)
        # the pe strategy over 3 cycles: the PEs' sums reach the accumulators cycle by cycle
        cases[(name, "mixed", "pe")] = dict(mixed=True, reuse=3)
    for strategy in ("unrolled", "pattern"):
        cases[("lenet_ikr", "mixed", strategy)] = dict(mixed=True)
    # the resource strategy's lanes over 3 cycles (lanes cut across kernel positions and short
    # last lanes), each filter's products in cycle-then-lane order into a rounding accumulator
    cases[("lenet_ikr", "mixed", "resource")] = dict(mixed=True, reuse=3)
    for name in PATTERN_GEOMETRY:
        cases[(name, "mixed", "resource")] = dict(mixed=True, reuse=3)
    for name in ZOO:
        cases[(name, "mixed", "unrolled")] = dict(mixed=True)
    return cases


class FixedModels(dict):
    """Converted models by case, on first use."""

    def __init__(self, tmp_path_factory):
        super().__init__()
        self._tmp = tmp_path_factory

    def convert(self, case):
        if case not in self:
            name, key, strategy = case
            opts = _cases()[case]
            model = (SHIPPED_IKR if name == "lenet_ikr"
                 else ikr_prune(build(name, seed=5), keep=4, library_size=2, seed=5) if strategy in ("pattern", "pe")
                 else build(name, seed=5, zeros=True))
            kwargs = dict(strategy=strategy, output_dir=self._tmp.mktemp(f"fx_{name}_{key}_{strategy}"))
            if opts.get("mixed"):
                from ikr_hls.modelfile import load_keras_model
                keras_model = load_keras_model(model) if isinstance(model, Path) else model
                kwargs["config"] = mixed_config(keras_model)
                kwargs["config"]["Model"]["Strategy"] = strategy    # a config's Model keys win over keywords
                for entry in [kwargs["config"]["Model"], *kwargs["config"]["LayerName"].values()]:
                    if "ReuseFactor" in entry:                   # per layer too: a layer's key wins
                        entry["ReuseFactor"] = opts.get("reuse", entry["ReuseFactor"])
            else:
                kwargs["precision"] = opts["precision"]
            self[case] = ikr_hls.convert(model, **kwargs)
            assert {layer.settings.strategy for layer in self[case].graph.layers} == {strategy}, case
        return self[case]

    def __missing__(self, case):            # predict() compiles when it is first called
        return self.convert(case)


@pytest.fixture(scope="module")
def fixed_models(tmp_path_factory, request):
    """The cases the selected tests use, converted, and compiled two at a time in the
    arithmetics they name (the integer model, the default, and the ap_types headers)."""
    models = FixedModels(tmp_path_factory)
    pairs = selected_params(request, "case", "arithmetic")
    run_two_at_a_time([lambda c=case, a=arithmetic: models.convert(c).compile(arithmetic=a)
                       for case, arithmetic in pairs])
    return models


def _inputs(hls, n=40):
    if hls.input_shape == (28, 28, 1):
        return mnist_split()[2][::25]                      # real digits, every class
    return np.random.default_rng(2).normal(0, 1.5, (n, *hls.input_shape))


@pytest.mark.parametrize("arithmetic", ARITHMETIC)
@pytest.mark.parametrize("case", list(_cases()), ids=["-".join(c) for c in _cases()])
def test_cpp_equals_the_reference_bit_for_bit(fixed_models, case, arithmetic):
    """The ap_fixed build (what Vitis compiles) and the host integer model both equal the
    reference, so they equal each other."""
    hls = fixed_models[case].compile(arithmetic=arithmetic)      # cached: no new compile
    x = _inputs(hls)
    got, expected = hls.predict(x), hls.emulate(x)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_the_comparison_can_fail(fixed_models, tmp_path):
    """The reference of the same model with one weight changed is told apart: the check is not
    vacuous."""
    hls = fixed_models[("mlp", "16_6", "unrolled")]
    x = _inputs(hls)
    changed = keras.models.clone_model(hls.keras_model)
    weights = [w.copy() for w in hls.keras_model.get_weights()]
    weights[0][0, 0] += 0.25                       # the first Dense kernel
    changed.set_weights(weights)
    other = ikr_hls.convert(changed, output_dir=tmp_path, precision=hls.config.precision.cpp)
    np.testing.assert_array_equal(hls.predict(x), hls.emulate(x))
    assert not np.array_equal(hls.predict(x), other.emulate(x))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused(fixed_models, bad):
    """A fixed-point design has no NaN or infinity: predict and the reference refuse them."""
    hls = fixed_models[("mlp", "16_6", "unrolled")]
    x = _inputs(hls)
    x[3, 0] = bad
    for run in (hls.predict, hls.emulate):
        with pytest.raises(ikr_hls.IKRHLSError, match="NaN or infinite"):
            run(x)


def test_shipped_ikr_lenet_keeps_its_accuracy_at_16_6(fixed_models):
    hls = fixed_models[("lenet_ikr", "16_6", "unrolled")]
    _, _, x, y = mnist_split()
    keras_acc = np.mean(np.argmax(hls.keras_model.predict(x, verbose=0), 1) == y)
    fixed_acc = np.mean(np.argmax(hls.predict(x), 1) == y)
    assert abs(fixed_acc - keras_acc) <= 0.005, (keras_acc, fixed_acc)


def test_default_accumulators_cannot_overflow(fixed_models):
    """With automatic accumulators, the fixed-point sum equals the exact sum of the quantised
    products: compare the reference's conv1 output with a float64 computation."""
    from ikr_hls.emulate import emulate_trace
    from ikr_hls.precision import quantize

    hls = fixed_models[("lenet_ikr", "16_6", "unrolled")]
    conv = hls.graph.layers[0]
    x = _inputs(hls)[:4]
    xq = quantize(x, hls.graph.input_precision)
    wq = quantize(conv.weights["kernel"], conv.precision["weight"])
    bq = quantize(conv.weights["bias"], conv.precision["bias"])
    windows = np.lib.stride_tricks.sliding_window_view(xq, (5, 5), axis=(1, 2))    # (N, 24, 24, 1, 5, 5)
    exact = np.einsum("nhwcij,ijco->nhwo", windows, wq) + bq
    expected = quantize(np.maximum(exact, 0), conv.precision["result"])
    np.testing.assert_array_equal(emulate_trace(hls.graph, x)[conv.name], expected)


def test_trace_shows_every_layer_beside_keras(fixed_models):
    """The tracing build's per-layer outputs equal the reference's, layer by layer, and sit
    beside Keras's output of the same layer (close to it, up to quantisation)."""
    from ikr_hls.emulate import emulate_trace

    hls = fixed_models[("nonsquare_bn", "16_6", "unrolled")]
    x = _inputs(hls, n=6)
    traced = hls.trace(x)
    reference = emulate_trace(hls.graph, x)
    assert list(traced) == [layer.name for layer in hls.graph.layers]
    for name, pair in traced.items():
        np.testing.assert_array_equal(pair["cpp"], reference[name])
        assert pair["keras"].shape == pair["cpp"].shape
        scale = np.abs(pair["keras"]).max() + 1
        assert np.abs(pair["cpp"] - pair["keras"]).max() < 0.05 * scale, name


def test_trace_table_and_plot_compare_every_layer_with_keras(tmp_path):
    """hls.trace(x) tabulates and plots the per-layer comparison: the errors are the arrays'
    own, and a result type with too few integer bits shows as values at its bounds and a large
    relative error on that layer only."""
    import keras
    import matplotlib.image

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="wide"),
                              keras.layers.Dense(4, name="narrow")])
    model.get_layer("narrow").kernel.assign(np.full((8, 4), 2.0, np.float32))   # outputs far above 2
    config = {"Model": {"Precision": "ap_fixed<16,6>"},
              "LayerName": {"narrow": {"Precision": {"result": "ap_fixed<8,2,AP_TRN,AP_SAT>"}}}}
    hls = ikr_hls.convert(model, output_dir=tmp_path / "p", config=config)
    x = np.random.default_rng(0).uniform(0, 1, (20, 6)).astype(np.float32)
    traced = hls.trace(x)
    rows = {r["layer"]: r for r in traced.rows()}
    for name, pair in traced.items():
        assert rows[name]["max_abs_error"] == np.abs(pair["cpp"] - pair["keras"]).max()
    assert rows["wide"]["at_bounds"] == 0 and rows["wide"]["relative_error"] < 0.01
    assert rows["narrow"]["at_bounds"] > 0.5 and rows["narrow"]["relative_error"] > 0.5
    assert rows["narrow"]["representable"] == (2.0 ** -6, 2 - 2.0 ** -6)
    text = repr(traced)
    assert text == traced.table() and "narrow" in text and "ap_fixed<8, 2, AP_TRN, AP_SAT>" in text
    traced.plot(tmp_path / "trace.png")
    assert matplotlib.image.imread(str(tmp_path / "trace.png")).shape[0] >= 300


@pytest.mark.parametrize("strategy", ["pattern", "pe"])
@pytest.mark.parametrize("name", PATTERN_GEOMETRY)
def test_every_layer_bit_exact_in_the_pe_strategies_with_a_saturating_accumulator(fixed_models, name, strategy):
    """Layer by layer (a later ReLU or saturation can hide a difference in the output): the
    pattern strategy sums each PE's kernels, the pe strategy each PE's partial sums, in the
    order the reference does, which matters with the mixed config's accumulator that saturates
    part-way through a sum."""
    from ikr_hls.emulate import emulate_trace

    hls = fixed_models[(name, "mixed", strategy)]
    x = _inputs(hls, n=40)
    reference = emulate_trace(hls.graph, x)
    for layer, pair in hls.trace(x).items():
        np.testing.assert_array_equal(pair["cpp"], reference[layer], err_msg=f"{name}/{layer}")


@pytest.mark.slow
@pytest.mark.parametrize("key", list(PRECISIONS))
def test_zoo_lenet_bit_exact(tmp_path, key):
    """The zoo's LeNet-5 with 40% random zeros: about a thousand unrolled ap_fixed products per
    conv2 filter take g++ minutes, hence slow (make test-all)."""
    model = build("lenet5", seed=5, zeros=True)
    hls = ikr_hls.convert(model, output_dir=tmp_path / "p", precision=PRECISIONS[key]).compile()
    x = mnist_split()[2][::50]
    np.testing.assert_array_equal(hls.predict(x), hls.emulate(x))


def test_types_that_cannot_hold_their_values_are_warned_naming_the_layer(tmp_path, caplog):
    """Weights outside their type, always; a result outside its type, measured on the
    calibration data or else the testbench data; nothing for float, nor for types that fit."""
    import logging

    import keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="small"),
                              keras.layers.Dense(4, name="big")])
    model.get_layer("big").kernel.assign(np.full((8, 4), 3.0, np.float32))      # 3.0 > ap_fixed<8,2>'s 1.98
    x = np.random.default_rng(0).uniform(0, 1, (30, 6)).astype(np.float32)
    config = {"Model": {"Precision": "ap_fixed<16,6>"},
              "LayerName": {"big": {"Precision": {"weight": "ap_fixed<8,2>", "result": "ap_fixed<8,2,AP_TRN,AP_SAT>"}}}}

    def warned(**kwargs):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ikr_hls"):
            ikr_hls.convert(model, output_dir=tmp_path / "p", config=config, **kwargs)
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    (weights,) = warned()                                   # no data: the weights only
    assert weights.startswith("big: weight type ap_fixed<8, 2> holds [-2, 1.984], its values give [3, 3]")
    assert "wrapped; 3 integer bits would hold them" in weights
    lines = warned(calibration=x)
    assert len(lines) == 2 and lines[1].startswith("big: result type ap_fixed<8, 2, AP_TRN, AP_SAT> holds")
    assert "the calibration data give" in lines[1] and "saturated" in lines[1]
    tb = tmp_path / "tb.npy"
    np.save(tb, x)
    assert "the testbench data give" in warned(tb_data=str(tb))[1]
    assert not any("small" in line for line in lines)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ikr_hls"):
        ikr_hls.convert(model, output_dir=tmp_path / "f", calibration=x)                 # float
    assert not caplog.records
