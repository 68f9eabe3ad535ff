"""The README's example sessions print what the commands print today.

Every `$ roofsim ...` line of a fenced block of README.md that opens with a command is run (as `python -m roofsim
...`, offline, no GPU) and each line the README shows must appear in the command's output, in
order; a `...` line stands for lines left out. A model or profile change that moves a printed
figure fails here until the README shows the new one (two such examples had gone stale for
sessions before this test)."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def examples() -> list[tuple[str, list[str]]]:
    blocks, block = [], None
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            if block is None:
                block = []
            else:
                blocks.append(block)
                block = None
        elif block is not None:
            block.append(line)
    sessions = []
    for b in blocks:                       # a block may hold several `$ ...` commands
        for line in b:
            if line.startswith("$ "):
                sessions.append((line[2:], []))
            elif sessions and b[0].startswith("$ "):
                sessions[-1][1].append(line)
    return [(cmd, shown) for cmd, shown in sessions if cmd.startswith("roofsim ")]


EXAMPLES = examples()


def test_the_readme_has_examples_to_check():
    assert len(EXAMPLES) >= 5
    assert any(cmd.startswith("roofsim predict") for cmd, _ in EXAMPLES)


@pytest.mark.parametrize("command,shown", EXAMPLES, ids=[c.split(" --")[0] + f" #{i}"
                                                         for i, (c, _) in enumerate(EXAMPLES)])
def test_each_readme_example_prints_what_the_readme_shows(command, shown):
    args = shlex.split(command)[1:]
    run = subprocess.run([sys.executable, "-m", "roofsim", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    got = [line.rstrip() for line in run.stdout.splitlines()]
    at = 0
    for line in shown:
        if line.strip() in ("", "..."):
            continue
        try:
            at = got.index(line.rstrip(), at) + 1
        except ValueError:
            pytest.fail(f"README.md shows, after `{command}`:\n  {line}\nwhich the command no "
                        f"longer prints (in this order); it prints:\n" + "\n".join(got))
