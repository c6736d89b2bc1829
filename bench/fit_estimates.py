"""Will it fit? The resource estimate and the fit check (issue 26) of the shipped IKR LeNet-5 and
of a MobileNetV2-0.35 (32x32, random weights, io_stream) at ap_fixed<16,6> and <8,3>: per
strategy at reuse factor 1, and with reuse_factor="auto" (strategy auto too), against the
default part (xcvu13p, UltraScale+) and a 7-series part (xc7z045), with the conversion time.

    python bench/fit_estimates.py [--mobilenet] [--write docs/BENCHMARKS.md]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchdoc import mobilenet  # noqa: E402  (bench/, beside this script)
from compression import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
PARTS = ("xcvu13p-flga2577-2-e", "xc7z045ffg900-2")
PRECISIONS = ("ap_fixed<16,6>", "ap_fixed<8,3>")
SETTINGS = (("unrolled", 1), ("pattern", 1), ("pe", 1), ("auto", "auto"))
SECTION = "## Will it fit? Estimates against the part (issue 26)"



def rows(name: str, model, io_type: str, settings=SETTINGS) -> list:
    import ikr_hls

    out = []
    for precision in PRECISIONS:
        for part in PARTS:
            for strategy, reuse in settings:
                start = time.monotonic()
                report = ikr_hls.convert(model, output_dir="unused", precision=precision, strategy=strategy,
                                         reuse_factor=reuse, part=part, io_type=io_type).report()
                seconds = time.monotonic() - start
                t = report["totals"]
                e, fit = t["resources_estimate"], t["fit"]
                use = max(fit["use"].values())
                out.append([name, precision, part.split("-")[0], strategy, str(reuse), f"{e['lut']:,}", f"{e['ff']:,}",
                            f"{e['dsp']:,}", f"{e['bram_18k']:,}", f"{100 * use:.0f}%", "yes" if fit["fits"] else "no",
                            f"{t['interval_estimate_cycles']:,}", f"{seconds:.1f}"])
                print(" | ".join(out[-1]), flush=True)
    return out


def table(body: list) -> str:
    head = ["model", "precision", "part", "strategy", "R", "LUT", "FF", "DSP", "BRAM_18K", "largest share", "fits 80%",
            "interval (cycles)", "convert + report (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mobilenet", action="store_true", help="also MobileNetV2-0.35 at 32x32 (io_stream)")
    p.add_argument("--write", metavar="MD", help=f"write the section '{SECTION}' into this Markdown file")
    args = p.parse_args(argv)
    body = rows("LeNet-5 IKR", str(LENET), "io_parallel")
    if args.mobilenet:
        body += rows("MobileNetV2-0.35", mobilenet(), "io_stream", (("pattern", 1), ("auto", "auto")))
    text = table(body)
    print(text)
    if args.write:
        flag = " --mobilenet" if args.mobilenet else ""
        command = f"python bench/fit_estimates.py{flag} --write {args.write}"
        section = (f"{SECTION}\n\nThe report's resource estimate (every operator priced from the yosys operator "
                   "tables of the part's family; products where the code binds them) and its fit against the part, "
                   "per strategy at reuse factor 1 and with `reuse_factor=\"auto\"`, `strategy=\"auto\"` "
                   f"(ikr_hls/auto.py). Estimates, not Vitis results (docs/report.md says how far to trust them). "
                   "The first row's time includes loading TensorFlow and the model. Command (2 cores):"
                   f"\n\n```\n{command}\n```\n\n{text}\n")
        write_section(Path(args.write), section, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
