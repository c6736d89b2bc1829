"""Running the `ikr-hls` command as a user does, and checking its one-line errors."""
import subprocess
import sys
from pathlib import Path


def run_cli(*args, cwd=None, env=None):
    script = Path(sys.executable).parent / "ikr-hls"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "ikr_hls"]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ikr-hls: error: ")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]
