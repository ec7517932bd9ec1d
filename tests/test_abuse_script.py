"""``scripts/abuse`` runs, finds its server, and reports: a small run of the request-head
case (a huge Host, ten thousand headers, a slowloris of 20 sockets) with a 1 s header
timeout, so that it takes seconds."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.serve_cluster import ROOT


def test_a_quick_run_of_the_heads_case_reports_431_and_closed_slowloris() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "abuse"), "--quick", "--only", "e",
         "--header-timeout", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "100KB Host: 431; 10k headers: 431; slowloris 20/20 closed by the server" in out, out
    row = next(line for line in out.splitlines() if line.startswith("e heads"))
    assert "same pids: broker,policy,supervisor,w0,w1" in row, out
    assert row.rstrip().endswith("| 0"), out  # no traceback in the server's log
