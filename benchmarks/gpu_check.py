"""``make gpu-check``: the CUDA tests and the GPU benchmarks in one run, one table.

On a machine with a CUDA device it runs every test that needs one (``CUDA_TESTS``) and
``bench_sizing.py --device cuda`` (ResNet-50 forward, a whole Study and the ImageNet-C
corruptions, all on the GPU), each under its own time limit so that the whole check ends
within 8 minutes, and prints one table: each test's outcome, each benchmark number, and the
seconds each step took. It exits 1 if a test fails or a step does not finish.

On a machine without CUDA it runs nothing, prints the same table with every row skipped,
says so, and exits 0.

Run: python benchmarks/gpu_check.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# every test that needs a CUDA device (each skips itself on a machine without one)
CUDA_TESTS = (
    "tests/test_corruptions.py::test_gpu_matches_cpu",
    "tests/test_geometry.py::test_cuda_device_is_kept",
)
BENCHMARKS = {
    "bench_sizing (ResNet-50, 224 px)": ["benchmarks/bench_sizing.py", "--device", "cuda",
                                         "--n", "256", "--batch", "64", "--repeat", "3"],
}
# seconds: the tests, then each benchmark; with the start-up this stays within 8 minutes
LIMITS = {"tests": 180, "benchmark": 240}
_REPORT_LINE = re.compile(r"^(\S.*?)\s+(-?\d+(?:\.\d+)?)(?:\s+\(target .*\))?$")

Row = tuple[str, str, str]  # (what, result, seconds)


def junit_outcomes(xml_text: str) -> list[tuple[str, str]]:
    """``(test id, "passed" | "failed" | "error" | "skipped")`` for each test of a JUnit XML."""
    out = []
    for case in ET.fromstring(xml_text).iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        tags = {child.tag for child in case}
        outcome = next((t for t in ("failure", "error", "skipped") if t in tags), "passed")
        out.append((name, {"failure": "failed"}.get(outcome, outcome)))
    return out


def report_lines(text: str) -> list[tuple[str, float]]:
    """The ``name  value`` lines a benchmark prints with ``timing.report``."""
    found = []
    for line in text.splitlines():
        match = _REPORT_LINE.match(line.strip())
        if match:
            found.append((match.group(1).strip(), float(match.group(2))))
    return found


def run_tests() -> tuple[list[Row], bool]:
    """Run ``CUDA_TESTS`` in one pytest; rows and whether every one passed."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 f"--junitxml={xml}", *CUDA_TESTS],
                cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=LIMITS["tests"])
        except subprocess.TimeoutExpired:
            return [("CUDA tests", f"timed out after {LIMITS['tests']} s", "")], False
        seconds = f"{time.perf_counter() - start:.1f}"
        outcomes = junit_outcomes(xml.read_text()) if xml.exists() else []
    if proc.returncode not in (0, 1) or not outcomes:  # 2-5: interrupted, usage, no tests
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
        return [("CUDA tests", f"pytest exit status {proc.returncode}", seconds)], False
    rows = [(name, outcome, "") for name, outcome in outcomes]
    rows.append((f"CUDA tests ({len(outcomes)})", "pytest exit status "
                 f"{proc.returncode}", seconds))
    ok = proc.returncode == 0 and all(o == "passed" for _, o in outcomes)
    if not ok:
        print(proc.stdout[-4000:], file=sys.stderr)
    return rows, ok


def run_benchmark(name: str, args: list[str]) -> tuple[list[Row], bool]:
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=_env(), capture_output=True,
                              text=True, timeout=LIMITS["benchmark"])
    except subprocess.TimeoutExpired:
        return [(name, f"timed out after {LIMITS['benchmark']} s", "")], False
    seconds = f"{time.perf_counter() - start:.1f}"
    if proc.returncode != 0:
        print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
        return [(name, f"failed, exit status {proc.returncode}", seconds)], False
    rows = [(f"  {what}", f"{value:g}", "") for what, value in report_lines(proc.stdout)]
    return [(name, "ran", seconds), *rows], True


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def table(rows: list[Row]) -> str:
    width = max(len(r[0]) for r in rows)
    result = max(len(r[1]) for r in rows)
    lines = [f"{'check':<{width}}  {'result':<{result}}  seconds"]
    lines += [f"{what:<{width}}  {res:<{result}}  {sec}".rstrip() for what, res, sec in rows]
    return "\n".join(lines)


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        why = "skipped: no CUDA device on this machine"
        rows = [(t, why, "") for t in CUDA_TESTS] + [(b, why, "") for b in BENCHMARKS]
        print(table(rows))
        print(f"gpu-check passed by skipping: no CUDA device, so {len(CUDA_TESTS)} CUDA tests "
              f"and {len(BENCHMARKS)} GPU benchmark(s) did not run.")
        return 0
    start = time.perf_counter()
    print(f"gpu-check on {torch.cuda.get_device_name(0)}", flush=True)
    rows, ok = run_tests()
    for name, args in BENCHMARKS.items():
        more, good = run_benchmark(name, args)
        rows += more
        ok = ok and good
    total = time.perf_counter() - start
    rows.append(("total", "passed" if ok else "FAILED", f"{total:.1f}"))
    print(table(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
