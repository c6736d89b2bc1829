"""The measured PE table that ships with the package (pe_synthesis.json, written by
bench/pe_synthesis.py): yosys resources of the IKR, sparse and dense PEs, for estimates."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import IKRHLSError

TABLE = Path(__file__).resolve().parent / "pe_synthesis.json"


def load_measured_table(path: Path = TABLE) -> dict:
    """{"command", "yosys", "flow", "units", "rows": [...], ...}; one row per synthesis."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise IKRHLSError(f"{path}: cannot read the measured PE table ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise IKRHLSError(f"{path}: not a PE synthesis table (no 'rows' list)")
    return data
