"""IKRPruning under tf.distribute.MultiWorkerMirroredStrategy: two worker processes on this
machine (TF_CONFIG on localhost ports, CPU only) run examples/prune_multiworker.py, the recipe
docs/pruning.md gives for a real cluster. Each run takes about 15-25 s on 2 cores."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "prune_multiworker.py"
TIMEOUT = 240                                   # seconds for both workers together


def free_ports(n: int) -> list:
    """n distinct ports that are free now (held open together, so the OS gives different ones)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_workers(out: Path, *extra: str) -> list:
    """Start both workers, wait for both (killing both on the first failure or the timeout),
    and return their RESULT dicts; any failure names the worker and shows its output. A port
    taken between free_ports and the workers' start (another job on the machine) is retried once."""
    for attempt in (1, 2):
        results, logs = _run_once(out, extra, attempt)
        if results is not None:
            return results
        if attempt == 2 or "address already in use" not in logs.lower():
            pytest.fail(logs)
        shutil.rmtree(out, ignore_errors=True)
    raise AssertionError("unreachable")


def _run_once(out: Path, extra: tuple, attempt: int):
    """(results, "") when both workers succeed, else (None, why and both outputs)."""
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs, logs = [], []
    try:
        for index in range(2):
            env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2",
                       TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                       PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
            log = open(out.parent / f"{out.name}_worker{index}_try{attempt}.log", "w+")
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, str(SCRIPT), "--out", str(out), *extra], env=env,
                                          stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
                                          start_new_session=True))
        deadline = time.monotonic() + TIMEOUT
        while any(p.poll() is None for p in procs):
            failed = [i for i, p in enumerate(procs) if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                why = (f"worker {failed[0]} exited with {procs[failed[0]].returncode}" if failed
                       else f"the workers did not finish within {TIMEOUT} s")
                return None, f"{why}; both stopped.\n" + _outputs(logs)
            time.sleep(0.5)
        results = []
        for index, (p, log) in enumerate(zip(procs, logs, strict=True)):
            log.seek(0)
            lines = [l for l in log.read().splitlines() if l.startswith("RESULT ")]
            if p.returncode != 0 or not lines:
                return None, f"worker {index} exited with {p.returncode} without a result.\n" + _outputs(logs)
            results.append(json.loads(lines[-1][len("RESULT "):]))
        return results, ""
    finally:
        for p in procs:                          # never leave a worker waiting for its peer
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()


def _outputs(logs) -> str:
    text = []
    for i, log in enumerate(logs):
        log.flush()
        log.seek(0)
        text.append(f"--- worker {i} (last 3000 characters):\n{log.read()[-3000:]}")
    return "\n".join(text)


def load(out: Path, worker: int, name: str) -> dict:
    with np.load(out / f"worker{worker}" / name) as f:
        return {k: f[k] for k in f.files}


def test_two_workers_prune_alike_and_the_saved_model_converts(tmp_path):
    import keras

    import ikr_hls
    from ikr_hls.patterns import patterns_from_kernel

    out = tmp_path / "run"
    results = run_workers(out)
    assert [r["task"] for r in results] == [0, 1]
    assert results[0]["updates"] == results[1]["updates"] >= 2      # the schedule ran on both
    assert results[0]["loss_last"] < results[0]["loss_first"]       # and the model learned

    # both workers end with the same kernels, libraries, assignments and Dense masks
    kernels = [load(out, w, "kernels.npz") for w in (0, 1)]
    ikr = [load(out, w, "ikr.npz") for w in (0, 1)]
    assert kernels[0].keys() == kernels[1].keys() and ikr[0].keys() == ikr[1].keys()
    for name in kernels[0]:
        assert np.array_equal(kernels[0][name], kernels[1][name]), name
    for key in ikr[0]:
        assert np.array_equal(ikr[0][key], ikr[1][key]), key

    # the chief's saved model holds those patterns, reads back as IKR-regular, and converts
    model = keras.models.load_model(out / "model.keras")
    for name, keep in (("conv1", 3), ("conv2", 4)):
        found = patterns_from_kernel(keras.ops.convert_to_numpy(model.get_layer(name).kernel))
        assert found.keep == keep
        library = ikr[0][f"{name}/library"]
        assert {p.tobytes() for p in found.library} <= {p.tobytes() for p in library}
    hls = ikr_hls.convert(model, output_dir=str(tmp_path / "prj"), precision="ap_fixed<18,8>")
    report = hls.report()
    by_name = {l["name"]: l for l in report["layers"]}
    assert by_name["conv1"]["keep"] == 3 and by_name["conv2"]["keep"] == 4
    assert report["totals"]["params_nonzero"] == sum(int(np.count_nonzero(w)) for w in model.get_weights())
    x = np.random.default_rng(0).random((4, 12, 12, 1)).astype("float32")
    # the fixed-point reference of the generated hardware follows Keras to within its rounding
    np.testing.assert_allclose(hls.emulate(x), model.predict(x, verbose=0), atol=0.02)


def test_masks_agree_even_when_the_workers_copies_differ(tmp_path):
    """Worker 1 starts from its own noisy copy of the kernels (a local assign): the weights
    then differ all along, but IKRPruning chooses its masks from the kernels averaged over the
    workers, so both prune the same positions. (Without that all-reduce the libraries,
    assignments and masks of this run differ.)"""
    out = tmp_path / "run"
    run_workers(out, "--perturb", "0.05")
    kernels = [load(out, w, "kernels.npz") for w in (0, 1)]
    ikr = [load(out, w, "ikr.npz") for w in (0, 1)]
    assert not any(np.array_equal(kernels[0][n], kernels[1][n]) for n in kernels[0])   # the copies differ
    for key in ikr[0]:
        assert np.array_equal(ikr[0][key], ikr[1][key]), key
    for name in kernels[0]:
        if name != "fc2":                       # fc2 is not pruned
            assert np.array_equal(kernels[0][name] != 0, kernels[1][name] != 0), name
