"""Output is never half written: a second writer to the same --out is refused, a full disk or an
unwritable folder is one line, two runs into one folder leave valid files, and Ctrl-C ends with
one line and exit 130 with the previous output intact (the last two in a subprocess, as a user
would press it)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roofsim import io as rio
from roofsim.cli import main

SWEEP = ["sweep", "vision", "--grids", "1x2,2x3", "--no-reference"]


def _one_line_error(capsys, *fragments) -> str:
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, (f, err)
    return err


def test_a_second_sweep_into_the_same_out_is_refused(tmp_path, capsys):
    with rio.output_folder(tmp_path / "vision_crops"):
        assert main([*SWEEP, "--no-plots", "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, "another roofsim run is writing there")


def test_a_second_report_into_the_same_out_is_refused(tmp_path, capsys):
    with rio.output_folder(tmp_path / "r"):
        assert main(["report", "--grids", "1x2", "--no-reference", "--no-decoder-sweeps",
                     "--quiet", "--out", str(tmp_path / "r")]) == 2
    _one_line_error(capsys, "another roofsim run is writing there")


def test_two_sweeps_into_one_out_leave_valid_figures(tmp_path, capsys):
    for grids in ("1x2,2x3", "1x2"):
        assert main(["sweep", "vision", "--grids", grids, "--no-reference",
                     "--out", str(tmp_path)]) == 0
    folder = tmp_path / "vision_crops"
    svgs, pngs = list(folder.glob("*.svg")), list(folder.glob("*.png"))
    assert svgs and pngs
    for p in svgs:
        data = p.read_bytes()
        assert data.count(b"</svg>") == 1 and b"\0" not in data, p
    for p in pngs:
        assert p.read_bytes().count(b"IEND") == 1, p
    rows = (folder / "vision_crops.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2            # header + one grid x two sources: the second run's


def test_a_full_disk_is_one_line_and_keeps_the_previous_output(tmp_path, capsys, monkeypatch):
    assert main([*SWEEP, "--no-plots", "--out", str(tmp_path)]) == 0
    before = (tmp_path / "vision_crops" / "vision_crops.csv").read_text()
    capsys.readouterr()

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "replace", full)
    assert main(["sweep", "vision", "--grids", "1x2", "--no-reference", "--no-plots",
                 "--out", str(tmp_path)]) == 2
    monkeypatch.undo()
    _one_line_error(capsys, "no space left on the device")
    assert (tmp_path / "vision_crops" / "vision_crops.csv").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vision_crops"]


def test_an_unwritable_folder_is_one_line(tmp_path, capsys, monkeypatch):
    import tempfile

    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    assert main([*SWEEP, "--no-plots", "--out", str(tmp_path)]) == 2
    monkeypatch.undo()
    _one_line_error(capsys, "permission denied", str(tmp_path))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions, which root ignores")
def test_a_read_only_folder_is_one_line(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main([*SWEEP, "--no-plots", "--out", str(ro / "out")]) == 2
    finally:
        ro.chmod(0o755)
    _one_line_error(capsys, "permission denied")


# ---- Ctrl-C ------------------------------------------------------------------------------------

def _terminal_sigint() -> None:
    """The child's SIGINT as a terminal leaves it: a test run started in the background of a
    non-interactive shell ignores SIGINT, its children inherit that, and Python installs no
    KeyboardInterrupt handler for an ignored signal (the Ctrl-C tests then failed there)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(argv: list[str], lock: Path, cwd: Path,
               settle_s: float) -> subprocess.CompletedProcess:
    """Start `roofsim argv`, wait until it holds the output lock (it is working), let it work
    `settle_s` more, press Ctrl-C (SIGINT to its process group, as a terminal does)."""
    proc = subprocess.Popen([sys.executable, "-m", "roofsim", *argv], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_terminal_sigint)
    deadline = time.monotonic() + 120
    while not lock.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(settle_s)
    # Press Ctrl-C; if the run goes on a second later, press it again (as a user would). A first
    # SIGINT was seen lost now and then: its KeyboardInterrupt landed in a weakref callback,
    # where Python cannot raise it. The command line now delivers such an interrupt again
    # (roofsim.cli._redeliver_interrupts; tests/test_interrupt_redelivery.py); 130 and one line
    # are required either way.
    for _ in range(5):
        if proc.poll() is not None:
            break
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            continue
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _old_output(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_ctrl_c_during_a_report_is_one_line_130_and_keeps_the_older_report(tmp_path):
    out = tmp_path / "rep"
    base = ["report", "--no-reference", "--no-decoder-sweeps", "--quiet", "--out", str(out)]
    assert main([*base, "--grids", "1x2", "--hardware", "h100-sxm"]) == 0
    before = _old_output(out)
    assert b"H100" in before["report.md"]
    r = _interrupt([*base, "--hardware", "rtx-4090", "--grids", "1x2,2x3,3x3", "--jobs", "2"],
                   tmp_path / ".rep.lock", tmp_path, settle_s=1.5)
    assert r.returncode == 130, r.stderr
    assert r.stderr.strip().splitlines() == ["roofsim: interrupted"], r.stderr
    assert _old_output(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]    # no temporaries, no lock


def test_ctrl_c_during_a_sweep_is_one_line_130(tmp_path):
    # ~10 s of work after the lock is taken (999 points), so Ctrl-C lands mid-sweep even on a
    # fast machine; the default 47-grid sweep could finish inside the settle time.
    r = _interrupt(["sweep", "vision", "--no-reference", "--vary", "prompt-tokens=1:999:1",
                    "--out", str(tmp_path / "s")],
                   tmp_path / "s" / ".prompt_tokens.lock", tmp_path, settle_s=0.5)
    assert r.returncode == 130, r.stderr
    assert r.stderr.strip().splitlines() == ["roofsim: interrupted"], r.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == []


def test_version_in_a_subprocess():
    r = subprocess.run([sys.executable, "-m", "roofsim", "--version"], capture_output=True,
                       text=True, timeout=120)
    from roofsim import __version__
    assert r.returncode == 0 and r.stdout.strip() == f"roofsim {__version__}"
