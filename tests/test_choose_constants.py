"""benchmarks/choose_constants.py names the constants the model holds, with the committed value
among the candidates it prints (a renamed or re-chosen constant must be listed anew)."""

from benchmark_module import load_benchmark



def _module():
    return load_benchmark("choose_constants")


def test_every_choice_names_live_constants_and_lists_the_committed_value():
    mod = _module()
    assert mod.CHOICES
    for choice in mod.CHOICES:
        committed = tuple(getattr(choice.module, a) for a in choice.attrs)
        assert committed in choice.values, choice.name
        assert all(len(v) == len(choice.attrs) for v in choice.values)
        assert choice.criterion in ("physics", "loo")
