"""benchmarks/choose_constants.py names the constants the model holds, with the committed value
among the candidates it prints (a renamed or re-chosen constant must be listed anew)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("choose_constants",
                                                  ROOT / "benchmarks" / "choose_constants.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses resolve their module
    spec.loader.exec_module(mod)
    return mod


def test_every_choice_names_live_constants_and_lists_the_committed_value():
    mod = _module()
    assert mod.CHOICES
    for choice in mod.CHOICES:
        committed = tuple(getattr(choice.module, a) for a in choice.attrs)
        assert committed in choice.values, choice.name
        assert all(len(v) == len(choice.attrs) for v in choice.values)
        assert choice.criterion in ("physics", "loo")
