"""User configuration of a conversion: validated once, here; unknown values raise."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import IKRHLSError
from .precision import HLSType, parse_type

STRATEGIES = ("unrolled",)
DEFAULT_PART = "xcvu13p-flga2577-2-e"   # hls4ml's default part, so projects compare
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ProjectConfig:
    precision: HLSType
    strategy: str = "unrolled"
    reuse_factor: int = 1
    part: str = DEFAULT_PART
    clock_period: float = 5.0
    project_name: str = "myproject"


def make_config(precision="float", strategy="unrolled", reuse_factor=1, part=DEFAULT_PART,
                clock_period=5.0, project_name="myproject") -> ProjectConfig:
    if strategy not in STRATEGIES:
        raise IKRHLSError(f"strategy: unknown value '{strategy}' (valid: {', '.join(STRATEGIES)})")
    if isinstance(reuse_factor, bool) or not isinstance(reuse_factor, int) or reuse_factor < 1:
        raise IKRHLSError(f"reuse_factor: expected a positive integer, got {reuse_factor!r}")
    if reuse_factor != 1:
        raise IKRHLSError(f"reuse_factor: {reuse_factor} is not supported by this version (only 1)")
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
                         reuse_factor=reuse_factor, part=part.strip(), clock_period=clock,
                         project_name=project_name)
