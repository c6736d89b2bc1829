"""ikr_hls.pruning.sensitivity and plan_budget: per-layer tolerance, and settings that meet a budget."""
import itertools
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import ikr_hls  # noqa: E402
from ikr_hls import IKRHLSError  # noqa: E402
from ikr_hls.patterns import patterns_from_kernel  # noqa: E402
from ikr_hls.pruning import IKRPruning, plan_budget, prune_once, sensitivity, summary  # noqa: E402
from ikr_hls.pruning.budget import _isotonic, _monotone_drops  # noqa: E402
from ikr_hls.pruning.knapsack import Option, best_choices  # noqa: E402

KEEPS = {"c3": [2, 4], "c5": [3, 8]}
SPARSITIES = [0.5, 0.9]


def small_cnn(seed=0):
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
    """scikit-learn's digits, zero-padded to 12x12: 1200 to train, the rest to validate."""
    from sklearn.datasets import load_digits
    data = load_digits()
    x = np.pad(data.images / 16.0, ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32")
    y = data.target.astype("int64")
    return x[:1200], y[:1200], x[1200:], y[1200:]


@pytest.fixture(scope="module")
def trained(digits):
    x, y, _, _ = digits
    model = small_cnn()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=4, verbose=0)
    return model


@pytest.fixture(scope="module")
def table(trained, digits):
    _, _, xv, yv = digits
    return sensitivity(trained, xv, yv, keep=KEEPS, library_size=[2, 4], dense_sparsity=SPARSITIES)


def weights(model):
    return [w.copy() for w in model.get_weights()]


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, verbose=0).argmax(-1) == y))


# ----- sensitivity

def test_sensitivity_rows_are_one_shot_pruning_of_one_layer(trained, table, digits):
    _, _, xv, yv = digits
    assert table.baseline == pytest.approx(accuracy(trained, xv, yv))
    assert list(table.layers) == ["c3", "c5", "fc", "out"]
    assert len(table.for_layer("c3")) == 2 * 2 and len(table.for_layer("fc")) == 2
    before = weights(trained)
    for row in (table.for_layer("c5")[1], table.for_layer("fc")[-1]):    # recompute two rows independently
        clone = keras.models.clone_model(trained)
        clone.set_weights(before)
        if row["kind"] == "conv2d":
            info = prune_once(clone, keep=row["keep"], library_size=row["library_size"], layers=[row["layer"]])
        else:
            info = prune_once(clone, dense_sparsity=row["dense_sparsity"], layers=[row["layer"]])
        assert row["score"] == pytest.approx(accuracy(clone, xv, yv))
        assert row["drop"] == pytest.approx(table.baseline - row["score"])
        assert row["kept_energy"] == pytest.approx(info[row["layer"]]["kept_energy"])
        layer = next(l for l in summary(clone, print_fn=None).layers if l.name == row["layer"])
        assert (row["nonzero"], row["macs"]) == (layer.nonzero, layer.macs_pruned)
    # c5 keeps 3 of 25 positions in 6*8 kernels: 144 weights and 8 biases; at 6x6 output pixels
    assert [(r["keep"], r["nonzero"], r["macs"]) for r in table.for_layer("c5")][0] == (3, 144 + 8, 144 * 36)
    for after, b in zip(trained.get_weights(), before, strict=True):       # the model is left as it was
        np.testing.assert_array_equal(after, b)


def test_sensitivity_text_dict_and_plot(table, tmp_path):
    import matplotlib.image

    text = table.text()
    assert "c5 (conv2d" in text and "3/25" in text and "0.9" in text and str(table) == text
    back = json.loads(json.dumps(table.to_dict()))
    assert back["baseline"] == table.baseline and len(back["rows"]) == len(table.rows)
    path = tmp_path / "sens.png"
    table.plot(path)
    h, w = matplotlib.image.imread(str(path)).shape[:2]
    assert h > 300 and w > 800


def test_sensitivity_default_candidates_and_custom_metric(trained, digits):
    _, _, xv, yv = digits
    calls = []

    def neg_mse(y_true, y_pred):
        calls.append(1)
        return -float(np.mean((np.eye(10)[y_true] - y_pred) ** 2))

    t = sensitivity(trained, xv[:100], yv[:100], layers=["c3", "out"], metric=neg_mse)
    assert t.metric == "neg_mse" and len(calls) == 1 + len(t.rows)
    assert [r["keep"] for r in t.for_layer("c3")] == list(range(1, 9))         # 3x3: every keep below 9
    assert [r["dense_sparsity"] for r in t.for_layer("out")][:2] == [0.5, 0.6]


@pytest.mark.parametrize("kwargs,match", [
    (dict(keep={"c5": [26]}), "keep candidates \\[26\\] for layer c5"),
    (dict(dense_sparsity=[1.0]), "dense_sparsity candidate for layer fc"),
    (dict(library_size=[0]), "library_size candidate"),
    (dict(metric="f1"), "metric='f1'"),
    (dict(layers=["nope"]), "nope"),
])
def test_sensitivity_arguments_validated(trained, digits, kwargs, match):
    _, _, xv, yv = digits
    with pytest.raises(IKRHLSError, match=match):
        sensitivity(trained, xv[:20], yv[:20], **kwargs)


def test_sensitivity_data_checked(trained, digits):
    _, _, xv, yv = digits
    with pytest.raises(IKRHLSError, match="one length"):
        sensitivity(trained, xv[:20], yv[:10])


# ----- the search

def test_isotonic_and_monotone_drops():
    assert _isotonic([0, 3, 1, 2, 5]) == pytest.approx([0, 2, 2, 2, 5])
    rows = [{"keep": k, "library_size": 8, "kernel_sparsity": 0.0, "drop": d}
            for k, d in ((1, 0.30), (2, 0.10), (3, 0.20), (6, -0.02))]
    drops = _monotone_drops(rows, "conv2d")
    assert drops[3] == 0.0 and drops[1] == drops[2] == pytest.approx(0.15) and drops[0] == pytest.approx(0.30)


def test_knapsack_finds_the_brute_force_optimum():
    rng = np.random.default_rng(0)
    for trial in range(30):
        layers = [[Option({}, float(rng.random()), rng.integers(1, 50, 2).astype(float))
                   for _ in range(rng.integers(1, 6))] for _ in range(rng.integers(1, 5))]
        limits, fixed = rng.integers(20, 150, 2).astype(float), rng.integers(0, 10, 2).astype(float)
        best = None
        for combo in itertools.product(*[range(len(l)) for l in layers]):
            cost = fixed + sum(layers[i][k].cost for i, k in enumerate(combo))
            loss = sum(layers[i][k].loss for i, k in enumerate(combo))
            if np.all(cost <= limits) and (best is None or loss < best - 1e-12):
                best = loss
        found = best_choices(layers, limits, fixed, count=3)
        if best is None:
            assert found == [], trial
        else:
            assert found[0][0] == pytest.approx(best), trial
            assert np.all(found[0][1] <= limits) and [f[0] for f in found] == sorted(f[0] for f in found)


# ----- plan_budget

def test_plan_meets_params_and_macs_targets_and_ikrpruning_takes_it(trained, table, digits, capsys):
    x, y, xv, yv = digits
    totals = table.totals
    plan = plan_budget(trained, xv, yv, params_ratio=4, macs_ratio=3, table=table)
    printed = capsys.readouterr().out
    assert printed.strip() == plan.text().strip() and "c5" in printed and "total" in printed
    assert set(plan) <= {"keep", "library_size", "dense_sparsity", "kernel_sparsity"}
    assert plan.predicted["params_reduction"] >= 4 and plan.predicted["macs_reduction"] >= 3
    # the smallest predicted loss: no other combination of the table's settings that meets the
    # targets has a smaller summed (monotone) drop
    options = {}
    for name, layer in table.layers.items():
        rows = table.for_layer(name)
        options[name] = [(0.0, layer["nonzero"], layer["macs"])] + [
            (d, r["nonzero"], r["macs"]) for r, d in zip(rows, _monotone_drops(rows, layer["kind"]), strict=True)]
    rest_nz = totals["nonzero"] - sum(l["nonzero"] for l in table.layers.values())
    rest_macs = totals["macs_pruned"] - sum(l["macs"] for l in table.layers.values())
    best = min(sum(o[0] for o in combo) for combo in itertools.product(*options.values())
               if rest_nz + sum(o[1] for o in combo) <= totals["params"] / 4
               and rest_macs + sum(o[2] for o in combo) <= totals["macs_dense"] / 3)
    assert plan.predicted["drop"] == pytest.approx(best, abs=1e-6)

    model = keras.models.clone_model(trained)
    model.set_weights(trained.get_weights())
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(x[:256], y[:256], batch_size=64, epochs=1, verbose=0, callbacks=[IKRPruning(**plan, end_step=None)])
    t = summary(model, print_fn=None).totals
    assert t["params_reduction"] >= 4 and t["macs_reduction"] >= 3
    assert t["nonzero"] == plan.predicted["nonzero"] and t["macs_pruned"] == plan.predicted["macs"]


def test_plan_prices_resources_with_the_converter(trained, table, digits):
    _, _, xv, yv = digits
    dense = ikr_hls.convert(trained, precision="ap_fixed<12,4>").report()["totals"]["resources_by_binding"]
    limit = dense["dsp"]["dsp"] // 3                                 # the dense model is 3x over
    plan = plan_budget(trained, xv, yv, resources={"dsp": limit}, precision="ap_fixed<12,4>", table=table,
                       mapping="dsp", print_fn=None)
    assert plan.predicted["resources"]["dsp"] <= limit
    assert "dsp" in plan.text() and f"limit {limit:,}" in plan.text()
    model = keras.models.clone_model(trained)
    model.set_weights(trained.get_weights())
    prune_once(model, **plan)
    estimate = ikr_hls.convert(model, precision="ap_fixed<12,4>").report()["totals"]["resources_by_binding"]
    assert estimate["dsp"]["dsp"] == plan.predicted["resources"]["dsp"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(), "give a target"),
    (dict(params_ratio=0.5), "params_ratio=0.5"),
    (dict(macs_ratio="10"), "macs_ratio='10'"),
    (dict(resources={"dsp": -1}), "resources\\['dsp'\\]"),
    (dict(resources={"slices": 10}), "valid keys"),
    (dict(resources={"dsp": 10}, mapping="on_dsp"), "mapping='on_dsp'"),
    (dict(resources={"dsp": 10}, mapping="products_on_dsp"), "expected one of auto, dsp, fabric"),
    (dict(resources={"dsp": 10}, precision="float"), "no resources estimate"),
    (dict(params_ratio=2, keep=[3]), "are the table's"),
    (dict(params_ratio=1000), "no combination .* params [0-9.]+x fewer"),
])
def test_plan_budget_errors(trained, table, digits, kwargs, match):
    _, _, xv, yv = digits
    with pytest.raises(IKRHLSError, match=match):
        plan_budget(trained, xv, yv, table=table, print_fn=None, **kwargs)


def test_plan_budget_measures_its_own_table(trained, digits):
    _, _, xv, yv = digits
    plan = plan_budget(trained, xv[:100], yv[:100], macs_ratio=2, keep=[2, 4], dense_sparsity=[0.5],
                       layers=["c3", "c5", "fc"], print_fn=None)
    assert plan.predicted["macs_reduction"] >= 2
    assert set(plan["keep"]) <= {"c3", "c5"} and set(plan["dense_sparsity"]) <= {"fc"}
    assert isinstance(plan.layers, list) and all("describe" in l for l in plan.layers)


def test_monotone_drops_across_library_sizes_and_kernel_sparsity():
    rows = [{"keep": 3, "library_size": n, "kernel_sparsity": r, "drop": d}
            for n, r, d in ((4, 0.0, 0.10), (8, 0.0, 0.20), (16, 0.0, 0.05), (8, 0.5, 0.01))]
    drops = _monotone_drops(rows, "conv2d")
    # 8 patterns are predicted no worse than 4; removing half the kernels no better than none
    assert drops == pytest.approx([0.10, 0.10, 0.05, 0.10])


def test_per_layer_library_and_force_center_pass_through(trained, digits):
    """A per-layer library or force_center reaches the layer it names, in the table and in the
    plan (which names only the layers it prunes)."""
    _, _, xv, yv = digits
    t = sensitivity(trained, xv[:100], yv[:100], keep=[3], dense_sparsity=[0.5], library={"c3": "all"},
                    force_center={"c5": True})
    row = t.for_layer("c5")[0]
    model = keras.models.clone_model(trained)
    model.set_weights(trained.get_weights())
    info = prune_once(model, keep=3, layers=["c5"], force_center=True)["c5"]
    assert row["kept_energy"] == pytest.approx(info["kept_energy"])
    assert np.all(info["library"][:, 2, 2])                                  # the centre is in every pattern
    plan = plan_budget(trained, xv[:100], yv[:100], table=t, macs_ratio=1.5, library={"c3": "all"},
                       force_center={"c5": True}, print_fn=None)
    assert set(plan.get("force_center", {})) <= set(plan["keep"]) and set(plan.get("library", {})) <= set(plan["keep"])
    clone = keras.models.clone_model(trained)
    prune_once(clone, **plan)                                                # accepted as it is
    if "c5" in plan["keep"]:
        assert np.all(patterns_from_kernel(keras.ops.convert_to_numpy(clone.get_layer("c5").kernel)).library[:, 2, 2])
