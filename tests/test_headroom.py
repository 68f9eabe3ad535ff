"""roofsim.headroom: the reference against the analytic flash-attention ideal."""

import pytest

pytest.importorskip("transformers")

from roofsim.hardware import load_hardware  # noqa: E402
from roofsim.headroom import fold_layer, headroom  # noqa: E402
from roofsim.report.headroom import headroom_section  # noqa: E402
from roofsim.predict import predict  # noqa: E402
from roofsim.report.markdown import parse_markdown_tables  # noqa: E402

H200 = load_hardware("h200")


@pytest.fixture(scope="module")
def h():
    return headroom((1, 2), 16, 8, hardware=H200, top=4)


def test_both_sides_are_roofsim_predict(h):
    ref = predict((1, 2), 16, 8, hardware=H200, implementation="reference")
    flash = predict((1, 2), 16, 8, hardware=H200, implementation="flash")
    for s in ("vision", "prefill", "decode"):
        assert h.stages[s].reference_s == pytest.approx(ref.stages[s].kernel_s)
        assert h.stages[s].ideal_s == pytest.approx(flash.stages[s].kernel_s)
        assert h.stages[s].headroom_s == pytest.approx(ref.stages[s].kernel_s
                                                       - flash.stages[s].kernel_s)


def test_kind_breakdown_adds_up_on_both_sides(h):
    for x in h.stages.values():
        assert sum(r for r, _ in x.by_kind.values()) == pytest.approx(x.reference_s)
        assert sum(i for _, i in x.by_kind.values()) == pytest.approx(x.ideal_s)
        diffs = [r - i for r, i in x.by_kind.values()]
        assert diffs == sorted(diffs, reverse=True)


def test_losers_are_ranked_and_lose_no_more_than_they_take(h):
    for x in h.stages.values():
        assert 0 < len(x.losers) <= 4
        # uncalibrated, time above the roofline is launches x floor: ranked by time instead
        taken = [k.time_s for k in x.losers]
        assert taken == sorted(taken, reverse=True)
        for k in x.losers:
            assert 0 <= k.lost_s <= k.time_s + 1e-15
            assert k.op.startswith("aten.")
            assert not any(part.isdigit() for part in k.where.split("."))   # layers folded


def test_calibrated_losers_are_ranked_by_lost_time_not_by_kernel_count():
    from roofsim.calibration import load_profile
    hc = headroom((1, 2), 16, 8, hardware=H200, profile=load_profile("h200"), top=4)
    for x in hc.stages.values():
        lost = [k.lost_s for k in x.losers]
        assert lost == sorted(lost, reverse=True)
    launches = [k.launches for x in hc.stages.values() for k in x.losers]
    assert launches != sorted(launches, reverse=True)


def test_the_reference_runs_more_kernels_than_the_ideal(h):
    for x in h.stages.values():
        assert x.reference_launches > x.ideal_launches


def test_fold_layer_folds_layer_numbers_only():
    assert fold_layer("vision.sam.layers.11.attn") == "vision.sam.layers.*.attn"
    assert fold_layer("prefill.model.layers.3") == "prefill.model.layers.*"
    assert fold_layer("vision.net_2") == "vision.net_2"


def test_section_has_the_three_tables():
    md = headroom_section(H200, None, grid=(1, 2), prompt_tokens=16, decode_tokens=8)
    assert md.startswith("### Headroom")
    tables = parse_markdown_tables(md)
    assert [t[0][0] for t in tables] == ["Stage", "Stage", "Stage"]
    assert [r[0] for r in tables[0][1:]] == ["vision", "prefill", "decode step"]
    assert "Lost (ms)" in tables[2][0]
