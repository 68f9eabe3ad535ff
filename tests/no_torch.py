"""Simulate a machine without torch for the code that guards its reference import."""

import sys

from roofsim.errors import UserError

# The modules built on the reference's guarded import: dropped so they import again.
REFERENCE_MODULES = ("roofsim.reference.models", "roofsim.reference.stages",
                     "roofsim.reference.layers", "roofsim.reference.source")


def without_torch(monkeypatch):
    """As on a machine without torch: the reference's guarded import (and its availability
    check, which imports nothing) fails with its one-line UserError, and the modules built on
    it import again."""
    from roofsim.reference import _compat

    def load():
        raise UserError("the reference assembly needs torch and transformers>=5.17: "
                        "pip install 'roofsim[reference]' (No module named 'torch')")

    monkeypatch.setattr(_compat, "load", load)
    monkeypatch.setattr(_compat, "require", load)
    for name in REFERENCE_MODULES:
        if name in sys.modules:
            monkeypatch.delitem(sys.modules, name)
        package, _, attr = name.rpartition(".")
        monkeypatch.delattr(sys.modules[package], attr, raising=False)
