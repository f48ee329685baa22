"""benchmarks/gpu_check.py (``make gpu-check``): skips on CPU and says so; its parsers."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from tests.optional import needs

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


@needs("torch", "torch")  # the script it runs measures the engine
def test_without_cuda_it_passes_by_skipping_and_says_so() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([sys.executable, "benchmarks/gpu_check.py"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["check", "result", "seconds"]
    skipped = [line for line in lines if "skipped: no CUDA device on this machine" in line]
    assert len(skipped) == len(gpu_check.CUDA_TESTS) + len(gpu_check.BENCHMARKS) == 3
    assert lines[-1] == ("gpu-check passed by skipping: no CUDA device, so 2 CUDA tests and "
                         "1 GPU benchmark(s) did not run.")


def test_every_listed_cuda_test_exists_and_every_cuda_test_is_listed() -> None:
    listed = set(gpu_check.CUDA_TESTS)
    found = set()
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") \
                    and "torch.cuda" in ast.unparse(node):  # decorators included
                found.add(f"tests/{path.name}::{node.name}")
    assert found == listed


def test_junit_outcomes_and_report_lines() -> None:
    xml = ("<testsuites><testsuite>"
           "<testcase classname='tests.test_a' name='test_ok'/>"
           "<testcase classname='tests.test_a' name='test_bad[x]'><failure message='m'/>"
           "</testcase><testcase classname='tests.test_b' name='test_gone'>"
           "<skipped message='no CUDA'/></testcase>"
           "<testcase classname='tests.test_b' name='test_err'><error message='e'/></testcase>"
           "</testsuite></testsuites>")
    assert gpu_check.junit_outcomes(xml) == [
        ("tests.test_a::test_ok", "passed"), ("tests.test_a::test_bad[x]", "failed"),
        ("tests.test_b::test_gone", "skipped"), ("tests.test_b::test_err", "error")]
    # lines as benchmarks/timing.py's report() prints them
    text = (f"{'forward, images/s':<58s} {1234.5678:10.3f}\n"
            f"{'Study (clean, dense) / forward':<58s} {1.04:10.3f}   (target <= 1.15)\n"
            "measured on cuda (16 threads), ResNet-50 at 224 px:\n"
            f"{'  shot_noise, images/s':<58s} {-3.0:10.3f}\n")
    assert gpu_check.report_lines(text) == [("forward, images/s", 1234.568),
                                            ("Study (clean, dense) / forward", 1.04),
                                            ("shot_noise, images/s", -3.0)]
