"""A CIFAR-size CNN in io_stream: IKR-pruned, converted to streaming HLS C++, checked on the host.

    python examples/cifar_stream.py [--output-dir cifar_prj] [--strategy pattern]
                                    [--precision "ap_fixed<16,6>"] [--reuse 1|balanced]
                                    [--epochs 2] [--seed 0]

The model (`cifar_cnn`, which tests/test_stream_scale.py and bench/stream_scale.py reuse): a
32x32x3 input, four 3x3 Conv2D layers with ReLU ('same' padding; 32, 32, 64 and 64 channels),
a 2x2 max pooling after the second and the third, global average pooling and a Dense head
(64 ReLU, 10 softmax).

Pruning: the package's IKRPruning callback during a short fit on random images with random
labels (no package ships CIFAR; this example checks the hardware, not accuracy): every 3x3
kernel keeps 4 of its 9 positions, from a library of at most 8 patterns per layer, and each
Dense layer loses half of its weights.

Conversion: io_type="io_stream" (layers talk through hls::stream FIFOs of pixels, each conv
keeps 2 rows of its input in line buffers; io_parallel would keep whole feature maps between
layers), fixed point (ap_fixed<16,6> by default), conv strategy "pattern" (one processing
element per IKR pattern) by default, reuse factor 1 (every product its own multiplier).
--reuse balanced gives each conv the reuse factor first conv's input pixels / its own input
pixels (here 1, 1, 4, 16): a layer after a pooling gets more cycles per pixel, so every conv
takes about as long per image and the deeper layers share their multipliers (about a third
of reuse 1's). Its host build is slow: the pattern strategy writes out which window register
each PE instance reads in each of the R cycles, and g++ needs minutes for that at R = 16
(docs/BENCHMARKS.md, "io_stream at scale").

Checks, on 32x32 tiles of the two colour photos that scikit-learn ships (china.jpg and
flower.jpg, shrunk 4x; real images, though not CIFAR):

- the fixed-point C++ equals hls.emulate (the numpy reference of the hardware) bit for bit;
- the same model converted in float: its C++ equals Keras within rtol 1e-4 / atol 1e-5;
- the fixed-point C++'s distance from Keras is printed beside it.

Then a summary: multipliers, II, latency and interval from the report (analytic estimates,
not synthesis), line-buffer and FIFO bits against io_parallel's buffers, code size. The
script exits with code 1 when a check fails. About 20 s on 2 CPU cores, a cold build cache included.
"""
import argparse
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers as L  # noqa: E402

import ikr_hls  # noqa: E402
from ikr_hls.config import STRATEGIES  # noqa: E402
from ikr_hls.pruning import IKRPruning, prune_once, summary  # noqa: E402

KEEP, LIBRARY_SIZE, DENSE_SPARSITY = 4, 8, 0.5      # IKR targets of every conv / Dense layer
FIXED = "ap_fixed<16,6>"
RTOL, ATOL = 1e-4, 1e-5                             # float C++ against Keras, as `ikr-hls convert --check`


# ----- the model ---------------------------------------------------------------------------------

def cifar_cnn(input_size=32, classes=10, filters=(32, 32, 64, 64), seed=None) -> keras.Model:
    """The CIFAR-size CNN at any square input size (a multiple of 4): its weights do not depend
    on the image size (global average pooling before the head), so the same seed gives the
    same weights at every size."""
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inp = keras.Input((input_size, input_size, 3), name="image")
    x = L.Conv2D(filters[0], 3, padding="same", activation="relu", name="conv1")(inp)
    x = L.Conv2D(filters[1], 3, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(2, name="pool1")(x)
    x = L.Conv2D(filters[2], 3, padding="same", activation="relu", name="conv3")(x)
    x = L.MaxPooling2D(2, name="pool2")(x)
    x = L.Conv2D(filters[3], 3, padding="same", activation="relu", name="conv4")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(64, activation="relu", name="fc1")(x)
    out = L.Dense(classes, activation="softmax", name="fc2")(x)
    return keras.Model(inp, out, name="cifar_cnn")


def prune_at_once(model: keras.Model) -> keras.Model:
    """The example's IKR targets in one shot (prune_once), for an untrained model: tests and
    benchmarks, where the structure matters and the values do not."""
    prune_once(model, keep=KEEP, library_size=LIBRARY_SIZE, dense_sparsity=DENSE_SPARSITY)
    return model


def prune_while_fitting(model: keras.Model, epochs=2, images=256, batch=32, seed=0) -> keras.Model:
    """IKRPruning during a short fit on random images and labels: the masks are computed at the
    first step (end_step=None: the targets at once) and held while the kept weights train, so
    the saved weights are exact zeros outside the patterns.

    Pruned at once rather than gradually on purpose: on random labels some filters die (their
    ReLU never fires), and a weight that a gradual schedule brings back into such a filter's
    pattern stays exactly 0.0; the converter groups kernels by their exact nonzero positions,
    so those kernels get processing elements of their own in the pattern strategy (on a
    2-epoch gradual run: 18 PEs in conv3 and 43 in conv4 instead of 8 each, and a host build
    about twice as long)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (images, *model.input_shape[1:])).astype("float32")
    y = rng.integers(0, model.output_shape[-1], images)
    pruning = IKRPruning(keep=KEEP, library_size=LIBRARY_SIZE, dense_sparsity=DENSE_SPARSITY,
                         begin_step=0, end_step=None)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[pruning])
    return model


def balanced_reuse(model: keras.Model) -> dict:
    """{conv name: reuse factor}: the first conv's input pixels over the conv's own, so that
    every conv spends about as many cycles on an image (a pixel of a pooled map gets R cycles)."""
    convs = [layer for layer in model.layers if isinstance(layer, L.Conv2D)]
    pixels = {layer.name: int(np.prod(layer.input.shape[1:3])) for layer in convs}
    first = pixels[convs[0].name]
    return {"default": 1, **{name: max(1, first // p) for name, p in pixels.items()}}


def photo_tiles(size=32, shrink=4, stride=None) -> np.ndarray:
    """(N, size, size, 3) float32 in [0, 1]: tiles of scikit-learn's two sample photos, each
    shrunk by `shrink` (block means), `stride` pixels apart (default: size, no overlap)."""
    from sklearn.datasets import load_sample_images

    stride = stride or size
    tiles = []
    for image in load_sample_images().images:            # (427, 640, 3) uint8 each
        h, w = (image.shape[0] // shrink) * shrink, (image.shape[1] // shrink) * shrink
        small = image[:h, :w].reshape(h // shrink, shrink, w // shrink, shrink, 3).mean(axis=(1, 3)) / 255.0
        for r in range(0, small.shape[0] - size + 1, stride):
            for c in range(0, small.shape[1] - size + 1, stride):
                tiles.append(small[r:r + size, c:c + size])
    return np.asarray(tiles, dtype=np.float32)


# ----- what the report says -----------------------------------------------------------------------

def line_buffer_bits(report: dict) -> int:
    """Bits of every layer's line buffers (the report's memories named so)."""
    return sum(m["count"] * m["depth"] * m["width"] for layer in report["layers"]
               for m in layer.get("memories", []) if m["what"] == "line buffers")


def firmware_size(hls) -> tuple:
    """(lines, KiB) of the generated top, layer and weight files (not the copied library headers)."""
    texts = [text for path, text in hls.files.items()
             if path.startswith("firmware/") and not path.startswith("firmware/ikr/")]
    return sum(t.count("\n") for t in texts), sum(len(t) for t in texts) / 1024


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


# ----- main -----------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="cifar_prj")
    parser.add_argument("--strategy", default="pattern", choices=STRATEGIES, help="conv strategy (default: pattern)")
    parser.add_argument("--precision", default=FIXED, help=f"fixed-point type (default: {FIXED})")
    parser.add_argument("--reuse", default="1",
                        help="an integer (default 1), or 'balanced': per conv, first conv's input pixels / its own")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the pruning fit (random data)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    started = time.perf_counter()

    model = cifar_cnn(seed=args.seed)
    _, fit_s = timed(lambda: prune_while_fitting(model, epochs=args.epochs, seed=args.seed))
    pruned = summary(model, print_fn=None)
    print(f"{model.name}: {model.input_shape[1:]} -> {model.output_shape[1:]}, IKR-pruned while fitting "
          f"{args.epochs} epochs on random data ({fit_s:.1f} s): keep {KEEP}/9 per 3x3 kernel, at most "
          f"{LIBRARY_SIZE} patterns per layer, Dense sparsity {DENSE_SPARSITY}")
    print(f"  nonzero parameters {pruned.totals['nonzero']:,}/{pruned.totals['params']:,} "
          f"({pruned.totals['params_reduction']:.1f}x), MACs {pruned.totals['macs_pruned']:,}/"
          f"{pruned.totals['macs_dense']:,} ({pruned.totals['macs_reduction']:.1f}x)")

    try:
        reuse = balanced_reuse(model) if args.reuse == "balanced" else int(args.reuse)
    except ValueError:
        parser.error(f"--reuse: 'balanced' or an integer, got {args.reuse!r}")
    out = Path(args.output_dir)
    common = dict(strategy=args.strategy, reuse_factor=reuse, io_type="io_stream", force=True)
    fixed, convert_s = timed(lambda: ikr_hls.convert(model, output_dir=out, precision=args.precision, **common))
    fixed.write()
    _, fixed_compile_s = timed(fixed.compile)
    flt = ikr_hls.convert(model, output_dir=out.with_name(out.name + "_float"), precision="float", **common)
    _, float_compile_s = timed(flt.compile)
    print(f"converted in {convert_s:.1f} s to {out}/ (io_stream, {args.precision}, strategy {args.strategy}); "
          f"host build {fixed_compile_s:.1f} s, float build {float_compile_s:.1f} s")
    print()
    fixed.summary()

    x = photo_tiles()
    y_keras = np.asarray(model.predict(x, verbose=0))
    y_fixed, predict_s = timed(lambda: fixed.predict(x))
    exact = bool(np.array_equal(y_fixed, fixed.emulate(x)))
    y_float = flt.predict(x)
    float_ok = bool(np.allclose(y_float, y_keras, rtol=RTOL, atol=ATOL))

    report = fixed.report()
    totals = report["totals"]
    parallel = ikr_hls.convert(model, output_dir=out.with_name(out.name + "_parallel"), precision=args.precision,
                               **{**common, "io_type": "io_parallel"}).report()["totals"]
    iis = sorted({layer["ii"] for layer in report["layers"]})
    clock = report["clock_period_ns"]
    lines, kib = firmware_size(fixed)
    fifo_bits = totals["buffer_ram_bits"] + totals["buffer_registers_bits"]
    parallel_bits = parallel["buffer_ram_bits"] + parallel["buffer_registers_bits"]
    reuse_text = (", ".join(f"{k} {v}" for k, v in reuse.items() if k != "default") if isinstance(reuse, dict)
                  else str(reuse))
    print()
    print("hardware (the report's analytic estimates, not synthesis):")
    print(f"  multipliers          {totals['multipliers']:,} (reuse {reuse_text})")
    print(f"  II                   {', '.join(map(str, iis))} (pixel loops; "
          f"{'every layer' if len(iis) == 1 else 'per layer above'})")
    print(f"  latency              {totals['latency_estimate_cycles']:,} cycles (an upper bound in io_stream: "
          "the layers overlap)")
    print(f"  interval             {totals['interval_estimate_cycles']:,} cycles: "
          f"{1e9 / (totals['interval_estimate_cycles'] * clock):,.0f} images/s at {clock:g} ns")
    print(f"  line buffers         {line_buffer_bits(report):,} bits")
    print(f"  FIFOs between layers {fifo_bits:,} bits (io_parallel's buffers for the same model: "
          f"{parallel_bits:,} bits)")
    storage = totals["storage_bits"]
    print(f"  ROMs                 {totals['rom_bits']:,} bits; kernel storage {storage['ikr']:,} bits IKR, "
          f"{storage['dense']:,} dense")
    print(f"  generated firmware   {lines:,} lines, {kib:,.0f} KiB")
    print()
    print(f"checks on {len(x)} photo tiles (scikit-learn's china.jpg and flower.jpg, 32x32):")
    print(f"  C++ {args.precision} vs hls.emulate: {'bit-exact' if exact else 'DIFFERS'}; "
          f"max |C++ - Keras| = {np.max(np.abs(y_fixed - y_keras)):.2e}; "
          f"{len(x) / predict_s:,.0f} images/s on the host")
    print(f"  C++ float vs Keras: max |diff| = {np.max(np.abs(y_float - y_keras)):.2e} "
          f"({'within' if float_ok else 'OUTSIDE'} rtol {RTOL:g} / atol {ATOL:g})")
    print(f"total {time.perf_counter() - started:.0f} s")
    failed = [what for what, bad in ((f"{args.precision} C++ differs from hls.emulate", not exact),
                                     ("float C++ differs from Keras", not float_ok)) if bad]
    for what in failed:
        print(f"FAILED {what}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
