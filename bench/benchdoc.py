"""The MobileNetV2 of issue 26's measurements, one model for every bench script that uses it
(compression.write_section writes their sections of docs/BENCHMARKS.md)."""
from __future__ import annotations


def mobilenet():
    """keras.applications MobileNetV2-0.35 at 32x32 with random weights (seeded), 10 classes."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)
