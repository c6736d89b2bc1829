"""Shared test set-up: quiet TensorFlow, hypothesis profiles, a per-session build cache, and
the `cpp` marker kept honest: in a test not marked `cpp`, the C++ compiler (CXX) is a stub
that fails with a message saying so, so `pytest -m "not cpp"` never builds C++."""
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow turns oneDNN on by default on some x86 CPUs only (on an AMD EPYC it stays off), and
# its own depthwise kernel refuses unequal strides ("Current implementation only supports equal
# length strides"), which the option cover draws for DepthwiseConv2D and SeparableConv2D: on,
# so that Keras computes the float reference the same way on every machine.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# TensorFlow 2.21's graph remapper (oneDNN) fuses a conv's BiasAdd and activations into kernels
# of its own: for a drawn network with a hard_silu before a LeakyRelu it has none, and Keras's
# own predict fails ("Fusion is not implemented: [BiasAdd,_FusedHardSwish,LeakyRelu]"); and a
# fused ReLU turns a NaN into 0 where the plain one keeps it. Off for the whole session, so
# that Keras computes every network as written whatever test ran first.
tf.config.optimizer.set_experimental_options({"remapping": False})
from hypothesis import HealthCheck, settings  # noqa: E402

# Hypothesis profiles (tests/test_properties.py). Every run is derandomized by default, so a
# local run and CI draw the same examples and a failure reproduces anywhere; select another
# profile with IKR_HYPOTHESIS_PROFILE=dev|slow or pytest's --hypothesis-profile (which wins).
#   ci    the default: fixed examples, a bounded number (each compiles one C++ model)
#   dev   the same budget, but new random examples each run (failures kept in .hypothesis/)
#   slow  fixed examples, many more of them
_PROFILE_BASE = dict(deadline=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", derandomize=True, database=None, max_examples=15, **_PROFILE_BASE)
settings.register_profile("dev", derandomize=False, max_examples=15, **_PROFILE_BASE)
settings.register_profile("slow", derandomize=True, database=None, max_examples=60, **_PROFILE_BASE)
settings.load_profile(os.environ.get("IKR_HYPOTHESIS_PROFILE") or "ci")


@pytest.fixture(scope="session", autouse=True)
def _session_build_cache(tmp_path_factory):
    """Every test session compiles its C++ models afresh, once each (same content, same module).
    IKR_TEST_BUILD_CACHE names a directory to keep builds across sessions instead (bench/mutation.py
    uses it: builds are keyed by content, so only what a mutant changes is rebuilt)."""
    kept = os.environ.get("IKR_TEST_BUILD_CACHE")
    cache = Path(kept) if kept else tmp_path_factory.mktemp("ikr_cache")
    old = os.environ.get("IKR_HLS_CACHE")
    os.environ["IKR_HLS_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("IKR_HLS_CACHE", None)
    else:
        os.environ["IKR_HLS_CACHE"] = old



_NOT_CPP_COMPILER = str(Path(__file__).resolve().parent / "cxx_not_allowed")
_CXX = os.environ.get("CXX")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before the test's fixtures are set up: the real compiler only for tests marked cpp."""
    if item.get_closest_marker("cpp") is None:
        os.environ["CXX"] = _NOT_CPP_COMPILER
    elif _CXX is None:
        os.environ.pop("CXX", None)
    else:
        os.environ["CXX"] = _CXX


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    if _CXX is None:
        os.environ.pop("CXX", None)
    else:
        os.environ["CXX"] = _CXX
