"""Open Keras model files: import Keras quietly, load a .h5 or .keras file, and turn every
way a file can be unreadable into one IKRHLSError naming it."""
from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

from .errors import IKRHLSError

MODEL_SUFFIXES = (".h5", ".hdf5", ".keras")
MAX_REASON = 200                    # characters of the underlying error quoted in ours


def import_keras():
    """Import Keras, silencing TensorFlow's native start-up lines on stderr the first time
    (TF_CPP_MIN_LOG_LEVEL is not honoured once numpy is loaded); Python errors still raise."""
    import sys

    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras
    except ImportError as exc:
        raise IKRHLSError(f"cannot import keras ({exc}); install a backend: pip install ikr-hls[cpu]") from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras


def load_keras_model(path):
    """Load a .h5 or .keras file without compiling it; every failure is one clear error."""
    path = check_model_path(path)
    keras = import_keras()
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # h5py, zipfile and Keras raise many kinds; all mean "unreadable"
        if "hgq" in str(exc) and "hgq" not in sys.modules:     # HGQ2 layers: their classes register on import
            from . import hgq

            hgq.require(f"{path}: a model of HGQ2 layers")
            return load_keras_model(path)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if len(first) > MAX_REASON:     # a damaged config.json can be quoted whole
            first = first[:MAX_REASON - 3] + "..."
        hint = ""
        if "No model config found" in first:
            hint = ("; it holds weights only, as model.save_weights() writes them: save the whole model "
                    "with model.save('model.keras') or model.save('model.h5')")
        raise IKRHLSError(f"{path}: cannot be read as a Keras model ({first}){hint}") from None


def check_model_path(path) -> Path:
    """The checks that need no Keras (seconds to import): the file exists, is a file of a model
    suffix, not empty, and a .keras file is a zip archive."""
    path = Path(path)
    if not path.exists():
        raise IKRHLSError(f"{path}: no such file")
    if path.is_dir():
        raise IKRHLSError(f"{path}: is a directory, expected a .h5 or .keras model file")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise IKRHLSError(f"{path}: not a Keras model file (expected one of {', '.join(MODEL_SUFFIXES)})")
    if path.stat().st_size == 0:
        raise IKRHLSError(f"{path}: cannot be read as a Keras model (empty file)")
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        # Keras would say "File not found"; the file is there, but truncated or not a .keras archive
        raise IKRHLSError(f"{path}: cannot be read as a Keras model (not a zip archive: truncated, "
                          "or not a .keras file)")
    return path
