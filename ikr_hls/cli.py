"""The `ikr-hls` command line. User errors print one line on stderr and exit with code 2."""
from __future__ import annotations

import argparse
import logging
import os
import sys

EPILOG = """examples:
  ikr-hls convert examples/models/lenet5_ikr.h5 -o prj
  ikr-hls convert model.keras -o prj --precision "ap_fixed<16,6>" --tb-data x_test.npy --force
  ikr-hls csim prj                       # the generated testbench, built with g++ on this machine
  ikr-hls build prj --steps csim,synth   # Vitis HLS (vitis-run or vitis_hls must be installed)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ikr-hls", description="Convert IKR-pruned Keras CNNs into Vitis HLS C++ projects.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="print debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    convert = sub.add_parser("convert", help="convert a .h5/.keras model into an HLS project",
                             epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    convert.add_argument("model", help="Keras model file (.h5 or .keras)")
    convert.add_argument("-o", "--output-dir", required=True, help="project directory to create")
    convert.add_argument("--precision", default="float",
                         help="numeric type: float, double or ap_fixed<W,I[,Q,O]> (default: float)")
    convert.add_argument("--config", default=None, metavar="CFG",
                         help="hls4ml-like config (.yml/.json): precision, reuse factor, strategy per layer")
    convert.add_argument("--strategy", default="unrolled", help="conv kernel strategy (default: unrolled)")
    convert.add_argument("--reuse-factor", type=int, default=1, help="multiplier reuse factor (default: 1)")
    convert.add_argument("--part", default=None, help="FPGA part for Vitis HLS")
    convert.add_argument("--clock", type=float, default=5.0, help="clock period in ns (default: 5.0)")
    convert.add_argument("--clock-uncertainty", default="12.5%",
                         help="clock uncertainty, '12.5%%' of the period or a number of ns (default: 12.5%%)")
    convert.add_argument("--tb-data", default=None, metavar="X.npy",
                         help="testbench inputs (N, *input_shape); default: 10 seeded random inputs")
    convert.add_argument("--project-name", default="myproject", help="top function name (default: myproject)")
    convert.add_argument("--force", action="store_true", help="overwrite an existing project directory")
    convert.add_argument("--check", type=int, default=0, metavar="N",
                         help="compile and compare N random inputs against Keras")

    csim = sub.add_parser("csim", help="build and run the project's testbench with g++ (like Vitis csim)",
                          epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    csim.add_argument("project_dir", help="a project written by `ikr-hls convert`")

    build = sub.add_parser("build", help="run Vitis HLS on the project and read its synthesis report",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("project_dir", help="a project written by `ikr-hls convert`")
    build.add_argument("--steps", default="csim,synth",
                       help="comma-separated: csim, synth, cosim, export, vsynth (default: csim,synth)")
    build.add_argument("--reset", action="store_true", help="start the Vitis project and solution afresh")
    return parser


def _version() -> str:
    from . import __version__

    return f"ikr-hls {__version__}"


def _convert(args) -> int:
    import numpy as np

    from .config import DEFAULT_PART
    from .hls_model import convert

    log = logging.getLogger("ikr_hls")
    hls = convert(args.model, output_dir=args.output_dir, precision=args.precision,
                  strategy=args.strategy, reuse_factor=args.reuse_factor,
                  part=args.part or DEFAULT_PART, clock_period=args.clock,
                  project_name=args.project_name, force=args.force, config=args.config,
                  clock_uncertainty=args.clock_uncertainty, tb_data=args.tb_data)
    hls.write()
    log.info("wrote project %s (%d layers)", args.output_dir, len(hls.graph.layers))
    if args.check < 0:
        from .errors import IKRHLSError
        raise IKRHLSError(f"--check: expected a number of inputs >= 0, got {args.check}")
    if args.check:
        log.info("compiling the host model ...")
        hls.compile()
        x = np.random.default_rng(0).standard_normal((args.check, *hls.input_shape)).astype(np.float32)
        y_cpp = hls.predict(x)
        y_keras = np.asarray(hls.keras_model.predict(x, verbose=0), dtype=np.float64)
        diff = float(np.max(np.abs(y_cpp - y_keras)))
        if hls.graph.input_precision.is_float:
            ok = np.allclose(y_cpp, y_keras, rtol=1e-4, atol=1e-5)
            print(f"check: {args.check} random inputs, max |C++ - Keras| = {diff:.3g} "
                  f"({'OK' if ok else 'MISMATCH'} at rtol 1e-4, atol 1e-5)")
        else:                     # fixed point: bit-exact against the numpy reference
            mismatches = int(np.count_nonzero(y_cpp != hls.emulate(x)))
            ok = mismatches == 0
            print(f"check: {args.check} random inputs, C++ vs the bit-exact reference: "
                  f"{'OK, identical' if ok else f'MISMATCH in {mismatches} values'}; "
                  f"max |C++ - Keras| = {diff:.3g} (quantisation)")
        if not ok:
            return 1
    if not args.quiet:
        print(f"project written to {args.output_dir}")
    return 0


def _project_dir(path: str):
    from pathlib import Path

    from .errors import IKRHLSError

    project = Path(path)
    if not project.is_dir():
        raise IKRHLSError(f"{project}: no such project directory")
    if not (project / "hls_config.cfg").is_file():
        raise IKRHLSError(f"{project}: not an ikr-hls project (no hls_config.cfg); write one with `ikr-hls convert`")
    return project


def _csim(args) -> int:
    from .hostbuild import run_csim
    from .synthcheck import scan_project

    project = _project_dir(args.project_dir)
    log = logging.getLogger("ikr_hls")
    for finding in scan_project(project):          # firmware edited by hand, say
        log.warning("not synthesisable by Vitis HLS: %s", finding)
    log.info("building the testbench of %s ...", project)
    result = run_csim(project)
    for line in result.mismatches:
        print(line)
    if not result.passed:
        print(f"ikr-hls: csim FAILED in {project}: {result.summary()} "
              f"(full output: {project}/build/csim/csim.log)", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"csim passed: {result.summary().removeprefix('PASS: ')}")
    return 0


def _build(args) -> int:
    from .vitis import run_build

    project = _project_dir(args.project_dir)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    echo = None if args.quiet else print
    report = run_build(project, steps=steps, reset=args.reset, echo=echo)
    if report and not args.quiet:
        r = report["resources"]
        print(f"synthesis: latency {report['latency_best']}-{report['latency_worst']} cycles, "
              f"interval {report['interval_min']}-{report['interval_max']}, "
              f"clock {report['estimated_clock_ns']:g} ns (target {report['target_clock_ns']:g}), "
              + ", ".join(f"{k} {v}" for k, v in r.items()))
    return 0


COMMANDS = {"convert": _convert, "csim": _csim, "build": _build}
NEEDS_KERAS = {"convert"}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = _parser().parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="ikr-hls: %(message)s", stream=sys.stderr)
    for noisy in ("absl", "tensorflow", "h5py"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from .errors import IKRHLSError

    try:
        if args.command in NEEDS_KERAS:
            from .frontend import import_keras
            import_keras()
        return COMMANDS[args.command](args)
    except IKRHLSError as exc:
        print(f"ikr-hls: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ikr-hls: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
