"""Two real processes sending over one shaped link share its rate (process-mode link emulation)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _senders(state_dir: Path, count: int, nbytes: int) -> list[float]:
    start = time.time() + 1.0  # both interpreters are up before the first byte is booked
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.common.shaping_sender", str(state_dir), "8", str(nbytes), "10", str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        out.append(json.loads(stdout)["elapsed"])
    return out


def test_two_processes_share_one_link(tmp_path):
    # 8 Mbit/s = 1 MB/s. Alone, 1 MB takes 1 s; two senders of 1 MB each finish after about 2 s,
    # because their chunks interleave on one link instead of each getting the full rate.
    (alone,) = _senders(tmp_path / "solo", 1, 1_000_000)
    assert alone == pytest.approx(1.0, abs=0.25)
    both = _senders(tmp_path / "pair", 2, 1_000_000)
    assert max(both) == pytest.approx(2.0, abs=0.35)
    assert min(both) > 1.6  # interleaved: neither got the link to itself
