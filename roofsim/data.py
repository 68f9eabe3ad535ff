"""Where the packaged data folders live.

In a source checkout (or an editable install) they are the folders at the repository root;
after `pip install .` they ship inside the package as roofsim/_data/<name>.
"""

from __future__ import annotations

from pathlib import Path

DATA_FOLDERS = ("hardware", "kernels", "workloads", "calibration")


def data_dir(name: str) -> Path:
    if name not in DATA_FOLDERS:
        raise ValueError(f"unknown data folder {name!r}; expected one of {DATA_FOLDERS}")
    here = Path(__file__).resolve().parent
    installed = here / "_data" / name
    if installed.is_dir():
        return installed
    return here.parent / name
