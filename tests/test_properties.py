"""Property tests on random small IKR-pruned CNNs (tests/random_cnn.py):

- float:  the C++ host model equals Keras within the testbench's tolerances;
- fixed:  the C++ host model equals the numpy reference of the hardware (`emulate`) bit for
          bit, through the integer model of ap_fixed (the default build) and, for some
          examples, through the ap_types headers too.

Each example compiles one C++ module (through the session build cache). The number of
examples comes from the hypothesis profile (tests/conftest.py): a bounded, derandomized set
by default; the tests marked slow run many more. A failure prints the network (layer by
layer, and as an eval-able CNNSpec), the conversion options and the largest difference.
"""
import tempfile

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import ikr_hls
from ikr_hls.config import STRATEGIES
from ikr_hls.patterns import patterns_from_kernel
from ikr_hls.tbdata import FLOAT_ATOL, FLOAT_RTOL
from random_cnn import CNNSpec, build_model, cnn_specs, keras_class, named_entries

# Dense(1, activation="softmax") is generated on purpose (its output is always 1); Keras warns.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")

PRECISIONS = ("ap_fixed<16,6>", "ap_fixed<12,4>", "ap_fixed<18,8,AP_RND,AP_SAT>")
SLOW_EXAMPLES = settings.get_profile("slow").max_examples
# A build through the ap_types headers takes 5-30 s of g++ (the integer model 1-3 s), so the
# regular run checks it on a fifth of the profile's examples (3 of 15); the slow run on half of its 60.
AP_TYPES_EXAMPLES = max(1, settings.default.max_examples // 5)

OPTIONS = dict(spec=cnn_specs(),
               strategy=st.sampled_from(list(STRATEGIES)),
               reuse_factor=st.sampled_from([1, 2, 3]),
               samples=st.integers(4, 8),
               input_seed=st.integers(0, 2**16))
FIXED_OPTIONS = dict(OPTIONS,
                     precision=st.sampled_from(PRECISIONS),
                     input_scale=st.sampled_from([1.0, 1.0, 3.0, 10.0]))

# Found by these tests: a conv layer whose kernels are all removed made the report (written
# with every project) fail on an empty pattern library.
ALL_KERNELS_REMOVED = CNNSpec(input_shape=(5, 5, 1), seed=0, layers=[
    {"class": "Conv2D", "config": {"filters": 2, "kernel_size": (2, 1), "strides": (1, 1),
                                   "padding": "valid", "activation": "linear", "use_bias": True},
     "shape": (4, 5, 2), "prune": {"dead": 1.0, "keep": 1, "library": 1}},
    {"class": "Flatten", "config": {}, "shape": (40,)}])


@pytest.fixture(scope="session")
def project_root(tmp_path_factory):
    return tmp_path_factory.mktemp("properties")


def _inputs(spec, samples, seed, scale=1.0):
    """float32-exact inputs, like Keras's own."""
    x = np.random.default_rng(seed).normal(0.0, scale, (samples, *spec.input_shape))
    return x.astype(np.float32).astype(np.float64)


def _context(spec, **options) -> str:
    opts = ", ".join(f"{k}={v!r}" for k, v in options.items())
    return f"\n{spec.describe()}\noptions: {opts}"


def _difference(got, expected) -> str:
    diff = np.abs(got - expected)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    return (f"max abs difference {diff.max():.6g} at {tuple(int(i) for i in worst)}: "
            f"got {float(got[worst])!r}, expected {float(expected[worst])!r}; "
            f"{int(np.count_nonzero(diff))} of {diff.size} values differ")


# ---------------------------------------------------------------------------------------------
# The properties


def check_float(project_root, spec, strategy, reuse_factor, samples, input_seed, io_type="io_parallel"):
    model = build_model(spec)
    x = _inputs(spec, samples, input_seed)
    expected = np.asarray(model(x.astype(np.float32), training=False), dtype=np.float64)
    context = _context(spec, precision="float", strategy=strategy, reuse_factor=reuse_factor,
                       samples=samples, input_seed=input_seed, io_type=io_type)
    with tempfile.TemporaryDirectory(dir=project_root) as out:
        hls = ikr_hls.convert(model, output_dir=out, strategy=strategy, reuse_factor=reuse_factor,
                              force=True, io_type=io_type)
        got = hls.compile().predict(x)
    assert got.shape == expected.shape, f"shape {got.shape} != Keras {expected.shape}{context}"
    if not np.allclose(got, expected, rtol=FLOAT_RTOL, atol=FLOAT_ATOL):
        pytest.fail(f"C++ float != Keras (rtol {FLOAT_RTOL}, atol {FLOAT_ATOL}): "
                    f"{_difference(got, expected)}{context}")


def check_fixed(project_root, spec, precision, strategy, reuse_factor, samples, input_seed,
                input_scale, ap_types=False, io_type="io_parallel"):
    model = build_model(spec)
    x = _inputs(spec, samples, input_seed, input_scale)
    context = _context(spec, precision=precision, strategy=strategy, reuse_factor=reuse_factor,
                       samples=samples, input_seed=input_seed, input_scale=input_scale,
                       ap_types=ap_types, io_type=io_type)
    with tempfile.TemporaryDirectory(dir=project_root) as out:
        hls = ikr_hls.convert(model, output_dir=out, precision=precision, strategy=strategy,
                              reuse_factor=reuse_factor, force=True, io_type=io_type)
        expected = hls.emulate(x)
        for arithmetic in ("int", "ap_fixed") if ap_types else ("int",):
            got = hls.compile(arithmetic=arithmetic).predict(x)
            assert got.shape == expected.shape, f"shape {got.shape} != emulate {expected.shape}{context}"
            if not np.array_equal(got, expected):
                pytest.fail(f"C++ ({arithmetic} arithmetic) != emulate, bit for bit: "
                            f"{_difference(got, expected)}{context}")


# ---------------------------------------------------------------------------------------------
# The tests: the profile's number of examples, and many more in the slow run


@pytest.mark.cpp
@given(**OPTIONS)
@example(spec=ALL_KERNELS_REMOVED, strategy="pattern", reuse_factor=1, samples=4, input_seed=0)
@example(spec=ALL_KERNELS_REMOVED, strategy="pe", reuse_factor=2, samples=4, input_seed=0)
def test_float_cpp_matches_keras(project_root, **options):
    check_float(project_root, **options)


@given(**FIXED_OPTIONS)
@example(spec=ALL_KERNELS_REMOVED, precision="ap_fixed<16,6>", strategy="unrolled", reuse_factor=1,
         samples=4, input_seed=0, input_scale=1.0)
@pytest.mark.cpp
def test_fixed_cpp_equals_emulate(project_root, **options):
    """The default host build (the integer model of ap_fixed)."""
    check_fixed(project_root, **options)


@pytest.mark.cpp
@given(**FIXED_OPTIONS)
def test_stream_fixed_cpp_equals_emulate(project_root, **options):
    """io_stream: the same random CNNs through hls::stream, bit for bit."""
    check_fixed(project_root, io_type="io_stream", **options)


@pytest.mark.cpp
@given(**OPTIONS)
def test_stream_float_cpp_matches_keras(project_root, **options):
    check_float(project_root, io_type="io_stream", **options)


@pytest.mark.slow
@pytest.mark.cpp
@settings(max_examples=SLOW_EXAMPLES)
@given(**FIXED_OPTIONS)
def test_stream_fixed_cpp_equals_emulate_many(project_root, **options):
    check_fixed(project_root, io_type="io_stream", **options)


@pytest.mark.cpp
@settings(max_examples=AP_TYPES_EXAMPLES)
@given(**FIXED_OPTIONS)
def test_fixed_ap_types_and_int_equal_emulate(project_root, **options):
    """Both host builds: the integer model and the ap_types headers that Vitis compiles."""
    check_fixed(project_root, ap_types=True, **options)


@pytest.mark.cpp
@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES)
@given(**OPTIONS)
def test_float_cpp_matches_keras_many(project_root, **options):
    check_float(project_root, **options)


@pytest.mark.cpp
@pytest.mark.slow
@settings(max_examples=SLOW_EXAMPLES)
@given(**dict(FIXED_OPTIONS, ap_types=st.booleans()))
def test_fixed_cpp_equals_emulate_many(project_root, **options):
    check_fixed(project_root, **options)


# ---------------------------------------------------------------------------------------------
# The generator itself (no C++): what it describes is what Keras builds


@settings(max_examples=40)
@given(spec=cnn_specs())
def test_generated_models_are_what_the_spec_says(spec):
    model = build_model(spec)
    for name, entry in named_entries(spec):
        layer = model.get_layer(name)
        assert layer.__class__.__name__ == keras_class(entry)
        assert tuple(layer.output.shape[1:]) == entry["shape"], f"{name}\n{spec.describe()}"
        prune = entry.get("prune", {})
        if entry["class"] in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
            kernel = (layer.depthwise_kernel if entry["class"] == "SeparableConv2D" else layer.kernel).numpy()
            found = patterns_from_kernel(kernel)
            assert found.regular, spec.describe()
            assert len(found.library) <= prune.get("library", 1)
            if "keep" in prune and np.any(kernel):
                assert found.keep == prune["keep"]
        elif entry["class"] == "Dense":
            kernel = layer.kernel.numpy()
            assert np.count_nonzero(kernel == 0) == round(prune["sparsity"] * kernel.size)
