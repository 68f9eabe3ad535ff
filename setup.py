"""Build hook: copy the top-level data folders into the built package as roofsim/_data/<name>.

Everything else is declared in pyproject.toml. In a source checkout or an editable install the
folders are read where they are (roofsim/data.py), so the copy is skipped there.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("hardware", "kernels", "workloads", "calibration")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        for name in DATA_FOLDERS:
            target = Path(self.build_lib) / "roofsim" / "_data" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(root / name, target,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".keep"))


setup(cmdclass={"build_py": BuildPyWithData})
