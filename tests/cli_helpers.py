"""Running the `ikr-hls` command as a user does, and checking its one-line errors.

`run_cli` calls the command's main() in this process (with its own stdout, stderr, working
directory and environment), so a test pays no interpreter and TensorFlow start-up;
`run_cli_process` runs the installed console script in a subprocess, for the tests that
check what a real process prints and returns."""
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    from ikr_hls import cli

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:                  # argparse: --help, --version, usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["ikr-hls", *argv], code, out.getvalue(), err.getvalue())


def run_cli_process(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
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
