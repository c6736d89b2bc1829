"""Shared test set-up: quiet TensorFlow, a per-session build cache, the model zoo."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _session_build_cache(tmp_path_factory):
    """Every test session compiles its C++ models afresh, once each (same content, same module)."""
    cache = tmp_path_factory.mktemp("ikr_cache")
    old = os.environ.get("IKR_HLS_CACHE")
    os.environ["IKR_HLS_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("IKR_HLS_CACHE", None)
    else:
        os.environ["IKR_HLS_CACHE"] = old
