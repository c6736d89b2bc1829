"""ikr-hls: Intra-Kernel Regular pruning of Keras CNNs, and Vitis HLS C++ that multiplies
only the surviving weights of each kernel.

    hls = ikr_hls.convert("model.h5", output_dir="prj")
    hls.compile()
    y = hls.predict(x)
"""
__version__ = "0.1.0"

from .errors import IKRHLSError  # noqa: E402
from .config import config_from_keras_model  # noqa: E402
from .hls_model import HLSModel, convert  # noqa: E402

__all__ = ["IKRHLSError", "HLSModel", "convert", "config_from_keras_model", "__version__"]
