"""`ikr-hls csim DIR --dataflow` / `hls.csim(dataflow=True)` (cpp/ikr_dataflow.h): every process of
the DATAFLOW region in a thread of its own, FIFOs bounded at their declared depths (io_parallel:
ping-pong buffers of two slots), every sample back to back. The runtime alone on small regions
(a deadlock at depth 2 that depth 3 lifts, ping-pong slots, a process's exception, the
timeout); the zoo's fork and merge models pass at their generated depths and deadlock, naming
the stream, with a fork copy cut to depth 2; a process that reads one element too many, or too
few, ends in a clear message; every zoo model passes in io_parallel; and Vitis never sees any
of it."""
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import ikr_hls
from builds import run_two_at_a_time, selected_params
from cli_helpers import run_cli
from ikr_hls import IKRHLSError
from ikr_hls.hostbuild import build_csim, run_csim
from ikr_hls.resources import cpp_dir
from ikr_hls.stream_depths import BRANCH_LAG
from ikr_hls.synthcheck import drop_unsynthesised_branches, strip_comments_and_literals
from zoo import EVERY_KIND

RUNTIME_TEST = Path(__file__).resolve().parent / "cpp" / "dataflow_runtime.cpp"
FORK_MODELS = ["residual", "depthwise_separable", "unet", "squeeze_excite"]     # forked streams that merge again


# -- the runtime on small regions ------------------------------------------------------------------
@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    exe = tmp_path_factory.mktemp("runtime") / "dataflow_runtime"
    proc = subprocess.run(["g++", "-std=c++14", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wno-unknown-pragmas",
                           "-O1", "-DIKR_DATAFLOW_CSIM", "-pthread", "-I", str(cpp_dir()), str(RUNTIME_TEST),
                           "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe


def run_runtime(exe, *args, timeout=None):
    env = dict(os.environ, **({"IKR_DATAFLOW_TIMEOUT": str(timeout)} if timeout else {}))
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.cpp
def test_a_fifo_too_shallow_deadlocks_and_one_deep_enough_finishes(runtime):
    """A writes 3 elements to s before 1 to t; B reads t first: at depth 2 every process waits,
    which the message explains as a cycle naming the full and the empty stream; depth 3 passes."""
    proc = run_runtime(runtime, "fork")
    assert proc.returncode == 1
    assert proc.stdout.strip() == (
        "deadlock in the DATAFLOW region of fork_region: every process is blocked. "
        "A (frame 1 of 3) waits to write stream 's' (full: 2 of depth 2), which B reads; "
        "B (frame 1 of 3) waits to read stream 't' (empty), which A writes: a cycle. "
        "Full: stream 's' (A). Empty: stream 't' (B)")
    proc = run_runtime(runtime, "fork", "3")
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok")


@pytest.mark.cpp
def test_io_parallel_buffers_are_ping_pong_slots(runtime):
    """The producer fills every other slot (the second, or all of a skip connection's pipo
    depth, here 3) while the consumer still holds the first, never takes a slot being read,
    and every frame arrives intact."""
    for slots in ("2", "3"):
        for seed in ("1", "2", "3"):
            proc = subprocess.run([str(runtime), "pingpong", slots], capture_output=True, text=True, timeout=60,
                                  env=dict(os.environ, IKR_DATAFLOW_SEED=seed))
            assert (proc.returncode, proc.stdout.strip()) == (0, "ok"), (slots, proc.stdout)


@pytest.mark.cpp
def test_an_exception_in_a_process_stops_the_region(runtime):
    proc = run_runtime(runtime, "throw")
    assert (proc.returncode, proc.stdout.strip()) == (1, "first (frame 1 of 2): a layer's own error")


@pytest.mark.cpp
def test_a_process_that_never_waits_is_stopped_by_the_timeout(runtime):
    """Neither finished nor blocked: the last resort names where every process is, exit 1."""
    start = time.monotonic()
    proc = run_runtime(runtime, "spin", timeout=1)
    assert time.monotonic() - start < 30            # 1 s and the process's end; never the 60 s guard
    assert proc.returncode == 1
    assert proc.stdout.strip() == (
        "FAIL: timeout: the DATAFLOW region of two_stage_region neither finished nor deadlocked in 1 s "
        "(IKR_DATAFLOW_TIMEOUT); first (frame 1 of 2): running; second (frame 1 of 2) waits to read "
        "stream 'middle' (empty)")


# -- generated projects ---------------------------------------------------------------------------
STREAM_PRECISION = "ap_fixed<16,6>"


class Projects(dict):
    """{(model, io_type): HLSModel} written and their threaded testbench compiled, on first use, two
    at a time: io_stream in fixed point, where the depth model sizes the fork copies (a float
    design gives them their whole tensor), io_parallel in float."""

    def __init__(self, tmp_path_factory):
        super().__init__()
        self._tmp = tmp_path_factory

    def prepare(self, cases) -> None:
        jobs = []
        for model, io_type in (c for c in dict.fromkeys(cases) if c not in self):
            hls = ikr_hls.convert(EVERY_KIND[model](), output_dir=self._tmp.mktemp(f"{model}-{io_type}"),
                                  io_type=io_type, precision=STREAM_PRECISION if io_type == "io_stream" else "float")
            hls.write()
            self[model, io_type] = hls
            jobs.append(lambda path=hls.output_dir: build_csim(path, dataflow=True))
        run_two_at_a_time(jobs)

    def __missing__(self, case):
        self.prepare([case])
        return self[case]


@pytest.fixture(scope="module")
def projects(tmp_path_factory, request):
    built = Projects(tmp_path_factory)
    built.prepare([(m, "io_stream") for (m,) in selected_params(request, "fork_model")]
                  + [(m, "io_parallel") for (m,) in selected_params(request, "parallel_model")])
    return built


def copy_of(hls, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(hls.output_dir, target, ignore=shutil.ignore_patterns("build"))
    return target


def edit_top(path: Path, old: str, new: str) -> None:
    top = path / "firmware" / "myproject.cpp"
    text = top.read_text()
    assert text.count(old) == 1, old
    top.write_text(text.replace(old, new))


@pytest.mark.cpp
@pytest.mark.parametrize("fork_model", FORK_MODELS)
def test_fork_and_merge_models_pass_at_their_generated_depths(projects, fork_model):
    result = projects[fork_model, "io_stream"].csim(dataflow=True)
    assert result.passed, result.output[-3000:]
    assert result.summary().startswith("PASS: 10 samples, all ")


@pytest.mark.cpp
@pytest.mark.parametrize("fork_model", FORK_MODELS)
def test_a_fork_copy_cut_to_depth_2_deadlocks_naming_it(projects, fork_model, tmp_path):
    """The deepest copy of a forked stream, edited down to depth 2 in the written top: the
    command says deadlock, names that stream full, and exits 1 (at once: the timeout is 30 s)."""
    hls = projects[fork_model, "io_stream"]
    copy = max((b for b in hls.graph.plan.wiring.buffers if b.why == BRANCH_LAG), key=lambda b: b.depth)
    assert copy.depth > 2
    path = copy_of(hls, tmp_path)
    edit_top(path, f", {copy.depth}> {copy.name}(", f", 2> {copy.name}(")
    proc = run_cli("csim", path, "--dataflow", "--timeout", "30")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line, = [ln for ln in proc.stderr.splitlines() if "FAILED" in ln]
    assert line.startswith(f"ikr-hls: csim --dataflow FAILED in {path}: FAIL: deadlock in the DATAFLOW region of "
                           "myproject: every process is blocked. "), line
    assert f"waits to write stream '{copy.name}' (full: 2 of depth 2)" in line
    full = re.search(r"\. Full: (.*?)\. Empty: ", line)[1]
    assert f"stream '{copy.name}' (" in full
    assert "timeout" not in line and "Traceback" not in proc.stderr


@pytest.mark.cpp
@pytest.mark.parametrize("extra, message", [
    (+1, "copy of stem_out (frame 10 of 10) waits to read stream 'stem_out' (empty), which stem writes, "
         "which has finished its 10 frames"),
    (-1, "stem (frame 10 of 10) waits to write stream 'stem_out' (full: 2 of depth 2), which copy of stem_out "
         "reads, which has finished its 10 frames"),
], ids=["one-too-many", "one-too-few"])
def test_a_process_reading_more_or_less_than_written_ends_in_a_message(projects, tmp_path, extra, message):
    """The copy of residual's stem output, edited in the written top to read one element more (or
    less) per frame than the stem writes: the run ends with the deadlock that data flow makes,
    naming the process that finished, never a hang."""
    hls = projects["residual", "io_stream"]
    elements = hls.graph.plan.wiring.stream_elements()["stem_out"]
    path = copy_of(hls, tmp_path)
    call = re.search(r"ikr::clone_stream2<stem_result_t, (\d+), (\d+)>\(stem_out,",
                     (path / "firmware" / "myproject.cpp").read_text())
    assert int(call[2]) == elements
    edit_top(path, call[0], call[0].replace(f", {elements}>", f", {elements + extra}>"))
    result = run_csim(path, dataflow=True, timeout=30)
    assert not result.passed and result.returncode == 1
    assert result.summary().startswith("FAIL: deadlock in the DATAFLOW region of myproject: every process is "
                                       f"blocked. {message}"), result.summary()


@pytest.mark.cpp
def test_the_seed_changes_the_stalls_not_the_outputs(projects):
    hls = projects["residual", "io_stream"]
    logs = []
    for seed in (1, 7):
        result = hls.csim(dataflow=True, seed=seed)
        assert result.passed, result.output[-2000:]
        logs.append(result.results_log.read_text())
    assert logs[0] == logs[1]


@pytest.mark.cpp
@pytest.mark.parametrize("parallel_model", list(EVERY_KIND))
def test_every_kind_passes_over_ping_pong_buffers(projects, parallel_model):
    """io_parallel: each buffer between two calls a channel of two slots, the frames overlapping."""
    result = projects[parallel_model, "io_parallel"].csim(dataflow=True)
    assert result.passed, result.output[-3000:]


@pytest.mark.cpp
def test_cli_dataflow_pass_line(projects):
    path = projects["unet", "io_stream"].output_dir
    proc = run_cli("csim", path, "--dataflow", "--seed", "5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == (
        "csim --dataflow passed: 10 samples, all 40 outputs match the golden outputs (bit-exact); back to "
        "back through the DATAFLOW processes as threads over FIFOs of their declared depths, seed 5")


# -- what the generated code shows Vitis, and the options -------------------------------------------
@pytest.mark.parametrize("io_type", ["io_stream", "io_parallel"])
def test_vitis_never_sees_the_threaded_run(tmp_path, io_type):
    """The threaded run is compiled only under IKR_DATAFLOW_CSIM, which no Vitis flag sets: once the
    branches Vitis never compiles are dropped, the top and the testbench hold no trace of it,
    and each layer's call is macro-named once (the processes)."""
    hls = ikr_hls.convert(EVERY_KIND["residual"](), output_dir=tmp_path / "p", io_type=io_type)
    files = hls.files
    for name in ("project.tcl", "hls_config.cfg", "build_prj.tcl"):
        assert "IKR_DATAFLOW" not in files[name], name
    for name in ("firmware/myproject.cpp", "tb/myproject_test.cpp"):
        seen = drop_unsynthesised_branches(strip_comments_and_literals(files[name]))
        assert "dataflow" not in seen and "IKR_DATAFLOW" not in seen, name
    top = files["firmware/myproject.cpp"]
    defined = re.findall(r"^#define (\w+)\(\.\.\.\) IKR_DATAFLOW_PROCESS\(\1, __VA_ARGS__\)$", top, re.M)
    undefined = re.findall(r"^#undef (\w+)$", top, re.M)
    assert defined == undefined == [layer.name for layer in hls.graph.layers]


@pytest.mark.cpp
@pytest.mark.parametrize("io_type", ["io_stream", "io_parallel"])
def test_the_threaded_build_compiles_strictly(tmp_path, io_type):
    """The top and the testbench under -DIKR_DATAFLOW_CSIM, as strictly as the other builds."""
    hls = ikr_hls.convert(EVERY_KIND["residual"](), output_dir=tmp_path / "p", io_type=io_type)
    hls.write()
    for source in ("firmware/myproject.cpp", "tb/myproject_test.cpp"):
        proc = subprocess.run(["g++", "-std=c++14", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wno-unknown-pragmas",
                               "-Wno-unused-label", "-fsyntax-only", "-DIKR_DATAFLOW_CSIM",
                               str(hls.output_dir / source)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("kwargs, message", [
    (dict(seed=3), "csim: seed and timeout apply to the dataflow run only"),
    (dict(dataflow=True, timeout=0), "csim: timeout: expected a number of seconds > 0, got 0"),
    (dict(dataflow=True, seed=-1), "csim: seed: expected an integer in [0, 2**32), got -1"),
])
def test_run_csim_options(tmp_path, kwargs, message):
    with pytest.raises(IKRHLSError, match=re.escape(message)):
        run_csim(tmp_path, **kwargs)
