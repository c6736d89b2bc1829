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


def profile(model, x) -> dict:
    """Per layer (as converted: BatchNormalization folded, activations fused), the value ranges
    of weights, biases and outputs on the inputs x, and the integer bits each needs:
    {layer: {role: {"min", "max", "integer_bits"}}}."""
    from .config import make_config
    from .frontend import keras_to_graph
    from .passes import run_passes
    from .profile import profile_graph

    graph, keras_model = keras_to_graph(model)
    return profile_graph(run_passes(graph, make_config()), keras_model, x)


__all__ = ["IKRHLSError", "HLSModel", "convert", "config_from_keras_model", "profile", "__version__"]
