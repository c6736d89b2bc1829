"""Mutation run: plant one-line bugs, one at a time, and see whether the tests catch them.

Each mutant of bench/mutants.yml replaces one exact, unique piece of one line of templates/,
cpp/ or ikr_hls/ (the kind of slip a developer makes: an offset, a stride, a rounding mode,
a bias, a pragma, an option default, an error path) and names the tests that should catch it.
The run copies the repository to a scratch directory once, checks that the named tests pass
there unchanged, then for each mutant applies it, runs its tests (pytest -x, not slow) and
restores the file. A mutant is killed when its tests fail (or cannot even be collected), and
survives when they pass.

    python bench/mutation.py                     # every mutant; prints the score and survivors
    python bench/mutation.py --only conv-bias    # some of them
    python bench/mutation.py --list              # the mutants, checked against the sources
    python bench/mutation.py --write docs/BENCHMARKS.md   # the result table into the docs

Exit code 0 when the score reaches --target (default 90%), 1 below it, 2 when a mutant no
longer matches the sources (the code moved: update bench/mutants.yml).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "bench" / "mutants.yml"
SECTION = "## Mutation run (issue 20)"
MUTATED_TREES = ("templates/", "cpp/", "ikr_hls/")


@dataclass
class Mutant:
    id: str
    file: str
    find: str
    replace: str
    why: str
    tests: list
    select: str | None = None          # a pytest -k expression, optional
    survives: str | None = None        # for a known survivor: why no test can see it

    def pytest_args(self) -> list:
        args = [part for test in self.tests for part in test.split()]
        return args + (["-k", self.select] if self.select else [])


@dataclass
class Outcome:
    mutant: Mutant
    status: str                        # killed, survived, timeout
    seconds: float
    detail: str = ""


def load_mutants(path: Path = MUTANTS) -> list:
    entries = yaml.safe_load(path.read_text())
    mutants = [Mutant(**entry) for entry in entries]
    ids = [m.id for m in mutants]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise SystemExit(f"{path}: duplicate mutant ids {duplicated}")
    return mutants


def check_mutants(mutants: list, root: Path) -> list:
    """Problems that make a mutant meaningless: not one line, not found exactly once, no change."""
    problems = []
    for m in mutants:
        source = root / m.file
        if not m.file.startswith(MUTATED_TREES):
            problems.append(f"{m.id}: {m.file} is not under {', '.join(MUTATED_TREES)}")
        elif not source.is_file():
            problems.append(f"{m.id}: {m.file} does not exist")
        elif "\n" in m.find or "\n" in m.replace or m.find == m.replace:
            problems.append(f"{m.id}: find/replace must be different single-line texts")
        else:
            count = source.read_text().count(m.find)
            if count != 1:
                problems.append(f"{m.id}: {m.file} holds the text {count} times (must be once): {m.find!r}")
        for test in m.tests:
            if not (root / test.split("::")[0].split()[0]).exists():
                problems.append(f"{m.id}: no test {test}")
    return problems


def copy_tree(root: Path, dest: Path) -> None:
    """The files git knows (tracked, and new ones not ignored), as they are now."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, check=True,
                           capture_output=True, text=True).stdout.splitlines()
    for name in names:
        source = root / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_tests(tree: Path, args: list, timeout: float) -> tuple[int | None, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1",
               IKR_TEST_BUILD_CACHE=str(tree / ".mutation-build-cache"))   # keyed by content: reused
    env.pop("CI", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *args]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    return proc.returncode, lines[-1] if lines else proc.stderr.strip()[-200:]


def mutate(tree: Path, m: Mutant) -> str:
    path = tree / m.file
    original = path.read_text()
    path.write_text(original.replace(m.find, m.replace, 1))
    return original


def run(mutants: list, timeout: float, baseline: bool) -> list:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="ikr-mutation-") as scratch:
        tree = Path(scratch)
        copy_tree(ROOT, tree)
        where = subprocess.run([sys.executable, "-c", "import ikr_hls; print(ikr_hls.__file__)"], cwd=tree,
                               env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True)
        if not where.stdout.strip().startswith(str(tree)):
            raise SystemExit(f"the scratch copy does not import its own ikr_hls ({where.stdout.strip()})")
        if baseline:
            args = sorted({a for m in mutants for a in m.tests})
            print(f"baseline: the named tests on the unchanged copy ({len(args)} targets) ...", flush=True)
            code, tail = run_tests(tree, args, timeout * 4)
            if code != 0:
                raise SystemExit(f"the named tests fail without any mutant ({tail}); fix that first")
        for i, m in enumerate(mutants, 1):
            original = mutate(tree, m)
            start = time.perf_counter()
            try:
                code, tail = run_tests(tree, m.pytest_args(), timeout)
            finally:
                (tree / m.file).write_text(original)
            seconds = time.perf_counter() - start
            status = "timeout" if code is None else "survived" if code == 0 else "killed"
            if code == 5:
                status, tail = "error", f"no test selected by {m.pytest_args()}"
            outcomes.append(Outcome(m, status, seconds, tail))
            print(f"[{i}/{len(mutants)}] {m.id}: {status} in {seconds:.0f} s ({tail})", flush=True)
    return outcomes


def summary(outcomes: list) -> tuple[float, list]:
    counted = [o for o in outcomes if o.status != "error"]
    killed = [o for o in counted if o.status in ("killed", "timeout")]
    return (len(killed) / len(counted) if counted else 0.0), [o for o in counted if o.status == "survived"]


def revision() -> str:
    """The commit the mutants were applied to ("-dirty": with uncommitted changes)."""
    done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def markdown(outcomes: list, command: str, minutes: float, commit: str) -> str:
    score, survivors = summary(outcomes)
    killed = sum(o.status in ("killed", "timeout") for o in outcomes)
    lines = [SECTION, "",
             f"Command: `{command}` on commit {commit} ({minutes:.0f} min on 2 cores). "
             f"{len(outcomes)} one-line mutants from `bench/mutants.yml`, each run against the tests it "
             "names (pytest -x, not slow).",
             "", f"Score: **{killed} of {len(outcomes)} killed ({100 * score:.0f}%)**.", "",
             "| mutant | file | the slip | tests | result | s |", "|---|---|---|---|---|---:|"]
    for o in outcomes:
        m = o.mutant
        tests = " ".join(t.replace("tests/", "") for t in m.tests) + (f" -k {m.select}" if m.select else "")
        lines.append(f"| {m.id} | {m.file} | {m.why} | {tests} | {o.status} | {o.seconds:.0f} |")
    lines += ["", "Survivors: " + ("none." if not survivors else "")]
    lines += [f"- `{o.mutant.id}` ({o.mutant.file}): {o.mutant.why}. Why it survives: "
              f"{o.mutant.survives or 'not explained yet (add `survives:` to its entry)'}" for o in survivors]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(lambda _: text + "\n", doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and check them, run nothing")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per mutant (default 900)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unchanged copy")
    parser.add_argument("--target", type=float, default=0.9, help="score to reach (default 0.9)")
    parser.add_argument("--write", type=Path, metavar="MD", help="write the result section into this file")
    args = parser.parse_args(argv)

    mutants = load_mutants()
    problems = check_mutants(mutants, ROOT)
    if problems:
        print("mutants that no longer match the sources:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    if args.only:
        unknown = set(args.only) - {m.id for m in mutants}
        if unknown:
            print(f"unknown mutant(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.id in args.only]
    if args.list:
        for m in mutants:
            print(f"{m.id:28} {m.file:42} {m.why}")
        print(f"{len(mutants)} mutants, all matching the sources")
        return 0
    start = time.perf_counter()
    commit = revision()                     # the tree as it is copied, not as it is when the run ends
    outcomes = run(mutants, args.timeout, baseline=not args.no_baseline)
    minutes = (time.perf_counter() - start) / 60
    score, survivors = summary(outcomes)
    print(f"\nscore: {100 * score:.0f}% killed ({len(outcomes) - len(survivors)} of {len(outcomes)}), "
          f"{minutes:.0f} min")
    for o in survivors:
        print(f"  survived: {o.mutant.id} ({o.mutant.file}): {o.mutant.why}")
    errors = [o for o in outcomes if o.status == "error"]
    for o in errors:
        print(f"  error: {o.mutant.id}: {o.detail}")
    if args.write:
        command = "python bench/mutation.py" + (f" --only {' '.join(args.only)}" if args.only else "")
        write_section(args.write, markdown(outcomes, command, minutes, commit))
    return 2 if errors else 0 if score >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
