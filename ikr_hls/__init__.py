"""ikr-hls: Intra-Kernel Regular pruning of Keras CNNs, and Vitis HLS C++ that multiplies
only the surviving weights of each kernel.

    hls = ikr_hls.convert("model.h5", output_dir="prj")
    hls.compile()
    y = hls.predict(x)
"""
from ._version import __version__
from .errors import IKRHLSError
from .hls_model import HLSModel, convert
from .model_config import config_from_keras_model


def profile(model, x) -> dict:
    """Per layer (as converted: BatchNormalization folded, activations fused), the value ranges
    of weights, biases and outputs on the inputs x, and the integer bits each needs:
    {layer: {role: {"min", "max", "integer_bits"}}}."""
    from .pipeline import structural_graph
    from .profile import profile_graph

    graph, keras_model = structural_graph(model)
    return profile_graph(graph, keras_model, x)


__all__ = ["IKRHLSError", "HLSModel", "convert", "config_from_keras_model", "profile", "__version__"]
