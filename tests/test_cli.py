"""The command line's own behaviour: options, exit codes, no tracebacks for user mistakes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

from newsletter.cli import main

EXAMPLE = EXAMPLES / "2025-06-04.md"


def test_verbose_flag_before_or_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "parse", str(EXAMPLE)]) == 0
    assert main(["parse", "-v", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.count("12 papers") == 2


def test_port_out_of_range_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--port", "99999"])
    assert stop.value.code == 2
    assert "0-65535" in capsys.readouterr().err


def test_closed_stdout_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    # ~400 KB of JSON: more than a pipe buffer, so the writer really hits the closed pipe
    big = tmp_path / "2025-06-04.md"
    entries = [
        f"### [{n}] [Paper {n}](https://arxiv.org/abs/2506.{n:05d})\n*A B,C D*\n\n"
        f"Main category: cs.LG\n\nTL;DR: Short.\n\n\n<details>\n  <summary>Details</summary>\n"
        f"Abstract: {'words ' * 150}\n\n</details>\n"
        for n in range(1, 401)
    ]
    big.write_text("<div id=toc></div>\n\n# Table of Contents\n\n- [cs.LG](#cs.LG) [Total: 400]"
                   "\n\n\n<div id='cs.LG'></div>\n\n# cs.LG [[Back]](#toc)\n\n"
                   + "\n\n".join(entries), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "parse", "--json", str(big)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()  # like `| head -c 10`
    err = proc.stderr.read().decode()
    proc.wait(timeout=30)
    assert "Traceback" not in err


def test_unwritable_stdout_is_one_line() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "newsletter.cli", "parse", str(EXAMPLE)],
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              timeout=30)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:")
