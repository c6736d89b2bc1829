"""Where the templates/ and cpp/ folders are: inside the installed package, or at the top
of a source checkout (editable installs and running from the repository)."""
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"ikr-hls installation is missing its '{name}' folder (looked in {_PKG})")


def templates_dir() -> Path:
    return _find("templates")


def cpp_dir() -> Path:
    return _find("cpp")
