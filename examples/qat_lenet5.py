"""Quantization-aware IKR LeNet-5 with HGQ2: train it on the MNIST subset with a bit width per
weight and per activation (an EBOPs penalty of strength --beta) while IKRPruning prunes it to
the shipped IKR LeNet-5's targets, then convert it with the types it trained and measure it.

    python examples/qat_lenet5.py [--epochs 24] [--prune-epochs 12] [--beta 1e-4] [--weight-bits 6]
        [--weight-int 0] [--seeds 0 1 2]

Needs hgq2 (pip install 'ikr-hls[qat]'). For each seed it prints the Keras test accuracy of the
trained model, that of the converted fixed-point design (its bit-exact numpy reference,
hls.emulate, equal to Keras's forward and, on the first --cpp images, to the compiled C++; the
exit code is 1 if either differs), and the mean bits per nonzero
weight and per activation value as converted (the report's totals.bits_mean); then the mean and
spread over the seeds beside the float IKR LeNet-5 (examples/models/lenet5_ikr.h5).
"""
import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import ikr_hls  # noqa: E402
from ikr_hls.datasets import mnist_split  # noqa: E402
from ikr_hls.pruning import IKRPruning  # noqa: E402

MODELS = Path(__file__).parent / "models"
BATCH = 64
WEIGHT_BITS, WEIGHT_INT = 6, 0        # initial width and integer bits of each weight (see qat_lenet5)


def qat_lenet5(beta: float, weight_bits: int = WEIGHT_BITS, weight_int: int = WEIGHT_INT) -> keras.Model:
    """LeNet-5 (as examples/train_lenet5.py) of HGQ2 layers: per-element activation quantizers,
    per-weight weight quantizers that start at `weight_bits` bits, `weight_int` of them integer
    (HGQ2's b0 and i0, sign excluded); no softmax (an argmax needs none).

    Why the weights start narrow: Adam moves a bit width by at most about the learning rate per
    step, so 24 epochs of this subset (1,368 steps at 3e-3) lower a width by about 4 bits, whatever
    the penalty. From HGQ2's default 8 bits (2 integer) the weights stop near 5; LeNet-5's weights
    lie within +-1, so no integer bit is needed and 6 fractional bits keep the first steps as fine."""
    from hgq.config import LayerConfigScope, QuantizerConfigScope

    from hgq.layers import QConv2D, QDense, QMaxPooling2D

    with LayerConfigScope(beta0=beta, enable_ebops=True), \
            QuantizerConfigScope(place="datalane", overflow_mode="WRAP"), \
            QuantizerConfigScope(q_type="kbi", place="weight", b0=weight_bits, i0=weight_int):
        return keras.Sequential([
            keras.Input((28, 28, 1)),
            QConv2D(6, 5, activation="relu", name="conv1"),
            QMaxPooling2D(2, name="pool1"),
            QConv2D(16, 5, activation="relu", name="conv2"),
            QMaxPooling2D(2, name="pool2"),
            keras.layers.Flatten(name="flatten"),
            QDense(120, activation="relu", name="fc1"),
            QDense(84, activation="relu", name="fc2"),
            QDense(10, name="fc3"),
        ], name="qat_lenet5")


def train(seed: int, args, data) -> dict:
    x_train, y_train, x_test, y_test = data
    keras.utils.set_random_seed(seed)
    model = qat_lenet5(args.beta, args.weight_bits, args.weight_int)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    steps_per_epoch = int(np.ceil(len(x_train) * 0.9 / BATCH))       # validation_split=0.1 below
    pruning = IKRPruning(keep={"conv1": 4, "conv2": 3}, library_size=8,
                         dense_sparsity={"fc1": 0.94, "fc2": 0.94, "fc3": 0.7},
                         begin_step=0, end_step=args.prune_epochs * steps_per_epoch, frequency=steps_per_epoch // 2)
    model.fit(x_train, y_train, batch_size=BATCH, epochs=args.epochs, validation_split=0.1, verbose=0,
              callbacks=[pruning])
    keras_acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    with tempfile.TemporaryDirectory() as scratch:    # the trained types; compile() writes here, once per seed
        hls = ikr_hls.convert(model, output_dir=scratch)
        emulated = hls.emulate(x_test)
        fixed_acc = float(np.mean(np.argmax(emulated, axis=1) == y_test))
        exact = bool(np.array_equal(emulated, np.asarray(model(x_test, training=False), dtype=np.float64)))
        if args.cpp:                      # the compiled C++ on the first N test images
            exact = exact and bool(np.array_equal(hls.compile().predict(x_test[:args.cpp]), emulated[:args.cpp]))
    bits = hls.report()["totals"]["bits_mean"]
    return dict(keras=keras_acc, fixed=fixed_acc, weight_bits=bits["weight"], activation_bits=bits["activation"],
                exact=exact, model=model)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--prune-epochs", type=int, default=12, help="epochs until the pruning targets are reached")
    parser.add_argument("--beta", type=float, default=1e-4, help="HGQ2's EBOPs penalty (more: fewer bits)")
    parser.add_argument("--weight-bits", type=int, default=WEIGHT_BITS,
                        help="initial bits per weight, sign excluded (HGQ2's b0; its default is 8)")
    parser.add_argument("--weight-int", type=int, default=WEIGHT_INT,
                        help="initial integer bits per weight (HGQ2's i0; its default is 2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cpp", type=int, default=100, metavar="N",
                        help="also compile the C++ and compare it on the first N test images (0: not)")
    parser.add_argument("--float-model", default=str(MODELS / "lenet5_ikr.h5"))
    args = parser.parse_args()

    data = mnist_split()
    x_test, y_test = data[2], data[3]
    runs = []
    for seed in args.seeds:
        run = train(seed, args, data)
        runs.append(run)
        print(f"seed {seed}: Keras {run['keras']:.4f}, converted {run['fixed']:.4f} "
              f"({'bit-exact' if run['exact'] else 'DIFFERS from Keras'}), "
              f"{run['weight_bits']:.2f} bits per nonzero weight, {run['activation_bits']:.2f} per activation")
    reference = keras.models.load_model(args.float_model, compile=False)
    float_acc = float(np.mean(np.argmax(reference.predict(x_test, verbose=0), axis=1) == y_test))

    def stat(key):
        values = np.array([r[key] for r in runs])
        return f"{values.mean():.4f} +- {values.std():.4f}"

    print(f"\nover {len(runs)} seed(s), beta {args.beta:g}, weights from {args.weight_bits} bits "
          f"({args.weight_int} integer), {len(x_test)} held-out images:")
    print(f"  float IKR LeNet-5 ({Path(args.float_model).name}): {float_acc:.4f}")
    print(f"  HGQ2 IKR LeNet-5, converted: {stat('fixed')} (Keras {stat('keras')})")
    print(f"  mean bits per nonzero weight {stat('weight_bits')}, per activation {stat('activation_bits')}")
    return 0 if all(r["exact"] for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
