"""Shared CLI output: JSON dumping and plain-text tables."""

from __future__ import annotations

import json
import sys
from typing import Any

from ..io import json_safe
from ..textable import format_table  # noqa: F401  (re-exported: the CLI's tables)


def print_json(obj: Any, stream=None) -> None:
    json.dump(json_safe(obj), stream or sys.stdout, indent=2)
    (stream or sys.stdout).write("\n")


