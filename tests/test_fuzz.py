"""Fuzzed inputs (docs/robustness.md): damaged model files, wrongly typed config values and
odd predict() inputs. Each gets an IKRHLSError naming the culprit (exit code 2 and one line
from the CLI) or a documented behaviour; never a crash of the Python process."""
import contextlib
import io
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import ikr_hls
from cli_helpers import assert_one_line_error, run_cli
from ikr_hls import IKRHLSError
from ikr_hls.cli import main as cli_main
from ikr_hls.config import ASKED_STRATEGIES, STRATEGIES
from ikr_hls.hostbuild import ap_types_dir
from ikr_hls.precision import parse_fixed, quantize

CPP = Path(__file__).resolve().parent.parent / "cpp"
FIXED = "ap_fixed<16,6>"


def _model():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((8, 8, 1), name="inp"),
                             keras.layers.Conv2D(2, 3, activation="relu", name="c1"),
                             keras.layers.Flatten(name="flat"),
                             keras.layers.Dense(3, activation="softmax", name="d1")])


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    model.save(root / "m.h5")
    model.save(root / "m.keras")
    return root


# --- 1. damaged model files -----------------------------------------------------------------

_WORKER = textwrap.dedent("""
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import ikr_hls
    out = sys.argv[1]
    for i, path in enumerate(sys.argv[2:]):
        try:
            ikr_hls.convert(path, output_dir=os.path.join(out, str(i)), precision="float")
            row = {"file": path, "outcome": "ok"}
        except ikr_hls.IKRHLSError as exc:
            row = {"file": path, "outcome": "IKRHLSError", "message": str(exc)}
        except BaseException as exc:
            row = {"file": path, "outcome": type(exc).__name__, "message": str(exc)[:300]}
        print(json.dumps(row), flush=True)
""")


def _load_in_subprocess(paths, out_dir):
    """{file: row} for every path, loaded by ikr_hls.convert in one child process; a child killed
    by a signal fails the test naming the file(s) that kill it on their own."""
    cmd = [sys.executable, "-c", _WORKER, str(out_dir)]
    proc = subprocess.run(cmd + [str(p) for p in paths], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        culprits = [(str(p), r.returncode) for p in paths
                    if (r := subprocess.run(cmd + [str(p)], capture_output=True, text=True)).returncode != 0]
        pytest.fail(f"loading damaged model files crashed the interpreter (code {proc.returncode}); "
                    f"alone, these crash it: {culprits}\n{proc.stderr[-2000:]}")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["file"] for r in rows] == [str(p) for p in paths], proc.stderr[-2000:]
    return {r["file"]: r for r in rows}


def _weight_offsets(h5_path):
    """(byte offset, size) of every weight array stored in the .h5 file."""
    found = []
    with h5py.File(h5_path, "r") as f:
        f.visititems(lambda name, obj: found.append((obj.id.get_offset(), obj.id.get_storage_size()))
                     if isinstance(obj, h5py.Dataset) and obj.id.get_offset() is not None else None)
    assert found
    return found


def _corrupt(saved, out):
    """Truncated and bit-flipped copies of m.h5 and m.keras: {kind: [paths]}."""
    rng = np.random.default_rng(20240609)
    out.mkdir()
    files = {"truncated": [], "flipped": [], "nan_weight": []}
    for ext in ("h5", "keras"):
        data = (saved / f"m.{ext}").read_bytes()
        n = len(data)
        for cut in (0, 1, 8, 512, n // 3, 2 * n // 3, n - 64, n - 1):
            path = out / f"cut{cut}.{ext}"
            path.write_bytes(data[:cut])
            files["truncated"].append(path)
        for i in range(16):
            flipped = bytearray(data)
            lo, hi = (0, 2048) if i % 2 == 0 else (2048, n)     # the header/superblock, then the rest
            for _ in range(1 + i % 3):
                flipped[int(rng.integers(lo, hi))] ^= 1 << int(rng.integers(8))
            path = out / f"flip{i}.{ext}"
            path.write_bytes(bytes(flipped))
            files["flipped"].append(path)
    # a weight's exponent set to all ones: a NaN or an infinity that HDF5 loads without complaint
    data = (saved / "m.h5").read_bytes()
    for i, (offset, size) in enumerate(_weight_offsets(saved / "m.h5")):
        damaged = bytearray(data)
        k = offset + 4 * int(rng.integers(size // 4))        # little-endian float32
        damaged[k + 3] |= 0x7F
        damaged[k + 2] |= 0x80
        path = out / f"nan{i}.h5"
        path.write_bytes(bytes(damaged))
        files["nan_weight"].append(path)
    return files


@pytest.fixture(scope="module")
def damaged(saved, tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged")
    files = _corrupt(saved, root / "files")
    rows = _load_in_subprocess([p for paths in files.values() for p in paths], root / "out")
    return files, rows


@pytest.mark.process
def test_damaged_model_files_never_crash(damaged):
    files, rows = damaged
    for path in [p for paths in files.values() for p in paths]:
        row = rows[str(path)]
        assert row["outcome"] in ("ok", "IKRHLSError"), row
        if row["outcome"] == "IKRHLSError":
            assert str(path) in row["message"] and "\n" not in row["message"], row


def test_truncated_model_files_are_refused(damaged):
    files, rows = damaged
    for path in files["truncated"]:
        row = rows[str(path)]
        assert row["outcome"] == "IKRHLSError", row
        assert row["message"].startswith(f"{path}: cannot be read as a Keras model ("), row
        if path.stat().st_size == 0:
            assert "(empty file)" in row["message"]
        elif path.suffix == ".keras":
            assert "not a zip archive" in row["message"]


def test_flipped_bits_load_or_are_refused(damaged):
    files, rows = damaged
    outcomes = [rows[str(p)]["outcome"] for p in files["flipped"]]
    # the seeded corpus exercises both: some flips hit padding or names, some the structure
    assert "ok" in outcomes and "IKRHLSError" in outcomes, outcomes


def test_non_finite_weights(damaged):
    files, rows = damaged
    for path in files["nan_weight"]:
        with h5py.File(path, "r") as f:                      # the damage is where it was meant to be
            bad = []
            f.visititems(lambda name, obj, bad=bad: bad.append(name) if isinstance(obj, h5py.Dataset)
                         and obj.dtype.kind == "f" and not np.all(np.isfinite(obj[...])) else None)
        assert bad, path
        row = rows[str(path)]
        assert row["outcome"] == "IKRHLSError", row
        assert "values are not finite (NaN or infinity)" in row["message"] and str(path) in row["message"], row


def test_damaged_model_files_through_the_cli(damaged, tmp_path):
    files, rows = damaged
    refused = [p for p in files["truncated"] + files["flipped"] if rows[str(p)]["outcome"] == "IKRHLSError"]
    picks = [p for p in refused if p.suffix == ".h5"][-1:] + [p for p in refused if p.suffix == ".keras"][-1:]
    assert len(picks) == 2
    for path in picks:
        proc = run_cli("convert", path, "-o", tmp_path / "prj")
        assert_one_line_error(proc, f"{path}: cannot be read as a Keras model")
        assert not (tmp_path / "prj").exists()


# --- 2. configs with wrong types --------------------------------------------------------------

# every place a config value goes: (path in the config, what a valid value looks like)
SLOTS = {
    ("Model",): "mapping", ("LayerName",): "mapping", ("LayerName", "c1"): "mapping",
    ("Model", "Precision"): "type", ("Model", "ReuseFactor"): "reuse", ("Model", "Strategy"): "strategy",
    ("Model", "TableSize"): "table", ("Model", "ExpRange"): "range",
    ("LayerName", "c1", "Precision"): "layer_precision", ("LayerName", "c1", "ReuseFactor"): "reuse",
    ("LayerName", "c1", "Strategy"): "strategy", ("LayerName", "d1", "TableSize"): "table",
    ("LayerName", "d1", "ExpRange"): "range",
    **{("LayerName", "d1", "Precision", role): "type" for role in
       ("weight", "bias", "accum", "result", "exp_table", "inv_table")},
    ("LayerName", "inp", "Precision", "result"): "type",
    ("Part",): "part", ("ClockPeriod",): "clock", ("ClockUncertainty",): "uncertainty",
}

WRONG = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**70, max_value=2**70), st.sampled_from([0, -1, 3, 64, 2**31, 2**63, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, -0.0, 5e-324, 1e308]),
    st.text(max_size=12), st.sampled_from(["5", "12.5%", "1e400", "nan", "ap_fixed<8,3>", "pattern", "auto", ""]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.dictionaries(st.integers(), st.text(max_size=4), min_size=1, max_size=2),     # non-string keys
)


def _base():
    return {"Model": {"Precision": FIXED, "ReuseFactor": 1, "Strategy": "unrolled"},
            "LayerName": {"c1": {"ReuseFactor": 2}, "d1": {"Precision": {"weight": "ap_fixed<8,3>"}}}}


def _with(slot, value):
    cfg = _base()
    node = cfg
    for key in slot[:-1]:
        node = node.setdefault(key, {})
    node[slot[-1]] = value
    return cfg


def _valid(kind, value, hls, slot) -> bool:
    """Whether an accepted value really was a valid one, and was applied."""
    num = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "mapping":
        return isinstance(value, dict) and all(isinstance(k, str) for k in value) and not value
    if kind in ("type", "layer_precision"):                   # a layer's null or {}: no types of its own
        return isinstance(value, str) or (kind == "layer_precision" and value in (None, {}))
    if kind == "reuse":
        layer = hls.graph.layer("c1") if slot[0] == "LayerName" else hls.graph.layer("d1")
        if value is None and slot[0] == "LayerName":          # a layer's null: unset, the model's value
            return layer.settings.reuse_factor == hls.config.reuse_factor
        return isinstance(value, int) and not isinstance(value, bool) and layer.settings.reuse_factor == value >= 1
    if kind == "strategy":
        return value in STRATEGIES + ASKED_STRATEGIES
    if kind in ("table", "range"):
        return isinstance(value, int) and not isinstance(value, bool) and value > 0 and value & (value - 1) == 0
    if kind == "part":
        return isinstance(value, str) and hls.config.part == value.strip() != ""
    if kind == "clock":
        return (num or isinstance(value, str)) and math.isfinite(hls.config.clock_period) \
            and hls.config.clock_period == float(value) > 0
    if kind == "uncertainty":
        return (num or isinstance(value, str)) and hls.config.clock_uncertainty.rstrip("%") in str(value)
    raise AssertionError(kind)


def _check_config(model, slot, value, config, out_dir):
    try:
        hls = ikr_hls.convert(model, output_dir=out_dir, precision=FIXED, config=config)
    except IKRHLSError as exc:
        assert str(slot[-1]) in str(exc) and "\n" not in str(exc), (slot, value, str(exc))
        return "error"
    assert _valid(SLOTS[slot], value, hls, slot), (slot, value)
    return "ok"


@settings(derandomize=True, max_examples=150, deadline=None, database=None)
@given(slot=st.sampled_from(sorted(SLOTS)), value=WRONG)
def test_wrong_config_values_as_dicts(model, tmp_path_factory, slot, value):
    _check_config(model, slot, value, _with(slot, value), tmp_path_factory.getbasetemp() / "unused")


@settings(derandomize=True, max_examples=60, deadline=None, database=None)
@given(where=st.sampled_from([(), ("Model",), ("LayerName",), ("LayerName", "c1"),
                              ("LayerName", "d1", "Precision")]),
       key=st.one_of(st.integers(), st.none(), st.booleans(), st.floats(allow_nan=True), st.text(max_size=6)))
def test_unknown_and_non_string_keys(model, tmp_path_factory, where, key):
    cfg = _with(where + (key,), []) if where else {**_base(), key: []}
    known = {(): ("Model", "LayerName", "Part", "ClockPeriod", "ClockUncertainty"),
             ("Model",): ("Precision", "ReuseFactor", "Strategy", "TableSize", "ExpRange"),
             ("LayerName", "c1"): ("Precision", "ReuseFactor", "Strategy", "TableSize", "ExpRange")}
    with pytest.raises(IKRHLSError) as info:                 # [] is never a valid value where it lands
        ikr_hls.convert(model, output_dir=tmp_path_factory.getbasetemp() / "unused", config=cfg)
    message = str(info.value)
    if where in known and key not in known[where]:
        assert "unknown key(s)" in message, message
    if where == ("LayerName",):
        assert "LayerName" in message, message
    assert "\n" not in message


# YAML (or JSON) text of one wrong value per line of a config file, with the key its error names
FILE_CASES = [
    ("yml", "Model:\n  ReuseFactor: [1, 2]\n", "Model.ReuseFactor"),
    ("yml", "Model:\n  Strategy: {a: 1}\n", "Model.Strategy"),
    ("yml", "Model:\n  Precision: 16\n", "Model.Precision"),
    ("yml", "Model:\n  Precision: {weight: ap_fixed<8,3>}\n", "Model.Precision"),
    ("yml", "Model:\n  TableSize: 1024.0\n", "Model.TableSize"),
    ("yml", "Model:\n  ExpRange: yes\n", "Model.ExpRange"),
    ("yml", "Model:\n", "Model must be a mapping"),
    ("yml", "LayerName:\n  c1:\n", "LayerName.c1: expected a mapping"),
    ("yml", "LayerName:\n  1: {ReuseFactor: 2}\n", "LayerName: layer names are strings"),
    ("yml", "LayerName:\n  c1: {Precision: [ap_fixed<8,3>]}\n", "LayerName.c1.Precision"),
    ("yml", "LayerName:\n  d1: {Precision: {weight: 8}}\n", "LayerName.d1.Precision.weight"),
    ("yml", "LayerName:\n  d1: {Precision: {7: ap_fixed<8,3>}}\n", "LayerName.d1.Precision: unknown key(s) 7"),
    ("yml", "ClockPeriod: .nan\n", "ClockPeriod"),
    ("yml", "ClockPeriod: 1" + "0" * 400 + "\n", "ClockPeriod"),
    ("yml", "ClockUncertainty: [1]\n", "ClockUncertainty"),
    ("yml", "Part: 2020-01-01\n", "Part"),
    ("yml", "Part: \"xcvu9p\\nexec rm x\"\n", "Part"),
    ("yml", "- Model\n", "expected a mapping"),
    ("yml", "Model: {ReuseFactor: 1" + "0" * 5000 + "}\n", "cannot be parsed"),
    ("json", '{"Model": {"ReuseFactor": NaN}}', "Model.ReuseFactor"),
    ("json", '{"ClockPeriod": -Infinity}', "ClockPeriod"),
    ("json", '{"ClockUncertainty": null}', "ClockUncertainty"),
    ("json", '{"LayerName": {"c1": {"ReuseFactor": 1e400}}}', "LayerName.c1.ReuseFactor"),
    ("json", "[" * 100000, "cannot be parsed"),
]


@pytest.fixture(scope="module")
def config_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("configs")
    paths = []
    for i, (suffix, text, fragment) in enumerate(FILE_CASES):
        path = root / f"c{i}.{suffix}"
        path.write_text(text)
        paths.append((path, fragment))
    return paths


def test_wrong_config_files_through_the_api(model, config_files, tmp_path):
    for path, fragment in config_files:
        with pytest.raises(IKRHLSError) as info:
            ikr_hls.convert(model, output_dir=tmp_path / "unused", config=path)
        message = str(info.value)
        assert message.startswith(f"{path}: ") and fragment in message and "\n" not in message, message


def test_wrong_config_files_through_the_cli(saved, config_files, tmp_path):
    """Every file through the CLI's main() in this process, and two through the command itself."""
    for path, fragment in config_files:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = cli_main(["-q", "convert", str(saved / "m.h5"), "-o", str(tmp_path / "prj"),
                             "--config", str(path)])
        lines = stderr.getvalue().strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("ikr-hls: error: "), stderr.getvalue()
        assert fragment in lines[0] and "Traceback" not in stderr.getvalue()
        assert not (tmp_path / "prj").exists()
    for path, fragment in config_files[:1]:
        proc = run_cli("convert", saved / "m.h5", "-o", tmp_path / "prj", "--config", path)
        assert_one_line_error(proc, str(path), fragment)
        assert not (tmp_path / "prj").exists()


@settings(derandomize=True, max_examples=40, deadline=None, database=None)
@given(slot=st.sampled_from([s for s in sorted(SLOTS) if len(s) > 1 or s[0] in ("Part", "ClockPeriod")]),
       value=st.one_of(st.none(), st.booleans(), st.integers(min_value=-10, max_value=10**20),
                       st.floats(allow_nan=True), st.text(alphabet="ap_fixed<>,0123456789 %.", max_size=10),
                       st.lists(st.integers(), max_size=2)))
def test_wrong_config_values_in_yaml_and_json(model, tmp_path_factory, slot, value):
    """The same values written to a file: the error names the file and the key."""
    cfg = _with(slot, value)
    root = tmp_path_factory.getbasetemp()
    for path, dump in ((root / "fuzz.yml", yaml.safe_dump), (root / "fuzz.json", json.dumps)):
        path.write_text(dump(cfg))
        outcome = _check_config(model, slot, value, path, root / "unused")
        if outcome == "error":
            with pytest.raises(IKRHLSError, match=f"^{path}: "):
                ikr_hls.convert(model, output_dir=root / "unused", config=path)


# --- 3. predict inputs ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def projects(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_projects")
    return {"float": ikr_hls.convert(model, output_dir=root / "float").compile(),
            "fixed": ikr_hls.convert(model, output_dir=root / "fixed", precision=FIXED).compile(),
            "fixed_sat": ikr_hls.convert(model, output_dir=root / "sat",
                                         precision="ap_fixed<16,6,AP_RND,AP_SAT>").compile()}


@pytest.fixture(scope="module")
def ap_fixed_project(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz_ap")
    return ikr_hls.convert(model, output_dir=root / "fixed", precision=FIXED).compile(arithmetic="ap_fixed")


X = np.random.default_rng(5).standard_normal((6, 8, 8, 1))
HUGE = [1e30, -1e30, 1e300, -1e300, 2.0**60 + 2.0**8, 2.0**64 + 2.0**12, -2.0**70,
        np.finfo(np.float64).max, -np.finfo(np.float64).max, 5e-324, -5e-324, 1e-310]


def _with_values(values):
    """X with sample i holding values[i % len] at a few pixels, and one sample all of it."""
    x = X.copy()
    for i, v in enumerate(values):
        x[i % len(x), i % 8, (3 * i) % 8, 0] = v
    x[-1, :, :, 0] = values[0]
    return x


@pytest.mark.parametrize("values", [HUGE[:4], HUGE[4:7], HUGE[7:9], HUGE[9:]], ids=["1e30-1e300", "2^60-2^70",
                                                                                    "max", "subnormal"])
@pytest.mark.cpp
def test_huge_and_tiny_inputs_fixed_point_match_the_reference(projects, values):
    x = _with_values(values)
    for name in ("fixed", "fixed_sat"):
        hls = projects[name]
        y, ref = hls.predict(x), hls.emulate(x)
        assert np.all(np.isfinite(y)) and np.array_equal(y, ref), (name, y, ref)


@pytest.mark.cpp
def test_huge_inputs_with_the_ap_types_headers(projects, ap_fixed_project):
    x = _with_values(HUGE)
    y = ap_fixed_project.predict(x)
    assert np.array_equal(y, ap_fixed_project.emulate(x)) and np.array_equal(y, projects["fixed"].predict(x))


@pytest.mark.cpp
def test_assigning_huge_values_every_overflow_mode(tmp_path):
    """ap_types headers, the integer host model and numpy's quantize agree on values far out
    of range (beyond 2**53 codes, where float arithmetic drops the low bits, and beyond 2**1024)."""
    if ap_types_dir() is None:
        pytest.fail("the ap_types headers are needed")       # hls4ml ships them; a dependency
    types = [f"ap_fixed<16,6,AP_RND,{o}>" for o in ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")] \
        + ["ap_ufixed<8,3>", "ap_fixed<12,-4>", "ap_fixed<40,30,AP_RND_CONV,AP_WRAP>"]
    values = HUGE + [3.75, -1e17, 2.0**52 + 1, -(2.0**63)]
    source = tmp_path / "huge.cpp"
    body = "\n".join(f"  for (double v : values) std::printf(\"%.17g\\n\", double({t}(v)));" for t in types)
    source.write_text("#include <cstdio>\n#include \"ikr_fixed.h\"\nint main() {\n"
                      f"  const double values[] = {{{', '.join(repr(float(v)) for v in values)}}};\n{body}\n}}\n")
    outputs = []
    for name, flags in (("int", ["-DIKR_HOST_INT"]), ("ap", ["-isystem", str(ap_types_dir())])):
        subprocess.run(["g++", "-std=c++14", "-O1", *flags, "-I", str(CPP), str(source), "-o", str(tmp_path / name)],
                       check=True, capture_output=True, text=True)
        run = subprocess.run([str(tmp_path / name)], check=True, capture_output=True, text=True)
        outputs.append([float(v) for v in run.stdout.split()])
    expected = [float(quantize(v, parse_fixed(t))) for t in types for v in values]
    assert outputs[0] == outputs[1] == expected


@pytest.mark.cpp
def test_nan_and_inf_inputs(projects, model):
    for v in (np.nan, np.inf, -np.inf):
        x = X.copy()
        x[1, 4, 4, 0] = v
        for name in ("fixed", "fixed_sat"):                 # fixed point: refused, by predict and emulate
            for run in (projects[name].predict, projects[name].emulate):
                with pytest.raises(IKRHLSError, match="NaN or infinite"):
                    run(x)
        y = projects["float"].predict(x)                     # float: through the network, like Keras
        y_keras = np.asarray(model.predict(x.astype(np.float32), verbose=0), dtype=np.float64)
        assert np.array_equal(np.isnan(y), np.isnan(y_keras)), (v, y, y_keras)
        assert np.allclose(y, y_keras, rtol=1e-4, atol=1e-5, equal_nan=True)
        assert np.array_equal(y[[0, 2, 3, 4, 5]], projects["float"].predict(X[[0, 2, 3, 4, 5]]))


@pytest.mark.cpp
def test_huge_inputs_float(projects, model):
    x = _with_values(HUGE)
    with np.errstate(over="ignore"):
        y_keras = np.asarray(model.predict(x.astype(np.float32), verbose=0), dtype=np.float64)
    y = projects["float"].predict(x)
    assert np.array_equal(np.isnan(y), np.isnan(y_keras))
    assert np.allclose(y, y_keras, rtol=1e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("make", [
    lambda x: x.astype(object), lambda x: x.astype(str), lambda x: x > 0, lambda x: x.astype(np.complex128),
    lambda x: (x * 1e3).astype("m8[s]"), lambda x: x.astype("M8[s]"), lambda x: [[["a"]]], lambda x: None,
], ids=["object", "str", "bool", "complex", "timedelta", "datetime", "nested-str", "None"])
@pytest.mark.cpp
def test_wrong_dtypes_are_refused(projects, make):
    x = make(X)
    for hls in projects.values():
        runs = [hls.predict] + ([hls.emulate] if hls is not projects["float"] else [])
        for run in runs:
            with pytest.raises(IKRHLSError, match="expected an array of real numbers"):
                run(x)


@pytest.mark.cpp
@pytest.mark.parametrize("shape", [(), (8,), (8, 8), (6, 8, 8), (6, 8, 8, 2), (6, 64), (6, 1, 8, 8), (1, 6, 8, 8, 1)])
def test_wrong_shapes_are_refused(projects, shape):
    x = np.zeros(shape)
    for name, hls in projects.items():
        runs = [hls.predict] + ([hls.emulate] if name != "float" else [])
        for run in runs:
            with pytest.raises(IKRHLSError, match=r"expected input of shape \(N, 8, 8, 1\)"):
                run(x)


@pytest.mark.cpp
def test_empty_batch(projects):
    for name, hls in projects.items():
        y = hls.predict(np.zeros((0, 8, 8, 1)))
        assert y.shape == (0, 3) and y.dtype == np.float64
        if name != "float":
            assert hls.emulate(np.zeros((0, 8, 8, 1))).shape == (0, 3)


@pytest.mark.cpp
def test_layouts_dtypes_and_threads_give_the_same_outputs(projects):
    for name, hls in projects.items():
        base = hls.predict(X)
        same = [hls.predict(np.asfortranarray(X)), hls.predict(X[::-1][::-1]),
                hls.predict(np.ascontiguousarray(X[:, ::-1])[:, ::-1]),
                hls.predict(X.tolist()), hls.predict(X, threads=10**12), hls.predict(X, threads=2**31),
                np.stack([hls.predict(s) for s in X])]
        for y in same:
            assert np.array_equal(y, base), name
        assert hls.predict(X[::2]).shape == (3, 3) and np.array_equal(hls.predict(X[::2]), base[::2])
        x32 = X.astype(np.float32)                         # float32 inputs: the same as their float64 values
        assert np.array_equal(hls.predict(x32), hls.predict(x32.astype(np.float64)))
        ints = np.round(X * 3).astype(np.int16)
        assert np.array_equal(hls.predict(ints), hls.predict(ints.astype(np.float64)))
        if name != "float":
            assert np.array_equal(hls.emulate(x32), hls.predict(x32))
        for threads in (-1, 1.5, True, "2"):
            with pytest.raises(IKRHLSError, match="threads must be an integer"):
                hls.predict(X, threads=threads)


@pytest.mark.cpp
def test_long_double_beyond_float64_is_refused_in_fixed_point(projects):
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 on this platform")
    x = X.astype(np.longdouble)
    x[0, 0, 0, 0] = np.longdouble(np.finfo(np.float64).max) * 16
    with pytest.raises(IKRHLSError, match="NaN or infinite"):
        projects["fixed"].predict(x)
