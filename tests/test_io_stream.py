"""io_stream: layers talk through hls::stream of pixels (cpp/ikr_stream.h), the top takes and
returns AXI4-Streams. Every layer kind of the zoo, both strategies, float against Keras and
fixed point bit for bit against the numpy reference; the synthesized line buffers
(built without the host forms) read the streams too; the g++ testbench passes; and a stream read while
empty, or left holding data, is an error, never a hang."""
import re

import numpy as np
import pytest

import ikr_hls
from builds import run_two_at_a_time, selected_params
from ikr_hls.errors import IKRHLSError
from ikr_hls.tbdata import FLOAT_ATOL, FLOAT_RTOL
from ikr_hls.wiring import STREAM_DEPTH, Wiring
from zoo import EVERY_KIND

MODELS = EVERY_KIND
FIXED = "ap_fixed<16,6>"
# (precision, strategy, reuse, host windows): float and fixed, every strategy, the PEs over R
# cycles; "True" builds the line buffers and registers that Vitis synthesizes
VARIANTS = [("float", "unrolled", 1, False), (FIXED, "pattern", 2, False), (FIXED, "unrolled", 1, True),
            (FIXED, "pe", 3, True), (FIXED, "resource", 4, True), (FIXED, "resource", 3, False)]
# LeNet-5's lanes at R = 4 written out (no host form) took g++ 8 minutes beside another build
# (about 4 of CPU), a fifth of the suite's budget for one case; the other models cover that form
SLOW_BUILDS = {("lenet_ikr", "resource", 4, True)}
CASES = [(m, *v) for m in MODELS for v in VARIANTS if (m, v[1], v[2], v[3]) not in SLOW_BUILDS]


def _id(case):
    model, precision, strategy, reuse, synthesized = case
    kind = "fixed" if precision != "float" else "float"
    return f"{model}-{kind}-{strategy}-{reuse}" + ("-lines" if synthesized else "")


@pytest.fixture(scope="module")
def keras_models():
    return {name: make() for name, make in MODELS.items()}


class StreamBuilds(dict):
    """{case: [hls, module]}, converted and compiled on first use (all of them for values())."""

    def __init__(self, keras_models, tmp_path_factory):
        super().__init__()
        self._models, self._tmp = keras_models, tmp_path_factory

    def prepare(self, cases) -> None:
        """Compile the cases not built yet, two at a time."""
        jobs = []
        for case in (c for c in dict.fromkeys(cases) if c not in self):
            model, precision, strategy, reuse, synthesized = case
            hls = ikr_hls.convert(self._models[model], output_dir=self._tmp.mktemp(_id(case)), precision=precision,
                                  strategy=strategy, reuse_factor=reuse, io_type="io_stream")
            hls.write()
            entry = self[case] = [hls, None]

            def job(e=entry, host_forms=not synthesized):
                e[1] = e[0]._build(host_forms=host_forms)
            jobs.append(job)
        run_two_at_a_time(jobs)

    def __missing__(self, case):
        self.prepare([case])
        return self[case]

    def values(self):
        self.prepare(CASES)
        return super().values()


@pytest.fixture(scope="module")
def built(keras_models, tmp_path_factory, request):
    """The cases the selected tests use, compiled two at a time (others on first use)."""
    builds = StreamBuilds(keras_models, tmp_path_factory)
    builds.prepare([case for (case,) in selected_params(request, "case")]
                   + [(model, *VARIANTS[0]) for (model,) in selected_params(request, "model")])
    return builds


@pytest.mark.cpp
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_stream_model_equals_keras_and_the_reference(built, keras_models, case):
    hls, module = built[case]
    hls._module = module
    x = np.random.default_rng(7).normal(0, 1.5, (16, *hls.input_shape)).astype("float32")
    y = hls.predict(x)
    if case[1] == "float":
        expected = keras_models[case[0]].predict(x, verbose=0)
        np.testing.assert_allclose(y, expected.reshape(y.shape), rtol=FLOAT_RTOL, atol=FLOAT_ATOL)
    else:
        np.testing.assert_array_equal(y, hls.emulate(x))
    np.testing.assert_array_equal(hls.predict(x, threads=1), y)     # one thread or many: the same


@pytest.mark.cpp
def test_every_kind_streams(built):
    kinds = {layer.kind for hls, _ in built.values() for layer in hls.graph.layers}
    from ikr_hls.kinds import HARDWARE
    # quantize steps come from HGQ2 models only: test_hgq.py streams them (io_stream forms, every mode)
    assert kinds == set(HARDWARE) - {"quantize"}, sorted(set(HARDWARE) - kinds)


def _top(hls):
    return hls.files[f"firmware/{hls.project_name}.cpp"]


@pytest.mark.cpp
@pytest.mark.parametrize("model", list(MODELS))
def test_top_is_streams_and_calls(built, model):
    """A DATAFLOW region of hls::stream declarations and calls: AXI-Stream ports; every stream
    written by one call and read by one call; depths (hls::stream<T, DEPTH>) as wiring computes
    them (a forked stream's copies at most the whole tensor; tests/test_stream_depths.py checks
    their values)."""
    hls = built[(model, *VARIANTS[0])][0]
    top = _top(hls)
    assert "#pragma HLS INTERFACE mode=axis port=input" in top
    assert "#pragma HLS INTERFACE mode=axis port=output" in top
    assert "#pragma HLS DATAFLOW" in top
    body = top.split("#pragma HLS DATAFLOW", 1)[1].split("#ifndef __SYNTHESIS__", 1)[0]
    declared = re.findall(r"hls::stream<ikr::array<\w+, (\d+)>, (\d+)> (\w+)\(", body)   # hls::stream<T, DEPTH>
    streams = {name: int(width) for width, _, name in declared}
    depths = {name: int(depth) for _, depth, name in declared}
    assert "hls::stream<ikr::array" not in re.sub(r"hls::stream<ikr::array<\w+, \d+>, \d+> \w+\(", "", body)
    calls = re.findall(r"^\s+([\w:]+)(?:<([^>]*)>)?\(([^)]*)\);", body, re.M)
    uses: dict = {}
    for _, _, args in calls:
        for arg in [a.strip() for a in args.split(",")]:
            uses[arg] = uses.get(arg, 0) + 1
    for name in streams:
        assert uses.get(name) == 2, f"{model}: stream {name} is used by {uses.get(name)} calls"
    assert uses.get("input") == 1 and uses.get("output") == 1
    sizes = {"input": hls.graph.input_size, **{f"{l.name}_out": l.out_size for l in hls.graph.layers}}
    for name in streams:
        copy = re.match(r"(\w+?)_(?:to_\w+|spare\d+)$", name)      # a copy of a forked stream, or a spare
        if copy:
            assert STREAM_DEPTH <= depths[name] <= sizes[copy[1]] // streams[name], name
        else:
            assert depths[name] == STREAM_DEPTH, name
    assert depths == {b.name: b.depth for b in Wiring(hls.graph).buffers}


@pytest.mark.cpp
def test_csim_testbench_passes_on_streams(built):
    hls = built[("residual", *VARIANTS[1])][0]
    result = hls.csim()
    assert result.passed, result.output[-2000:]
    assert "PASS" in result.output and "bit-exact" in result.output


def _tampered(hls, tmp_path, layer, old, new):
    """A copy of the project, written, with one text of a layer header changed."""
    files = dict(hls.files)
    path = f"firmware/layers/{layer}.h"
    assert files[path].count(old) == 1, (path, old)
    files[path] = files[path].replace(old, new)
    from ikr_hls.backend import write_project
    return write_project(files, tmp_path / "tampered")


def _pixels(hls, name):
    layer = next(l for l in hls.graph.layers if l.name == name)
    return layer.out_shape[0] * layer.out_shape[1]


# fc1 gathers one element more, or one less, than pool2 writes
MISCOUNTS = [(+1, r"predict: ikr-hls: stream 'pool2_out' read while empty"),
             (-1, r"predict: ikr-hls: stream 'pool2_out' still holds data at the end of the call")]


@pytest.mark.cpp
@pytest.mark.parametrize("extra, message", MISCOUNTS, ids=["read-while-empty", "data-left"])
def test_a_miscounted_stream_is_an_error_not_a_hang(built, tmp_path, extra, message):
    """predict raises naming the stream (with one thread or several), and the testbench fails."""
    hls = built[("lenet_ikr", *VARIANTS[1])][0]
    steps = _pixels(hls, "pool2")
    out = _tampered(hls, tmp_path, "fc1", f"e < {steps};", f"e < {steps + extra};")
    from ikr_hls.buildspec import BuildSpec
    from ikr_hls.hostbuild import build_module, run_csim
    hls._module = build_module(out, BuildSpec.of_project(out), extra_flags=["-DIKR_HOST_INT"])
    for threads in (1, 2):
        with pytest.raises(IKRHLSError, match=message):
            hls.predict(np.zeros((3, *hls.input_shape)), threads=threads)
    if extra > 0:                                     # the testbench (g++ csim) reports it too
        result = run_csim(out)
        assert not result.passed and "FAIL: sample 0: ikr-hls: stream 'pool2_out' read while empty" in result.output


@pytest.mark.cpp
def test_trace_in_stream_form(built, keras_models):
    """Every layer's output, recorded as its stream was written."""
    case = ("lenet_ikr", *VARIANTS[1])
    hls = built[case][0]
    x = np.random.default_rng(1).normal(0, 1, (3, *hls.input_shape))
    traced = hls.trace(x)
    assert list(traced) == [layer.name for layer in hls.graph.layers]
    for layer in hls.graph.layers:
        assert traced[layer.name]["cpp"].shape == (3, *layer.out_shape), layer.name
    np.testing.assert_array_equal(traced[hls.graph.layers[-1].name]["cpp"].reshape(3, -1),
                                  hls.emulate(x).reshape(3, -1))


# -- options -----------------------------------------------------------------------------------

def test_io_type_keyword_config_and_unknown_value(tmp_path):
    model = MODELS["mlp"]()
    assert ikr_hls.convert(model, output_dir=tmp_path / "a").config.io_type == "io_parallel"
    assert ikr_hls.convert(model, output_dir=tmp_path / "b", io_type="io_stream").config.io_type == "io_stream"
    cfg = tmp_path / "c.yml"
    cfg.write_text("IOType: io_stream\nModel: {Precision: 'ap_fixed<16,6>'}\n")
    hls = ikr_hls.convert(model, output_dir=tmp_path / "c", config=str(cfg))
    assert hls.config.io_type == "io_stream" and "hls::stream" in _top(hls)
    with pytest.raises(IKRHLSError, match=r"^io_type: unknown value 'io_serial' \(valid: io_parallel, io_stream\)$"):
        ikr_hls.convert(model, output_dir=tmp_path / "d", io_type="io_serial")
    cfg.write_text("IOType: stream\n")
    with pytest.raises(IKRHLSError, match=rf"^{re.escape(str(cfg))}: IOType: unknown value 'stream'"):
        ikr_hls.convert(model, output_dir=tmp_path / "e", config=str(cfg))


def test_cli_io_type(tmp_path):
    from cli_helpers import run_cli
    path = tmp_path / "mlp.keras"
    MODELS["mlp"]().save(path)
    proc = run_cli("convert", path, "-o", tmp_path / "p", "--io-type", "io_stream")
    assert proc.returncode == 0, proc.stderr
    assert "hls::stream<input_pixel_t> &input" in (tmp_path / "p" / "firmware" / "myproject.cpp").read_text()
    proc = run_cli("convert", path, "-o", tmp_path / "q", "--io-type", "io_serial")
    assert proc.returncode == 2 and "io_type: unknown value 'io_serial'" in proc.stderr
    assert not (tmp_path / "q").exists()


def test_the_vitis_flow_uses_vitis_streams(tmp_path):
    """Vitis csim and synthesis compile with its own hls_stream.h: build_prj.tcl and the
    Unified config pass -DIKR_VITIS_HLS_STREAM; io_parallel projects do not."""
    model = MODELS["mlp"]()
    stream = ikr_hls.convert(model, output_dir=tmp_path / "s", io_type="io_stream").files
    parallel = ikr_hls.convert(model, output_dir=tmp_path / "p").files
    for name in ("project.tcl", "hls_config.cfg"):
        assert "-DIKR_VITIS_HLS_STREAM" in stream[name]
        assert "IKR_VITIS_HLS_STREAM" not in parallel[name]
