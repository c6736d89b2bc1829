"""Conversion time of keras.applications models at 32x32x3 (random weights), and conversion
throughput in weights per second.

    python bench/convert_speed.py [--models DenseNet121,ResNet50] [--precision float]
        [--strategy pattern] [--io-type io_stream] [--profile OUT.prof] [--markdown]

Each model is built with weights=None and seed 0 (nothing is downloaded), then timed in
`ikr_hls.convert` (frontend, passes, plan and the rendering of every file of the project, as
convert does; the project is not written). --profile writes a cProfile of the conversions.
"""
import argparse
import cProfile
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ikr_hls  # noqa: E402

# (keras.applications constructor, its keyword arguments): the models of docs/converting.md
MODELS = {
    "MobileNetV2-0.35": ("MobileNetV2", dict(alpha=0.35)),
    "MobileNetV3Small-minimalistic": ("MobileNetV3Small", dict(minimalistic=True)),
    "MobileNetV3Small": ("MobileNetV3Small", {}),
    "EfficientNetB0": ("EfficientNetB0", {}),
    "DenseNet121": ("DenseNet121", {}),
    "ResNet50": ("ResNet50", {}),
}


def application(name: str, seed: int = 0):
    """A keras.applications model at 32x32x3 with random weights and 10 classes."""
    constructor, options = MODELS[name]
    keras.utils.set_random_seed(seed)
    return getattr(keras.applications, constructor)(input_shape=(32, 32, 3), weights=None, classes=10, **options)


def measure(name: str, precision: str, strategy: str, io_type: str, profiler=None) -> dict:
    model = application(name)
    weights = int(sum(np.prod(w.shape) for w in model.weights))
    with tempfile.TemporaryDirectory() as tmp:
        if profiler:
            profiler.enable()
        start = time.perf_counter()
        hls = ikr_hls.convert(model, output_dir=os.path.join(tmp, "prj"), precision=precision, strategy=strategy,
                              io_type=io_type)
        seconds = time.perf_counter() - start
        if profiler:
            profiler.disable()
    return dict(model=name, weights=weights, layers=len(hls.graph.layers), seconds=seconds,
                per_second=weights / seconds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="DenseNet121,ResNet50")
    parser.add_argument("--precision", default="float")
    parser.add_argument("--strategy", default="pattern")
    parser.add_argument("--io-type", default="io_stream")
    parser.add_argument("--profile", help="write a cProfile of the conversions to this file")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    profiler = cProfile.Profile() if args.profile else None
    rows = [measure(name, args.precision, args.strategy, args.io_type, profiler) for name in args.models.split(",")]
    if profiler:
        profiler.dump_stats(args.profile)
    if args.markdown:
        print("| model | weights | layers | convert (s) | weights/s |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for r in rows:
            print(f"| {r['model']} | {r['weights']:,} | {r['layers']} | {r['seconds']:.1f} | {r['per_second']:,.0f} |")
    else:
        for r in rows:
            print(f"{r['model']}: {r['weights']:,} weights, {r['layers']} layers, convert {r['seconds']:.1f} s, "
                  f"{r['per_second']:,.0f} weights/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
