"""The benchmark scripts stop with a clear message, not a traceback, when the evaluation data is absent."""

import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPTS = ["bench_build.py", "bench_incremental.py", "bench_latency.py", "bench_coldstart.py", "bench_memory.py",
           "bench_int8.py", "bench_lexical.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_without_data_says_where_it_looked(script, tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "scripts" / script), "--data", str(tmp_path / "absent")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "is absent" in result.stderr and "Traceback" not in result.stderr
