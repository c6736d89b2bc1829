"""Solved adder graphs on disk: <build cache>/da/<digest>.json (the build cache of
hostbuild.cache_dir: $IKR_HLS_CACHE, else $XDG_CACHE_HOME/ikr-hls, else ~/.cache/ikr-hls).

A file holds da4ml's own serialisation of the traced CombLogic and the seconds (wall and CPU)
its solve took.
The digest (matrix.ConstantMatrix.digest) hashes the codes and both types, and the da4ml
version is part of the file name's directory, so a newer solver never reads an older solution.
A file that does not load is solved again (and overwritten), never trusted.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def solutions_dir() -> Path:
    from da4ml import __version__

    from ..hostbuild import cache_dir  # here: hostbuild imports the backend, which imports the kinds
    return cache_dir() / "da" / f"da4ml-{__version__}"


def load_solution(digest: str) -> tuple[Any, float, float] | None:
    """(CombLogic, solve seconds, solve CPU seconds) stored for digest, or None."""
    from da4ml.types import CombLogic
    path = solutions_dir() / f"{digest}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return CombLogic.deserialize(data["comb"]), float(data["solve_seconds"]), float(data["solve_cpu_seconds"])
    except (ValueError, KeyError, TypeError, AssertionError) as e:
        log.warning("da4ml cache file %s does not load (%s); solving again", path, e)
        return None


def store_solution(digest: str, comb, seconds: float, cpu: float) -> Path:
    """Write atomically (a temporary file renamed), so that parallel builds never read half."""
    from da4ml.types import JSONEncoder
    folder = solutions_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}.json"
    text = json.dumps({"solve_seconds": seconds, "solve_cpu_seconds": cpu, "comb": comb}, cls=JSONEncoder,
                      separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
