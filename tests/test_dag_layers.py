"""Graphs beyond a chain and the layers that come with them: residual Add, DepthwiseConv2D
with IKR patterns, GlobalAverage/MaxPooling2D, ZeroPadding2D, LeakyReLU, ReLU6, Reshape.

Float C++ must reproduce Keras; fixed-point C++ must equal the numpy reference bit for bit;
the top function must keep one producer and one consumer per buffer (Vitis DATAFLOW)."""
import re
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest

import ikr_hls
from builds import run_two_at_a_time, selected_params
from ikr_hls.hostbuild import ap_types_dir
from ikr_hls.pruning import IKRPruning, prune_once
from zoo import DAG_MODELS, build_dag

L = keras.layers
VARIANTS = [(p, s) for p in ("float", "ap_fixed<16,6>") for s in ("unrolled", "pattern")]
CASES = [(name, p, s) for name in DAG_MODELS for p, s in VARIANTS]
RTOL, ATOL = 1e-4, 1e-5


class DagModels(dict):
    """Each DAG model, IKR-pruned to 4 of 9 positions, built on first use."""

    def __missing__(self, name):
        self[name] = build_dag(name, seed=3, keep=4)
        return self[name]


class DagProjects(dict):
    """The DAG models by (name, precision, strategy), converted on first use (predict()
    compiles them)."""

    def __init__(self, tmp_path_factory):
        super().__init__()
        self._tmp = tmp_path_factory
        self.models = DagModels()

    def __missing__(self, case):
        name, precision, strategy = case
        self[case] = ikr_hls.convert(self.models[name], output_dir=self._tmp.mktemp(f"{name}_{strategy}"),
                                     precision=precision, strategy=strategy)
        return self[case]


@pytest.fixture(scope="module")
def dag_projects(tmp_path_factory, request):
    """The cases the selected tests use, compiled once, two at a time; (models, projects)."""
    projects = DagProjects(tmp_path_factory)
    cases = selected_params(request, "name", "precision", "strategy")
    cases += [(name, "float", "unrolled") for (name,) in selected_params(request, "name")
              if (name, "float", "unrolled") not in cases]
    run_two_at_a_time([projects[case].compile for case in cases])
    return projects.models, projects


def _inputs(shape, n=12, seed=5):
    return np.random.default_rng(seed).normal(0, 1, (n, *shape)).astype(np.float32)


IDS = [f"{n}-{'float' if p == 'float' else 'fixed'}-{s}" for n, p, s in CASES]


@pytest.mark.cpp
@pytest.mark.parametrize("name,precision,strategy", CASES, ids=IDS)
def test_cpp_matches_keras_or_the_reference(dag_projects, name, precision, strategy):
    models, projects = dag_projects
    hls = projects[(name, precision, strategy)]
    x = _inputs(hls.input_shape)
    expected = models[name].predict(x, verbose=0)
    got = hls.predict(x)
    assert got.shape == expected.shape
    if precision == "float":
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    else:
        np.testing.assert_array_equal(got, hls.emulate(x))
        # and the reference is a fixed-point approximation of Keras, not something else
        assert np.max(np.abs(got - expected)) < 0.05 * max(1.0, np.max(np.abs(expected)))


@pytest.mark.cpp
@pytest.mark.parametrize("name", list(DAG_MODELS))
def test_every_layer_output_matches_keras(dag_projects, name):
    _, projects = dag_projects
    hls = projects[(name, "float", "unrolled")]
    for layer, pair in hls.trace(_inputs(hls.input_shape, n=3)).items():
        np.testing.assert_allclose(pair["cpp"], pair["keras"], rtol=RTOL, atol=ATOL, err_msg=layer)


def test_residual_graph_merges_what_it_can(dag_projects):
    _, projects = dag_projects
    graph = projects[("residual", "float", "unrolled")].graph
    removed = graph.removed
    assert removed["pad_in"] == "merged into the padding of stem"
    assert removed["stem_bn"] == "folded into stem" and removed["stem_relu6"] == "fused into stem"
    assert removed["block1_leaky"] == "fused into block1_a"
    assert removed["block1_relu"] == "fused into block1_add"
    assert {"reshape", "flatten"} <= set(removed)
    stem = graph.layer("stem")
    a = stem.attrs
    assert (a.pad_top, a.pad_bottom, a.pad_left, a.pad_right) == (1, 1, 2, 0)
    assert stem.in_shape == (12, 10, 3) and stem.activation == "relu6"
    assert graph.layer("pad_pool").kind == "pad2d"          # before a max pool it cannot merge
    assert graph.layer("block2_add").inputs == ("block1_add", "block2_a", "block1_add")
    assert graph.layer("block1_a").alpha == pytest.approx(0.1)
    assert graph.layer("block2_a").alpha == pytest.approx(0.2)   # Keras's default slope


_CALL = re.compile(r"^\s+(?:ikr::clone\d<[^>]+>|\w+)\(([^)]*)\);", re.M)


def _assert_one_writer_one_reader(top: str) -> str:
    """Every declared buffer of the DATAFLOW region is an argument of exactly two calls (its
    writer and its reader); input and output of one each. Returns the region's text."""
    body = top.split("#pragma HLS DATAFLOW")[1].split("#ifdef IKR_TRACE")[0]
    declared = re.findall(r"^\s+\w+ (\w+)\[\d+\];", body, re.M)
    uses = {}
    for args in _CALL.findall(body):
        for arg in (a.strip() for a in args.split(",")):
            uses[arg] = uses.get(arg, 0) + 1
    assert uses.pop("input") == 1 and uses.pop("output") == 1
    assert sorted(uses) == sorted(declared)
    assert set(uses.values()) == {2}, {k: v for k, v in uses.items() if v != 2}
    return body


@pytest.mark.cpp
def test_a_buffer_read_four_times_is_copied_through_a_chain_of_clones(tmp_path):
    inp = keras.Input((6,))
    x = L.Dense(4, name="d")(inp)
    model = keras.Model(inp, L.Add(name="sum4")([x, x, x, x]))
    hls = ikr_hls.convert(model, output_dir=tmp_path / "prj")
    body = _assert_one_writer_one_reader(hls.files["firmware/myproject.cpp"])
    assert "ikr::clone3<d_result_t, 4, 4>(d_out, d_out_to_sum4_0, d_out_to_sum4_1, d_out_spare1);" in body
    assert "ikr::clone2<d_result_t, 4, 4>(d_out_spare1, d_out_to_sum4_2, d_out_to_sum4_3);" in body
    x = _inputs(hls.input_shape, n=5)
    np.testing.assert_allclose(hls.predict(x), model.predict(x, verbose=0), rtol=RTOL, atol=ATOL)




@pytest.mark.parametrize("name", list(DAG_MODELS))
def test_top_function_buffers_have_one_writer_and_one_reader(dag_projects, name):
    """Vitis DATAFLOW needs every buffer written by one call and read by one call; a buffer
    read by several layers is copied (ikr::cloneN) once per read."""
    _, projects = dag_projects
    body = _assert_one_writer_one_reader(projects[(name, "float", "unrolled")].files["firmware/myproject.cpp"])
    if name == "residual":
        assert "ikr::clone3<block1_add_result_t" in body and "ikr::clone2<input_t" not in body


def test_depthwise_multiplies_only_its_own_nonzero_weights(dag_projects):
    models, projects = dag_projects
    hls = projects[("depthwise_separable", "float", "unrolled")]
    code = hls.files["firmware/layers/dw2.h"]
    kernel = models["depthwise_separable"].get_layer("dw2").kernel.numpy()        # (3, 3, 6, 2)
    assert code.count("* dw2_w[") == np.count_nonzero(kernel) == 12 * 4
    assert "DepthwiseConv2D" in code and "multiplier 2" in code
    report = {layer["name"]: layer for layer in hls.report()["layers"]}
    assert report["dw2"]["params_dense"] == models["depthwise_separable"].get_layer("dw2").count_params()
    assert report["dw2"]["kernels"] == 12 and report["dw2"]["keep"] == 4
    assert report["dw2"]["library_size"] <= 4


def test_separable_conv_is_a_depthwise_and_a_pointwise_half(dag_projects):
    models, projects = dag_projects
    hls = projects[("depthwise_separable", "float", "unrolled")]
    graph = hls.graph
    first, second = graph.layer("sep_depthwise"), graph.layer("sep")
    assert (first.keras_name, first.activation, first.attrs.depthwise) == ("sep/depthwise", "linear", 2)
    assert (second.inputs, second.activation, second.attrs.kh) == (("sep_depthwise",), "relu", 1)
    keras_layer = models["depthwise_separable"].get_layer("sep")
    report = {layer["name"]: layer for layer in hls.report()["layers"]}
    assert report["sep_depthwise"]["params_dense"] + report["sep"]["params_dense"] == keras_layer.count_params()
    assert report["sep_depthwise"]["kernel_nonzero"] == np.count_nonzero(keras_layer.depthwise_kernel.numpy()) == 16 * 4
    assert "SeparableConv2D, depthwise" in hls.files["firmware/myproject.cpp"]


def test_pattern_strategy_groups_depthwise_kernels_by_pattern(dag_projects):
    _, projects = dag_projects
    layer = projects[("depthwise_separable", "float", "pattern")].graph.layer("dw1")
    groups = layer.facts.groups
    assert 1 <= len(groups) <= 4 and all(len(g["positions"]) == 4 for g in groups)
    assert all(ci == co for g in groups for ci, co in g["kernels"])   # multiplier 1: channel c -> c


@pytest.mark.cpp
def test_csim_and_strict_compile_of_a_residual_project(dag_projects, tmp_path):
    _, projects = dag_projects
    hls = projects[("residual", "float", "pattern")]
    assert hls.csim().passed
    fixed = projects[("residual", "ap_fixed<16,6>", "unrolled")]
    fixed.write()
    flags = ["-std=c++14", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wno-unknown-pragmas",
             "-Wno-unused-label", "-fsyntax-only", "-isystem", str(ap_types_dir())]
    proc = subprocess.run(["g++", *flags, str(fixed.output_dir / "firmware" / "myproject.cpp")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_ikr_pruning_callback_prunes_depthwise_kernels_to_patterns(tmp_path):
    model = keras.Sequential([keras.Input((10, 10, 3)), L.DepthwiseConv2D(3, depth_multiplier=2, name="dw"),
                              L.Conv2D(4, 1, name="pw"), L.GlobalAveragePooling2D(), L.Dense(2, name="out")])
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 10, 10, 3)), rng.normal(size=(64, 2))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0,
              callbacks=[IKRPruning(keep=3, library_size=2, begin_step=0, end_step=4, frequency=2)])
    kernel = model.get_layer("dw").kernel.numpy()
    assert set((kernel != 0).sum(axis=(0, 1)).ravel()) == {3}
    assert len({tuple((kernel[:, :, c, m] != 0).ravel()) for c in range(3) for m in range(2)}) <= 2
    path = tmp_path / "dw.keras"
    model.save(path)
    hls = ikr_hls.convert(path, output_dir=tmp_path / "prj")
    dw = {layer["name"]: layer for layer in hls.report()["layers"]}["dw"]
    assert dw["keep"] == 3 and dw["library_size"] <= 2 and dw["kernel_nonzero"] == 3 * 6


def test_prune_once_prunes_depthwise_and_separable_kernels():
    model = keras.Sequential([keras.Input((8, 8, 4)), L.DepthwiseConv2D(3, name="dw"),
                              L.SeparableConv2D(3, 3, depth_multiplier=2, name="sep")])
    info = prune_once(model, keep=2, library_size=3)
    assert info["dw"]["keep"] == 2 and info["dw"]["assignment"].shape == (4, 1)
    assert info["sep"]["keep"] == 2 and info["sep"]["assignment"].shape == (4, 2)
    kernel = model.get_layer("sep").depthwise_kernel.numpy()
    assert set((kernel != 0).sum(axis=(0, 1)).ravel()) == {2}
    assert np.all(model.get_layer("sep").pointwise_kernel.numpy() != 0)     # 1x1: left dense


def test_the_docs_say_what_the_code_prunes():
    """Issue 30 item 5: one truth. By default, pruning selects DepthwiseConv2D and SeparableConv2D
    (its depthwise kernel) as it does Conv2D, not Conv2DTranspose; docs/pruning.md says so too."""
    model = keras.Sequential([keras.Input((8, 8, 4)), L.Conv2D(4, 3, name="conv"), L.DepthwiseConv2D(3, name="dw"),
                              L.SeparableConv2D(3, 3, name="sep"), L.Conv2DTranspose(2, 3, name="tr")])
    assert set(prune_once(model, keep=2)) == {"conv", "dw", "sep"}
    doc = " ".join((Path(__file__).resolve().parents[1] / "docs" / "pruning.md").read_text().split())
    assert "every `Conv2D`, `DepthwiseConv2D` and `SeparableConv2D` larger than 1x1 is selected" in doc
    assert "A `DepthwiseConv2D` is pruned like a Conv2D" in doc and "`Conv2DTranspose` and" in doc
    assert "other conv kinds (depthwise" not in doc


@pytest.mark.cpp
@pytest.mark.parametrize("case", ["add", "unfolded_batchnorm"])
def test_softmax_after_add_or_scale_shift_stays_a_layer(case, tmp_path):
    """Only Dense applies a fused softmax to its whole vector; after an Add or a scale-and-shift
    the softmax is a layer of its own (fusing it there made C++ that did not compile)."""
    inp = keras.Input((6,))
    if case == "add":
        x = L.Add(name="merge")([L.Dense(4)(inp), L.Dense(4)(inp)])
    else:
        x = L.BatchNormalization(name="merge")(L.Dense(4, activation="relu")(inp))
    model = keras.Model(inp, L.Softmax(name="softmax")(x))
    hls = ikr_hls.convert(model, output_dir=tmp_path / "prj")
    assert hls.graph.layer("merge").activation == "linear"
    assert hls.graph.layer("softmax").kind == "activation"
    x = _inputs(hls.input_shape, n=5)
    np.testing.assert_allclose(hls.predict(x), model.predict(x, verbose=0), rtol=RTOL, atol=ATOL)


@pytest.mark.cpp
def test_real_ap_types_headers_agree_with_the_reference(dag_projects, tmp_path):
    """The integer host model is the default; the real ap_fixed headers (what Vitis compiles)
    must give the same bits on the new layers (ReLU6, leaky ReLU, Add, global pooling)."""
    models, _ = dag_projects
    projects = [ikr_hls.convert(models[name], output_dir=tmp_path / name, precision="ap_fixed<16,6>")
                for name in DAG_MODELS]
    run_two_at_a_time([lambda hls=hls: hls.compile(arithmetic="ap_fixed") for hls in projects])
    for hls in projects:
        x = _inputs(hls.input_shape, n=6, seed=9)
        np.testing.assert_array_equal(hls.predict(x), hls.emulate(x), err_msg=hls.graph.source)


@pytest.mark.cpp
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_a_global_pool_of_one_pixel_writes_each_value_straight_through(io_type, tmp_path):
    """MobileNetV2 at 32x32 ends in a 1x1 image: its global pools keep no sum or maximum, test
    no pixel index and are priced without them, and still equal the reference bit for bit."""
    inp = keras.Input((3, 3, 2))
    x = L.Conv2D(6, 3, name="conv")(inp)                   # 1x1x6
    avg = L.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    top = L.GlobalMaxPooling2D(keepdims=True, name="gmp")(x)
    model = keras.Model(inp, L.Conv2D(3, 1, name="out")(L.Concatenate()([avg, top])))
    hls = ikr_hls.convert(model, output_dir=tmp_path / "prj", precision="ap_fixed<16,6>", io_type=io_type)
    x = _inputs((3, 3, 2), n=20)
    np.testing.assert_array_equal(hls.predict(x), hls.emulate(x))
    layers = {layer["name"]: layer for layer in hls.report()["layers"]}
    for name in ("gap", "gmp"):
        # no sum or maximum kept; io_stream holds the element it writes (6 results of 16 bits)
        assert layers[name]["registers_bits"] == (0 if io_type == "io_parallel" else 6 * 16), name
        assert not [op for op in layers[name]["operators"] if op["part"] != "conversion"], name
        code = (tmp_path / "prj" / "firmware" / "layers" / f"{name}.h").read_text()
        assert "sum[" not in code and "best[" not in code and "p == " not in code, name
