"""JSON-safe values: numpy scalars and arrays become Python numbers and lists, non-finite floats
become null. Used by every writer of JSON (the CLI's --json, sweeps, the report)."""

from __future__ import annotations

import math
from typing import Any


def jsonable(obj: Any) -> Any:
    """Make numpy scalars/arrays and non-finite floats JSON-safe."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
