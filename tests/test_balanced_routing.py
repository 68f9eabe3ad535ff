"""force_balanced_routing: a real (CPU) MoE model's routers pick experts as capture assumes."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from roofsim.reference.routing import (balanced_expert_counts,  # noqa: E402
                                       force_balanced_routing)


def _tiny_qwen3_moe():
    cfg = transformers.Qwen3MoeConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, moe_intermediate_size=16,
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
        num_experts=8, num_experts_per_tok=2, decoder_sparse_step=1, mlp_only_layers=[])
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(cfg).eval()


def _routed(model, tokens: int) -> list:
    seen = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: seen.append(out[2]))
             for m in model.modules() if type(m).__name__.lower().endswith("topkrouter")]
    with torch.no_grad():
        model(input_ids=torch.randint(0, 64, (1, tokens)))
    for h in hooks:
        h.remove()
    return seen


def test_every_router_is_patched_and_spreads_pairs_as_capture_does():
    model = _tiny_qwen3_moe()
    assert force_balanced_routing(model) == 2
    routed = _routed(model, tokens=13)
    assert len(routed) == 2
    for idx in routed:
        assert idx.shape == (13, 2)
        counts = torch.bincount(idx.reshape(-1), minlength=8).tolist()
        assert sorted(counts, reverse=True) == sorted(balanced_expert_counts(13, 2, 8),
                                                      reverse=True)
        assert all(len(set(row.tolist())) == 2 for row in idx)   # distinct experts per token


def test_an_unpatched_model_keeps_its_own_routing():
    model = _tiny_qwen3_moe()
    patched = _tiny_qwen3_moe()
    force_balanced_routing(patched)
    torch.manual_seed(1)
    own = _routed(model, tokens=13)
    torch.manual_seed(1)
    forced = _routed(patched, tokens=13)
    assert any(not torch.equal(a, b) for a, b in zip(own, forced))
