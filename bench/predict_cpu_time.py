"""Host predict throughput of the shipped IKR LeNet-5 measured in CPU time, for comparing two
checkouts on a loaded machine, where wall-clock figures swing several-fold between repeats.

    PYTHONPATH=<checkout> python bench/predict_cpu_time.py [--repeats 15]

Converts examples/models/lenet5_ikr.h5 of the checkout that `ikr_hls` is imported from at
ap_fixed<16,6>, compiles it, and prints the best of --repeats predicts of the 1000 held-out
MNIST images as images per CPU second (every thread of the process counted).
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import ikr_hls  # noqa: E402
from ikr_hls.datasets import mnist_split  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    root = Path(ikr_hls.__file__).resolve().parent.parent
    x = mnist_split()[2]
    with tempfile.TemporaryDirectory() as tmp:
        hls = ikr_hls.convert(root / "examples" / "models" / "lenet5_ikr.h5", output_dir=Path(tmp) / "prj",
                              precision="ap_fixed<16,6>")
        hls.compile()
        hls.predict(x[:10])
        best = 0.0
        for _ in range(args.repeats):
            start = time.process_time()
            hls.predict(x)
            best = max(best, len(x) / (time.process_time() - start))
    print(f"{root}: {best:,.0f} images per CPU second (best of {args.repeats}, {len(x)} images)")


if __name__ == "__main__":
    main()
