"""The `ikr-hls` command line. User errors print one line on stderr and exit with code 2."""
from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from typing import Any

EPILOG = """examples:
  ikr-hls convert examples/models/lenet5_ikr.h5 -o prj
  ikr-hls convert model.keras -o prj --precision "ap_fixed<16,6>" --tb-data x_test.npy --force
  ikr-hls csim prj                       # the generated testbench, built with g++ on this machine
  ikr-hls csim prj --dataflow            # its DATAFLOW processes as threads: FIFO depths, deadlocks
  ikr-hls build prj --steps csim,synth   # Vitis HLS (vitis-run or vitis_hls must be installed)
  ikr-hls report prj --plot report.png   # parameters, MACs, patterns, storage bits, cost
  ikr-hls report model.h5 --precision "ap_fixed<8,3>" --json
  ikr-hls prebuild                       # once per install: every later host build skips the bridge
"""


_HELP: dict[str, Any] = dict(epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)


def _verbosity() -> argparse.ArgumentParser:
    """-q/-v, accepted after the command as well; SUPPRESS keeps a global -q from being reset."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print errors only")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="print debug details")
    return common


DEFAULT_MAX_ERROR_FRACTION = 0.1       # --check: max |C++ - Keras| <= this x max |Keras output|
DEFAULT_MAX_ACCURACY_DROP = 0.01       # --check --labels: Keras accuracy - C++ accuracy


def _parser() -> argparse.ArgumentParser:
    from .config import DEFAULT_CLOCK_UNCERTAINTY

    parser = argparse.ArgumentParser(
        prog="ikr-hls", description="Convert IKR-pruned Keras CNNs into Vitis HLS C++ projects.", **_HELP)
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    parser.add_argument("-v", "--verbose", action="store_true", help="print debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    convert = sub.add_parser("convert", parents=[_verbosity()], help="convert a .h5/.keras model into an HLS project",
                             **_HELP)
    convert.add_argument("model", help="Keras model file (.h5 or .keras)")
    convert.add_argument("-o", "--output-dir", required=True, help="project directory to create")
    convert.add_argument("--precision", default=None,
                         help="numeric type: float, double, ap_fixed<W,I[,Q,O]> or auto (default: an HGQ2 model's "
                              "trained types, else float)")
    convert.add_argument("--config", default=None, metavar="CFG",
                         help="hls4ml-like config (.yml/.json): precision, reuse factor, strategy per layer")
    convert.add_argument("--strategy", default=None, help="conv kernel strategy: unrolled, pattern, pe, "
                         "resource (also Dense), da (conv and Dense as da4ml adder graphs, reuse factor 1), or "
                         "auto: per layer, with --reuse-factor auto (default: unrolled at reuse factor 1, or "
                         "chosen per layer when that does not fit the part)")
    convert.add_argument("--io-type", default="io_parallel",
                         help="io_parallel (whole buffers between layers, default) or io_stream "
                              "(hls::stream of pixels)")
    convert.add_argument("--fifo-depth", default="model",
                         help="io_stream FIFO depths: model (sized by the depth model, default) or full "
                              "(every FIFO its whole tensor, hls4ml's default)")
    convert.add_argument("--side-channels", action="store_true",
                         help="io_stream: a top <project>_axi whose AXI4-Stream ports carry TKEEP, TSTRB and TLAST "
                              "(for an AXI DMA); default: data only")
    convert.add_argument("--reuse-factor", default=None, help="multiplier reuse factor, or auto: per layer, the "
                         "fastest that fits the part (default: 1, or chosen per layer when that does not fit)")
    convert.add_argument("--part", default=None, help="FPGA part for Vitis HLS")
    convert.add_argument("--clock", type=float, default=5.0, help="clock period in ns (default: 5.0)")
    convert.add_argument("--clock-uncertainty", default=DEFAULT_CLOCK_UNCERTAINTY,
                         help="clock uncertainty, '12.5%%' of the period or a number of ns "
                              f"(default: {DEFAULT_CLOCK_UNCERTAINTY.replace('%', '%%')})")
    convert.add_argument("--tb-data", default=None, metavar="X.npy",
                         help="testbench inputs (N, *input_shape); default: 10 seeded random inputs")
    convert.add_argument("--project-name", default="myproject", help="top function name (default: myproject)")
    convert.add_argument("--force", action="store_true", help="overwrite an existing project directory")
    convert.add_argument("--check", type=int, default=0, metavar="N",
                         help="compile and compare N inputs (the first N of --tb-data, else seeded random ones) "
                              "against Keras and, in fixed point, the bit-exact reference; exit 1 on a failure")
    convert.add_argument("--max-error", type=float, default=None, metavar="E",
                         help="--check fails when max |C++ - Keras| exceeds E (default: "
                              f"{DEFAULT_MAX_ERROR_FRACTION:g} x the largest |Keras output| of the checked inputs)")
    convert.add_argument("--labels", default=None, metavar="Y.npy",
                         help="--check: class labels of the --tb-data inputs, for an accuracy line")
    convert.add_argument("--max-accuracy-drop", type=float, default=DEFAULT_MAX_ACCURACY_DROP, metavar="D",
                         help="--check with --labels fails when C++ is less accurate than Keras by more than D "
                              f"(default: {DEFAULT_MAX_ACCURACY_DROP:g})")
    convert.add_argument("--calibration", default=None, metavar="X.npy",
                         help="inputs whose value ranges --precision auto measures")
    convert.add_argument("--auto-width", type=int, default=None, metavar="W",
                         help="--precision auto: the bits of every measured type, 4 to 32 (default: 16)")

    csim = sub.add_parser("csim", parents=[_verbosity()],
                          help="build and run the project's testbench with g++ (like Vitis csim)", **_HELP)
    csim.add_argument("project_dir", help="a project written by `ikr-hls convert`")
    csim.add_argument("--dataflow", action="store_true",
                      help="run every process of the DATAFLOW region in a thread of its own over FIFOs of their "
                           "declared depths, all samples back to back; a deadlock fails at once, naming the full "
                           "and the empty streams")
    csim.add_argument("--seed", type=int, default=None, metavar="N",
                      help="--dataflow: seed of the random stalls of every read and write (default: 1)")
    csim.add_argument("--timeout", type=float, default=None, metavar="S",
                      help="--dataflow: seconds after which a run that neither finishes nor deadlocks is stopped "
                           "(default: 60)")

    build = sub.add_parser("build", parents=[_verbosity()],
                           help="run Vitis HLS on the project and read its synthesis report", **_HELP)
    build.add_argument("project_dir", help="a project written by `ikr-hls convert`")
    build.add_argument("--steps", default="csim,synth",
                       help="comma-separated: csim, synth, cosim, export, vsynth (default: csim,synth)")
    build.add_argument("--reset", action="store_true", help="start the Vitis project and solution afresh")

    sub.add_parser("prebuild", parents=[_verbosity()],
                   help="compile the host model's pybind11 bridge once, into the installed package", **_HELP)

    report = sub.add_parser("report", parents=[_verbosity()],
                            help="compression, storage and hardware-cost report of a model or project", **_HELP)
    report.add_argument("target", help="a Keras model file (.h5/.keras) or a project directory")
    report.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    report.add_argument("--plot", metavar="OUT.png", help="also draw the pattern libraries and per-layer bars")
    report.add_argument("--precision", help="model file only: numeric type (default: an HGQ2 model's trained "
                                              "types, else float)")
    report.add_argument("--config", metavar="CFG", help="model file only: hls4ml-like config")
    report.add_argument("--strategy", help="model file only: conv strategy (default: unrolled)")
    report.add_argument("--reuse-factor", help="model file only: reuse factor or auto (default: 1)")
    report.add_argument("--io-type", help="model file only: io_parallel (default) or io_stream")
    report.add_argument("--fifo-depth", help="model file only, io_stream: model (default) or full")
    report.add_argument("--side-channels", action="store_true", default=None,
                        help="model file only, io_stream: count the AXI wrapper's adapters and FIFOs")
    report.add_argument("--part", help="model file only: FPGA part whose family prices the operators and whose "
                        "totals the fit check reads (default: the convert default)")
    report.add_argument("--calibration", metavar="X.npy", help="model file only, --precision auto: the inputs "
                        "whose value ranges it measures")
    report.add_argument("--auto-width", type=int, metavar="W", help="model file only, --precision auto: bits of "
                        "every measured type (default: 16)")
    return parser


def _version() -> str:
    from ._version import __version__

    return f"ikr-hls {__version__}"


def _convert(args) -> int:
    import shutil
    from pathlib import Path

    from .config import DEFAULT_PART
    from .errors import IKRHLSError
    from .hls_model import convert
    from .hostbuild import find_compiler

    if args.check < 0:
        raise IKRHLSError(f"--check: expected a number of inputs >= 0, got {args.check}")
    if args.max_error is not None and not args.max_error >= 0:
        raise IKRHLSError(f"--max-error: expected a number >= 0, got {args.max_error:g}")
    if not 0 <= args.max_accuracy_drop <= 1:
        raise IKRHLSError(f"--max-accuracy-drop: expected a fraction in [0, 1], got {args.max_accuracy_drop:g}")
    args.labels_array = _check_inputs(args)          # every input file, before seconds of conversion
    if args.check:
        find_compiler()                  # before anything is written
    auto = (args.precision or "").strip().lower() == "auto"
    calibration = None
    if args.calibration:
        if not auto:
            raise IKRHLSError("--calibration: only --precision auto measures calibration data")
        calibration = _load_npy(args.calibration, "--calibration")
    if args.auto_width is not None and not auto:
        raise IKRHLSError("--auto-width: the width of the types --precision auto measures; give --precision auto")
    log = logging.getLogger("ikr_hls")
    hls = convert(args.model, output_dir=args.output_dir, precision=args.precision,
                  strategy=args.strategy, reuse_factor=args.reuse_factor,
                  part=args.part or DEFAULT_PART, clock_period=args.clock,
                  project_name=args.project_name, force=args.force, config=args.config,
                  clock_uncertainty=args.clock_uncertainty, tb_data=args.tb_data, calibration=calibration,
                  io_type=args.io_type, fifo_depth=args.fifo_depth, side_channels=args.side_channels,
                  auto_width=16 if args.auto_width is None else args.auto_width)
    created = not Path(args.output_dir).exists()
    hls.write()
    log.info("wrote project %s (%d layers)", args.output_dir, len(hls.graph.layers))
    _warn_fit(hls.report())
    code = 0
    if args.check:
        try:
            code = _check(hls, args)
        except IKRHLSError:
            if created:              # a conversion that failed its check leaves nothing behind
                shutil.rmtree(args.output_dir, ignore_errors=True)
            raise
    if not args.quiet:
        _print_summary(hls, args.output_dir)
    return code


def _check_inputs(args):
    """--tb-data and --labels read and checked against each other before the conversion (which
    takes seconds): a file that cannot be used is told first. The labels, or None."""
    import numpy as np

    from .errors import IKRHLSError
    from .tbdata import read_array

    if args.labels and not args.tb_data:
        raise IKRHLSError("--labels: the labels of --tb-data's inputs; give --tb-data too")
    if args.labels and not args.check:
        raise IKRHLSError("--labels: --check N uses them to measure accuracy; give --check too")
    if args.max_error is not None and not args.check:
        raise IKRHLSError("--max-error: bounds what --check N measures; give --check too")
    inputs = read_array(args.tb_data) if args.tb_data else None
    if not args.labels:
        return None
    labels = np.asarray(_load_npy(args.labels, "--labels")).reshape(-1)
    if labels.dtype.kind not in "iuf" or (labels.dtype.kind == "f" and not np.all(np.mod(labels, 1) == 0)):
        raise IKRHLSError(f"{args.labels}: expected integer class labels, got {labels.dtype} values")
    checked = min(args.check, len(inputs)) if inputs is not None and inputs.ndim else args.check
    if len(labels) < checked:
        raise IKRHLSError(f"{args.labels}: {len(labels)} labels for {checked} checked inputs")
    return labels


def _load_npy(path, option: str):
    import numpy as np

    from .errors import IKRHLSError

    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IKRHLSError(f"{path}: not a readable .npy array for {option} ({str(exc).splitlines()[0]})") from None


def _check(hls, args) -> int:
    """Compile the host model and run N inputs (the first N of --tb-data, else seeded random
    ones). Float: C++ equals Keras within the testbench tolerances. Fixed point: C++ equals the
    bit-exact reference, and its quantisation error against Keras is within --max-error. With
    --labels, the accuracy of Keras, C++ (and the reference) and the allowed drop. 0 when every
    line is OK, 1 otherwise."""
    import numpy as np

    from .errors import IKRHLSError
    from .tbdata import FLOAT_ATOL, FLOAT_RTOL, load_inputs

    n = args.check
    logging.getLogger("ikr_hls").info("compiling the host model ...")
    hls.compile()
    if args.tb_data:
        x = load_inputs(args.tb_data, hls.input_shape)[:n]
        what = f"{len(x)} input{'s' if len(x) != 1 else ''} of {args.tb_data}"
    else:
        x = np.random.default_rng(0).standard_normal((n, *hls.input_shape)).astype(np.float32)
        what = f"{n} random input{'s' if n != 1 else ''}"
    y_cpp = hls.predict(x)
    y_keras = np.asarray(hls.keras_model.predict(x, verbose=0), dtype=np.float64).reshape(y_cpp.shape)
    diff = float(np.max(np.abs(y_cpp - y_keras)))
    ok = True
    if hls.graph.input_precision.is_float:
        ok = bool(np.allclose(y_cpp, y_keras, rtol=FLOAT_RTOL, atol=FLOAT_ATOL))
        print(f"check: {what}, max |C++ - Keras| = {diff:.3g} "
              f"({'OK' if ok else 'MISMATCH'} at rtol {FLOAT_RTOL:g}, atol {FLOAT_ATOL:g})")
    else:
        y_ref = hls.emulate(x)
        mismatches = int(np.count_nonzero(y_cpp != y_ref))
        exact = mismatches == 0
        bound = args.max_error if args.max_error is not None else \
            DEFAULT_MAX_ERROR_FRACTION * float(np.max(np.abs(y_keras)))
        within = diff <= bound
        source = "--max-error" if args.max_error is not None else \
            f"{DEFAULT_MAX_ERROR_FRACTION:g} x max |Keras| = {bound:.3g}; set it with --max-error"
        print(f"check: {what}, C++ vs the bit-exact reference: "
              f"{'OK, identical' if exact else f'MISMATCH in {mismatches} values'}")
        print(f"check: quantisation error max |C++ - Keras| = {diff:.3g}: "
              + (f"OK (bound {bound:.3g})" if within else f"FAILED, beyond the bound {bound:.3g} ({source})"))
        ok = exact and within
    if args.labels:
        labels = args.labels_array
        if len(labels) < len(x):
            raise IKRHLSError(f"{args.labels}: {len(labels)} labels for {len(x)} checked inputs")
        labels = labels[:len(x)]

        def accuracy(y):
            return float(np.mean(y.reshape(len(x), -1).argmax(axis=1) == labels))

        acc_keras, acc_cpp = accuracy(y_keras), accuracy(y_cpp)
        drop_ok = acc_keras - acc_cpp <= args.max_accuracy_drop + 1e-12
        reference = "" if hls.graph.input_precision.is_float else f", reference {accuracy(hls.emulate(x)):.4f}"
        print(f"check: accuracy on {len(x)} labelled inputs: Keras {acc_keras:.4f}, C++ {acc_cpp:.4f}{reference}: "
              + ("OK" if drop_ok else f"FAILED, C++ drops {acc_keras - acc_cpp:.4f} "
                 f"(more than --max-accuracy-drop {args.max_accuracy_drop:g})"))
        ok = ok and drop_ok
    return 0 if ok else 1


def _print_summary(hls, output_dir):
    totals = hls.report()["totals"]
    print(f"project written to {output_dir}: {hls.project_name}, {len(hls.graph.layers)} layers, "
          f"{hls.config.precision_label}, strategy {hls.config.strategy}")
    print(f"  {totals['params_nonzero']:,} of {totals['params_dense']:,} parameters nonzero, "
          f"{totals['macs_pruned']:,} of {totals['macs_dense']:,} MACs per inference")
    if hls.config.auto or hls.config.trained:      # no model-wide type: each layer's own
        print(f"  types: input {hls.graph.input_type.cpp}")
        for layer in hls.graph.layers:
            print(f"    {layer.keras_name}: " + ", ".join(f"{role} {layer.precision[role].cpp}"
                                                       for role in ("weight", "bias", "result")
                                                       if role in layer.precision))
    print("next:")
    print(f"  ikr-hls csim {output_dir}        # run the testbench on this machine (g++)")
    print(f"  ikr-hls report {output_dir}      # compression and hardware cost (--plot report.png)")
    print(f"  ikr-hls build {output_dir}       # Vitis HLS synthesis (needs vitis-run or vitis_hls)")


def _report(args) -> int:
    import json
    from pathlib import Path

    from .errors import IKRHLSError
    from .report import build_report, format_report, plot_report

    target = Path(args.target)
    model_options = {"--precision": args.precision, "--config": args.config,
                     "--strategy": args.strategy, "--reuse-factor": args.reuse_factor, "--io-type": args.io_type,
                     "--fifo-depth": args.fifo_depth, "--side-channels": args.side_channels,
                     "--part": args.part, "--calibration": args.calibration, "--auto-width": args.auto_width}
    if target.is_dir():
        given = [k for k, v in model_options.items() if v is not None]
        if given:
            raise IKRHLSError(f"{', '.join(given)}: apply to a model file; the report of project {target} "
                              "follows its conversion (convert again to change it)")
        report = _project_report(target)
    else:
        from .hls_model import plan_model
        from .modelfile import import_keras

        auto = (args.precision or "").strip().lower() == "auto"
        if args.calibration is not None and not auto:
            raise IKRHLSError("--calibration: only --precision auto measures calibration data")
        if args.auto_width is not None and not auto:
            raise IKRHLSError("--auto-width: the width of the types --precision auto measures; give --precision auto")
        calibration = _load_npy(args.calibration, "--calibration") if args.calibration else None
        import_keras()
        graph, config, _ = plan_model(target, precision=args.precision,   # nothing is rendered
                                      strategy=args.strategy, reuse_factor=args.reuse_factor,
                                      config=args.config, io_type=args.io_type or "io_parallel",
                                      fifo_depth=args.fifo_depth or "model",
                                      side_channels=bool(args.side_channels),
                                      calibration=calibration, **({"part": args.part} if args.part else {}),
                                      auto_width=16 if args.auto_width is None else args.auto_width)
        report = build_report(graph, config)
    _warn_fit(report)
    if args.plot:
        plot_report(report, args.plot)
        logging.getLogger("ikr_hls").info("plot written to %s", args.plot)
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


def _warn_fit(report: dict) -> None:
    """One warning line when the estimate exceeds the fit limit of the part (or the part is
    unknown): ikr_hls.report.fit_warning."""
    from .report import fit_warning

    line = fit_warning(report)
    if line:
        logging.getLogger("ikr_hls").warning("%s", line)


def _project_report(project):
    """The report written at conversion, with the synthesis figures once Vitis has run."""
    import json

    from .errors import IKRHLSError
    from .report import REPORT_FILE
    from .vitis import find_csynth_report, read_csynth_report

    path = project / REPORT_FILE
    if not path.is_file():
        raise IKRHLSError(f"{project}: no {REPORT_FILE} (not an ikr-hls project?)")
    try:
        report = json.loads(path.read_text())
    except ValueError as exc:
        raise IKRHLSError(f"{path}: not valid JSON ({exc})") from None
    try:
        csynth = find_csynth_report(project)
    except IKRHLSError:
        csynth = None                       # not synthesised yet
    if csynth is not None:
        report["synthesis"] = read_csynth_report(csynth)
    return report


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
    from .errors import IKRHLSError
    from .hostbuild import DATAFLOW_SEED, find_compiler, run_csim
    from .synthcheck import scan_project

    for option, value in (("--seed", args.seed), ("--timeout", args.timeout)):
        if value is not None and not args.dataflow:
            raise IKRHLSError(f"{option}: applies to the threaded run only; add --dataflow")
    if args.timeout is not None and not args.timeout > 0:
        raise IKRHLSError(f"--timeout: expected a number of seconds > 0, got {args.timeout:g}")
    if args.seed is not None and not 0 <= args.seed < 2 ** 32:
        raise IKRHLSError(f"--seed: expected an integer in [0, 2**32), got {args.seed}")
    project = _project_dir(args.project_dir)
    find_compiler()
    log = logging.getLogger("ikr_hls")
    for finding in scan_project(project):          # firmware edited by hand, say
        log.warning("not synthesisable by Vitis HLS: %s", finding)
    log.info("building the %stestbench of %s ...", "threaded " if args.dataflow else "", project)
    result = run_csim(project, dataflow=args.dataflow, seed=args.seed, timeout=args.timeout)
    for line in result.mismatches:
        print(line)
    what = "csim --dataflow" if args.dataflow else "csim"
    if not result.passed:
        print(f"ikr-hls: {what} FAILED in {project}: {result.summary()} "
              f"(full output: {project}/build/csim/csim.log)", file=sys.stderr)
        return 1
    if not args.quiet:
        how = (f"; back to back through the DATAFLOW processes as threads over FIFOs of their declared depths, "
               f"seed {DATAFLOW_SEED if args.seed is None else args.seed}") if args.dataflow else ""
        print(f"{what} passed: {result.summary().removeprefix('PASS: ')}{how}")
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


def _log_to_stderr(level: int) -> None:
    """Log lines as `ikr-hls: message` on the current stderr: the handler this function added
    last time is replaced (main may run more than once in a process, as in the tests)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "ikr_hls_cli", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ikr-hls: %(message)s"))
    handler.ikr_hls_cli = True                           # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def _prebuild(args) -> int:
    import time

    from .hostbuild import prebuild_bridge

    start = time.perf_counter()
    path = prebuild_bridge()
    if not args.quiet:
        print(f"bridge ready: {path} ({time.perf_counter() - start:.1f} s); a project's first host build "
              "now compiles only its own firmware")
    return 0


def _parse(parser: argparse.ArgumentParser, argv) -> argparse.Namespace:
    """parse_args, except that an unknown option is told by its command's parser (its usage,
    not the top level's) with the nearest option it has: `--precison` -> did you mean --precision?"""
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    command = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.command]
    options = [s for action in command._actions for s in action.option_strings]
    hints = []
    for token in extra:
        if token.startswith("-"):
            close = difflib.get_close_matches(token.split("=", 1)[0], options, n=1, cutoff=0.6)
            if close:
                hints.append(f"{token.split('=', 1)[0]}: did you mean {close[0]}?")
    command.error(f"unrecognized arguments: {' '.join(extra)}" + (f" ({'; '.join(hints)})" if hints else ""))
    raise AssertionError("argparse's error() exits")       # pragma: no cover


COMMANDS = {"convert": _convert, "csim": _csim, "build": _build, "report": _report, "prebuild": _prebuild}
NEEDS_KERAS = {"convert"}


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = _parser()
    args = _parse(parser, argv)
    if args.quiet and args.verbose:
        parser.error("-q/--quiet and -v/--verbose exclude each other")
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    _log_to_stderr(level)
    for noisy in ("absl", "tensorflow", "h5py"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from .errors import IKRHLSError

    try:
        if args.command in NEEDS_KERAS:
            from .modelfile import check_model_path, import_keras
            check_model_path(args.model)             # a wrong path is told before seconds of TensorFlow
            import_keras()
        return COMMANDS[args.command](args)
    except IKRHLSError as exc:
        message = " ".join(str(exc).splitlines())         # one line, whatever a name or value holds
        print(f"ikr-hls: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ikr-hls: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
