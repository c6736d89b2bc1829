"""ikr_hls.pruning: the callback, prune_once and summary, on small models and data."""
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ikr_hls import IKRHLSError  # noqa: E402
from ikr_hls.patterns import patterns_from_kernel  # noqa: E402
from ikr_hls.pruning import ConstantSparsity, IKRPruning, PolynomialDecay, keep_at, prune_once, summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def small_cnn(seed=0):
    """3x3 and 5x5 convs, two Dense layers: every layer kind the pruner handles."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(6, 3, activation="relu", name="c3"),
        keras.layers.Conv2D(8, 5, activation="relu", name="c5"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(24, activation="relu", name="fc"),
        keras.layers.Dense(10, activation="softmax", name="out"),
    ], name="small")


@pytest.fixture(scope="module")
def digits():
    """300 of scikit-learn's 8x8 digits, zero-padded to 12x12."""
    from sklearn.datasets import load_digits
    data = load_digits()
    x = np.pad(data.images[:300] / 16.0, ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32")
    return x, data.target[:300].astype("int64")


def compiled(model):
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def kernel(model, name):
    return keras.ops.convert_to_numpy(model.get_layer(name).kernel)


def nonzeros_per_kernel(w):
    return (w != 0).sum(axis=(0, 1))


def assert_ikr(w, keep, library_size):
    counts = nonzeros_per_kernel(w)
    assert set(np.unique(counts)) <= {0, keep}, np.unique(counts)
    supports = {(w[:, :, ci, co] != 0).tobytes() for ci, co in zip(*np.nonzero(counts), strict=True)}
    assert len(supports) <= library_size


# ----- schedule

def test_polynomial_decay_matches_tfmot_formula():
    sched = PolynomialDecay(begin_step=10, end_step=50, frequency=7)
    for step in range(0, 70):
        p = min(1.0, max(0.0, (step - 10) / 40))
        expected = 0.8 + (0.0 - 0.8) * (1 - p) ** 3 if step >= 10 else 0.0
        assert sched.sparsity(step, 0.8) == pytest.approx(expected)
    updates = [s for s in range(70) if sched.is_update_step(s)]
    assert updates == [10, 17, 24, 31, 38, 45, 50]       # every 7 from begin, and end itself


def test_keep_steps_down_to_target_and_never_below():
    sched = PolynomialDecay(0, 100, 10)
    keeps = [keep_at(sched.fraction(s), 3, 25) for s in range(0, 130, 10)]
    assert keeps[0] == 25 and keeps[-1] == 3 and min(keeps) == 3
    assert all(a >= b for a, b in zip(keeps, keeps[1:], strict=False))
    for s in range(0, 101, 10):                            # round half up of KH*KW*(1 - sparsity)
        sparsity = sched.sparsity(s, 1 - 3 / 25)
        assert keeps[s // 10] == max(3, math.floor(25 * (1 - sparsity) + 0.5))


@pytest.mark.parametrize("kwargs,match", [
    (dict(frequency=0), "frequency"), (dict(begin_step=5, end_step=2), "end_step"),
    (dict(begin_step=-1), "begin_step"), (dict(end_step=1.5), "end_step"),
])
def test_schedule_arguments_validated(kwargs, match):
    with pytest.raises(IKRHLSError, match=match):
        IKRPruning(keep=3, **kwargs)


# ----- prune_once

def test_prune_once_gives_regular_kernels_and_exact_dense_sparsity():
    model = small_cnn()
    info = prune_once(model, keep={"c3": 4, "c5": 6}, library_size=4, dense_sparsity={"fc": 0.9, "out": 0.5})
    assert_ikr(kernel(model, "c3"), 4, 4)
    assert_ikr(kernel(model, "c5"), 6, 4)
    assert np.all(nonzeros_per_kernel(kernel(model, "c5")) == 6)
    for name, s in (("fc", 0.9), ("out", 0.5)):
        w = kernel(model, name)
        assert abs(np.count_nonzero(w) - (1 - s) * w.size) <= 1
        assert info[name]["sparsity"] == pytest.approx(s, abs=1 / w.size)
    # the info describes the zeros: library[assignment] is each kernel's support
    w, i = kernel(model, "c5"), info["c5"]
    for ci in range(w.shape[2]):
        for co in range(w.shape[3]):
            np.testing.assert_array_equal(w[:, :, ci, co] != 0, i["library"][i["assignment"][ci, co]])


def test_prune_once_assignment_is_the_best_library_pattern():
    model = small_cnn(1)
    dense = kernel(model, "c5")
    info = prune_once(model, keep=5, library_size=3, layers=["c5"])["c5"]
    for ci in range(dense.shape[2]):
        for co in range(dense.shape[3]):
            energies = [np.sum(dense[:, :, ci, co] ** 2 * p) for p in info["library"]]
            assert energies[info["assignment"][ci, co]] == pytest.approx(max(energies))
    assert np.count_nonzero(kernel(model, "fc")) == kernel(model, "fc").size   # not selected


def test_kernel_sparsity_removes_weakest_kernels():
    model = small_cnn(2)
    dense = kernel(model, "c5")
    info = prune_once(model, keep=4, library_size=4, kernel_sparsity=0.25, layers=["c5"])["c5"]
    w = kernel(model, "c5")
    counts = nonzeros_per_kernel(w)
    n = counts.size
    assert np.count_nonzero(counts == 0) == round(0.25 * n)
    assert set(np.unique(counts)) == {0, 4}
    # removed kernels are those whose pattern kept the least energy
    lib = info["library"]
    best_kept = np.array([[max(np.sum(dense[:, :, ci, co] ** 2 * p) for p in lib)
                           for co in range(w.shape[3])] for ci in range(w.shape[2])])
    assert best_kept[counts == 0].max() <= best_kept[counts > 0].min()
    np.testing.assert_array_equal(info["assignment"] == -1, counts == 0)


def test_force_center_and_explicit_library_through_prune_once():
    model = small_cnn()
    prune_once(model, keep={"c3": 3}, library_size=4, layers=["c3"], force_center=True)
    assert np.all(kernel(model, "c3")[1, 1] != 0)
    model = small_cnn()
    cross = [[[0, 1, 0], [1, 1, 1], [0, 1, 0]], [[1, 0, 1], [0, 1, 0], [1, 0, 1]]]
    prune_once(model, keep={"c3": 5}, library={"c3": cross}, layers=["c3"])
    supports = {(kernel(model, "c3")[:, :, 0, co] != 0).astype(int).tobytes() for co in range(6)}
    assert supports <= {np.array(p).tobytes() for p in cross}


@pytest.mark.parametrize("kwargs,match", [
    (dict(keep={"c3": 3, "nope": 2}), r"\['nope'\].*valid names: \['c3', 'c5'\]"),
    (dict(keep={"fc": 3}), "fc"),                                   # keep on a Dense layer
    (dict(dense_sparsity={"c3": 0.5}), r"valid names: \['fc', 'out'\]"),
    (dict(keep=10), "keep=10.*c3.*1 to 9"),                       # beyond 3x3
    (dict(keep=0), "keep"),
    (dict(keep=3, library="frequent"), "refine"),
    (dict(keep=3, library_size=0), "library_size"),
    (dict(dense_sparsity=1.0), "dense_sparsity"),
    (dict(kernel_sparsity=-0.1), "kernel_sparsity"),
    (dict(keep=3, layers=["c3", "pool"]), r"\['pool'\].*valid names"),
    (dict(keep=3, layers="c3"), "layers"),
    (dict(keep={"c3": 4}, library={"c3": [[1, 1, 1, 0, 0, 0, 0, 0, 0]]}), "c3.*keep 4"),
    (dict(keep=3, force_center="yes"), "force_center"),
    (dict(keep=3, dense_sparsity={"fc": 0.5}, layers=["c3"]), r"\['fc'\]"),  # not selected
])
def test_arguments_validated_with_names(kwargs, match):
    with pytest.raises(IKRHLSError, match=match):
        prune_once(small_cnn(), **kwargs)
    with pytest.raises(IKRHLSError, match=match):            # the callback checks the same
        cb = IKRPruning(**kwargs)
        cb.set_model(small_cnn())
        cb.on_train_begin()


def test_layers_predicate_and_default_selection_includes_output():
    model = small_cnn()
    prune_once(model, dense_sparsity=0.5)
    assert np.mean(kernel(model, "out") == 0) == pytest.approx(0.5, abs=0.01)
    model = small_cnn()
    prune_once(model, keep=2, dense_sparsity=0.5, layers=lambda layer: layer.name != "out")
    assert np.all(kernel(model, "out") != 0) and np.all(nonzeros_per_kernel(kernel(model, "c3")) == 2)


def test_nested_models_are_walked():
    inner = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, name="inner_conv")],
                             name="inner")
    inputs = keras.Input((12, 12, 1))
    outputs = keras.layers.Dense(3, name="head")(keras.layers.Flatten()(inner(inputs)))
    model = keras.Model(inputs, outputs)
    prune_once(model, keep=2, dense_sparsity=0.5)
    assert np.all(nonzeros_per_kernel(kernel(inner, "inner_conv")) == 2)
    assert [l.name for l in summary(model, print_fn=None).layers] == ["inner_conv", "head"]


# ----- the callback in fit

class WatchZeros(keras.callbacks.Callback):
    """Runs after IKRPruning: records nonzeros per kernel at every batch end."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) - 1,
                          nonzeros_per_kernel(kernel(self.model, "c5")).max(),
                          np.count_nonzero(kernel(self.model, "fc"))))


def test_fit_follows_schedule_and_masks_every_batch(digits, tmp_path):
    x, y = digits
    model = compiled(small_cnn())
    cb = IKRPruning(keep={"c3": 3, "c5": 4}, library_size=4, dense_sparsity={"fc": 0.8},
                    begin_step=2, end_step=20, frequency=4)
    watch = WatchZeros()
    model.fit(x, y, batch_size=30, epochs=3, verbose=0, callbacks=[cb, watch])   # 30 steps
    sched = PolynomialDecay(2, 20, 4)
    fc_size = kernel(model, "fc").size
    expected_updates = [s for s in range(30) if sched.is_update_step(s)]
    assert [step for step, _ in cb.history] == expected_updates
    for step, infos in cb.history:
        assert infos["c5"]["keep"] == keep_at(sched.fraction(step), 4, 25)
        assert infos["fc"]["sparsity"] == pytest.approx(sched.sparsity(step, 0.8), abs=1 / fc_size)
    # after each batch the weights obey the mask of the latest update
    for step, max_c5, fc_nonzero in watch.seen:
        latest = [infos for s, infos in cb.history if s <= step]
        if latest:
            assert max_c5 <= latest[-1]["c5"]["keep"]
            assert fc_nonzero <= fc_size - round(latest[-1]["fc"]["sparsity"] * fc_size)
    assert_ikr(kernel(model, "c3"), 3, 4)
    assert_ikr(kernel(model, "c5"), 4, 4)
    assert np.all(nonzeros_per_kernel(kernel(model, "c5")) == 4)
    assert abs(np.count_nonzero(kernel(model, "fc")) - 0.2 * fc_size) <= 1
    assert np.all(kernel(model, "out") != 0)


def test_schedule_objects_like_tfmot(digits):
    """IKRPruning(schedule=...) takes tfmot's schedule names: a PolynomialDecay with its own
    power gives the same steps as the keyword form; ConstantSparsity prunes to the targets at
    begin_step and recomputes the masks every `frequency` steps until end_step."""
    x, y = digits
    poly = IKRPruning(keep={"c5": 4}, schedule=PolynomialDecay(begin_step=2, end_step=14, frequency=4, power=2))
    model = compiled(small_cnn())
    model.fit(x, y, batch_size=30, epochs=2, verbose=0, callbacks=[poly])          # 20 steps
    sched = PolynomialDecay(2, 14, 4, power=2)
    assert [s for s, _ in poly.history] == [s for s in range(20) if sched.is_update_step(s)]
    assert [i["c5"]["keep"] for _, i in poly.history] == [keep_at(sched.fraction(s), 4, 25) for s, _ in poly.history]

    constant = IKRPruning(keep={"c5": 4}, dense_sparsity={"fc": 0.5},
                          schedule=ConstantSparsity(begin_step=3, end_step=12, frequency=5))
    model = compiled(small_cnn())
    model.fit(x, y, batch_size=30, epochs=2, verbose=0, callbacks=[constant])
    assert [s for s, _ in constant.history] == [3, 8]                  # 13 > end_step: no more
    assert all(i["c5"]["keep"] == 4 and i["fc"]["sparsity"] == pytest.approx(0.5, abs=0.01)
               for _, i in constant.history)
    assert_ikr(kernel(model, "c5"), 4, 8)
    forever = ConstantSparsity(begin_step=0, frequency=7)                 # end_step=-1: no end
    assert [forever.last_update(s) for s in (0, 6, 7, 100)] == [0, 0, 7, 98]


@pytest.mark.parametrize("kwargs,match", [
    (dict(schedule=PolynomialDecay(0, 10), begin_step=3), "either schedule=... or begin_step"),
    (dict(schedule="poly"), "expected PolynomialDecay or ConstantSparsity"),
])
def test_schedule_object_errors(kwargs, match):
    with pytest.raises(IKRHLSError, match=match):
        IKRPruning(keep=4, **kwargs)
    with pytest.raises(IKRHLSError, match="end_step=5"):
        ConstantSparsity(begin_step=9, end_step=5)


def test_saved_h5_and_keras_reload_with_the_same_zeros(digits, tmp_path):
    x, y = digits
    model = compiled(small_cnn())
    model.fit(x, y, batch_size=50, epochs=2, verbose=0,
              callbacks=[IKRPruning(keep=3, library_size=4, dense_sparsity=0.7, end_step=6, frequency=2)])
    # .keras first: in Keras 3.15 an .h5 save drops the optimizer from a later .keras save
    for suffix in (".keras", ".h5"):
        path = tmp_path / f"m{suffix}"
        model.save(path)
        back = keras.models.load_model(path)
        assert type(back) is keras.Sequential           # a plain model: nothing to register
        for layer in model.layers:
            for a, b in zip(layer.weights, back.get_layer(layer.name).weights, strict=True):
                np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        assert patterns_from_kernel(kernel(back, "c5")).keep == 3
        np.testing.assert_allclose(back.predict(x[:20], verbose=0), model.predict(x[:20], verbose=0), atol=1e-6)


def test_steps_per_execution_catches_up(digits):
    x, y = digits
    model = small_cnn()
    model.compile("adam", "sparse_categorical_crossentropy", steps_per_execution=3)
    cb = IKRPruning(keep=2, library_size=2, begin_step=0, end_step=8, frequency=2, layers=["c5"])
    model.fit(x, y, batch_size=30, epochs=2, verbose=0, callbacks=[cb])
    assert cb.history[-1][0] == 8
    assert_ikr(kernel(model, "c5"), 2, 2)


def test_a_reloaded_optimizer_past_begin_step_warns_and_relative_steps_count_from_fit(digits, caplog):
    """An optimizer already at step 189 (a reloaded model): steps are the optimizer's, so the
    whole 0..20 schedule happens at once; the callback says so, and relative_steps=True counts
    from the start of the fit instead."""
    x, y = digits
    seen = {}
    for relative in (False, True):
        model = compiled(small_cnn())
        model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(189)
        cb = IKRPruning(keep=2, library_size=2, begin_step=0, end_step=20, frequency=5, layers=["c5"],
                        relative_steps=relative)
        caplog.clear()
        with caplog.at_level("WARNING", logger="ikr_hls.pruning"):
            model.fit(x[:210], y[:210], batch_size=10, epochs=1, verbose=0, callbacks=[cb])   # steps 0..20
        seen[relative] = ([step for step, _ in cb.history], [r.getMessage() for r in caplog.records])
        assert_ikr(kernel(model, "c5"), 2, 2)
    steps, messages = seen[False]
    assert steps == [20]                                   # everything at once, as tfmot would
    assert any("already at step 189, past begin_step=0 and end_step=20" in m and "relative_steps=True" in m
               for m in messages), messages
    steps, messages = seen[True]
    assert steps == [0, 5, 10, 15, 20] and not any("already at step" in m for m in messages)
    with pytest.raises(IKRHLSError, match="relative_steps: expected True or False"):
        IKRPruning(keep=2, relative_steps="yes")


@pytest.mark.process
def test_mirrored_strategy_two_cpus(tmp_path):
    """Logical devices must exist before TensorFlow starts, so this runs in a fresh process."""
    code = textwrap.dedent(f"""
        import json, os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, numpy as np
        sys_path = {str(ROOT)!r}
        import sys; sys.path.insert(0, sys_path); sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_pruning import small_cnn
        from ikr_hls.pruning import IKRPruning
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        rng = np.random.default_rng(0)
        x = rng.random((240, 12, 12, 1)).astype("float32"); y = rng.integers(0, 10, 240)
        with strategy.scope():
            model = small_cnn()
            model.compile("adam", "sparse_categorical_crossentropy")
        cb = IKRPruning(keep={{"c3": 3, "c5": 4}}, library_size=4, dense_sparsity={{"fc": 0.8}},
                        end_step=6, frequency=2)
        model.fit(x, y, batch_size=40, epochs=2, verbose=0, callbacks=[cb])
        out = {{"replicas": strategy.num_replicas_in_sync, "layers": {{}}}}
        for name in ("c3", "c5", "fc"):
            var = model.get_layer(name).kernel
            values = [v.numpy() for v in var.value.values]          # one copy per device
            out["layers"][name] = {{"type": type(var.value).__name__,
                                   "copies": len(values),
                                   "copies_equal": all(np.array_equal(values[0], v) for v in values),
                                   "counts": sorted(set((values[0] != 0).sum(axis=(0, 1)).ravel().tolist()))
                                             if name != "fc" else int(np.count_nonzero(values[0])),
                                   "supports": len({{(values[0][:, :, ci, co] != 0).tobytes()
                                                    for ci in range(values[0].shape[2])
                                                    for co in range(values[0].shape[3])}})
                                               if name != "fc" else None}}
        model.save({str(tmp_path / "m.keras")!r}); model.save({str(tmp_path / "m.h5")!r})
        for f in ("m.h5", "m.keras"):
            back = keras.models.load_model(os.path.join({str(tmp_path)!r}, f))
            out[f] = all(np.array_equal(back.get_layer(n).kernel.numpy(), model.get_layer(n).kernel.numpy())
                         for n in ("c3", "c5", "fc"))
        print("RESULT" + json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=str(ROOT))
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT"):])
    assert out["replicas"] == 2
    for name, keep in (("c3", 3), ("c5", 4)):
        layer = out["layers"][name]
        assert layer["type"] == "MirroredVariable" and layer["copies"] == 2 and layer["copies_equal"]
        assert layer["counts"] == [keep] and layer["supports"] <= 4
    fc = out["layers"]["fc"]
    assert abs(fc["counts"] - 0.2 * kernel(small_cnn(), "fc").size) <= 1 and fc["copies_equal"]
    assert out["m.h5"] and out["m.keras"]


# ----- summary

def test_summary_counts_against_keras_and_shapes(capsys):
    model = small_cnn()
    prune_once(model, keep={"c3": 4, "c5": 6}, library_size=4, dense_sparsity={"fc": 0.9})
    result = summary(model)
    printed = capsys.readouterr().out
    assert printed.strip() == result.text().strip() and "c5" in printed and "#" in printed
    t = result.totals
    assert t["params"] == model.count_params()
    assert t["nonzero"] == sum(np.count_nonzero(keras.ops.convert_to_numpy(w)) for w in model.weights)
    # MACs from the shapes Keras reports: output pixels x weights, vector layers: weights
    macs_dense = macs_pruned = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            per = int(np.prod(layer.output.shape[1:-1]))
            w = kernel(model, layer.name)
            macs_dense += per * w.size
            macs_pruned += per * np.count_nonzero(w)
    assert (t["macs_dense"], t["macs_pruned"]) == (macs_dense, macs_pruned)
    assert t["params_reduction"] == pytest.approx(t["params"] / t["nonzero"])
    layers = {l["name"]: l for l in result.to_dict()["layers"]}
    assert layers["c5"]["keep"] == 6 and len(layers["c5"]["library"]) <= 4
    assert sum(layers["c5"]["usage"]) == 6 * 8 and layers["fc"]["keep"] is None
    json.dumps(result.to_dict())                          # serialisable as it is
    assert summary(model, print_fn=None).text() == result.text()
    assert capsys.readouterr().out == ""


def test_summary_kept_energy_against_reference_and_from_file(tmp_path):
    dense = small_cnn(3)
    pruned = small_cnn(3)
    prune_once(pruned, keep=3, dense_sparsity=0.5)
    path = tmp_path / "p.keras"
    pruned.save(path)
    result = summary(str(path), reference=dense, print_fn=None)
    for layer in result.layers:
        if layer.kind in ("conv2d", "dense"):
            ref, w = kernel(dense, layer.name), kernel(pruned, layer.name)
            assert layer.kept_energy == pytest.approx(np.sum(ref[w != 0] ** 2) / np.sum(ref ** 2))
    untouched = summary(dense, print_fn=None)
    conv = [l for l in untouched.layers if l.name == "c5"][0]
    assert conv.keep == 25 and len(conv.library) == 1 and conv.macs_pruned == conv.macs_dense
    with pytest.raises(IKRHLSError, match="no such file"):
        summary(str(tmp_path / "missing.h5"))
    (tmp_path / "empty.keras").write_bytes(b"")             # the converter's loader and messages
    with pytest.raises(IKRHLSError, match=r"^model: .*empty.keras: cannot be read as a Keras model \(empty file\)"):
        summary(tmp_path / "empty.keras")


def test_summary_of_lenet_dense_macs():
    path = ROOT / "examples" / "models" / "lenet5.h5"
    assert path.is_file(), f"{path} is shipped with the repository"
    t = summary(str(path), print_fn=None).totals
    # LeNet-5 by hand: conv1 24*24*25*6, conv2 8*8*25*6*16, dense 256*120 + 120*84 + 84*10
    assert t["macs_dense"] == 24 * 24 * 25 * 6 + 8 * 8 * 150 * 16 + 256 * 120 + 120 * 84 + 84 * 10


def test_summary_says_which_layers_will_not_convert():
    """summary asks the converter's own registry and handlers: a class it has no kind for, or an
    option a handler refuses, is listed; Concatenate, UpSampling2D (nearest) and
    Conv2DTranspose convert."""
    L = keras.layers
    inp = keras.Input((8, 8, 3))
    a = L.Conv2D(4, 3, padding="same", name="c")(inp)
    up = L.UpSampling2D(2, name="up")(L.MaxPooling2D(2, name="pool")(a))
    ok = L.Conv2DTranspose(3, 3, strides=2, name="tconv")(L.Concatenate(name="cat")([a, up]))
    good = keras.Model(inp, ok)
    result = summary(good, print_fn=None)
    assert result.converts and result.unsupported == [] and "Will not convert" not in result.text()
    bilinear = L.UpSampling2D(2, interpolation="bilinear", name="bilinear")(L.MaxPooling2D(2)(a))
    cropped = L.Cropping2D(1, name="crop")(L.Concatenate(name="cat2")([a, bilinear]))
    rows = L.Concatenate(axis=1, name="rows")([cropped, cropped])
    bad = keras.Model(inp, rows)
    result = summary(bad, print_fn=None)
    assert not result.converts
    why = dict(result.unsupported)
    assert list(why) == ["bilinear", "crop", "rows"]
    assert "interpolation='bilinear'" in why["bilinear"] and "Cropping2D" in why["crop"]
    assert "axis=1" in why["rows"]
    text = result.text()
    assert "Will not convert" in text and all(name in text.split("Will not convert")[1] for name in why)
    assert result.to_dict()["unsupported"][1] == {"name": "crop", "why": why["crop"]}
    import ikr_hls
    ikr_hls.convert(good, output_dir="unused")      # the converter agrees: the first converts,
    with pytest.raises(IKRHLSError) as info:        # the second names every refused layer at once
        ikr_hls.convert(bad, output_dir="unused")
    assert why["bilinear"] in str(info.value) and why["rows"] in str(info.value)
    assert "'crop' (Cropping2D) is not supported" in str(info.value)
