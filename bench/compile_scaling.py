"""Convert + compile time and generated source size of single 3x3 conv layers, dense and
IKR-pruned (keep 4 of 9, library of 8 patterns), in every conv strategy.

    python bench/compile_scaling.py [--markdown] [--precision "ap_fixed<16,6>"] [--shapes 16x16x8x16,...]

Each build uses an empty build cache, so every compile is cold: g++ on the generated project,
with the pybind11 bridge that `ikr-hls prebuild` compiled once per install (run first, timed
apart; the 'bridge only' row is an almost empty model). Per strategy, a least-squares line
through (nonzero taps, compile time) gives the slope: seconds per 1,000 taps.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ikr_hls  # noqa: E402
from ikr_hls import hostbuild  # noqa: E402
from ikr_hls.config import STRATEGIES  # noqa: E402

SHAPES = [(16, 16, 8, 16), (32, 32, 16, 32), (64, 64, 16, 32)]
KEEP = 4


def conv_model(h, w, c, f, keep, seed=0):
    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((h, w, c)), keras.layers.Conv2D(f, 3, padding="same", name="conv")])
    kernel = rng.normal(0, 0.3, (3, 3, c, f))
    if keep < 9:
        library = np.zeros((8, 9), bool)
        for row in library:
            row[rng.choice(9, keep, replace=False)] = True
        mask = library[rng.integers(0, 8, (c, f))].reshape(c, f, 3, 3).transpose(2, 3, 0, 1)
        kernel = kernel * mask
    model.get_layer("conv").set_weights([kernel.astype("float32"), rng.normal(0, 0.1, f).astype("float32")])
    return model


def measure(model, strategy, workdir, precision="float"):
    os.environ["IKR_HLS_CACHE"] = str(Path(workdir) / "cache")
    hostbuild._LOADED.clear()
    start = time.perf_counter()
    hls = ikr_hls.convert(model, output_dir=Path(workdir) / "prj", strategy=strategy, precision=precision)
    hls.write()
    convert_s = time.perf_counter() - start
    start = time.perf_counter()
    hls.compile()
    compile_s = time.perf_counter() - start
    firmware = {k: v for k, v in hls.files.items() if k.startswith("firmware/") and "/ikr/" not in k}
    x = np.random.default_rng(1).normal(size=(2, *hls.input_shape)).astype(np.float32)
    err = float(np.max(np.abs(hls.predict(x) - model.predict(x, verbose=0))))
    return dict(convert_s=convert_s, compile_s=compile_s, lines=sum(v.count("\n") for v in firmware.values()),
                kib=sum(len(v) for v in firmware.values()) / 1024, max_err=err,
                nnz=int(np.count_nonzero(model.get_layer("conv").kernel.numpy())))


def bridge_only(workdir):
    """Compile time of an almost empty model: the pybind11 part every build pays."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    return measure_dense(model, workdir)


def measure_dense(model, workdir):
    os.environ["IKR_HLS_CACHE"] = str(Path(workdir) / "cache")
    hostbuild._LOADED.clear()
    hls = ikr_hls.convert(model, output_dir=Path(workdir) / "prj")
    start = time.perf_counter()
    hls.compile()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--precision", default="float",
                        help="float (default) or a fixed-point type; fixed point builds the integer host model")
    parser.add_argument("--shapes", default=",".join("x".join(map(str, s)) for s in SHAPES),
                        help="layers as HxWxCxF, comma-separated (default: %(default)s)")
    args = parser.parse_args()
    try:
        shapes = [tuple(int(d) for d in item.split("x")) for item in args.shapes.split(",")]
        if any(len(s) != 4 for s in shapes):
            raise ValueError
    except ValueError:
        parser.error(f"--shapes: expected HxWxCxF[,HxWxCxF...], got {args.shapes!r}")
    rows = []
    start = time.perf_counter()
    hostbuild.prebuild_bridge()
    prebuild_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        base = bridge_only(Path(tmp) / "bridge")
        for h, w, c, f in shapes:
            for keep in (9, KEEP):
                model = conv_model(h, w, c, f, keep)
                for strategy in STRATEGIES:
                    r = measure(model, strategy, Path(tmp) / f"{h}_{c}_{f}_{keep}_{strategy}", args.precision)
                    r.update(layer=f"{h}x{w}x{c}->{f}", kind="dense" if keep == 9 else f"IKR keep {keep}/9",
                             strategy=strategy)
                    rows.append(r)
                    print(f"{r['layer']:>14} {r['kind']:>13} {strategy:>9}: convert {r['convert_s']:5.2f} s, "
                          f"compile {r['compile_s']:5.1f} s, {r['lines']:6d} lines, {r['kib']:7.1f} KiB, "
                          f"nnz {r['nnz']}, max err {r['max_err']:.1e}", file=sys.stderr)
    if args.markdown:
        print(f"`ikr-hls prebuild` (once per install; 0 if it was already built): {prebuild_s:.1f} s. "
              f"Bridge only (an almost empty 4->2 dense model, prebuilt bridge): {base:.1f} s of g++.\n")
        print(f"Precision {args.precision}.\n")
        print("| layer | weights | strategy | nonzero weights | convert (s) | compile, cold (s) | firmware lines "
              "| firmware KiB | max abs err vs Keras |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['layer']} | {r['kind']} | {r['strategy']} | {r['nnz']} | {r['convert_s']:.2f} | "
                  f"{r['compile_s']:.1f} | {r['lines']} | {r['kib']:.1f} | {r['max_err']:.1e} |")
        print("\n| strategy | slope (s per 1,000 taps) | intercept (s) | largest residual (s) | slowest (s) |")
        print("|---|---:|---:|---:|---:|")
        for strategy in STRATEGIES:
            mine = [r for r in rows if r["strategy"] == strategy]
            taps = np.array([r["nnz"] for r in mine], float)
            secs = np.array([r["compile_s"] for r in mine])
            slope, intercept = np.polyfit(taps, secs, 1) if len(set(taps)) > 1 else (0.0, float(secs.mean()))
            residual = np.max(np.abs(secs - (slope * taps + intercept)))
            print(f"| {strategy} | {1000 * slope:.2f} | {intercept:.1f} | {residual:.1f} | {secs.max():.1f} |")


if __name__ == "__main__":
    main()
