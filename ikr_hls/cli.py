"""The `ikr-hls` command line. User errors print one line on stderr and exit with code 2."""
from __future__ import annotations

import argparse
import logging
import os
import sys

EPILOG = """examples:
  ikr-hls convert examples/models/lenet5_ikr.h5 -o prj
  ikr-hls convert model.keras -o prj --force --check 100
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
    convert.add_argument("--project-name", default="myproject", help="top function name (default: myproject)")
    convert.add_argument("--force", action="store_true", help="overwrite an existing project directory")
    convert.add_argument("--check", type=int, default=0, metavar="N",
                         help="compile and compare N random inputs against Keras")
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
                  project_name=args.project_name, force=args.force, config=args.config)
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


COMMANDS = {"convert": _convert}
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
