"""The FPGA devices the fit check knows (parts.json beside this file): a part's totals of LUT,
FF, DSP and BRAM_18K, and the device family whose measured operator prices apply.

    part = lookup("xczu9eg-ffvb1156-2-e")     # Part(device="xczu9eg", family="xcup", lut=274080, ...)
    family_of("xc7z020clg400-1")              # "xc7"

A part name matches the longest device name it starts with. An unknown part has no totals
(no fit check, a warning); its family is told by its name where it can be (xc7... is 7-series,
xczu / xcvu / xcku...p / xcu / xck / xcv are priced as UltraScale+), else UltraScale+.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import IKRHLSError

TABLE = Path(__file__).resolve().parent / "parts.json"
RESOURCES = ("lut", "ff", "dsp", "bram_18k")
DEFAULT_FAMILY = "xcup"


@dataclass(frozen=True)
class Part:
    device: str
    family: str
    lut: int
    ff: int
    dsp: int
    bram_18k: int
    uram: int = 0
    board: str = ""

    def available(self) -> dict:
        return {k: getattr(self, k) for k in RESOURCES}


@functools.cache
def devices() -> tuple:
    try:
        data = json.loads(TABLE.read_text())
    except (OSError, ValueError) as exc:
        raise IKRHLSError(f"{TABLE}: cannot read the table of parts ({exc})") from None
    return tuple(Part(**d) for d in data["devices"])


def lookup(part: str) -> Part | None:
    """The device `part` names (the longest device name it starts with), or None."""
    name = part.strip().lower()
    hits = [d for d in devices() if name.startswith(d.device)]
    return max(hits, key=lambda d: len(d.device)) if hits else None


def family_of(part: str) -> str:
    """The family whose prices apply to `part`: its device's, else told by the name."""
    known = lookup(part)
    if known is not None:
        return known.family
    name = part.strip().lower()
    if re.match(r"xc7", name):
        return "xc7"
    return DEFAULT_FAMILY
