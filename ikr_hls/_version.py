"""The version of ikr-hls, written here only (pyproject.toml reads it; ikr_hls.__version__ is it)."""
__version__ = "0.1.0"
