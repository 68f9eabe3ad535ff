"""roofsim.verify and `roofsim verify`: analytic workload against the captured reference."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from roofsim import verify  # noqa: E402
from roofsim.cli import main  # noqa: E402
from roofsim.records import RecordTable  # noqa: E402


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # One cache for the module's tests: captures run once, never in the user's cache.
    monkeypatch.setenv("ROOFSIM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "verify-cache"))


def test_layer_rows_compare_captured_and_analytic_flops():
    rows = {r.layer: r for r in verify.layer_verification(
        layers=("ImageEncoderViT", "DeepseekV2DecoderLayer_moe", "DeepseekV2RMSNorm"))}
    sam = rows["ImageEncoderViT"]
    # Reference FLOPs: ImageEncoderViT 976.909 (what a FLOP counter counts).
    assert sam.captured_tensor_flops / 1e9 == pytest.approx(976.909, abs=5e-4)
    assert sam.ok and abs(sam.rel_diff) <= verify.TOLERANCE
    assert sam.reference_class.endswith("modeling_deepseek_ocr2.DeepseekOcr2SamVisionEncoder")
    assert sam.impl_class == "deepencoder.ImageEncoderViT"
    moe = rows["DeepseekV2DecoderLayer_moe"]
    assert moe.ok and moe.status == "✓"
    # The unfused RMSNorm counts more FLOPs than the fused kernel: out of tolerance, explained.
    norm = rows["DeepseekV2RMSNorm"]
    assert not norm.ok and norm.status == "✗"
    assert "unfused" in norm.explanation and "aten.pow" in norm.explanation


def _table(kind, flops, launches=1.0):
    return RecordTable.from_columns(len(kind), kind=kind, name=[f"op.{k}" for k in kind],
                                    layer="x.0.y", flops_cuda=flops, count=launches)


def test_explain_lists_the_kinds_that_make_the_gap():
    # per-launch FLOPs x launches: elementwise is 2 FLOPs in total on both sides.
    captured = _table(["attention", "elementwise", "copy"], [10.0, 0.4, 0.0], [1, 5, 3])
    analytic = _table(["attention", "elementwise", "rmsnorm"], [5.0, 1.0, 1.0], [1, 2, 1])
    flops = verify.explain(captured, analytic, "flops")
    assert [(e.kind, e.delta) for e in flops] == [("attention", 5.0), ("rmsnorm", -1.0)]
    assert "causal" in flops[0].cause
    assert flops[0].captured_ops[0][:3] == ("op.attention", 10.0, "x.*.y")
    launches = verify.explain(captured, analytic, "launches")
    assert {e.kind for e in launches} == {"elementwise", "copy", "rmsnorm"}
    assert sum(e.delta for e in launches) == captured.launches - analytic.launches


def test_end_to_end_rows_and_every_difference_is_explained():
    report = verify.verification_report(grids=((1, 2),), decode_tokens=4, layers=False)
    rows = {r["scope"]: r for r in report["end_to_end"]["rows"]}
    assert set(rows) == {"vision", "prefill", "decode", "full"}
    # Vision FLOPs: SAM + CLIP + projector, analytic and captured within the tolerance.
    assert abs(rows["vision"]["rel_diff"]["flops"]) <= verify.TOLERANCE
    # Prefill: capture counts the causal scores in full, as a FLOP counter does.
    pre = rows["prefill"]
    assert pre["rel_diff"]["flops"] > verify.TOLERANCE
    assert any(e["kind"] == "attention" and e["metric"] == "flops" and "causal" in e["cause"]
               for e in pre["explanations"])
    full = rows["full"]
    for m in ("flops", "bytes", "launches"):
        parts = sum(rows[s]["captured"][m] for s in ("vision", "prefill", "decode"))
        assert full["captured"][m] == pytest.approx(parts)
    assert verify.unexplained(report) == []


def test_cli_verify_json(capsys):
    assert main(["verify", "--json", "--layers-only"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [r["layer"] for r in data["layers"]]
    assert names[:3] == ["Attention", "MLPBlock", "PatchEmbed"]
    assert data["tolerance"] == verify.TOLERANCE and data["unexplained"] == []
    assert "grouped_mm" in data["settings"]["experts"] and "flash" in data["settings"]["sdpa"]


def test_cli_verify_text_and_bad_grids(capsys):
    assert main(["verify", "--e2e-only", "--grids", "1x2", "--decode-tokens", "2"]) == 0
    out = capsys.readouterr().out
    assert "End-to-end verification" in out and "1x2" in out and "UNEXPLAINED" not in out
    assert main(["verify", "--grids", "2by3"]) == 2
    assert "--grids" in capsys.readouterr().err
