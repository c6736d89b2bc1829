"""Build a written project into a Python module with g++ and pybind11, cached by content.

The module name carries the hash of everything that goes into the build (sources, flags,
compiler, Python ABI), so an unchanged project loads from the cache without compiling, and
two different projects can live in one Python process.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .backend import LANGUAGE_FLAGS
from .buildspec import BuildSpec
from .errors import IKRHLSError

log = logging.getLogger(__name__)

CXXFLAGS = ["-O2", *LANGUAGE_FLAGS.split(), "-fPIC", "-fvisibility=hidden", "-pthread", "-Wall", "-Wextra",
            "-Wno-unknown-pragmas", "-Wno-unused-label"]
SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc")
PROGRESS_SECONDS = 10
_LOADED: dict[str, object] = {}


def cache_dir() -> Path:
    """$IKR_HLS_CACHE, else $XDG_CACHE_HOME/ikr-hls, else ~/.cache/ikr-hls."""
    if os.environ.get("IKR_HLS_CACHE"):
        return Path(os.environ["IKR_HLS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ikr-hls"


def find_compiler() -> str:
    cxx = os.environ.get("CXX", "g++")
    path = shutil.which(cxx)
    if path is None:
        raise IKRHLSError(f"no C++ compiler: '{cxx}' is not on PATH (install g++ or set CXX)")
    return path


def _compiler_id(cxx: str) -> str:
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True,
                              check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        return cxx


def ap_types_dir() -> Path | None:
    """The ap_fixed headers: $XILINX_HLS/include when Vitis is installed, else the copy that
    the installed hls4ml package ships (Apache-2.0; found without importing hls4ml)."""
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx and (Path(xilinx) / "include" / "ap_fixed.h").is_file():
        return Path(xilinx) / "include"
    spec = importlib.util.find_spec("hls4ml")
    for root in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(root) / "templates" / "vivado" / "ap_types"
        if (candidate / "ap_fixed.h").is_file():
            return candidate
    return None


def _include_flags(project_dir: Path, spec: BuildSpec) -> list[str]:
    import pybind11

    return ["-I", str(project_dir), "-I", str(project_dir / "firmware"),
            "-isystem", pybind11.get_include(), "-isystem", sysconfig.get_paths()["include"],
            *_ap_types_flags(spec), *_stream_flags(spec)]


def _vitis_include() -> Path | None:
    """$XILINX_HLS/include when it holds Vitis's hls_stream.h."""
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx and (Path(xilinx) / "include" / "hls_stream.h").is_file():
        return Path(xilinx) / "include"
    return None


def _stream_flags(spec: BuildSpec) -> list[str]:
    """An io_stream project uses Vitis's hls_stream.h when $XILINX_HLS has it (as csim in
    Vitis does), else ikr-hls's host stream (cpp/ikr_stream.h), which reports misuse."""
    if not spec.stream:
        return []
    vitis = _vitis_include()
    return ["-DIKR_VITIS_HLS_STREAM", "-isystem", str(vitis)] if vitis else []


def _host_stream(flags: str) -> str:
    """hls_config.cfg's cflags for a g++ csim: without Vitis, -DIKR_VITIS_HLS_STREAM is dropped
    so that ikr-hls's stream (which throws on misuse) is used, not the hls_stream.h copy next to
    hls4ml's ap_types, whose read of an empty stream never returns."""
    if _vitis_include() is not None:
        return flags
    return " ".join(f for f in flags.split() if f != "-DIKR_VITIS_HLS_STREAM")


def _ap_types_flags(spec: BuildSpec) -> list[str]:
    """-isystem <ap_types> for a fixed-point project; one clear line when there is none."""
    if not spec.fixed_point:
        return []
    ap_dir = ap_types_dir()
    if ap_dir is None:
        raise IKRHLSError("fixed-point project needs the ap_fixed headers: none in $XILINX_HLS/include "
                          "(XILINX_HLS " + ("is " + os.environ["XILINX_HLS"] if os.environ.get("XILINX_HLS")
                                            else "is not set") +
                          ") nor in an installed hls4ml package (pip install hls4ml)")
    return ["-isystem", str(ap_dir)]


def project_sources(project_dir: Path) -> list[Path]:
    files = [p for p in (project_dir / "firmware").rglob("*") if p.suffix in SOURCE_SUFFIXES]
    return sorted(files + [project_dir / "bridge.cpp", project_dir / "host_api.cpp"])


def _abi_parts(cxx: str) -> list[str]:
    return [_compiler_id(cxx), sys.implementation.cache_tag, sysconfig.get_config_var("EXT_SUFFIX") or ""]


def content_hash(project_dir: Path, spec: BuildSpec, flags: list[str], cxx: str) -> str:
    digest = hashlib.sha256()
    ap_dir = ap_types_dir() if spec.fixed_point else None
    for part in (*_abi_parts(cxx), str(ap_dir), " ".join(flags)):
        digest.update(part.encode() + b"\0")
    for path in project_sources(project_dir):
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def build_module(project_dir, spec: BuildSpec, extra_flags: list[str] | None = None):
    """Compile (or take from the cache) and import the project's pybind11 module (`spec`: what
    the model it was written from says of it)."""
    project_dir = Path(project_dir).resolve()
    for needed in ("bridge.cpp", "host_api.cpp"):
        if not (project_dir / needed).is_file():
            raise IKRHLSError(f"{project_dir}: not an ikr-hls project (no {needed}); write it first")
    cxx = find_compiler()
    flags = CXXFLAGS + list(extra_flags or [])
    name = "ikr_" + content_hash(project_dir, spec, flags, cxx)
    if name in _LOADED:
        return _LOADED[name]
    target = cache_dir() / f"{name}{sysconfig.get_config_var('EXT_SUFFIX') or '.so'}"
    if target.is_file():
        log.info("host model %s taken from the cache", name)
    else:
        _compile(cxx, flags, project_dir, spec, name, target)
    loader = importlib.machinery.ExtensionFileLoader(name, str(target))
    module_spec = importlib.util.spec_from_file_location(name, target, loader=loader)
    if module_spec is None:
        raise IKRHLSError(f"{target}: cannot be loaded as a Python extension")
    module = importlib.util.module_from_spec(module_spec)
    loader.exec_module(module)
    _LOADED[name] = module
    return module


PREBUILT_DIR = Path(__file__).resolve().parent / "_prebuilt"     # `ikr-hls prebuild` puts the bridge here


def _python_includes() -> list[str]:
    import pybind11

    return ["-isystem", pybind11.get_include(), "-isystem", sysconfig.get_paths()["include"]]


def _bridge_object(cxx, base_flags: list[str], bridge: Path, api: Path) -> Path:
    """The bridge's object for this compiler, flags, Python and pybind11 and these sources:
    the prebuilt one of the installed package (`ikr-hls prebuild`) when it matches, else the
    build cache's (which may not exist yet)."""
    digest = hashlib.sha256("\0".join([*_abi_parts(cxx), " ".join(base_flags + _python_includes())]).encode()
                            + bridge.read_bytes() + b"\0" + api.read_bytes()).hexdigest()[:20]
    prebuilt = PREBUILT_DIR / f"bridge_{digest}.o"
    return prebuilt if prebuilt.is_file() else cache_dir() / f"bridge_{digest}.o"


def _bridge_job(cxx, base_flags: list[str], project_dir: Path, out: Path) -> list[str]:
    return [cxx, *base_flags, "-c", "-I", str(project_dir), *_python_includes(), str(project_dir / "bridge.cpp"),
            "-o", str(out)]


def prebuild_bridge() -> Path:
    """Compile the pybind11 bridge (the same object for every project) into the installed
    package, once per install, so that a project's first build, even with an empty build
    cache, compiles only its own firmware. Returns the object's path."""
    from .backend import render_bridge
    from .resources import cpp_dir

    cxx = find_compiler()
    base_flags = [f for f in CXXFLAGS if not f.startswith("-D")]
    with tempfile.TemporaryDirectory(prefix="ikr-bridge-") as scratch:
        tmp = Path(scratch)
        (tmp / "firmware" / "ikr").mkdir(parents=True)
        (tmp / "bridge.cpp").write_text(render_bridge())
        shutil.copyfile(Path(cpp_dir()) / "ikr_host_api.h", tmp / "firmware" / "ikr" / "ikr_host_api.h")
        obj = _bridge_object(cxx, base_flags, tmp / "bridge.cpp", tmp / "firmware" / "ikr" / "ikr_host_api.h")
        target = PREBUILT_DIR / obj.name
        if not target.is_file():
            partial = PREBUILT_DIR / f".{obj.name}.{os.getpid()}"
            try:                                      # before 6 s of g++: can the package hold it?
                PREBUILT_DIR.mkdir(parents=True, exist_ok=True)
                partial.touch()
            except OSError as exc:
                raise IKRHLSError(f"prebuild: cannot write into {PREBUILT_DIR} ({exc.strerror or exc}); without a "
                                  "prebuilt bridge the first host build compiles it into the build cache") from None
            _run_compilers([_bridge_job(cxx, base_flags, tmp, partial)], tmp, "C++")
            os.replace(partial, target)                   # atomic: a concurrent prebuild is harmless
    return target


def _compile(cxx, flags, project_dir: Path, spec: BuildSpec, name: str, target: Path):
    """The firmware and host_api.cpp compile with the build's flags; the bridge, the same for
    every project, compiles once per install (`ikr-hls prebuild`) or else once per machine
    (cached object); all of them in parallel. A one-line stub names the module's init function
    after the module."""
    target.parent.mkdir(parents=True, exist_ok=True)
    python = _python_includes()
    base_flags = [f for f in flags if not f.startswith("-D")]
    bridge = project_dir / "bridge.cpp"
    bridge_obj = _bridge_object(cxx, base_flags, bridge, project_dir / "firmware" / "ikr" / "ikr_host_api.h")
    log.info("compiling host model %s (g++ %s)", name, " ".join(flags))
    start = time.perf_counter()
    # built inside the cache directory, so that finished files move into place atomically
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=target.parent) as scratch:
        tmp = Path(scratch)
        stub = tmp / "module.cpp"
        stub.write_text("#include <Python.h>\n"
                        'extern "C" PyObject *PyInit_ikr_host_bridge();\n'
                        f'extern "C" __attribute__((visibility("default"))) PyObject *PyInit_{name}() '
                        "{ return PyInit_ikr_host_bridge(); }\n")
        jobs = [[cxx, *flags, "-c", *_include_flags(project_dir, spec), str(project_dir / "firmware" / spec.top_source),
                 "-o", str(tmp / "top.o")],
                [cxx, *flags, "-c", *_include_flags(project_dir, spec), str(project_dir / "host_api.cpp"),
                 "-o", str(tmp / "host_api.o")],
                [cxx, *base_flags, "-c", *python, str(stub), "-o", str(tmp / "module.o")]]
        bridge_tmp = tmp / "bridge.o"
        if not bridge_obj.is_file():
            jobs.append(_bridge_job(cxx, base_flags, project_dir, bridge_tmp))
        _run_compilers(jobs, project_dir, "C++")
        if bridge_tmp.is_file():
            os.replace(bridge_tmp, bridge_obj)   # atomic: a concurrent build is harmless
        so_tmp = tmp / "module.so"
        _run_compilers([[cxx, *base_flags, "-shared", str(tmp / "top.o"), str(tmp / "host_api.o"),
                         str(tmp / "module.o"), str(bridge_obj), "-o", str(so_tmp)]], project_dir, "C++")
        os.replace(so_tmp, target)
    log.info("compiled %s in %.1f s", name, time.perf_counter() - start)


# -- C simulation: the generated testbench, built as Vitis csim builds it -------------------
@dataclass
class CSimResult:
    passed: bool
    returncode: int
    output: str                 # what the testbench printed
    results_log: Path           # the outputs it computed, one sample per line
    mismatches: list            # its first MISMATCH lines

    def summary(self) -> str:
        lines = self.output.strip().splitlines()
        return lines[-1] if lines else f"testbench exited with code {self.returncode}"


def csim_sources(project_dir: Path) -> tuple[dict, list, bool]:
    """({source: cflags}, [testbench data entries], csim.O) exactly as hls_config.cfg says."""
    from .vitis import file_flags, read_hls_config

    cfg_path = project_dir / "hls_config.cfg"
    hls = read_hls_config(cfg_path)["hls"]
    sources, data = {}, []
    for kind in ("syn", "tb"):
        for name, flags in file_flags(hls, kind).items():
            if not (project_dir / name).exists():
                raise IKRHLSError(f"{cfg_path}: {kind}.file {name} does not exist")
            if Path(name).suffix in (".c", ".cc", ".cpp", ".cxx"):
                sources[name] = flags
            else:
                data.append(name)
    if not any(hls.get("syn.file", [])) or not any(s for s in sources if s in hls.get("tb.file", [])):
        raise IKRHLSError(f"{cfg_path}: needs a syn.file and a C++ tb.file for C simulation")
    optimise = hls.get("csim.O", "false").lower() in ("1", "true")
    return sources, data, optimise


# `ikr-hls csim --dataflow`: the processes of the DATAFLOW region as threads (cpp/ikr_dataflow.h),
# over the forms Vitis synthesizes (line buffers and windows, written-out taps: no -DIKR_HOST_*
# flag), since the host windows read a whole image before their first output and would need
# FIFOs no hardware needs
DATAFLOW_FLAGS = ["-DIKR_DATAFLOW_CSIM", "-pthread"]
DATAFLOW_TIMEOUT = 60.0        # seconds: the last resort when a run neither ends nor deadlocks
DATAFLOW_SEED = 1


def _dataflow_flags(flags: str) -> str:
    """A source's cflags for the dataflow run: always ikr-hls's host stream (Vitis's is neither
    bounded nor shared by threads), plus DATAFLOW_FLAGS."""
    kept = [f for f in flags.split() if f != "-DIKR_VITIS_HLS_STREAM"]
    return " ".join(kept + DATAFLOW_FLAGS)


def build_csim(project_dir, dataflow: bool = False) -> Path:
    """Compile the testbench and the firmware with g++ from the sources and per-file cflags of
    hls_config.cfg, unoptimised with debug info as csim_design does unless csim.O is set;
    cached by content like the host model. dataflow: the threaded build (DATAFLOW_FLAGS)."""
    project_dir = Path(project_dir).resolve()
    sources, _, optimise = csim_sources(project_dir)
    sources = {source: _dataflow_flags(flags) if dataflow else _host_stream(flags) for source, flags in sources.items()}
    cxx = find_compiler()
    opt = ["-O2"] if optimise else ["-O0", "-g"]
    link = ["-pthread"] if dataflow else []
    include = _ap_types_flags(BuildSpec.of_project(project_dir))
    digest = hashlib.sha256()
    for part in (_compiler_id(cxx), " ".join(opt + include + link), repr(sorted(sources.items()))):
        digest.update(part.encode() + b"\0")
    for path in sorted(set(project_sources(project_dir)) | {project_dir / s for s in sources}):
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    target = cache_dir() / f"csim_{digest.hexdigest()[:20]}"
    if target.is_file():
        log.info("csim testbench taken from the cache")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ikr-csim-") as tmp:
        objects = []
        log.info("compiling the csim testbench (g++ %s)", " ".join(opt + (DATAFLOW_FLAGS if dataflow else [])))
        start = time.perf_counter()
        jobs = []
        for i, (source, flags) in enumerate(sorted(sources.items())):
            obj = Path(tmp) / f"{i}_{Path(source).stem}.o"
            jobs.append([cxx, "-c", *opt, *flags.split(), *include, str(project_dir / source), "-o", str(obj)])
            objects.append(str(obj))
        _run_compilers(jobs, project_dir, "csim")
        exe = Path(tmp) / "csim"
        _run_compiler([cxx, *objects, *link, "-o", str(exe)], project_dir, "csim")
        os.replace(exe, target)
        log.info("compiled the csim testbench in %.1f s", time.perf_counter() - start)
    return target


def run_csim(project_dir, dataflow: bool = False, seed: int | None = None,
             timeout: float | None = None) -> CSimResult:
    """Build and run the testbench in build/csim/ (with copies of the testbench data, as Vitis
    runs it in solution1/csim/build/); it compares against the golden outputs itself.

    dataflow: every sample back to back through the DATAFLOW region run as threads over FIFOs of
    their declared depths (io_parallel: ping-pong buffers), each access stalling at random
    (`seed`); a deadlock fails at once with a message naming the full and the empty streams;
    `timeout` seconds (default DATAFLOW_TIMEOUT) end a run that neither finishes nor blocks."""
    project_dir = Path(project_dir).resolve()
    if not dataflow and (seed is not None or timeout is not None):
        raise IKRHLSError("csim: seed and timeout apply to the dataflow run only (dataflow=True, --dataflow)")
    if timeout is not None and not timeout > 0:
        raise IKRHLSError(f"csim: timeout: expected a number of seconds > 0, got {timeout:g}")
    if seed is not None and not 0 <= seed < 2 ** 32:
        raise IKRHLSError(f"csim: seed: expected an integer in [0, 2**32), got {seed}")
    exe = build_csim(project_dir, dataflow=dataflow)
    _, data, _ = csim_sources(project_dir)
    work = project_dir / "build" / "csim"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in data:
        source = project_dir / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, work / Path(name).name)
    env, limit = None, None
    if dataflow:
        timeout = DATAFLOW_TIMEOUT if timeout is None else float(timeout)
        env = dict(os.environ, IKR_DATAFLOW_SEED=str(DATAFLOW_SEED if seed is None else seed),
                   IKR_DATAFLOW_TIMEOUT=repr(timeout))
        limit = timeout + 30                  # past the testbench's own timeout: it cannot stop itself
    try:
        proc = subprocess.run([str(exe)], cwd=work, capture_output=True, text=True, check=False, env=env,
                              timeout=limit)
        output, returncode = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        output = partial + f"FAIL: the testbench did not end within {limit:g} s and was stopped\n"
        returncode = 1
    (work / "csim.log").write_text(output)
    mismatches = [ln for ln in output.splitlines() if ln.startswith(("MISMATCH", "ERROR"))]
    return CSimResult(passed=returncode == 0, returncode=returncode, output=output,
                      results_log=work / "tb_data" / "csim_results.log", mismatches=mismatches[:10])


def _run_compiler(cmd: list, project_dir: Path, what: str):
    _run_compilers([cmd], project_dir, what)


def _run_compilers(cmds: list, project_dir: Path, what: str):
    """Run g++ commands in parallel, saying every PROGRESS_SECONDS that they still run (builds
    take seconds to minutes); a failure raises one line with the first error, the full log
    in build/."""
    start = time.perf_counter()
    outputs = [tempfile.TemporaryFile("w+") for _ in cmds]
    procs = []
    try:
        for cmd, out in zip(cmds, outputs, strict=True):
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True))
        for proc in procs:
            while True:
                try:
                    proc.wait(timeout=PROGRESS_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    log.info("  still compiling (%s), %.0f s ...", what, time.perf_counter() - start)
        for cmd, proc, output in zip(cmds, procs, outputs, strict=True):
            if proc.returncode != 0:
                output.seek(0)
                text = output.read()
                log_path = project_dir / "build" / ("compile.log" if what == "C++" else f"{what}_compile.log")
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log_path.write_text(" ".join(cmd) + "\n\n" + text)
                first = next((ln for ln in text.splitlines() if "error" in ln), text.strip()[:200])
                raise IKRHLSError(f"{project_dir}: {what} compilation failed: {first.strip()} (full log: {log_path})")
    finally:
        for proc in procs:                  # after a failure or an interrupt: no g++ left running
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for output in outputs:
            output.close()
