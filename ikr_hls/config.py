"""User configuration of a conversion: validated once, here; unknown values raise."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import IKRHLSError
from .precision import HLSType, parse_type

STRATEGIES = ("unrolled", "pattern")
DEFAULT_PART = "xcvu13p-flga2577-2-e"   # hls4ml's default part, so projects compare
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ProjectConfig:
    precision: HLSType
    strategy: str = "unrolled"
    reuse_factor: int = 1
    layer_reuse: tuple = ()        # ((keras layer name, reuse factor), ...) overriding reuse_factor
    part: str = DEFAULT_PART
    clock_period: float = 5.0
    project_name: str = "myproject"


def make_config(precision="float", strategy="unrolled", reuse_factor=1, part=DEFAULT_PART,
                clock_period=5.0, project_name="myproject") -> ProjectConfig:
    if strategy not in STRATEGIES:
        raise IKRHLSError(f"strategy: unknown value '{strategy}' (valid: {', '.join(STRATEGIES)})")
    layer_reuse = {}
    if isinstance(reuse_factor, dict):
        layer_reuse = dict(reuse_factor)
        reuse_factor = layer_reuse.pop("default", 1)
        for name, value in layer_reuse.items():
            _check_reuse(value, f"reuse_factor['{name}']")
    _check_reuse(reuse_factor, "reuse_factor")
    if not isinstance(part, str) or not part.strip():
        raise IKRHLSError(f"part: expected a device name such as '{DEFAULT_PART}', got {part!r}")
    try:
        clock = float(clock_period)
    except (TypeError, ValueError):
        raise IKRHLSError(f"clock_period: expected a number of ns, got {clock_period!r}") from None
    if not clock > 0:
        raise IKRHLSError(f"clock_period: must be positive, got {clock_period!r}")
    if not isinstance(project_name, str) or not _IDENT.match(project_name):
        raise IKRHLSError(f"project_name: '{project_name}' is not a C++ identifier")
    return ProjectConfig(precision=parse_type(precision, "precision"), strategy=strategy,
                         reuse_factor=reuse_factor, layer_reuse=tuple(sorted(layer_reuse.items())),
                         part=part.strip(), clock_period=clock,
                         project_name=project_name)


def _check_reuse(value, key):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise IKRHLSError(f"{key}: expected a positive integer, got {value!r}")
