"""What a host build of a project needs to know about it, decided at conversion and stored
beside the sources, so that no build step reads it back out of the generated C++.

The HLSModel hands its spec to hostbuild directly; `ikr-hls csim DIR` and `ikr-hls build DIR`,
which have only the directory, read the copy the project holds (SPEC_FILE).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import IKRHLSError

SPEC_FILE = ".ikr-hls-build.json"


@dataclass(frozen=True)
class BuildSpec:
    project: str                   # the top function; firmware/<project>.cpp is the top source
    fixed_point: bool              # ap_fixed types: the build needs the ap_types headers
    stream: bool                   # io_stream: hls::stream (Vitis's hls_stream.h when it is installed)
    float_types: tuple = ()        # typedefs that are float or double (Vitis builds float cores for them)
    top: str = ""                  # Vitis's top function when it is not `project` (the AXI wrapper)

    @property
    def top_function(self) -> str:
        """What Vitis synthesizes, and names its reports after."""
        return self.top or self.project

    @property
    def top_source(self) -> str:
        return f"{self.project}.cpp"

    def to_json(self) -> str:
        return json.dumps(dict(asdict(self), float_types=list(self.float_types)), indent=1) + "\n"

    @classmethod
    def of_project(cls, project_dir) -> BuildSpec:
        """The spec a project was written with."""
        path = Path(project_dir) / SPEC_FILE
        if not path.is_file():
            raise IKRHLSError(f"{project_dir}: no {SPEC_FILE} (not written by this version of ikr-hls: "
                              "convert the model again)")
        try:
            data = json.loads(path.read_text())
            return cls(str(data["project"]), bool(data["fixed_point"]), bool(data["stream"]),
                       tuple(str(t) for t in data.get("float_types", ())), str(data.get("top", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise IKRHLSError(f"{path}: not a build spec ikr-hls wrote ({exc})") from None
