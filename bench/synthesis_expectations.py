"""The "what to expect from synthesis" tables of docs/vitis.md: per layer of the shipped
IKR LeNet-5, what the ikr_hls hardware model reads from the generated code (II, steps,
latency, multipliers, registers, RAM, ROM) and the resource estimates it prices from the
yosys operator tables, for a few settings.

    python bench/synthesis_expectations.py            # print the tables
    python bench/synthesis_expectations.py --write    # replace them in docs/vitis.md

tests/test_hardware.py checks that docs/vitis.md holds what this prints.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "models" / "lenet5_ikr.h5"
DOC = ROOT / "docs" / "vitis.md"
BEGIN, END = "<!-- synthesis-expectations:begin -->", "<!-- synthesis-expectations:end -->"
SETTINGS = [("ap_fixed<16,6>", "unrolled", 1), ("ap_fixed<16,6>", "pattern", 1), ("ap_fixed<16,6>", "pattern", 4)]


def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


def table(precision: str, strategy: str, reuse: int) -> str:
    import ikr_hls

    report = ikr_hls.convert(str(MODEL), output_dir="unused", precision=precision, strategy=strategy,
                             reuse_factor=reuse).report()
    t = report["totals"]
    lines = [f"**{precision}, strategy {strategy}, reuse factor {reuse}** "
             f"(`ikr-hls report examples/models/lenet5_ikr.h5 --precision '{precision}' "
             f"--strategy {strategy} --reuse-factor {reuse}`)", "",
             "| layer | II | steps | latency (cycles) | multipliers | registers (bits) | RAM (bits) | ROM (bits) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for l in report["layers"]:
        lines.append(f"| {l['name']} ({l['kind']}) | {l['ii']} | {_n(l['iterations'])} | "
                     f"{_n(l['latency_estimate_cycles'])} | {_n(l['multipliers'])} | {_n(l['registers_bits'])} | "
                     f"{_n(l['ram_bits'])} | {_n(l['rom_bits'])} |")
    lines.append(f"| DATAFLOW total (buffers included) | | | {_n(t['latency_estimate_cycles'])} | "
                 f"{_n(t['multipliers'])} | {_n(t['registers_bits'])} | {_n(t['ram_bits'])} | {_n(t['rom_bits'])} |")
    lines += ["", f"Interval (a new image every): {_n(t['interval_estimate_cycles'])} cycles."]
    e, fit = t["resources_estimate"], t["fit"]
    bindings = ", ".join(f"{l['name']} {l['binding']}" for l in report["layers"] if l["binding"])
    lines.append(f"Estimated resources (yosys operator tables, {t['resources_estimate_source']['family']}, "
                 f"not Vitis; products: {bindings}): {_n(e['lut'])} LUT, {_n(e['ff'])} FF, {_n(e['dsp'])} DSP, "
                 f"{_n(e['bram_18k'])} BRAM_18K; {'fits' if fit['fits'] else 'does NOT fit'} "
                 f"{fit['device']} within {100 * fit['limit']:.0f}%.")
    lines.append("")
    return "\n".join(lines)


def tables() -> str:
    return "\n".join(table(*setting) for setting in SETTINGS)


def in_doc(text: str) -> str:
    """The part of docs/vitis.md between the markers."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the tables in docs/vitis.md")
    args = parser.parse_args()
    text = tables()
    if not args.write:
        print(text)
        return 0
    doc = DOC.read_text()
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    DOC.write_text(doc[:start] + "\n" + text.strip("\n") + "\n" + doc[end:])
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
