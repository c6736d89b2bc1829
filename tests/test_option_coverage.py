"""Option coverage: every constructor option that changes the math of a supported Keras layer
is drawn by the random-model generator (tests/random_cnn.py, OPTIONS and CONTEXTS), and the
drawn models that exercise them all are compared with Keras in float and with the reference
bit for bit in fixed point, in both conv strategies.

The table in random_cnn.py is checked three ways, so that a new option cannot slip in
untested: against Keras (every option of a supported class that changes inference math is
in it), against the frontend (every option it reads is in it, found by recording the
attributes the frontend touches), and against the generator (a few hundred drawn specs
exercise every case). Options the converter supports in one form only list values that it
must refuse, and it does.
"""
import tempfile
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

import ikr_hls
from ikr_hls import frontend, kinds
from ikr_hls.tbdata import FLOAT_ATOL, FLOAT_RTOL
from random_cnn import CONTEXTS, OPTIONS, build_model, covered_cases, covering_specs

L = keras.layers
# Dense(1) + softmax is drawn on purpose (its output is always 1); Keras warns.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")

# Options of supported layers that do not change the inference math, and why.
NON_MATH = {
    "name": "a label",
    "trainable": "training only",
    "momentum": "the update of BatchNormalization's moving statistics, in training",
    "synchronized": "BatchNormalization across devices, in training",
    "renorm": "batch renormalization corrects batch statistics, in training only",
    "renorm_clipping": "batch renormalization, training only",
    "renorm_momentum": "batch renormalization, training only",
    "rate": "Dropout, training only",
    "seed": "Dropout, training only",
    "noise_shape": "Dropout, training only",
    "activity_regularizer": "a training loss",
}
NON_MATH_SUFFIXES = ("_initializer", "_regularizer", "_constraint")   # training only


def _math_options(layer) -> set:
    return {key for key in layer.get_config()
            if key not in NON_MATH and not key.endswith(NON_MATH_SUFFIXES)}


# One instance of each supported class, with the input shape(s) it is called on: each kind's
# samples (kinds/<kind>: LayerKind.samples), so a new kind brings its own.
SAMPLES = {cls: (lambda make=sample.make: make(L), sample.shape)
           for kind in (*kinds.HARDWARE.values(), *kinds.FREE.values()) for cls, sample in kind.samples.items()}


def test_every_supported_class_has_a_sample_and_an_option_table():
    assert set(SAMPLES) == set(frontend.SUPPORTED) == set(OPTIONS)


@pytest.mark.parametrize("cls", sorted(SAMPLES))
def test_the_table_names_every_math_option_keras_has(cls):
    """A Keras option that changes the math and is missing from the table fails here: add it
    to random_cnn.OPTIONS and draw it (or to NON_MATH, saying why it is training-only)."""
    layer = SAMPLES[cls][0]()
    assert set(OPTIONS[cls]) == _math_options(layer), (
        f"{cls}: options missing from random_cnn.OPTIONS: {sorted(_math_options(layer) - set(OPTIONS[cls]))}; "
        f"in the table but not in Keras: {sorted(set(OPTIONS[cls]) - _math_options(layer))}")


class _Recorder:
    """Stands in for a Keras layer and records the attributes the frontend reads."""

    def __init__(self, layer):
        object.__setattr__(self, "_layer", layer)
        object.__setattr__(self, "read", set())

    def __getattr__(self, name):
        self.read.add(name)
        return getattr(self._layer, name)

    @property
    def __class__(self):            # isinstance() and type names in messages see the layer's class
        return type(self._layer)


def _frontend_reads(layer, shape) -> set:
    recorder = _Recorder(layer)
    frontend.SUPPORTED[type(layer).__name__](recorder, shape, "sample")
    return recorder.read & set(layer.get_config())


def _call(layer, shape):
    if isinstance(shape, list):
        layer([keras.Input(s) for s in shape])
    else:
        layer(keras.Input(shape))
    return layer


@pytest.fixture(scope="module")
def cover():
    specs, missing = covering_specs()
    return specs, missing


def test_every_option_the_frontend_reads_is_in_the_table(cover):
    """Over the samples and every layer of the covering models: an option the frontend reads
    must be in the table (so it is drawn and compared), and not in NON_MATH."""
    reads: dict = {}
    for cls, (make, shape) in SAMPLES.items():
        reads.setdefault(cls, set()).update(_frontend_reads(_call(make(), shape), shape))
    for spec in cover[0]:
        for layer in build_model(spec).layers[1:]:
            inbound = layer.input
            shape = ([tuple(t.shape[1:]) for t in inbound] if isinstance(inbound, list)
                     else tuple(inbound.shape[1:]))
            reads[type(layer).__name__].update(_frontend_reads(layer, shape))
    for cls, options in reads.items():
        assert options - {"name"} <= set(OPTIONS[cls]), (
            f"{cls}: the frontend reads {sorted(options - {'name'} - set(OPTIONS[cls]))}, "
            "which random_cnn.OPTIONS does not draw")


def test_the_generator_draws_every_case(cover):
    specs, missing = cover
    assert not missing, f"never drawn in the cover's draws: {sorted(missing)}"
    # 19 before Multiply, Rescaling, Normalization and four activations (issue 32), 20 after
    assert len(specs) <= 24, f"{len(specs)} specs to cover the options: the cover got expensive"


# -- values the converter supports in one form only must be refused ---------------------------

def _model_with(cls, option, value):
    """A tiny model whose `cls` layer has `option` = `value`."""
    make, shape = SAMPLES[cls]
    config = make().get_config()
    config[option] = value
    if option == "groups":
        config["filters"] = 2
    if value == "channels_first" and not isinstance(shape, list):
        shape = (shape[-1], *shape[:-1])
    layer = type(make()).from_config(config)
    if isinstance(shape, list):
        inputs = [keras.Input(s) for s in shape]
        return keras.Model(inputs[0], layer([inputs[0], inputs[0]]))
    inp = keras.Input(shape)
    return keras.Model(inp, layer(inp))


REFUSED = [(cls, option, value) for cls, options in sorted(OPTIONS.items())
           for option, spec_option in sorted(options.items()) for value in spec_option.refused]


@pytest.mark.parametrize("cls,option,value", REFUSED, ids=[f"{c}-{o}-{v}" for c, o, v in REFUSED])
def test_unsupported_option_values_are_refused(cls, option, value, tmp_path):
    model = _model_with(cls, option, value)
    with pytest.raises(ikr_hls.IKRHLSError) as info:
        ikr_hls.convert(model, output_dir=tmp_path / "prj")
    assert model.layers[-1].name in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "prj").exists()


# -- the covering models: contexts as claimed, and C++ == Keras / == the reference --------------

ACTIVATION_CLASSES = ("Activation", "ReLU", "LeakyReLU", "Softmax")
POOL_CLASSES = ("MaxPooling2D", "AveragePooling2D")


def _graph_contexts(graph) -> set:
    """The contexts of random_cnn.CONTEXTS the converted graph shows, read from the Keras class
    each layer came from and what the passes say they removed (no kind names)."""
    cls = {layer.name: graph.keras_classes.get(layer.keras_name) for layer in graph.layers}
    found = set()
    for why in graph.removed.values():
        if why.startswith("folded into"):
            target = graph.layer(why.split("folded into ")[1])
            found.add("a scale-and-shift folded into the one before it"
                      if cls[target.name] in ("BatchNormalization", "Rescaling", "Normalization")
                      else "BatchNormalization folded into a Dense" if cls[target.name] == "Dense"
                      else "BatchNormalization folded into a conv")
        if why.startswith("merged into the padding"):
            found.add("ZeroPadding2D merged into a conv")
    if "BatchNormalization" in cls.values():
        found.add("BatchNormalization on its own")
    if "ZeroPadding2D" in cls.values():               # (a Conv2DTranspose's zero insertion is its own class's)
        found.add("ZeroPadding2D on its own")
    if any(cls[layer.name] == "Add" and layer.activation != "linear" for layer in graph.layers):
        found.add("activation fused into an Add")
    if any(cls[layer.name] in ACTIVATION_CLASSES and layer.inputs[0] != "input"
           and graph.layer(layer.inputs[0]).activation != "linear" for layer in graph.layers):
        found.add("an activation layer after a layer with its own activation")
    for layer in graph.layers:
        if cls[layer.name] in POOL_CLASSES and layer.attrs.pad_top != layer.attrs.pad_left:
            found.add(f"{cls[layer.name]} padded unevenly (top != left)")
    return found


def test_the_converter_puts_layers_where_the_cover_says(cover):
    """The contexts random_cnn computes from a spec are what the converter's passes do."""
    for spec in cover[0]:
        hls = ikr_hls.convert(build_model(spec), output_dir=tempfile.mkdtemp())
        claimed = {case[1] for case in covered_cases(spec) if case[0] == "context"}
        assert claimed == _graph_contexts(hls.graph) & set(CONTEXTS), spec.describe()


# (precision, strategy, reuse factor): float and fixed point, each in both strategies
BUILDS = [("float", "unrolled", 2), ("float", "pattern", 1),
          ("ap_fixed<16,6>", "unrolled", 1), ("ap_fixed<18,8,AP_RND,AP_SAT>", "pattern", 2)]


@pytest.mark.cpp
@pytest.mark.parametrize("precision,strategy,reuse", BUILDS, ids=[f"{p}-{s}" for p, s, _ in BUILDS])
def test_covering_models_match(cover, tmp_path, precision, strategy, reuse):
    cases = []                                      # Keras work in this thread, g++ in two
    for i, spec in enumerate(cover[0]):
        model = build_model(spec)
        x = np.random.default_rng(i).normal(0.0, 1.5, (6, *spec.input_shape)).astype(np.float32)
        hls = ikr_hls.convert(model, output_dir=tmp_path / f"m{i}", precision=precision,
                              strategy=strategy, reuse_factor=reuse)
        expected = (np.asarray(model(x, training=False), dtype=np.float64) if precision == "float"
                    else hls.emulate(x))
        cases.append((spec, hls, x, expected))
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda case: case[1].compile(), cases))
    failures = []
    for spec, hls, x, expected in cases:
        got = hls.predict(x)
        same = got.shape == expected.shape and (
            np.allclose(got, expected, rtol=FLOAT_RTOL, atol=FLOAT_ATOL) if precision == "float"
            else np.array_equal(got, expected))
        if not same:
            diff = np.abs(got - expected).max() if got.shape == expected.shape else f"shape {got.shape}"
            failures.append(f"max |C++ - expected| {diff}\n{spec.describe()}")
    assert not failures, f"{precision}, {strategy}, reuse {reuse}:\n" + "\n\n".join(failures)
