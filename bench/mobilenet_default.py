"""Issue 26 item 6: a keras.applications MobileNetV2-0.35 (32x32, random weights) converted with
the defaults (no strategy, no reuse factor; ap_fixed<16,6>, io_stream, the default part):
the conversion's warning, the strategies and reuse factors it chose, the fit, the project's
size, and the host build's time (g++ on this machine), against the literal default form
(strategy unrolled, reuse factor 1) whose size and fit the report gives without a build.

    python bench/mobilenet_default.py [--no-compile] [--write docs/BENCHMARKS.md]
"""
from __future__ import annotations

import argparse
import collections
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchdoc import mobilenet  # noqa: E402  (bench/, beside this script)
from compression import write_section  # noqa: E402

SECTION = "## MobileNetV2 with the defaults (issue 26 item 6)"
PRECISION = "ap_fixed<16,6>"



def project_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file() and p.suffix in (".h", ".cpp")]
    return sum(len(p.read_text().splitlines()) for p in files), sum(p.stat().st_size for p in files)


def run(model, compile_it: bool, **settings) -> dict:
    import ikr_hls

    warnings: list = []
    handler = logging.Handler()
    handler.emit = lambda record: warnings.append(record.getMessage()) if record.levelno >= logging.WARNING else None
    logging.getLogger("ikr_hls").addHandler(handler)
    start = time.monotonic()
    out_dir = Path(tempfile.mkdtemp(prefix="mbv2_")) / "prj"
    hls = ikr_hls.convert(model, output_dir=out_dir, precision=PRECISION, io_type="io_stream", **settings)
    convert_s = time.monotonic() - start
    logging.getLogger("ikr_hls").removeHandler(handler)
    report = hls.report()
    fit = report["totals"]["fit"]
    forms = collections.Counter(f"{l['strategy']} R={l['reuse_factor']}" for l in report["layers"] if l["strategy"])
    row = dict(settings=", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults", convert_s=convert_s,
               warnings=warnings, forms=forms, fit=fit, interval=report["totals"]["interval_estimate_cycles"])
    if compile_it:
        # a cold build: an empty build cache, so that an earlier run's module is not taken
        os.environ["IKR_HLS_CACHE"] = tempfile.mkdtemp(prefix="mbv2_cache_")
        hls.write()
        row["lines"], row["bytes"] = project_size(out_dir)
        start = time.monotonic()
        cpu = time.process_time() + sum(os.times()[2:4])
        hls.compile()
        row["compile_s"] = time.monotonic() - start
        row["compile_cpu_s"] = time.process_time() + sum(os.times()[2:4]) - cpu
    return row


def lines_of(row: dict) -> list:
    fit = row["fit"]
    use = ", ".join(f"{k.upper()} {100 * v:.0f}%" for k, v in fit["use"].items())
    out = [f"- **{row['settings']}**: convert + plan {row['convert_s']:.1f} s; fits {fit['device']} at "
           f"{100 * fit['limit']:.0f}%: {'yes' if fit['fits'] else 'no'} ({use}); DATAFLOW interval "
           f"{row['interval']:,} cycles."]
    if "compile_s" in row:
        out.append(f"  Project: {row['lines']:,} lines of C++ ({row['bytes'] / 1e6:.1f} MB); host build "
                   f"{row['compile_s']:.0f} s wall, {row['compile_cpu_s']:.0f} s CPU (g++).")
    out.append("  Forms: " + ", ".join(f"{form} x{n}" for form, n in sorted(row["forms"].items())) + ".")
    for w in row["warnings"]:
        out.append(f"  Warning: `{w}`")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-compile", action="store_true", help="plan and report only, no host build")
    p.add_argument("--write", metavar="MD", help=f"write the section '{SECTION}' into this Markdown file")
    args = p.parse_args(argv)
    model = mobilenet()
    rows = [run(model, not args.no_compile),
            run(model, False, strategy="unrolled", reuse_factor=1)]
    text = "\n".join(line for row in rows for line in lines_of(row))
    print(text)
    if args.write:
        flag = " --no-compile" if args.no_compile else ""
        section = (f"{SECTION}\n\n`keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, "
                   f"classes=10)`, {PRECISION}, io_stream, the default part; the second row names the literal "
                   "default form, which is planned and reported but not built (its g++ build of ~450k lines "
                   "did not finish in 9 minutes). The host build is cold (an empty build cache; the "
                   "pybind11 bridge compiles beside the firmware unless `ikr-hls prebuild` made it). Command (2 cores, "
                   "machine shared with other jobs):"
                   f"\n\n```\npython bench/mobilenet_default.py{flag} --write {args.write}\n```\n\n{text}\n")
        write_section(Path(args.write), section, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
