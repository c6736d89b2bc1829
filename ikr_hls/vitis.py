"""Vitis HLS: read a project's hls_config.cfg, find and run the tool, read its synthesis report.

Nothing here needs Vitis to be installed except `run_build`, which says so in one line when
it is absent.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from .buildspec import BuildSpec
from .errors import IKRHLSError

log = logging.getLogger(__name__)

STEPS = ("csim", "synth", "cosim", "export", "vsynth")
DEFAULT_STEPS = ("csim", "synth")
NEED_RTL = ("cosim", "export", "vsynth")      # steps that start from the RTL of a C synthesis
# keys that may be given more than once in a Vitis Unified config (the rest: once)
_REPEATABLE = {"syn.file", "syn.file_cflags", "syn.file_csimflags", "tb.file", "tb.file_cflags"}


# -- hls_config.cfg -----------------------------------------------------------------------
def read_hls_config(path) -> dict:
    """Parse a Vitis Unified config: {"general": {"part": ...}, "hls": {key: value or [values]}}.

    Repeatable keys (syn.file, tb.file, ...) become lists; a repeated single key, a line
    outside `key=value` or an unknown section is an error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise IKRHLSError(f"{path}: no such file (not an ikr-hls project?)")
    config: dict = {"general": {}, "hls": {}}
    section = "general"
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]").strip().lower()
            if section not in config:
                raise IKRHLSError(f"{path}:{number}: unknown section [{section}]")
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise IKRHLSError(f"{path}:{number}: expected key=value, got '{line}'")
        entries = config[section]
        if key in _REPEATABLE:
            entries.setdefault(key, []).append(value)
        elif key in entries:
            raise IKRHLSError(f"{path}:{number}: '{key}' is set twice")
        else:
            entries[key] = value
    return config


def file_flags(hls: dict, kind: str) -> dict:
    """{file: cflags} of the syn or tb files of a parsed config (global flags first)."""
    common = hls.get(f"{kind}.cflags", "")
    flags = {f: common for f in hls.get(f"{kind}.file", [])}
    for entry in hls.get(f"{kind}.file_cflags", []):
        name, _, extra = entry.partition(",")
        if name not in flags:
            raise IKRHLSError(f"hls_config.cfg: {kind}.file_cflags names '{name}', which is not a {kind}.file")
        flags[name] = f"{flags[name]} {extra}".strip()
    return flags


# -- the tool -------------------------------------------------------------------------------
def find_vitis() -> tuple[str, Path]:
    """('vitis-run' | 'vitis_hls', path): on PATH, else in $XILINX_HLS/bin; vitis-run first,
    since vitis_hls is deprecated from 2024.2."""
    xilinx = os.environ.get("XILINX_HLS")
    for tool in ("vitis-run", "vitis_hls"):
        found = shutil.which(tool)
        if found:
            return tool, Path(found)
        if xilinx and (Path(xilinx) / "bin" / tool).is_file():
            return tool, Path(xilinx) / "bin" / tool
    where = f"$XILINX_HLS/bin ({xilinx})" if xilinx else "$XILINX_HLS (not set)"
    raise IKRHLSError(f"Vitis HLS not found: neither vitis-run nor vitis_hls is on PATH or in {where}; "
                      "install Vitis and source its settings64.sh, or run build_prj.tcl on a machine that has it")


def vitis_command(tool: str, path: Path) -> list[str]:
    if tool == "vitis-run":
        return [str(path), "--mode", "hls", "--tcl", "build_prj.tcl"]
    return [str(path), "-f", "build_prj.tcl"]


def steps_setting(steps) -> str:
    """'csim=1 synth=0 ...' for IKR_HLS_STEPS; unknown step names raise."""
    steps = [s.strip().lower() if isinstance(s, str) else s for s in steps]      # any case: CSIM is csim
    unknown = [str(s) for s in steps if s not in STEPS]
    if unknown:
        raise IKRHLSError(f"steps: unknown step(s) {', '.join(unknown)} (valid: {', '.join(STEPS)})")
    if not steps:
        raise IKRHLSError(f"steps: choose at least one of {', '.join(STEPS)}")
    return " ".join(f"{s}={int(s in steps)}" for s in STEPS)


def run_build(project_dir, steps=DEFAULT_STEPS, reset: bool = False, echo=None) -> dict:
    """Run build_prj.tcl with Vitis HLS in project_dir, streaming its log (to `echo`, a
    callable taking a line, and to vitis_build.log), then read the synthesis report."""
    project_dir = Path(project_dir)
    if not (project_dir / "build_prj.tcl").is_file():
        raise IKRHLSError(f"{project_dir}: no build_prj.tcl (not an ikr-hls project?)")
    setting = steps_setting(steps) + f" reset={int(reset)}"
    _check_rtl_source(project_dir, list(steps), reset)
    tool, path = find_vitis()                 # no Vitis: the one-line error, before any warning
    floating = BuildSpec.of_project(project_dir).float_types
    if floating:
        log.warning("%s: %d type(s) are floating point (%s, ...): Vitis HLS builds a floating-point core "
                    "for every product and sum of them, far more DSPs and LUTs than fixed point; float "
                    "projects are for checking a model on the host (convert with precision=ap_fixed<...> "
                    "for hardware, docs/vitis.md)", project_dir, len(floating), floating[0])
    command = vitis_command(tool, path)
    env = dict(os.environ, IKR_HLS_STEPS=setting)
    log_path = project_dir / "vitis_build.log"
    log.info("running %s (%s) in %s", tool, setting, project_dir)
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=project_dir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        assert proc.stdout is not None                     # stdout=PIPE
        for line in proc.stdout:
            log_file.write(line)
            if echo is not None:
                echo(line.rstrip("\n"))
        code = proc.wait()
    if code != 0:
        raise IKRHLSError(f"{tool} failed with exit code {code} (log: {log_path})")
    if "synth" not in steps and "vsynth" not in steps:
        return {}
    return read_csynth_report(find_csynth_report(project_dir))


def _check_rtl_source(project_dir: Path, steps: list, reset: bool) -> None:
    """cosim, export and vsynth start from the RTL of a C synthesis: the synth step of this run,
    or an earlier one that the Tcl flow's solution still holds (Vitis would stop only after
    starting up, with a less direct message)."""
    needing = [s for s in steps if s in NEED_RTL]
    if not needing or "synth" in steps:
        return
    rtl = project_dir / f"{BuildSpec.of_project(project_dir).project}_prj" / "solution1" / "syn" / "verilog"
    why = "reset discards the earlier synthesis" if reset else f"no earlier synthesis in {rtl}"
    if reset or not rtl.is_dir():
        raise IKRHLSError(f"steps: {', '.join(needing)} needs the RTL of a C synthesis: add synth to the steps ({why})")


# -- the synthesis report -------------------------------------------------------------------
def find_csynth_report(project_dir) -> Path:
    """<top>_csynth.xml of the Tcl flow (<project>_prj/solution1) or of a Vitis Unified work
    dir (<project>_hls); the top is the project's function, or its AXI wrapper."""
    project_dir = Path(project_dir)
    spec = BuildSpec.of_project(project_dir)
    project, top = spec.project, spec.top_function
    candidates = [project_dir / f"{project}_prj" / "solution1" / "syn" / "report" / f"{top}_csynth.xml",
                  project_dir / f"{project}_hls" / "hls" / "syn" / "report" / f"{top}_csynth.xml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise IKRHLSError(f"{project_dir}: no synthesis report ({candidates[0].relative_to(project_dir)}); "
                      "run the synth step first")


def read_csynth_report(path) -> dict:
    """The figures of a csynth.xml report: latency and interval in cycles (None where the
    tool reports 'undef'), clock periods in ns, resources used and available."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise IKRHLSError(f"{path}: not a readable synthesis report ({exc})") from None

    def text(xpath):
        node = root.find(xpath)
        if node is None or node.text is None:
            raise IKRHLSError(f"{path}: no {xpath} in the report")
        return node.text.strip()

    def cycles(xpath):
        value = text(xpath)
        return int(value) if value.isdigit() else None

    def resources(xpath):
        node = root.find(xpath)
        if node is None:
            raise IKRHLSError(f"{path}: no {xpath} in the report")
        # older reports call the DSPs DSP48E
        return {("DSP" if child.tag.startswith("DSP") else child.tag): int(child.text)
                for child in node if child.text and child.text.strip().isdigit()}

    latency = "PerformanceEstimates/SummaryOfOverallLatency"
    return {
        "top": text("UserAssignments/TopModelName"),
        "part": text("UserAssignments/Part"),
        "target_clock_ns": float(text("UserAssignments/TargetClockPeriod")),
        "estimated_clock_ns": float(text("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        "latency_best": cycles(f"{latency}/Best-caseLatency"),
        "latency_worst": cycles(f"{latency}/Worst-caseLatency"),
        "interval_min": cycles(f"{latency}/Interval-min"),
        "interval_max": cycles(f"{latency}/Interval-max"),
        "resources": resources("AreaEstimates/Resources"),
        "available": resources("AreaEstimates/AvailableResources"),
        "report": str(path),
    }
