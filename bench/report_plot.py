"""`report --plot` at scale (issue 26, item 7): how long plot_report takes and how large a
picture it draws, for the shipped IKR LeNet-5 and a MobileNetV2-0.35 (32x32, random weights,
io_stream, strategy pattern) in floating point (convert's default), at ap_fixed<16,6>, and
IKR-pruned once (keep 4, 8 patterns: its 3x3 convs get libraries to draw) at ap_fixed<16,6>.
Each plot is drawn `--repeat` times (the best wall and CPU time kept: the machine is shared);
the report's own time is the conversion (in memory) and build_report; the first row's includes
loading TensorFlow.

    python bench/report_plot.py [--repeat 3] [--out DIR] [--write docs/BENCHMARKS.md]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchdoc import mobilenet  # noqa: E402  (bench/, beside this script)
from compression import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
SECTION = "## Report plot at scale (issue 26)"



def row(name: str, model, options: dict, out: Path, repeat: int) -> list:
    import matplotlib.image

    import ikr_hls
    from ikr_hls.report import plot_report
    from ikr_hls.report.plot import MAX_BARS, compression_panels, hardware_panels, trivial_library

    start = time.perf_counter()
    report = ikr_hls.convert(model, output_dir=str(out / "unused"), **options).report()
    report_s = time.perf_counter() - start
    png = out / f"{name.replace(' ', '_').replace('<', '').replace('>', '').replace(',', '_')}.png"
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        plot_report(report, png)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    height, width = matplotlib.image.imread(str(png)).shape[:2]
    libraries = [l for l in report["layers"] if l.get("patterns")]
    trivial = sum(trivial_library(l) for l in libraries)
    panels = [p.bars for p in compression_panels(report)] + [bars for _, bars, _ in hardware_panels(report)]
    bars = max(len(b) for b in panels)
    cells = [name, str(len(report["layers"])), f"{len(libraries)} ({trivial} trivial)",
             f"{bars} -> {min(bars, MAX_BARS)}", f"{report_s:.1f}", f"{min(times):.1f}", f"{min(cpu):.1f}",
             f"{width} x {height}"]
    print(" | ".join(cells), flush=True)
    return cells


def table(body: list) -> str:
    head = ["model", "layers", "pattern libraries", "bars in the longest panel", "convert + report (s)",
            "plot (s, best of the runs)",
            "plot CPU (s)", "picture (px)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="plots drawn per model (the best is kept)")
    p.add_argument("--out", metavar="DIR", help="keep the PNGs here (default: a temporary directory)")
    p.add_argument("--write", metavar="MD", help=f"write the section '{SECTION}' into this Markdown file")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat: at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        body = [row("LeNet-5 IKR ap_fixed<16,6>", str(LENET), {"precision": "ap_fixed<16,6>"}, out, args.repeat)]
        model = mobilenet()
        stream = {"io_type": "io_stream", "strategy": "pattern"}
        body.append(row("MobileNetV2-0.35 float", model, stream, out, args.repeat))
        fixed = {**stream, "precision": "ap_fixed<16,6>"}
        body.append(row("MobileNetV2-0.35 ap_fixed<16,6>", model, fixed, out, args.repeat))
        from ikr_hls.pruning.callback import prune_once

        prune_once(model, keep=4, library_size=8)        # the 3x3 convs get libraries; 1x1 stay trivial
        body.append(row("MobileNetV2-0.35 IKR keep 4 of 8 patterns, ap_fixed<16,6>", model, fixed, out, args.repeat))
    text = table(body)
    print(text)
    if args.write:
        command = f"python bench/report_plot.py --repeat {args.repeat} --write {args.write}"
        section = (f"{SECTION}\n\n`plot_report` (what `ikr-hls report MODEL --plot OUT.png` draws) on the shipped "
                   "LeNet-5 and on a MobileNetV2-0.35 at 32x32 (random weights, io_stream, strategy pattern): "
                   "its time and the size of the picture. Trivial pattern libraries (one pattern keeping the "
                   "whole kernel) are counted, not drawn; a panel of more bars than the limit shows the largest "
                   "and one \"N others\" bar (docs/report.md). Before this (commit bab978b) the ap_fixed<16,6> "
                   "MobileNetV2 plot took 71 s and drew 1500 x 11095 px (52 one-pattern libraries, every layer a "
                   "bar, labels over each other), and `ikr-hls report mbv2.keras --io-type io_stream --strategy "
                   "pattern --precision 'ap_fixed<16,6>' --plot out.png` 125 s (76 s CPU) with no progress; now "
                   "24 s (11 s CPU; TensorFlow's start-up and the conversion included), with a line per stage. "
                   "Command (2 cores, shared with other jobs: wall times about twice the CPU time):"
                   f"\n\n```\n{command}\n```\n\n{text}\n")
        write_section(Path(args.write), section, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
