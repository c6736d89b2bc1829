"""Prune the trained LeNet-5 with IKR patterns while fine-tuning it; save examples/models/lenet5_ikr.h5.

    python examples/prune_lenet5.py [--epochs 24] [--prune-epochs 12] [--seed 0]

Needs examples/models/lenet5.h5 (python examples/train_lenet5.py). conv1 keeps 4 of its 25
kernel positions, conv2 keeps 3, each from a library of at most 8 patterns; fc1 and fc2 lose
94% of their weights by magnitude, fc3 70%. The schedule (tfmot's PolynomialDecay) prunes
gradually over the first half of the fine-tuning, the second half recovers the accuracy.
Runs in about a minute on 2 CPU cores.
"""
import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ikr_hls.datasets import mnist_split  # noqa: E402
from ikr_hls.pruning import IKRPruning, summary  # noqa: E402

MODELS = Path(__file__).parent / "models"
BATCH = 64


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dense", default=str(MODELS / "lenet5.h5"))
    parser.add_argument("--out", default=str(MODELS / "lenet5_ikr.h5"))
    parser.add_argument("--epochs", type=int, default=24, help="fine-tuning epochs")
    parser.add_argument("--prune-epochs", type=int, default=12, help="epochs until the targets are reached")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    x_train, y_train, x_test, y_test = mnist_split()
    dense = keras.models.load_model(args.dense, compile=False)
    model = keras.models.load_model(args.dense, compile=False)
    for m in (dense, model):
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    _, dense_acc = dense.evaluate(x_test, y_test, verbose=0)

    steps_per_epoch = int(np.ceil(len(x_train) * 0.9 / BATCH))       # validation_split=0.1 below
    pruning = IKRPruning(
        keep={"conv1": 4, "conv2": 3}, library_size=8,
        dense_sparsity={"fc1": 0.94, "fc2": 0.94, "fc3": 0.7},
        begin_step=0, end_step=args.prune_epochs * steps_per_epoch, frequency=steps_per_epoch // 2)
    model.fit(x_train, y_train, batch_size=BATCH, epochs=args.epochs, validation_split=0.1, verbose=2,
              callbacks=[pruning])
    _, pruned_acc = model.evaluate(x_test, y_test, verbose=0)

    print()
    summary(model, reference=dense)           # kept energy: share of the dense weights' w**2
    print(f"\ntest accuracy on {len(x_test)} held-out images: dense {dense_acc:.4f}, "
          f"IKR-pruned {pruned_acc:.4f} ({100 * (pruned_acc - dense_acc):+.1f} points)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out, include_optimizer=False)                    # zeros are exact in the file
    print(f"saved {args.out} ({os.path.getsize(args.out) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
