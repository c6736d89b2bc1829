"""Golden data of the generated testbench: the inputs, and the outputs the C++ must reproduce.

Fixed point: the outputs of the bit-exact reference (emulate.py), compared exactly.
Float: Keras's outputs, compared within FLOAT_RTOL / FLOAT_ATOL (the C++ sums in another
order). Files follow hls4ml's format: one sample per line, values separated by spaces,
written with 17 significant digits so that they read back as the same doubles.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import IKRHLSError

DEFAULT_SAMPLES = 10
FLOAT_RTOL, FLOAT_ATOL = 1e-4, 1e-5
INPUT_FILE = "tb_data/tb_input_features.dat"
OUTPUT_FILE = "tb_data/tb_output_predictions.dat"


def default_inputs(input_shape, n: int = DEFAULT_SAMPLES) -> np.ndarray:
    """A few seeded standard-normal inputs, exact in float32 like Keras's own inputs."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, *input_shape)).astype(np.float32).astype(np.float64)


def read_array(tb_data) -> np.ndarray:
    """The testbench inputs as an array, read from a .npy file if given one; real numbers."""
    where = "tb_data"
    if isinstance(tb_data, (str, Path)):
        where = str(tb_data)
        path = Path(tb_data)
        if not path.is_file():
            raise IKRHLSError(f"{path}: no such file (tb_data expects a .npy array)")
        try:
            tb_data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise IKRHLSError(f"{path}: not a readable .npy array ({str(exc).splitlines()[0]})") from None
    x = np.asarray(tb_data)
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise IKRHLSError(f"{where}: expected real numbers, got dtype {x.dtype}")
    return x


def load_inputs(tb_data, input_shape) -> np.ndarray:
    """The user's testbench inputs: an array or a .npy file of shape (N, *input_shape)."""
    where = str(tb_data) if isinstance(tb_data, (str, Path)) else "tb_data"
    x = read_array(tb_data)
    if x.shape == tuple(input_shape):
        x = x[None]
    if x.shape[1:] != tuple(input_shape) or len(x) == 0:
        expected = ", ".join(map(str, input_shape))
        raise IKRHLSError(f"{where}: expected shape (N, {expected}) with N >= 1, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise IKRHLSError(f"{where}: holds NaN or infinite values")
    return np.ascontiguousarray(x, dtype=np.float64)


def golden_outputs(hls, x: np.ndarray) -> np.ndarray:
    """What the C++ must produce for x: the bit-exact reference, or Keras for float."""
    if not hls.graph.input_precision.is_float:
        return hls.emulate(x)
    if hls.keras_model is None:
        raise IKRHLSError("golden data of a float project needs the Keras model")
    y = hls.keras_model.predict(x.astype(np.float32), verbose=0)
    return np.asarray(y, dtype=np.float64).reshape(len(x), -1)


def format_dat(batch: np.ndarray) -> str:
    rows = np.asarray(batch, dtype=np.float64).reshape(len(batch), -1)
    return "".join(" ".join(f"{v:.17g}" for v in row) + "\n" for row in rows)


def parse_dat(text: str, width: int, where: str) -> np.ndarray:
    """Read a .dat file back: (N, width) float64; a malformed line is an error naming it."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise IKRHLSError(f"{where}:{number}: not a line of numbers") from None
        if len(values) != width:
            raise IKRHLSError(f"{where}:{number}: {len(values)} values, expected {width}")
        rows.append(values)
    return np.array(rows, dtype=np.float64).reshape(len(rows), width)

