"""Hardware-faithful IKR kernels: both strategies agree with Keras on IKR-pruned LeNet-5, the
counting build measures exactly the analytic number of multiplications, and generated code
size follows the nonzero weights, not the image size."""
import re
from pathlib import Path

import keras
import numpy as np
import pytest

import ikr_hls
from zoo import build, ikr_prune, randomize

pytestmark = pytest.mark.cpp                  # every test here builds C++

L = keras.layers


def analytic_mults(keras_model):
    """Nonzero conv weights x output positions + nonzero dense weights (padding taps are
    multiplied too: the generated code reads a zero-padded window)."""
    counts = {}
    for layer in keras_model.layers:
        if isinstance(layer, L.Conv2D):
            oh, ow = layer.output.shape[1:3]
            counts[layer.name] = int(np.count_nonzero(layer.kernel.numpy())) * oh * ow
        elif isinstance(layer, L.Dense):
            counts[layer.name] = int(np.count_nonzero(layer.kernel.numpy()))
    return counts


def pruned_lenet(seed=11, keep=6):
    model = build("lenet5", seed=seed)
    ikr_prune(model, keep=keep, library_size=8, seed=seed)
    for layer in model.layers:                      # and magnitude-like dense sparsity
        if isinstance(layer, L.Dense):
            k = layer.kernel.numpy()
            layer.kernel.assign(np.where(np.abs(k) < np.quantile(np.abs(k), 0.8), 0.0, k))
    return model


def same_stride2_ikr(seed=12):
    return ikr_prune(build("same_stride2", seed=seed), keep=4, library_size=4, seed=seed)


@pytest.fixture(scope="module")
def pruned_models(tmp_path_factory):
    out = {}
    for name, model in (("lenet", pruned_lenet()), ("same_stride2", same_stride2_ikr()),
                        ("dense_lenet", build("lenet5", seed=11))):
        for strategy in ("unrolled", "pattern"):
            hls = ikr_hls.convert(model, output_dir=tmp_path_factory.mktemp(f"{name}_{strategy}"),
                                  strategy=strategy, reuse_factor=2)
            out[(name, strategy)] = (model, hls)
    return out


def _x(shape, n=5):
    return np.random.default_rng(3).uniform(0, 1, (n, *shape)).astype(np.float32)


@pytest.mark.parametrize("name", ["lenet", "same_stride2"])
@pytest.mark.parametrize("strategy", ["unrolled", "pattern"])
def test_ikr_model_matches_keras(pruned_models, name, strategy):
    model, hls = pruned_models[(name, strategy)]
    x = _x(hls.input_shape)
    np.testing.assert_allclose(hls.predict(x), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["lenet", "same_stride2", "dense_lenet"])
def test_count_ops_equals_the_analytic_count(pruned_models, name):
    model, hls = pruned_models[(name, "unrolled")]
    counted = hls.count_ops(_x(hls.input_shape, n=3))
    expected = analytic_mults(model)
    by_keras_name = {layer.keras_name: layer.name for layer in hls.graph.layers}
    assert {k: counted[by_keras_name[k]] for k in expected} == expected
    assert all(counted[layer.name] == 0 for layer in hls.graph.layers if layer.kind == "pool2d")


def test_pattern_strategy_counts_the_same(pruned_models):
    _, unrolled = pruned_models[("lenet", "unrolled")]
    _, pattern = pruned_models[("lenet", "pattern")]
    x = _x(unrolled.input_shape, n=2)
    assert unrolled.count_ops(x) == pattern.count_ops(x)


def test_pe_strategy_counts_keep_taps_of_every_live_kernel(pruned_models, tmp_path):
    """The pe strategy multiplies `keep` taps of every live kernel at every output pixel (a kept
    weight that is exactly 0 too), and the report's MACs say so."""
    model, _ = pruned_models[("lenet", "unrolled")]
    hls = ikr_hls.convert(model, output_dir=tmp_path / "pe", strategy="pe", reuse_factor=2)
    counted = hls.count_ops(_x(hls.input_shape, n=2))
    macs = {layer["name"]: layer["macs_pruned"] for layer in hls.report()["layers"]}
    for layer in model.layers:
        if isinstance(layer, L.Conv2D):
            kernel = layer.kernel.numpy()
            live = int(np.count_nonzero(np.abs(kernel).sum(axis=(0, 1))))
            keep = int((kernel != 0).sum(axis=(0, 1)).max())
            oh, ow = layer.output.shape[1:3]
            name = next(l.name for l in hls.graph.layers if l.keras_name == layer.name)
            assert counted[name] == macs[name] == live * keep * oh * ow, layer.name
    x = _x(hls.input_shape)
    np.testing.assert_allclose(hls.predict(x), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_pruning_lowers_the_count_exactly(pruned_models):
    dense_model, dense_hls = pruned_models[("dense_lenet", "unrolled")]
    pruned_model, pruned_hls = pruned_models[("lenet", "unrolled")]
    x = _x(dense_hls.input_shape, n=1)
    dense_counts, pruned_counts = dense_hls.count_ops(x), pruned_hls.count_ops(x)
    # dense: every weight of every conv at every output pixel, every dense weight
    assert dense_counts["conv1"] == 150 * 24 * 24 and dense_counts["conv2"] == 2400 * 8 * 8
    removed = {k: analytic_mults(dense_model)[k] - analytic_mults(pruned_model)[k]
               for k in analytic_mults(dense_model)}
    for k, saved in removed.items():
        assert dense_counts[k] - pruned_counts[k] == saved
    # keep 6 of 25 taps: conv2 multiplies 6/25 of the dense count
    assert pruned_counts["conv2"] * 25 == dense_counts["conv2"] * 6


def _conv(h, w, keep, strategy="unrolled", seed=0):
    model = keras.Sequential([keras.Input((h, w, 8)), L.Conv2D(16, 3, padding="same", name="conv")])
    randomize(model, seed)
    ikr_prune(model, keep=keep, library_size=8, seed=seed)
    return ikr_hls.convert(model, output_dir="unused", strategy=strategy)


def _conv_header(h, w, keep, strategy="unrolled", seed=0):
    hls = _conv(h, w, keep, strategy, seed)
    return hls.files["firmware/layers/conv.h"] + hls.files["firmware/weights/conv.h"]


@pytest.mark.parametrize("strategy", ["unrolled", "pattern", "pe"])
def test_conv_source_does_not_grow_with_the_image(strategy):
    """The same conv over a 16x16 and a 32x32 image is the same code, numbers (loop bounds,
    sizes) aside."""
    small, large = _conv_header(16, 16, 4, strategy), _conv_header(32, 32, 4, strategy)
    assert re.sub(r"\d+", "N", large) == re.sub(r"\d+", "N", small)


@pytest.mark.parametrize("keep", [8, 4])
def test_unrolled_conv_writes_one_tap_per_nonzero_weight(keep):
    """The code of the unrolled conv holds one product statement per nonzero weight of the plan,
    and a weight table of as many entries: halving keep halves both."""
    hls = _conv(16, 16, keep)
    conv = hls.graph.layer("conv")
    header, weights = hls.files["firmware/layers/conv.h"], hls.files["firmware/weights/conv.h"]
    taps = re.findall(r"acc \+= window\[(\d+)\]\[(\d+)\]\[(\d+)\] \* conv_w\[(\d+)\];", header)
    planned = [(i, j, ci) for filter_taps in conv.facts.filter_taps for ci, i, j in filter_taps]
    assert [(int(i), int(j), int(ci)) for i, j, ci, _ in taps] == planned
    assert [int(k) for *_, k in taps] == list(range(conv.facts.nnz))
    assert conv.facts.nnz == keep * 8 * 16                  # every kernel keeps `keep` taps
    assert re.search(rf"conv_w\[{conv.facts.nnz}\]", weights)


def test_pattern_conv_weights_and_taps_halve_with_keep():
    """The pattern strategy's source is PE code (taps per pattern) plus weight tables, which
    follow keep, plus one kernel-index table entry per kernel, which does not."""
    import re

    def measure(code):
        weights = sum(int(n) for n in re.findall(r"conv_pe\d+_w\[(\d+)\] =", code))
        pes = re.findall(r"static conv_accum_t conv_pe\d+\((.*)\) \{", code)
        taps = {len(re.findall(r"\bx\d+\b", params)) for params in pes}      # a PE's window inputs
        return weights, taps

    (w8, t8), (w4, t4) = measure(_conv_header(16, 16, 8, "pattern")), measure(_conv_header(16, 16, 4, "pattern"))
    assert w8 == 8 * 8 * 16 and w4 == 4 * 8 * 16       # keep x input channels x filters
    assert t8 == {8} and t4 == {4}                      # taps (multipliers) per processing element


def test_reuse_factor_per_model_and_per_layer():
    model = pruned_lenet()
    hls = ikr_hls.convert(model, reuse_factor={"default": 4, "conv2": 2, "fc2": 8})
    files = hls.files
    assert "#pragma HLS PIPELINE II=4" in files["firmware/layers/conv1.h"]
    assert "#pragma HLS PIPELINE II=2" in files["firmware/layers/conv2.h"]
    assert "#pragma HLS PIPELINE II=8" in files["firmware/layers/fc2.h"]
    # a PIPELINE unrolls every loop inside it: the operators are shared by ALLOCATION
    nnz = int(np.count_nonzero(model.get_layer("fc2").kernel.numpy()))
    assert f"ALLOCATION operation instances=mul limit={-(-nnz // 8)}" in files["firmware/layers/fc2.h"]
    assert "UNROLL factor" not in "".join(files.values())
    with pytest.raises(ikr_hls.IKRHLSError,
                       match=r"reuse_factor\['nope'\] \(reuse factor\): the model has no layer 'nope'"):
        ikr_hls.convert(model, reuse_factor={"nope": 2})
    with pytest.raises(ikr_hls.IKRHLSError, match="reuse_factor: expected a positive integer"):
        ikr_hls.convert(model, reuse_factor=0)


def test_pattern_strategy_has_one_pe_per_pattern():
    model = pruned_lenet()
    code = ikr_hls.convert(model, strategy="pattern").files["firmware/layers/conv2.h"]
    assert code.count("_pe") and 1 <= code.count("    conv2_pe") <= 8


SHIPPED_IKR = Path(__file__).resolve().parent.parent / "examples" / "models" / "lenet5_ikr.h5"


@pytest.fixture(scope="module")
def shipped_ikr(tmp_path_factory):
    out = {}
    for strategy in ("unrolled", "pattern"):
        hls = ikr_hls.convert(SHIPPED_IKR, output_dir=tmp_path_factory.mktemp(f"ikr_{strategy}"),
                              strategy=strategy)
        out[strategy] = hls
    return out


@pytest.mark.parametrize("strategy", ["unrolled", "pattern"])
def test_shipped_ikr_lenet_matches_keras(shipped_ikr, strategy):
    from ikr_hls.datasets import mnist_split

    hls = shipped_ikr[strategy]
    x = mnist_split()[2][::10]                                  # 100 real test images
    np.testing.assert_allclose(hls.predict(x), hls.keras_model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_shipped_ikr_lenet_is_regular_and_counted(shipped_ikr):
    hls = shipped_ikr["unrolled"]
    for layer in hls.graph.layers:
        if layer.kind == "conv2d":
            assert 1 <= len(layer.facts.groups) <= 8     # library of at most 8 patterns
    counted = hls.count_ops(np.zeros((1, 28, 28, 1), np.float32))
    expected = analytic_mults(hls.keras_model)
    assert {k: counted[k] for k in expected} == expected
