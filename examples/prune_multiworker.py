"""IKR pruning across machines: one worker of a tf.distribute.MultiWorkerMirroredStrategy job.

    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                "task": {"type": "worker", "index": 0}}' python examples/prune_multiworker.py --out run
    (and the same with "index": 1 on the other machine)

Every worker runs this same script with its own TF_CONFIG (the cluster, and which task it is);
TensorFlow connects them over gRPC and all-reduces the gradients. The model (a small CNN on
scikit-learn's digits) is created inside the strategy's scope, so its variables are mirrored,
and IKRPruning prunes it as in a one-machine fit. Each worker writes to --out/worker<i>/:
kernels.npz (the pruned kernels), ikr.npz (each conv layer's last library and assignment, each
Dense layer's mask) and model.keras; the chief (worker 0) also writes --out/model.keras.

Why a custom training loop and not model.fit: in Keras 3 (up to 3.15 at least), model.fit under
MultiWorkerMirroredStrategy fails before the first step (keras-team/keras#20585,
tensorflow/tensorflow#72388). IKRPruning is a plain callback: the loop below calls its hooks at
the same points as fit does (train begin, each batch's begin and end, train end).
"""
import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ikr_hls.pruning import IKRPruning, summary  # noqa: E402


def small_cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
        keras.layers.Conv2D(12, 5, activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(32, activation="relu", name="fc1"),
        keras.layers.Dense(10, activation="softmax", name="fc2"),
    ], name="digits_cnn")


def digits():
    """scikit-learn's 8x8 digits, zero-padded to 12x12, in [0, 1]."""
    from sklearn.datasets import load_digits
    data = load_digits()
    x = np.pad(data.images / 16.0, ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32")
    return x, data.target.astype("int64")


def train(strategy, model, callback, dataset, steps: int, global_batch: int) -> list:
    """`steps` optimizer steps over the distributed dataset, calling the callback's hooks as
    model.fit does; returns the loss of every step (the mean over all workers' examples)."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            per_example = loss_fn(y, model(x, training=True))
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(batch):
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    callback.set_model(model)
    callback.on_train_begin()
    losses = []
    for i, batch in zip(range(steps), dataset, strict=False):   # the dataset repeats
        callback.on_train_batch_begin(i)
        losses.append(float(step(batch)))
        callback.on_train_batch_end(i)
    callback.on_train_end()
    return losses


def save_results(out: Path, model, callback, task: int, chief: bool) -> None:
    mine = out / f"worker{task}"
    mine.mkdir(parents=True, exist_ok=True)
    np.savez(mine / "kernels.npz", **{l.name: l.kernel.numpy() for l in model.layers if hasattr(l, "kernel")})
    step, infos = callback.history[-1]
    ikr = {}
    for name, info in infos.items():
        if info["kind"] == "conv2d":
            ikr[f"{name}/library"], ikr[f"{name}/assignment"] = info["library"], info["assignment"]
        else:
            ikr[f"{name}/mask"] = model.get_layer(name).kernel.numpy() != 0
    np.savez(mine / "ikr.npz", last_update=step, **ikr)
    # Keras saving is local (no collective op): every worker may write; only the chief's copy is the result
    model.save(mine / "model.keras")
    if chief:
        model.save(out / "model.keras")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory for the results (shared, or one per machine)")
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps")
    parser.add_argument("--batch", type=int, default=64, help="global batch (split over the workers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--perturb", type=float, default=0.0, metavar="SCALE",
                        help="test hook: workers other than the chief add noise of this relative size to "
                             "their copy of the kernels, so the copies differ (the masks must still agree)")
    args = parser.parse_args()

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    resolver = strategy.cluster_resolver
    task, chief = resolver.task_id, resolver.task_id == 0 and resolver.task_type in ("worker", "chief")
    print(f"worker {task} of {strategy.num_replicas_in_sync} replicas", flush=True)

    keras.utils.set_random_seed(args.seed)          # the same data order on every worker
    x, y = digits()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=args.seed).repeat().batch(args.batch)
    dataset = strategy.experimental_distribute_dataset(dataset)    # each worker takes its share of a batch
    with strategy.scope():                          # mirrored variables: initial values come from the chief
        model = small_cnn()
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
        model.optimizer.build(model.trainable_variables)
    if args.perturb and not chief:                  # assign writes this worker's copy only
        rng = np.random.default_rng(task)
        for layer in model.layers:
            if hasattr(layer, "kernel"):
                w = layer.kernel.numpy()
                layer.kernel.assign(w + args.perturb * w.std() * rng.standard_normal(w.shape).astype(w.dtype))
    pruning = IKRPruning(keep={"conv1": 3, "conv2": 4}, library_size=4, dense_sparsity={"fc1": 0.8},
                         begin_step=0, end_step=args.steps * 2 // 3, frequency=max(1, args.steps // 10))
    losses = train(strategy, model, pruning, iter(dataset), args.steps, args.batch)

    out = Path(args.out)
    save_results(out, model, pruning, task, chief)
    if chief:
        summary(model)
    print("RESULT " + json.dumps({"task": task, "loss_first": losses[0], "loss_last": losses[-1],
                                  "updates": len(pruning.history)}), flush=True)


if __name__ == "__main__":
    main()
