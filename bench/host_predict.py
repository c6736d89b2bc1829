"""Host predict speed of the shipped IKR LeNet-5, per precision and strategy, for the source
tree this script sits in (or the one given): best of 5 runs over 1000 held-out MNIST images,
all threads and one thread. Run it on two trees (a `git worktree` of an older commit) to
compare commits on the same machine in the same minutes.

    python bench/host_predict.py [--tree PATH] [--images 1000]
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def best_rate(predict, x, runs=5) -> float:
    predict(x)                                   # warm: threads, caches
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        predict(x)
        best = min(best, time.perf_counter() - start)
    return len(x) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    sys.path.insert(0, str(tree))
    import ikr_hls
    from ikr_hls.datasets import mnist_split

    assert Path(ikr_hls.__file__).resolve().is_relative_to(tree), f"ikr_hls imported from {ikr_hls.__file__}"
    x = mnist_split()[2][: args.images]
    model = tree / "examples" / "models" / "lenet5_ikr.h5"
    print("| tree | precision | strategy | images/s | images/s, one thread |\n|---|---|---|---:|---:|")
    for precision in ("ap_fixed<16,6>", "float"):
        for strategy in ("unrolled", "pattern"):
            hls = ikr_hls.convert(str(model), output_dir=Path(tempfile.mkdtemp()) / "p",
                                  precision=precision, strategy=strategy)
            compiled = hls.compile()
            rate = best_rate(compiled.predict, x)
            one = best_rate(lambda batch, compiled=compiled: compiled.predict(batch, threads=1), x)
            print(f"| {tree.name} | {precision} | {strategy} | {rate:,.0f} | {one:,.0f} |")


if __name__ == "__main__":
    main()
