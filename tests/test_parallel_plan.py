"""Parallel plans (roofsim.parallel): sharding record tables, communication records, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofsim.errors import UserError
from roofsim.kernels import records_from_params
from roofsim.parallel import ModelSizes, ParallelPlan, shard_table
from roofsim.records import COMM_KINDS, RecordTable

HIDDEN, INTER, VOCAB, HEADS, EXPERTS, TOPK = 256, 512, 1000, 8, 16, 4


def _rec(kind, layer, **params):
    return records_from_params(kind, {k: [float(v)] for k, v in params.items()}, "bfloat16",
                               name=f"aten.{kind}", stage="prefill", layer=f"prefill.{layer}")


def _model(tokens: int, layers: int = 2, moe: bool = False) -> RecordTable:
    """A small decoder's records with the module paths capture gives them."""
    t = [_rec("embedding", "model.embed_tokens", rows=tokens, cols=HIDDEN)]
    for i in range(layers):
        L = f"model.layers.{i}"
        t += [_rec("rmsnorm", f"{L}.input_layernorm", rows=tokens, cols=HIDDEN)]
        t += [_rec("linear", f"{L}.self_attn.{p}_proj", m=tokens, n=HIDDEN, k=HIDDEN)
              for p in "qkv"]
        t += [_rec("elementwise", f"{L}.self_attn", numel=tokens * HIDDEN),
              _rec("attention", f"{L}.self_attn", batch=1, heads=HEADS, seq_q=tokens,
                   seq_kv=tokens, head_dim=HIDDEN // HEADS, causal=1),
              _rec("linear", f"{L}.self_attn.o_proj", m=tokens, n=HIDDEN, k=HIDDEN),
              _rec("rmsnorm", f"{L}.post_attention_layernorm", rows=tokens, cols=HIDDEN)]
        if moe:
            t += [_rec("linear", f"{L}.mlp.gate", m=tokens, n=EXPERTS, k=HIDDEN),
                  _rec("softmax", f"{L}.mlp.gate", rows=tokens, cols=EXPERTS),
                  _rec("grouped_gemm", f"{L}.mlp.experts", m=tokens * TOPK / EXPERTS,
                       n=2 * INTER, k=HIDDEN, batch=EXPERTS),
                  _rec("silu", f"{L}.mlp.experts.act_fn", numel=tokens * TOPK * INTER),
                  _rec("grouped_gemm", f"{L}.mlp.experts", m=tokens * TOPK / EXPERTS,
                       n=HIDDEN, k=INTER, batch=EXPERTS)]
        else:
            t += [_rec("linear", f"{L}.mlp.{p}_proj", m=tokens, n=INTER, k=HIDDEN)
                  for p in ("gate", "up")]
            t += [_rec("silu", f"{L}.mlp.act_fn", numel=tokens * INTER),
                  _rec("linear", f"{L}.mlp.down_proj", m=tokens, n=HIDDEN, k=INTER)]
    t += [_rec("rmsnorm", "model.norm", rows=tokens, cols=HIDDEN),
          _rec("linear", "lm_head", m=tokens, n=VOCAB, k=HIDDEN)]
    return RecordTable.concat(t)


def _comm(t: RecordTable) -> RecordTable:
    return t.select(np.isin(t.kind, COMM_KINDS))


LLAMA = ModelSizes("llama-3.1-8b", 32, 8, mlp=(14336,))
MOE = ModelSizes("moe", 32, 4, mlp=(6144,), expert_mlp=768, experts=128)


@pytest.mark.parametrize("plan, sizes, fragments", [
    (ParallelPlan(tp=3), LLAMA, ["--tp 3: llama-3.1-8b's 32 attention heads, 8 KV heads and "
                                 "MLP intermediate size 14336 do not divide by 3",
                                 "--tp 2, 4, 8, 16 or 32 would"]),
    (ParallelPlan(tp=12), LLAMA, ["8 KV heads"]),        # neither divides nor a multiple
    (ParallelPlan(tp=8), ModelSizes("q", 28, 4, mlp=(18944,)), ["28 attention heads do not"]),
    (ParallelPlan(tp=2), ModelSizes("v", 32, 32, vision_heads=(15,)), ["15 vision attention"]),
    (ParallelPlan(tp=2), ModelSizes("m", 32, 32, expert_mlp=7, experts=8),
     ["MLP intermediate size 7 does not"]),               # experts split by tp at ep 1
    (ParallelPlan(ep=2, dp=2), LLAMA, ["--ep 2: llama-3.1-8b is a dense model"]),
    (ParallelPlan(ep=3, dp=3), MOE, ["--ep 3: moe's 128 routed experts do not divide by 3"]),
])
def test_a_plan_must_split_the_model_evenly(plan, sizes, fragments):
    """vLLM refuses a tensor-parallel degree that does not divide the heads (and the widths it
    splits); so does roofsim rather than predicting fractional heads."""
    with pytest.raises(UserError) as err:
        plan.check_model(sizes)
    assert all(f in str(err.value) for f in fragments), str(err.value)


@pytest.mark.parametrize("plan, sizes", [
    (ParallelPlan(tp=8), LLAMA), (ParallelPlan(tp=16), LLAMA),   # KV heads replicated (vLLM)
    (ParallelPlan(dp=1024), LLAMA), (ParallelPlan(tp=4, ep=4), MOE),
    (ParallelPlan(tp=2, ep=2), ModelSizes("m", 32, 32, expert_mlp=7, experts=8)),  # ep splits
    (ParallelPlan(tp=2), ModelSizes("unknown", None, None)),
])
def test_a_plan_that_splits_the_model_evenly_passes(plan, sizes):
    plan.check_model(sizes)


def test_cli_predict_refuses_tp_that_does_not_divide_the_heads(capsys):
    from roofsim.cli import main
    assert main(["predict", "--model", "llama-3.1-8b", "--tp", "3", "--hardware", "h200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tp 3: llama-3.1-8b's 32 attention heads, 8 KV heads" in err[0]
    assert main(["predict", "--tp", "4", "--hardware", "h200"]) == 2     # DeepSeek-OCR: 10 heads
    assert "deepseek-ocr's 10 attention heads" in capsys.readouterr().err


def test_cli_predict_checks_one_gpus_share_of_the_memory(capsys):
    """Qwen3-30B-A3B's 61 GB of weights overflow one 24 GB RTX 4090; under --tp 4 each GPU
    holds a quarter (ParallelPlan.weight_share), so predict runs; under --tp 2 the refusal
    names the per-GPU share and the plan. (predict checked the whole model on one GPU and
    refused the sharded plan a server runs.)"""
    from roofsim.cli import main
    argv = ["predict", "--model", "qwen3-30b-a3b", "--hardware", "rtx-4090",
            "--prompt-tokens", "128", "--decode-tokens", "4"]
    assert main(argv + ["--tp", "4"]) == 0
    assert "tp 4, ep 1, pp 1, dp 1 (4 GPUs)" in capsys.readouterr().out
    assert main(argv + ["--tp", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs 30.54 GB of device memory per GPU under --tp 2" in err[0]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs 61.08 GB of device memory (weights" in err and "per GPU" not in err
    # DeepSeek-OCR on a GPU of 4 GB (its 6.7 GB of weights): two pipeline stages fit
    small = ["predict", "--hardware", "h200", "--set", "mem_capacity_gb=4", "--grid", "1x2"]
    assert main(small) == 2
    assert main(small + ["--pp", "2"]) == 0


def test_cli_predict_data_parallel_is_one_replicas_batch(capsys):
    """--dp replicates the model, each replica running its own --batch: the prediction says
    it is one replica's rather than silently showing the single-GPU one."""
    from roofsim.cli import main
    assert main(["predict", "--model", "llama-3.1-8b", "--dp", "1024", "--batch", "1",
                 "--hardware", "h200", "--prompt-tokens", "64", "--decode-tokens", "2"]) == 0
    out = capsys.readouterr().out
    assert "dp 1024 (1024 GPUs; the times are one of the 1024 replicas', each running a " \
           "batch of 1)" in out


def _compute(t: RecordTable) -> RecordTable:
    return t.select(~np.isin(t.kind, COMM_KINDS))


def test_plan_validation():
    assert ParallelPlan(tp=4, pp=2, dp=2).gpus == 16
    with pytest.raises(UserError, match="--ep 3"):
        ParallelPlan(tp=4, ep=3)
    with pytest.raises(UserError, match="--tp"):
        ParallelPlan(tp=0)
    assert ParallelPlan().nodes(8) == 1 and ParallelPlan().nodes(16) == 2


def test_single_gpu_plan_is_the_identity():
    t = _model(32)
    assert shard_table(t, ParallelPlan()) is t


def test_tp_megatron_collectives_dense():
    t = shard_table(_model(32, layers=3), ParallelPlan(tp=4))
    c = _comm(t)
    # one all-reduce per attention and per MLP block, one for the vocabulary-parallel
    # embedding, one all-gather of the logits
    assert list(c.kind).count("all_reduce") == 2 * 3 + 1
    assert list(c.kind).count("all_gather") == 1
    assert set(c.param("ranks")) == {4.0}
    ar = c.select(c.kind == "all_reduce")
    assert set(ar.param("numel")) == {32.0 * HIDDEN}
    assert c.select(c.kind == "all_gather").param("numel")[0] == 32 * VOCAB
    # the all-reduce follows the o_proj's block: next record is the post-attention norm
    layers = list(t.layer)
    i = layers.index("prefill.model.layers.0.self_attn.o_proj")
    assert t.kind[i + 1] == "all_reduce"


def test_tp_shapes_column_and_row():
    t = _compute(shard_table(_model(16), ParallelPlan(tp=2)))
    by_layer = {l: i for i, l in enumerate(t.layer)}
    q = by_layer["prefill.model.layers.0.self_attn.q_proj"]
    o = by_layer["prefill.model.layers.0.self_attn.o_proj"]
    assert t.param("n")[q] == HIDDEN / 2 and t.param("k")[q] == HIDDEN
    assert t.param("k")[o] == HIDDEN / 2 and t.param("n")[o] == HIDDEN
    norm = by_layer["prefill.model.layers.0.input_layernorm"]
    assert t.param("rows")[norm] == 16                        # replicated


@settings(max_examples=25, deadline=None)
@given(tokens=st.integers(1, 512), tp=st.sampled_from([1, 2, 4, 8]), moe=st.booleans())
def test_sharded_matrix_flops_sum_to_the_unsharded(tokens, tp, moe):
    """tp ranks together do the model's tensor FLOPs, no more and no less (router replicated)."""
    full = _model(tokens, moe=moe)
    one = _compute(shard_table(full, ParallelPlan(tp=tp)))
    router = np.array([l.endswith(".mlp.gate") for l in full.layer])
    replicated = full.select(router).total("flops_tensor")
    assert tp * (one.total("flops_tensor") - replicated) + replicated == pytest.approx(
        full.total("flops_tensor"), rel=1e-9)
    assert one.launches == full.launches                      # the same kernels, sharded


def test_ep_all_to_all_and_expert_share():
    full = _model(64, moe=True)
    t = shard_table(full, ParallelPlan(tp=4, ep=4))
    c = _comm(t)
    assert list(c.kind).count("all_to_all") == 2 * 2            # dispatch + combine per layer
    a2a = c.select(c.kind == "all_to_all")
    assert a2a.param("numel")[0] == pytest.approx(64 * TOPK * HIDDEN / 4)
    g_full = full.select(full.kind == "grouped_gemm").total("flops_tensor")
    g_one = t.select(t.kind == "grouped_gemm").total("flops_tensor")
    assert g_one == pytest.approx(g_full / 4)
    # dispatch sits right before the first expert kernel
    i = int(np.flatnonzero(t.kind == "grouped_gemm")[0])
    assert t.kind[i - 1] == "all_to_all"


def test_pp_adds_send_recv_between_stages():
    t = shard_table(_model(8, layers=4), ParallelPlan(pp=2))
    c = _comm(t)
    assert list(c.kind) == ["send_recv"] and c.param("numel")[0] == 8 * HIDDEN
    assert _compute(t).total("flops_tensor") == _model(8, layers=4).total("flops_tensor")


def test_cross_node_tp_uses_the_network():
    t = _comm(shard_table(_model(8), ParallelPlan(tp=16)))
    assert set(t.param("nodes")) == {2.0}


def test_cli_predict_adds_comm_per_stage(capsys):
    from roofsim.cli import main
    rc = main(["predict", "--model", "llama-3.1-8b", "--tp", "2", "--hardware", "h200",
               "--prompt-tokens", "64", "--decode-tokens", "2", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["parallel"]["tp"] == 2 and out["parallel"]["gpus"] == 2
    for stage in ("prefill", "decode"):
        assert out["stages"][stage]["comm_s"] > 0
        assert out["stages"][stage]["by_bound_s"]["link"] > 0
    assert main(["predict", "--model", "llama-3.1-8b", "--tp", "3", "--ep", "2",
                 "--hardware", "h200"]) == 2


def _stage_comm(argv, capsys):
    """comm_s of every stage of `roofsim predict ARGV --json` (exit code 0 checked)."""
    from roofsim.cli import main
    assert main(["predict", "--hardware", "h200", "--json"] + argv) == 0
    out = json.loads(capsys.readouterr().out)
    return {s: v["comm_s"] for s, v in out["stages"].items()}


def test_reference_pipeline_sends_hidden_states_between_stages(capsys):
    """DeepSeek-OCR's reference feeds its decoder embeddings (no embedding record): the
    pipeline's send/recv takes the first decoder layer's norm rows x width instead, once per
    boundary; the vision encoder stays on the first stage."""
    comm = _stage_comm(["--pp", "2", "--decode-tokens", "4"], capsys)
    assert comm["vision"] == 0
    assert comm["prefill"] > comm["decode"] > 0
    three = _stage_comm(["--pp", "3", "--decode-tokens", "4"], capsys)
    assert three["decode"] == pytest.approx(2 * comm["decode"], rel=1e-9)   # two boundaries


def test_more_pipeline_stages_than_layers_is_an_error(capsys):
    from roofsim.cli import main
    assert main(["predict", "--hardware", "h200", "--pp", "13"]) == 2     # 12 decoder layers
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pp 13" in err[0] and "12 decoder layers" in err[0]


@pytest.mark.parametrize("plan", [["--tp", "2"], ["--pp", "2"], ["--tp", "2", "--ep", "2"]])
def test_analytic_decode_comm_is_per_step_whatever_k(plan, capsys):
    """The analytic decode table folds K steps into records of count K: its collectives run
    K times too, so one step's communication does not depend on K."""
    few = _stage_comm(["--implementation", "flash", "--decode-tokens", "10"] + plan, capsys)
    many = _stage_comm(["--implementation", "flash", "--decode-tokens", "100"] + plan, capsys)
    assert few["decode"] > 0
    assert many["decode"] == pytest.approx(few["decode"], rel=1e-9)


def test_analytic_and_captured_deepseek_ocr_shard_alike(capsys):
    """The analytic model names its modules in `name` ('o_proj', 'crops/proj'), capture in
    `layer`: both get the same collectives (the same model, the same plan)."""
    flash = _stage_comm(["--implementation", "flash", "--tp", "2", "--decode-tokens", "4"],
                        capsys)
    ref = _stage_comm(["--tp", "2", "--decode-tokens", "4"], capsys)
    for stage in ("vision", "prefill", "decode"):
        assert flash[stage] > 0
        assert flash[stage] == pytest.approx(ref[stage], rel=0.1)


def test_module_paths_join_an_analytic_name_to_its_block():
    from roofsim.parallel.shard import module_paths
    t = RecordTable.concat([
        _rec("linear", "decoder.layers.0.self_attn", m=4, n=HIDDEN, k=HIDDEN),
        _rec("linear", "vision.clip.layers.0.self_attn", m=4, n=HIDDEN, k=HIDDEN),
        _rec("linear", "model.layers.0.self_attn.o_proj", m=4, n=HIDDEN, k=HIDDEN)])
    t = replace(t, name=np.array(["o_proj", "crops/out_proj", "aten.mm"], dtype=object))
    assert list(module_paths(t)) == ["prefill.decoder.layers.0.self_attn.o_proj",
                                     "prefill.vision.clip.layers.0.self_attn.out_proj",
                                     "prefill.model.layers.0.self_attn.o_proj"]


# ---- what one GPU of a plan holds (a sharded server's memory) ---------------------------------

def test_one_gpu_holds_its_share_of_the_weights():
    """The routed experts split over ep (over tp at ep 1), the rest over tp; all over pp."""
    assert ParallelPlan().weight_share(10.0, 6.0) == 10.0
    assert ParallelPlan(tp=2).weight_share(10.0, 6.0) == 5.0
    assert ParallelPlan(tp=2, ep=2).weight_share(10.0, 6.0) == 4.0 / 2 + 6.0 / 2
    assert ParallelPlan(tp=2, dp=4, ep=8).weight_share(10.0, 6.0) == 4.0 / 2 + 6.0 / 8
    assert ParallelPlan(tp=2, pp=2).weight_share(10.0, 6.0) == 2.5


@pytest.mark.parametrize("plan, sizes, share", [
    (ParallelPlan(tp=2), ModelSizes("m", 32, 8), 0.5),
    (ParallelPlan(tp=8), ModelSizes("m", 32, 8), 0.125),
    (ParallelPlan(tp=16), ModelSizes("m", 32, 8), 0.125),     # one whole KV head per GPU
    (ParallelPlan(tp=4), ModelSizes("m", 16, None, latent_kv=True), 1.0),   # MLA: the latent
    (ParallelPlan(tp=2, pp=2), ModelSizes("m", 32, 32), 0.25),
])
def test_one_gpu_holds_its_share_of_the_kv_cache(plan, sizes, share):
    assert plan.kv_share(sizes) == share


@settings(max_examples=30, deadline=None)
@given(tp=st.sampled_from([1, 2, 4, 8]), kv=st.sampled_from([1, 2, 8, 32]),
       experts=st.floats(0.0, 0.9))
def test_more_tensor_parallel_gpus_never_hold_more(tp, kv, experts):
    sizes = ModelSizes("m", 32, kv)
    one, more = ParallelPlan(tp=tp), ParallelPlan(tp=2 * tp)
    assert more.weight_share(1.0, experts) < one.weight_share(1.0, experts)
    assert more.kv_share(sizes) <= one.kv_share(sizes)


def test_a_sharded_server_holds_more_kv_positions():
    """llama-3.1-8b on an H100 SXM: at tp 2 each GPU keeps half the weights and half the KV
    heads' cache, so the one server holds more than twice the positions of one GPU."""
    from roofsim.hardware import load_hardware
    from roofsim.memory import kv_budget, weight_bytes
    from roofsim.workloads import workload
    wl = workload("llama-3.1-8b")
    cap = load_hardware("h100-sxm").mem_capacity_bytes
    one = kv_budget(wl.config, cap)
    two = kv_budget(wl.config, cap, plan=ParallelPlan(tp=2), sizes=wl.shard_sizes())
    assert two.weight_bytes == pytest.approx(weight_bytes(wl.config) / 2)
    assert two.bytes_per_position == pytest.approx(one.bytes_per_position / 2)
    assert two.positions > 2 * one.positions


def test_weights_too_large_for_one_gpu_of_the_plan_say_per_gpu():
    from roofsim.memory import kv_budget
    from roofsim.workloads.deepseek_ocr import load_config
    cfg = load_config()
    sizes = ModelSizes("deepseek-ocr", cfg.decoder.heads, cfg.decoder.kv_heads)
    with pytest.raises(UserError, match=r"weights need 3.336 GB per GPU"):
        kv_budget(cfg, 3e9, plan=ParallelPlan(tp=2), sizes=sizes)
    assert kv_budget(cfg, 5e9, plan=ParallelPlan(tp=2), sizes=sizes).positions > 0
