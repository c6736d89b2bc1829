"""The Vitis HLS hand-off: Tcl flow under tclsh with stubbed Vitis commands, the Vitis Unified
config, the self-checking testbench (host csim), the synthesis report parser, `ikr-hls build`."""
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

import ikr_hls
from cli_helpers import assert_one_line_error, run_cli
from ikr_hls import IKRHLSError
from ikr_hls.hostbuild import CXXFLAGS, ap_types_dir, run_csim
from ikr_hls.tbdata import parse_dat
from ikr_hls.vitis import read_csynth_report, read_hls_config

REPO = Path(__file__).resolve().parent.parent
LENET_IKR = REPO / "examples" / "models" / "lenet5_ikr.h5"
STUBS = Path(__file__).resolve().parent / "tcl" / "vitis_stubs.tcl"
FIXTURE = Path(__file__).resolve().parent / "data" / "myproject_csynth.xml"
FIXED = "ap_fixed<16,6>"
# CI must run these: there a missing tclsh fails them instead of skipping them
NEEDS_TCLSH = pytest.mark.skipif(shutil.which("tclsh") is None and os.environ.get("CI") != "true",
                                 reason="tclsh is not installed")
VARIANTS = [("float", "unrolled"), ("float", "pattern"), (FIXED, "unrolled"), (FIXED, "pattern")]



@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """LeNet-5 (IKR) written once per precision and strategy: {(precision, strategy): (hls, dir)}."""
    out = {}
    for precision, strategy in VARIANTS:
        path = tmp_path_factory.mktemp("vitis") / "prj"
        hls = ikr_hls.convert(LENET_IKR, output_dir=path, precision=precision, strategy=strategy,
                              clock_period=4.0, clock_uncertainty="0.5", part="xc7z020clg400-1")
        hls.write()
        out[precision, strategy] = (hls, path)
    return out


def copy_project(projects, tmp_path, variant=("float", "unrolled")):
    target = tmp_path / "copy"       # as written: without what other tests' stubbed runs left
    shutil.copytree(projects[variant][1], target, ignore=shutil.ignore_patterns("myproject_prj", "stub_calls.log"))
    return target


# -- build_prj.tcl under tclsh -------------------------------------------------------------------
def run_tcl(project_dir, *args, env_steps=None):
    log = project_dir / "stub_calls.log"
    env = dict(os.environ, IKR_STUB_LOG=str(log))
    env.pop("IKR_HLS_STEPS", None)
    if env_steps is not None:
        env["IKR_HLS_STEPS"] = env_steps
    proc = subprocess.run(["tclsh", str(STUBS), str(project_dir / "build_prj.tcl"), *args],
                          capture_output=True, text=True, env=env, cwd="/")
    calls = log.read_text().splitlines() if log.exists() else []
    return proc, calls


def tcl_setting(project_dir, name):
    match = re.search(rf'^set {name} "?([^"\n]*)"?$', (project_dir / "project.tcl").read_text(), re.M)
    return match.group(1)


@NEEDS_TCLSH
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v))
def test_tcl_flow_default_steps(projects, variant):
    _, path = projects[variant]
    proc, calls = run_tcl(path)
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        "open_project myproject_prj",
        "set_top myproject",
        "add_files firmware/myproject.cpp -cflags -std=c++14",
        "add_files -tb tb/myproject_test.cpp -cflags -std=c++14",
        "add_files -tb tb_data",
        "open_solution solution1 -flow_target vivado",
        "set_part xc7z020clg400-1",
        "create_clock -period 4 -name default",
        "set_clock_uncertainty 0.5",
        "csim_design",
        "csynth_design",
        "close_project",
        "exit 0",
    ]


@NEEDS_TCLSH
def test_tcl_steps_from_command_line_and_environment(projects):
    path = projects["float", "unrolled"][1]
    proc, calls = run_tcl(path, "reset=1 csim=0 cosim=1 vsynth=1")
    assert proc.returncode == 0, proc.stderr
    assert "open_project -reset myproject_prj" in calls
    assert "open_solution -reset solution1 -flow_target vivado" in calls
    steps = [c for c in calls if c.split()[0].endswith("_design")]
    assert steps == ["csynth_design", "cosim_design", "export_design -flow syn -format ip_catalog"]
    proc, calls = run_tcl(path, env_steps="synth=0 export=1")
    assert proc.returncode == 0, proc.stderr
    assert [c for c in calls if c.split()[0].endswith("_design")] == ["csim_design", "export_design -format ip_catalog"]


@NEEDS_TCLSH
def test_tcl_rejects_unknown_step(projects):
    proc, calls = run_tcl(projects["float", "unrolled"][1], "cosm=1")
    assert proc.returncode != 0
    assert "'cosm=1' is not a step setting" in proc.stderr
    assert calls == ["exit 1"]                 # refused before Vitis is asked to do anything


@NEEDS_TCLSH
def test_tcl_stubs_catch_a_missing_file(projects, tmp_path):
    path = copy_project(projects, tmp_path)
    (path / "tb" / "myproject_test.cpp").unlink()
    proc, _ = run_tcl(path)
    assert proc.returncode != 0 and "tb/myproject_test.cpp does not exist" in proc.stderr


@NEEDS_TCLSH
def test_tcl_stubs_catch_an_unknown_top(projects, tmp_path):
    path = copy_project(projects, tmp_path)
    top = path / "firmware" / "myproject.cpp"
    top.write_text(top.read_text().replace("void myproject(", "void other_top("))
    proc, _ = run_tcl(path)
    assert proc.returncode != 0 and "top function 'myproject' is not defined" in proc.stderr


# -- hls_config.cfg --------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v))
def test_vitis_unified_config(projects, variant):
    _, path = projects[variant]
    text = (path / "hls_config.cfg").read_text()
    # read it independently of ikr_hls: part before [hls], key=value lines after it
    general, hls = text.split("[hls]")
    assert re.search(r"^part=xc7z020clg400-1$", general, re.M)
    entries = [line.split("=", 1) for line in hls.splitlines() if line and not line.startswith("#")]
    values = {}
    for key, value in entries:
        values.setdefault(key, []).append(value)
    assert values["flow_target"] == ["vivado"]
    assert values["clock"] == ["4ns"] and values["clock_uncertainty"] == ["0.5"]
    assert values["syn.top"] == ["myproject"]
    assert values["package.output.format"] == ["ip_catalog"]
    for name in values["syn.file"] + values["tb.file"]:
        assert (path / name).exists(), name
    assert re.search(r"\bvoid myproject\(", (path / values["syn.file"][0]).read_text())
    # the same language flags as the Tcl flow and the host build
    tcl_flags = tcl_setting(path, "cflags")
    for entry in values["syn.file_cflags"] + values["tb.file_cflags"]:
        name, flags = entry.split(",", 1)
        assert (path / name).is_file() and flags == tcl_flags
    assert set(tcl_flags.split()) <= set(CXXFLAGS)
    parsed = read_hls_config(path / "hls_config.cfg")
    assert parsed["general"]["part"] == "xc7z020clg400-1"
    assert parsed["hls"]["tb.file"] == values["tb.file"]


@pytest.mark.parametrize("text,fragment", [
    ("[hls]\nsyn.top=a\nsyn.top=b\n", "'syn.top' is set twice"),
    ("[vivado]\nx=1\n", "unknown section [vivado]"),
    ("[hls]\njust words\n", "expected key=value"),
])
def test_config_reader_errors(tmp_path, text, fragment):
    cfg = tmp_path / "hls_config.cfg"
    cfg.write_text(text)
    with pytest.raises(IKRHLSError, match=re.escape(fragment)):
        read_hls_config(cfg)


# -- the testbench and its golden data -------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v))
def test_golden_data(projects, variant):
    hls, path = projects[variant]
    x = parse_dat((path / "tb_data" / "tb_input_features.dat").read_text(), int(np.prod(hls.input_shape)), "in")
    y = parse_dat((path / "tb_data" / "tb_output_predictions.dat").read_text(), 10, "out")
    assert len(x) == len(y) == 10
    x = x.reshape(-1, *hls.input_shape)
    if variant[0] == FIXED:
        np.testing.assert_array_equal(y, hls.emulate(x))
    else:
        np.testing.assert_allclose(y, hls.keras_model.predict(x.astype(np.float32), verbose=0), rtol=1e-6, atol=1e-7)


def test_user_tb_data(tmp_path):
    x = np.random.default_rng(5).uniform(0, 1, (3, 28, 28, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    hls = ikr_hls.convert(LENET_IKR, output_dir=tmp_path / "p", precision=FIXED, tb_data=tmp_path / "x.npy")
    files = hls.files
    np.testing.assert_array_equal(parse_dat(files["tb_data/tb_input_features.dat"], 784, "in"), x.reshape(3, -1))
    np.testing.assert_array_equal(parse_dat(files["tb_data/tb_output_predictions.dat"], 10, "out"), hls.emulate(x))


@pytest.mark.parametrize("bad,fragment", [
    (np.zeros((2, 28, 28)), "expected shape (N, 28, 28, 1)"),
    (np.full((1, 28, 28, 1), np.nan), "NaN"),
    (np.array(["a"]), "expected real numbers"),
])
def test_bad_tb_data(tmp_path, bad, fragment):
    with pytest.raises(IKRHLSError, match=re.escape(fragment)):
        ikr_hls.convert(LENET_IKR, output_dir=tmp_path / "p", tb_data=bad)
    assert not (tmp_path / "p").exists()


def test_cli_tb_data_missing_file(tmp_path):
    proc = run_cli("convert", LENET_IKR, "-o", tmp_path / "p", "--tb-data", tmp_path / "none.npy")
    assert_one_line_error(proc, "none.npy", "no such file")
    assert not (tmp_path / "p").exists()


# -- host csim --------------------------------------------------------------------------------------
@pytest.mark.cpp
@pytest.mark.parametrize("precision", ["float", FIXED])
def test_cli_convert_then_csim_passes(tmp_path, precision):
    out = tmp_path / "prj"
    proc = run_cli("convert", LENET_IKR, "-o", out, "--precision", precision)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("csim", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    exact = "bit-exact" if precision == FIXED else "float tolerance"
    assert f"csim passed: 10 samples, all 100 outputs match the golden outputs ({exact})" in proc.stdout
    results = parse_dat((out / "build" / "csim" / "tb_data" / "csim_results.log").read_text(), 10, "log")
    golden = parse_dat((out / "tb_data" / "tb_output_predictions.dat").read_text(), 10, "golden")
    if precision == FIXED:
        np.testing.assert_array_equal(results, golden)
    else:
        np.testing.assert_allclose(results, golden, rtol=1e-4, atol=1e-5)


@pytest.mark.cpp
def test_csim_pattern_strategy_passes(projects):
    result = projects["float", "pattern"][0].csim()
    assert result.passed, result.output


@pytest.mark.cpp
@pytest.mark.parametrize("precision", ["float", FIXED])
def test_csim_fails_on_an_altered_golden_output(projects, tmp_path, precision):
    path = copy_project(projects, tmp_path, (precision, "unrolled"))
    golden = path / "tb_data" / "tb_output_predictions.dat"
    rows = golden.read_text().splitlines()
    values = rows[3].split()
    values[7] = repr(float(values[7]) + 0.25)
    rows[3] = " ".join(values)
    golden.write_text("\n".join(rows) + "\n")
    proc = run_cli("csim", path)
    assert proc.returncode == 1
    assert proc.stdout.startswith("MISMATCH sample 3 output 7: got ")
    assert "csim FAILED" in proc.stderr and "1 of 100 outputs differ" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.cpp
def test_csim_reports_malformed_golden_data(projects, tmp_path):
    path = copy_project(projects, tmp_path)
    golden = path / "tb_data" / "tb_output_predictions.dat"
    golden.write_text(golden.read_text().replace("\n", " 1\n", 1))
    result = run_csim(path)
    assert not result.passed and result.returncode == 2
    assert "tb_output_predictions.dat:1: expected 10 numbers" in result.mismatches[0]


@pytest.mark.cpp
def test_csim_compiles_with_the_flags_of_the_config(projects, tmp_path):
    """The csim build takes its flags from hls_config.cfg: a flag added there reaches g++."""
    path = copy_project(projects, tmp_path)
    cfg = path / "hls_config.cfg"
    flags = "syn.file_cflags=firmware/myproject.cpp,-std=c++14"
    cfg.write_text(cfg.read_text().replace(flags, flags + " -include no_such_header.h"))
    with pytest.raises(IKRHLSError, match="csim compilation failed: .*no_such_header.h"):
        run_csim(path)
    assert (path / "build" / "csim_compile.log").is_file()


@pytest.mark.cpp
@pytest.mark.parametrize("variant", [(FIXED, "unrolled"), ("float", "pattern")], ids=lambda v: "-".join(v))
def test_csim_runs_the_forms_vitis_synthesizes(projects, tmp_path, variant):
    """Nothing that Vitis csim or `ikr-hls csim` compiles defines a host-only form: the flags of
    build_prj.tcl/project.tcl and hls_config.cfg name none, and with an #error planted in every
    host-only branch of the written firmware the testbench still builds and passes."""
    from ikr_hls.hls_model import HOST_FORMS

    path = copy_project(projects, tmp_path, variant)
    flags = (path / "project.tcl").read_text() + (path / "hls_config.cfg").read_text()
    assert not [form for form in HOST_FORMS if form.removeprefix("-D") in flags]
    planted = 0
    for header in (path / "firmware" / "layers").glob("*.h"):
        text = header.read_text()
        for form in HOST_FORMS:
            branch = f"#ifdef {form.removeprefix('-D')}"
            planted += text.count(branch)
            text = text.replace(branch, f"{branch}\n#error the host-only form {form} in a Vitis build")
        header.write_text(text)
    assert planted >= 3                              # every window layer (and, in fixed point, the taps)
    result = run_csim(path)
    assert result.passed, result.output


# -- what Vitis's C simulation and C/RTL co-simulation compile -------------------------------------
HOST_ONLY = {"IKR_DATAFLOW_CSIM", "IKR_TRACE", "IKR_COUNT_OPS", "IKR_HOST_INT"}   # host builds' own options
# host shortcuts for the forms Vitis synthesizes
HOST_FORMS = {"IKR_HOST_TAPS", "IKR_HOST_WINDOWS", "IKR_HOST_CYCLES"}


def macros_vitis_compiles(path, source) -> set:
    """The macros defined once `source` is preprocessed as csim_design and cosim_design compile it
    (the testbench and the top, for the host: the Tcl flow's cflags, no __SYNTHESIS__; hls4ml's
    ap_types and hls_stream.h stand in for Vitis's include directory)."""
    proc = subprocess.run(["g++", "-E", "-dM", *tcl_setting(path, "cflags").split(), "-isystem", str(ap_types_dir()),
                           str(path / source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return set(re.findall(r"^#define (\w+)", proc.stdout, re.M))


@pytest.fixture(scope="module")
def fixed_projects(tmp_path_factory):
    out = {}
    for io_type in ("io_parallel", "io_stream"):
        path = tmp_path_factory.mktemp(io_type) / "prj"
        ikr_hls.convert(LENET_IKR, output_dir=path, precision=FIXED, io_type=io_type).write()
        out[io_type] = path
    return out


@pytest.mark.cpp
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_cosim_compiles_nothing_host_only(fixed_projects, io_type):
    """Neither the testbench nor the top, as Vitis compiles them for csim and cosim, turns on a
    host build's option or reads the threaded run's header."""
    for source in ("firmware/myproject.cpp", "tb/myproject_test.cpp"):
        macros = macros_vitis_compiles(fixed_projects[io_type], source)
        assert "MYPROJECT_DEFINES_H_" in macros                         # the project's headers were read
        assert not macros & HOST_ONLY and "IKR_DATAFLOW_H_" not in macros, (source, macros & HOST_ONLY)


@pytest.mark.cpp
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_cosim_compiles_the_synthesized_forms(fixed_projects, io_type):
    for source in ("firmware/myproject.cpp", "tb/myproject_test.cpp"):
        macros = macros_vitis_compiles(fixed_projects[io_type], source)
        assert not macros & HOST_FORMS, (source, macros & HOST_FORMS)


# -- strict compilation -------------------------------------------------------------------------------
STRICT = ["-std=c++14", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wno-unknown-pragmas",
          # HLS loop names are labels nothing jumps to
          "-Wno-unused-label"]


@pytest.mark.cpp
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(v))
def test_firmware_and_testbench_compile_strictly(projects, variant):
    _, path = projects[variant]
    include = ["-isystem", str(ap_types_dir())] if variant[0] == FIXED else []
    # ap_fixed code takes ~20 s to compile to objects; its syntax and warnings are checked in 2 s
    mode = ["-fsyntax-only"] if variant[0] == FIXED else ["-c", "-o", os.devnull]
    for source in ("firmware/myproject.cpp", "tb/myproject_test.cpp"):
        proc = subprocess.run(["g++", *STRICT, *include, *mode, str(path / source)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


# -- the synthesis report and `build` ---------------------------------------------------------------
def test_read_csynth_report_fixture():
    report = read_csynth_report(FIXTURE)
    assert report["top"] == "myproject" and report["part"] == "xcvu13p-flga2577-2-e"
    assert report["target_clock_ns"] == 5.0 and report["estimated_clock_ns"] == 3.912
    assert (report["latency_best"], report["latency_worst"]) == (1893, 1907)
    assert report["interval_min"] == 577 and report["interval_max"] is None      # "undef"
    assert report["resources"] == {"BRAM_18K": 12, "DSP": 281, "FF": 40213, "LUT": 63877, "URAM": 0}
    assert report["available"]["DSP"] == 12288


def test_read_csynth_report_older_dsp_name_and_errors(tmp_path):
    old = tmp_path / "old.xml"
    old.write_text(FIXTURE.read_text().replace("<DSP>281</DSP>", "<DSP48E>281</DSP48E>"))
    assert read_csynth_report(old)["resources"]["DSP"] == 281
    broken = tmp_path / "broken.xml"
    broken.write_text(FIXTURE.read_text().replace("<EstimatedClockPeriod>3.912</EstimatedClockPeriod>", ""))
    with pytest.raises(IKRHLSError, match="EstimatedClockPeriod"):
        read_csynth_report(broken)
    (tmp_path / "bad.xml").write_text("<profile>")
    with pytest.raises(IKRHLSError, match="not a readable synthesis report"):
        read_csynth_report(tmp_path / "bad.xml")


def _path_without_vitis():
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if not any((Path(d) / t).exists() for t in ("vitis-run", "vitis_hls"))]
    return os.pathsep.join(dirs)


def test_cli_build_without_vitis(projects):
    env = dict(os.environ, PATH=_path_without_vitis())
    env.pop("XILINX_HLS", None)
    proc = run_cli("build", projects[FIXED, "unrolled"][1], env=env)
    assert_one_line_error(proc, "Vitis HLS not found", "vitis-run", "vitis_hls", "$XILINX_HLS (not set)")


def test_cli_build_warns_that_float_means_floating_point_cores(projects, tmp_path):
    """A float project is for host checks: building it warns before Vitis runs (a stand-in
    vitis-run that fails at once)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vitis-run"
    fake.write_text("#!/bin/sh\necho 'ERROR: stand-in Vitis'\nexit 3\n")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=os.pathsep.join([str(bin_dir), _path_without_vitis()]))
    env.pop("XILINX_HLS", None)
    proc = run_cli("build", projects["float", "pattern"][1], env=env)
    warning, *_ = proc.stderr.strip().splitlines()
    assert proc.returncode != 0
    assert "floating point" in warning and "floating-point core" in warning and "ap_fixed" in warning, warning
    fixed = run_cli("build", projects[FIXED, "pattern"][1], env=env)
    assert fixed.returncode != 0 and "floating" not in fixed.stderr


def fake_vitis(tmp_path) -> dict:
    """The environment of a stand-in vitis-run in a fake $XILINX_HLS/bin: it checks its arguments,
    runs build_prj.tcl under tclsh with the stubs (calls in stub_calls.log) and, when the stubs
    synthesized, drops the fixture report where Vitis puts its own."""
    bin_dir = tmp_path / "xilinx" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "vitis-run"
    report_dir = "myproject_prj/solution1/syn/report"
    fake.write_text(f"""#!/bin/sh
# fake vitis-run: expects --mode hls --tcl build_prj.tcl, run in the project directory
[ "$1 $2 $3 $4" = "--mode hls --tcl build_prj.tcl" ] || {{ echo "bad arguments: $*"; exit 3; }}
IKR_STUB_LOG=stub_calls.log tclsh {STUBS} build_prj.tcl || exit 4
if grep -q '^csynth_design' stub_calls.log; then
    mkdir -p {report_dir} && cp {FIXTURE} {report_dir}/myproject_csynth.xml
fi
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return dict(os.environ, PATH=_path_without_vitis(), XILINX_HLS=str(tmp_path / "xilinx"))


def design_calls(path) -> list:
    return [c for c in (path / "stub_calls.log").read_text().splitlines() if c.split()[0].endswith("_design")]


@NEEDS_TCLSH
def test_build_runs_vitis_and_reads_its_report(projects, tmp_path):
    """A stand-in vitis-run (tclsh with the stubs, then a report in Vitis's place) checks what
    `ikr-hls build` runs, where, with which steps, and that it reads the report back."""
    path = copy_project(projects, tmp_path)
    proc = run_cli("build", path, "--steps", "synth,cosim", env=fake_vitis(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ikr-hls: myproject on xc7z020clg400-1 at 4 ns, steps: synth, cosim" in proc.stdout   # streamed
    assert "latency 1893-1907 cycles" in proc.stdout and "DSP 281" in proc.stdout
    assert design_calls(path) == ["csynth_design", "cosim_design"]
    assert "steps: synth, cosim" in (path / "vitis_build.log").read_text()


@NEEDS_TCLSH
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_build_csim_synth_cosim(tmp_path, io_type):
    """`ikr-hls build DIR --steps csim,synth,cosim`: the testbench's C simulation, the synthesis,
    then the C/RTL co-simulation of the same testbench against the RTL, in that order; the
    project.tcl's cosim_options reach cosim_design."""
    path = tmp_path / "prj"
    ikr_hls.convert(LENET_IKR, output_dir=path, precision=FIXED, io_type=io_type, part="xc7z020clg400-1",
                    clock_period=4.0).write()
    env = fake_vitis(tmp_path)
    proc = run_cli("build", path, "--steps", "csim,synth,cosim", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "steps: csim, synth, cosim" in proc.stdout and "synthesis: latency 1893-1907 cycles" in proc.stdout
    assert design_calls(path) == ["csim_design", "csynth_design", "cosim_design"]
    tcl = path / "project.tcl"
    tcl.write_text(tcl.read_text().replace('set cosim_options ""',
                                           'set cosim_options "-enable_dataflow_profiling -trace_level port"'))
    proc = run_cli("build", path, "--steps", "cosim", env=env)       # the RTL of the run above
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert design_calls(path) == ["cosim_design -enable_dataflow_profiling -trace_level port"]


@NEEDS_TCLSH
def test_cosim_needs_a_synthesis(projects, tmp_path):
    """cosim (or export) without the synth step: refused before Vitis starts when no earlier
    synthesis exists or --reset discards it; the Tcl stubs fail the same way Vitis would."""
    path = copy_project(projects, tmp_path)
    env = fake_vitis(tmp_path)
    proc = run_cli("build", path, "--steps", "cosim,export", env=env)
    assert_one_line_error(proc, "steps: cosim, export needs the RTL of a C synthesis: add synth to the steps",
                          "no earlier synthesis in")
    assert not (path / "stub_calls.log").exists()                   # Vitis was not started
    proc, calls = run_tcl(path, "csim=0 synth=0 cosim=1")
    assert proc.returncode != 0 and "cosim_design: no RTL in myproject_prj/solution1/syn/verilog" in proc.stderr
    assert run_cli("build", path, "--steps", "synth", env=env).returncode == 0
    assert run_cli("build", path, "--steps", "cosim", env=env).returncode == 0
    proc = run_cli("build", path, "--steps", "cosim", "--reset", env=env)
    assert_one_line_error(proc, "steps: cosim needs the RTL of a C synthesis", "reset discards the earlier synthesis")


def test_python_build_without_vitis(projects, monkeypatch):
    monkeypatch.setenv("PATH", _path_without_vitis())
    monkeypatch.setenv("XILINX_HLS", "/nonexistent/Vitis_HLS/2024.1")
    with pytest.raises(IKRHLSError, match=r"\$XILINX_HLS/bin \(/nonexistent/Vitis_HLS/2024.1\)"):
        projects["float", "unrolled"][0].build()
