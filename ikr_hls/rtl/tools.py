"""Finding the open-source EDA tools (Debian packages yosys and iverilog) on PATH."""
from __future__ import annotations

import shutil
import subprocess

from ..errors import IKRHLSError

INSTALL_HINT = "apt-get install -y yosys iverilog"
_PACKAGE = {"yosys": "yosys", "yosys-abc": "yosys", "iverilog": "iverilog", "vvp": "iverilog"}


def find_tool(name: str) -> str:
    """Absolute path of `name` on PATH, or an IKRHLSError saying how to install it."""
    path = shutil.which(name)
    if path is None:
        package = _PACKAGE.get(name, name)
        raise IKRHLSError(f"{name} not found on PATH (Debian package {package}): {INSTALL_HINT}")
    return path


def yosys_version() -> str:
    """`yosys -V`, e.g. 'Yosys 0.23 (git sha1 7ce5011c24b)'."""
    proc = subprocess.run([find_tool("yosys"), "-V"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise IKRHLSError(f"yosys -V failed (exit {proc.returncode}): {proc.stderr.strip()[:200]}")
    return proc.stdout.strip()
