"""HGQ2 (quantization-aware) models convert bit for bit (issue 27): the compiled C++ (io_parallel
and io_stream, each conv strategy), the numpy reference (emulate) and HGQ2's own Keras forward
(`model(x, training=False)`) agree exactly, on a LeNet-like, a residual and a depthwise model
whose every weight and activation has its own trained format (tests/hgq_zoo.py); each rounding
and overflow mode of a quantizer is checked on its own; IKRPruning, summary and prune_once work
on HGQ2 layers; what does not convert says so in one line."""
import numpy as np
import pytest

hgq = pytest.importorskip("hgq")

import keras  # noqa: E402
from hgq.config import QuantizerConfig  # noqa: E402

import hgq_zoo  # noqa: E402
import ikr_hls  # noqa: E402
from hgq.layers import QConv2D, QDense, QMaxPooling2D  # noqa: E402
from ikr_hls import IKRHLSError  # noqa: E402
from ikr_hls.hgq import quantizers  # noqa: E402
from ikr_hls.kinds import kind_of  # noqa: E402
from ikr_hls.kinds.quantize import element_type  # noqa: E402
from ikr_hls.precision import quantize  # noqa: E402

L = keras.layers


@pytest.fixture(scope="module")
def models():
    return {name: make() for name, make in hgq_zoo.MODELS.items()}


def _inputs(model, n=48, seed=3):
    """Inputs beyond the trained range too (WRAP and SAT get exercised), as float32 like Keras."""
    rng = np.random.default_rng(seed)
    return (rng.normal(0.3, 1.2, (n, *model.input_shape[1:]))).astype(np.float32)


def _keras(model, x):
    return np.asarray(model(x, training=False), dtype=np.float64)


# --- the quantizers, in numpy ------------------------------------------------------------------

@pytest.mark.parametrize("round_mode", ["TRN", "RND", "RND_CONV", "S_RND"])
@pytest.mark.parametrize("overflow", ["WRAP", "SAT", "SAT_SYM"])
def test_each_element_is_its_own_ap_fixed_type_as_hgq_quantizes_it(round_mode, overflow):
    """HGQ2's quantizer in inference, element by element, is the assignment to ap_fixed<K+I+F,
    K+I> of the element's mode (0 when K+I+F <= 0): what the quantize step and its reference do."""
    rng = np.random.default_rng(7)
    shape = (5, 4, 3)
    q = hgq.quantizer.Quantizer(QuantizerConfig("kif", "datalane", round_mode=round_mode, overflow_mode=overflow))
    q.build((None, *shape))
    inner = q.quantizer
    inner._k.assign(rng.integers(0, 2, inner._k.shape).astype("uint8"))
    inner._i.assign(rng.integers(-2, 4, inner._i.shape).astype("float32"))
    inner._f.assign(rng.integers(-1, 6, inner._f.shape).astype("float32"))
    x = (rng.normal(0, 4, (200, *shape)) * rng.choice([1, 0.1], (200, *shape))).astype(np.float32)
    x[:20] = np.round(x[:20] * 8) / 16                     # ties of several steps
    expected = np.asarray(q(x, training=False), dtype=np.float64)
    formats = quantizers.read(q, shape, "test")
    got = np.zeros_like(expected)
    for idx in np.ndindex(*shape):
        t = element_type(int(formats.k[idx]), int(formats.i[idx]), int(formats.f[idx]), formats.round,
                         formats.overflow)
        if t is not None:
            got[(slice(None), *idx)] = quantize(x[(slice(None), *idx)].astype(np.float64), t)
    np.testing.assert_array_equal(got, expected)


# --- whole models, bit for bit ------------------------------------------------------------------

FORMS = [("io_parallel", "unrolled", 1), ("io_parallel", "pattern", 2), ("io_stream", "unrolled", 1),
         ("io_stream", "pe", 2)]
SLOW_FORMS = [("io_parallel", "pe", 1), ("io_stream", "pattern", 1)]


def _check_exact(model, io_type, strategy, reuse, tmp_path, arithmetic="int"):
    x = _inputs(model)
    expected = _keras(model, x)
    hls = ikr_hls.convert(model, output_dir=tmp_path / "prj", io_type=io_type, strategy=strategy,
                          reuse_factor=reuse)
    assert hls.config.trained and "trained" in hls.report()["precision"]
    np.testing.assert_array_equal(hls.emulate(x), expected)
    np.testing.assert_array_equal(hls.compile(arithmetic=arithmetic).predict(x), expected)
    return hls


@pytest.mark.cpp
@pytest.mark.parametrize("io_type, strategy, reuse", FORMS, ids=[f"{i}-{s}-{r}" for i, s, r in FORMS])
@pytest.mark.parametrize("name", list(hgq_zoo.MODELS))
def test_the_cpp_and_the_reference_equal_hgq_keras_bit_for_bit(models, name, io_type, strategy, reuse, tmp_path):
    hls = _check_exact(models[name], io_type, strategy, reuse, tmp_path)
    widths = [layer.facts.width for layer in hls.graph.layers if layer.kind == "quantize"]
    assert any(len(np.unique(w)) > 2 for w in widths), "the activations' widths should differ per element"


@pytest.mark.slow
@pytest.mark.cpp
@pytest.mark.parametrize("io_type, strategy, reuse", SLOW_FORMS, ids=[f"{i}-{s}-{r}" for i, s, r in SLOW_FORMS])
@pytest.mark.parametrize("name", list(hgq_zoo.MODELS))
def test_the_other_forms_too(models, name, io_type, strategy, reuse, tmp_path):
    _check_exact(models[name], io_type, strategy, reuse, tmp_path)


def _modes_model():
    """A conv, then one quantizer of each (rounding, overflow) pair in a row (1x1 max pools:
    identities around their input quantizers), each element its own format and sign."""
    rng = np.random.default_rng(11)
    inp = keras.Input((5, 5, 3))
    x = QConv2D(3, 1, name="conv")(inp)
    pools = []
    for r in ("TRN", "RND", "RND_CONV"):
        for o in ("WRAP", "SAT", "SAT_SYM"):
            conf = QuantizerConfig("kif", "datalane", round_mode=r, overflow_mode=o)
            pool = QMaxPooling2D(1, iq_conf=conf, name=f"q_{r}_{o}".lower())
            x = pool(x)
            pools.append(pool)
    out = QDense(2, name="head")(L.Flatten()(x))
    model = keras.Model(inp, out)
    for pool in pools:
        inner = pool.iq.quantizer
        inner._k.assign(rng.integers(0, 2, inner._k.shape).astype("uint8"))
        inner._i.assign(rng.integers(0, 4, inner._i.shape).astype("float32"))
        inner._f.assign(rng.integers(0, 7, inner._f.shape).astype("float32"))
    return model


@pytest.mark.cpp
@pytest.mark.parametrize("io_type, arithmetic", [("io_parallel", "int"), ("io_parallel", "ap_fixed"),
                                                 ("io_stream", "int")])
def test_every_rounding_and_overflow_mode(io_type, arithmetic, tmp_path):
    """The tables of each mode in the C++ (the host's integer model and the ap_types headers
    Vitis compiles) against HGQ2 and the reference."""
    _check_exact(_modes_model(), io_type, "unrolled", 1, tmp_path, arithmetic=arithmetic)


@pytest.mark.cpp
def test_a_saved_model_converts_from_its_file(models, tmp_path):
    model = models["residual"]
    path = tmp_path / "residual.keras"
    model.save(path)
    x = _inputs(model, 8)
    hls = ikr_hls.convert(str(path), output_dir=tmp_path / "prj")
    np.testing.assert_array_equal(hls.emulate(x), _keras(model, x))


def test_the_hardware_model_matches_the_generated_code(models):
    """tests/test_hardware.py's checks on the trained types (quantize steps included)."""
    from hls_code import library
    from test_hardware import check_project

    lib = library()
    for name, model in models.items():
        for io_type, strategy, reuse in FORMS:
            check_project(model, name, strategy, reuse, lib, precision=None, io_type=io_type)


@pytest.mark.cpp
def test_a_batchnorm_dense_and_an_activation_layer_convert(tmp_path):
    """QBatchNormDense (its forward's fused kernel and bias, from the moving statistics),
    QUnaryFunctionLUT with an exact activation (its input and output quantizers around it), and
    a conv's output quantizer (after its activation, as HGQ2 applies it)."""
    from hgq.layers import QBatchNormDense, QUnaryFunctionLUT

    a, b = hgq_zoo._scope(6)
    with a, b:
        inp = keras.Input((6, 6, 2))
        x = QConv2D(3, 3, activation="relu", enable_oq=True, name="c")(inp)     # an output quantizer after the relu
        x = QUnaryFunctionLUT("relu", name="act")(x)
        x = QBatchNormDense(4, name="bnd")(L.Flatten()(x))
        model = keras.Model(inp, QDense(2, name="d")(x))
    hgq_zoo._train(model, 6)
    assert np.any(np.asarray(model.get_layer("bnd").moving_mean) != 0)      # the fused form differs from qkernel
    hls = ikr_hls.convert(model, output_dir=tmp_path / "prj")
    assert [l.name for l in hls.graph.layers][:5] == ["c_iq", "c", "c_oq", "act_iq", "act"]
    assert [l.name for l in hls.graph.layers if l.keras_name.startswith("act")] == ["act_iq", "act", "act_oq"]
    x = _inputs(model)
    expected = _keras(model, x)
    np.testing.assert_array_equal(hls.emulate(x), expected)
    np.testing.assert_array_equal(hls.compile().predict(x), expected)


def test_a_batchnorm_after_a_conv_is_not_folded_into_its_trained_weights():
    """A QBatchNormalization right after a QConv2D (no input quantizer between them) stays a
    layer of its own: folded, the conv's weights would no longer be values of their trained
    type. A plain Keras BatchNormalization there has float weights: refused, not folded."""
    from hgq.layers import QBatchNormalization

    a, b = hgq_zoo._scope(7)
    with a, b:
        inp = keras.Input((6, 6, 2))
        x = QBatchNormalization(name="bn", enable_iq=False)(QConv2D(3, 3, name="c")(inp))
        model = keras.Model(inp, QDense(2, name="d")(L.Flatten()(x)))
    hgq_zoo._train(model, 7)
    hls = ikr_hls.convert(model, output_dir="unused")
    assert [l.name for l in hls.graph.layers] == ["c_iq", "c", "bn", "d_iq", "d"]
    x = _inputs(model, 16)
    np.testing.assert_array_equal(hls.emulate(x), _keras(model, x))

    with a, b:
        inp = keras.Input((6, 6, 2))
        x = L.BatchNormalization(name="plain_bn")(QConv2D(3, 3, name="c")(inp))
        model = keras.Model(inp, QDense(2, name="d")(L.Flatten()(x)))
    with pytest.raises(IKRHLSError, match=r"layer 'plain_bn' \(BatchNormalization\): its weight values are floating"):
        ikr_hls.convert(model, output_dir="unused")


# --- types: trained, overridden, reported -------------------------------------------------------

def test_types_come_from_the_quantizers_and_an_override_wins(models):
    model = models["lenet_like"]
    hls = ikr_hls.convert(model, output_dir="unused")
    conv = hls.graph.layer("conv1")
    k = model.get_layer("conv1").kq
    formats = quantizers.read(k, conv.weights["kernel"].shape, "conv1")
    assert conv.precision["weight"] == formats.container()
    assert conv.precision["weight"].width < 16
    report = hls.report()
    bits = {l["name"]: l["bits"] for l in report["layers"]}
    widths = conv.trained.widths["weight"][conv.weights["kernel"] != 0]
    assert bits["conv1"]["weight"] == pytest.approx(widths.mean(), abs=1e-3)
    assert bits["conv1_iq"]["result"] == pytest.approx(hls.graph.layer("conv1_iq").facts.width.mean(), abs=1e-3)
    assert report["totals"]["bits_mean"]["weight"] < conv.precision["weight"].width
    # a precision on top: every layer's types, no longer the trained ones
    over = ikr_hls.convert(model, output_dir="unused", precision="ap_fixed<16,6>")
    assert not over.config.trained
    assert over.graph.layer("conv1").precision["weight"].cpp == "ap_fixed<16, 6>"
    # a config entry on top of the trained types: that layer only
    cfg = {"LayerName": {"conv1": {"Precision": {"weight": "ap_fixed<12,4>"}}}}
    mixed = ikr_hls.convert(model, output_dir="unused", config=cfg)
    assert mixed.config.trained
    assert mixed.graph.layer("conv1").precision["weight"].cpp == "ap_fixed<12, 4>"
    assert mixed.graph.layer("conv2").precision["weight"] == hls.graph.layer("conv2").precision["weight"]


def test_a_per_tensor_quantizer_is_one_plain_type():
    with hgq.config.QuantizerConfigScope(place="datalane", heterogeneous_axis=(), homogeneous_axis=None):
        inp = keras.Input((6, 6, 1))
        out = QDense(3)(L.Flatten()(QConv2D(2, 3, name="conv")(inp)))
    model = keras.Model(inp, out)
    hls = ikr_hls.convert(model, output_dir="unused")
    q = hls.graph.layer("conv_iq")
    assert q.facts.uniform and hls.graph.layer("conv_iq").precision["result"] == hls.graph.layer("conv_iq").precision[
        "accum"]
    assert "weights/conv_iq.h" not in " ".join(hls.files)         # no table: one assignment
    x = _inputs(model, 8)
    np.testing.assert_array_equal(hls.emulate(x), _keras(model, x))


@pytest.mark.cpp
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_a_per_channel_quantizer_is_a_constant_per_lane(io_type, tmp_path):
    """A format per channel (the same at every pixel): per-lane constants, no ROM, bit for bit."""
    rng = np.random.default_rng(5)
    with hgq.config.QuantizerConfigScope(place="datalane", heterogeneous_axis=(-1,), homogeneous_axis=None,
                                         round_mode="RND", overflow_mode="SAT"):
        inp = keras.Input((6, 6, 3))
        x = QMaxPooling2D(1, name="pool")(inp)
        out = QDense(3, name="d")(L.Flatten()(QConv2D(4, 3, name="conv")(x)))
    model = keras.Model(inp, out)
    for name in ("pool", "conv"):
        inner = model.get_layer(name).iq.quantizer
        inner._i.assign(rng.integers(0, 3, inner._i.shape).astype("float32"))
        inner._f.assign(rng.integers(1, 6, inner._f.shape).astype("float32"))
    hls = _check_exact(model, io_type, "unrolled", 1, tmp_path)
    q = hls.graph.layer("conv_iq")
    assert len(np.unique(q.facts.width)) > 1
    view = kind_of(q).view(q)
    assert view.form == "lanes" and all("complete" in p for p in view.partitions)


# --- pruning ------------------------------------------------------------------------------------

def test_ikr_pruning_prunes_hgq_layers_and_zeros_stay_zero(models):
    from ikr_hls.pruning import IKRPruning, prune_once, summary

    model = hgq_zoo.lenet_like(seed=4)
    infos = prune_once(model, keep=4, library_size=4, dense_sparsity=0.5)
    assert set(infos) == {"conv1", "conv2", "fc1", "fc2"}
    for name in ("conv1", "conv2"):
        layer = model.get_layer(name)
        raw = np.asarray(layer.kernel)
        quantized = np.asarray(layer.qkernel)
        assert np.all(quantized[raw == 0] == 0), "a pruned weight is zero through the kernel quantizer"
        assert (raw != 0).sum(axis=(0, 1)).max() <= 4
    s = summary(model, print_fn=None)
    conv = next(l for l in s.layers if l.name == "conv2")
    assert conv.keep == 4 and conv.nonzero < conv.params
    # the converted kernel is the quantized one: inside the pruned support (a kept weight the
    # quantizer rounds to 0 costs no multiplier either)
    hls = ikr_hls.convert(model, output_dir="unused")
    for name in ("conv1", "conv2"):
        raw = np.asarray(model.get_layer(name).kernel)
        converted = hls.graph.layer(name).weights["kernel"]
        assert np.all(converted[raw == 0] == 0)
        entry = {l["name"]: l for l in hls.report()["layers"]}[name]
        assert entry["kernel_nonzero"] <= int((raw != 0).sum())

    # the callback, during a fit
    model = hgq_zoo.lenet_like(seed=5)
    rng = np.random.default_rng(0)
    x = rng.random((64, 14, 14, 1)).astype("float32")
    y = rng.normal(size=(64, 5)).astype("float32")
    cb = IKRPruning(keep=3, library_size=4, dense_sparsity=0.5, begin_step=0, end_step=2, frequency=1)
    model.compile("adam", "mse", run_eagerly=True)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    kernel = np.asarray(model.get_layer("conv2").kernel)
    assert (kernel != 0).sum(axis=(0, 1)).max() <= 3
    assert np.all(np.asarray(model.get_layer("conv2").qkernel)[kernel == 0] == 0)
    hls = ikr_hls.convert(model, output_dir="unused")
    np.testing.assert_array_equal(hls.emulate(x[:8]), _keras(model, x[:8]))


# --- what does not convert ----------------------------------------------------------------------

def test_unsupported_hgq_layers_and_options_are_refused_in_one_line():
    from hgq.layers import QSum

    inp = keras.Input((4, 4, 2))
    out = QSum(name="s", axes=-1)(QConv2D(2, 1, name="c")(inp))
    with pytest.raises(IKRHLSError, match=r"HGQ2 layer 's' \(QSum\) is not supported") as err:
        ikr_hls.convert(keras.Model(inp, out), output_dir="unused")
    assert "\n" not in str(err.value)

    inp = keras.Input((6,))
    out = QDense(3, activation="tanh", name="d")(inp)
    with pytest.raises(IKRHLSError, match=r"'d' \(QDense\) with activation 'tanh'"):
        ikr_hls.convert(keras.Model(inp, out), output_dir="unused")

    inp = keras.Input((6,))
    out = L.Dense(2, name="plain")(QDense(3, name="d")(inp))
    with pytest.raises(IKRHLSError, match=r"layer 'plain' \(Dense\): its weight values are floating point"):
        ikr_hls.convert(keras.Model(inp, out), output_dir="unused")
    # ... unless its types are given
    cfg = {"LayerName": {"plain": {"Precision": {"weight": "ap_fixed<8,2>", "bias": "ap_fixed<8,2>"}}}}
    ikr_hls.convert(keras.Model(inp, out), output_dir="unused", config=cfg)

    inp = keras.Input((6,))
    out = QDense(3, name="d")(L.Dense(4, name="first")(inp))
    with pytest.raises(IKRHLSError, match=r"the model input is read by layer 'first'"):
        ikr_hls.convert(keras.Model(inp, out), output_dir="unused")


def test_without_hgq_the_hgq_path_says_what_to_install(monkeypatch):
    import sys

    from ikr_hls import hgq as support

    monkeypatch.setitem(sys.modules, "hgq", None)
    assert not support.available()
    with pytest.raises(IKRHLSError, match=r"pip install 'ikr-hls\[qat\]'"):
        support.require("an HGQ2 model")
