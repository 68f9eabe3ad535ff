"""The decode step a CUDA graph replays (issue 16): over a StaticCache, the new K/V written in
place and attention over the whole static length with a mask, unlike the DynamicCache step
(K/V concatenated onto the cache); `--wall graph` times the decode stage from it."""

import numpy as np
import pytest

from roofsim.calibration import load_profile
from roofsim.data import data_dir
from roofsim.hardware import load_hardware
from roofsim.host import load_host_model
from roofsim.stages import DECODE
from roofsim.wall import stage_walls
from roofsim.workloads import Request, workload
from roofsim.workloads.hf.configs import model_config

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from roofsim.capture import capture  # noqa: E402
from roofsim.workloads.hf import build, cases  # noqa: E402
from tiny_models import tiny_raw, write_tiny  # noqa: E402

KV, BATCH = 64, 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    mc = model_config(write_tiny("llama-3.1-8b", tmp_path_factory.mktemp("tiny")))
    return mc, build.build_model(mc)


def _table(model, mc, cache):
    case = cases.decode_case(model, mc, KV, batch=BATCH, cache=cache)
    args, kwargs = case.make_inputs()
    return capture(case.module, *args, **kwargs).table


def _kv_cats(table, raw):
    """cat records that write a whole cached K or V (batch x KV heads x kv_len + 1 positions)."""
    head_dim = raw.get("head_dim") or raw["hidden_size"] // raw["num_attention_heads"]
    kv_bytes = BATCH * raw["num_key_value_heads"] * (KV + 1) * head_dim * 2
    return table.select((table.name == "aten.cat") & (table.bytes_written == kv_bytes))


def test_static_decode_writes_in_place_and_attends_over_the_static_length(tiny):
    mc, model = tiny
    raw, layers = tiny_raw("llama-3.1-8b"), mc.num_layers
    dynamic, static = _table(model, mc, cases.DYNAMIC), _table(model, mc, cases.STATIC)
    assert len(_kv_cats(dynamic, raw)) == 2 * layers           # K and V cat onto the cache
    assert len(_kv_cats(static, raw)) == 0
    assert (static.name == "aten.index_copy_").sum() == 2 * layers   # written in place
    for table, masked in ((dynamic, False), (static, True)):
        att = table.select(table.kind == "attention")
        assert len(att) == layers
        assert set(att.param("seq_kv")) == {KV + 1}            # max_cache_len = kv_len + 1
        # the static length is masked by one key mask per sequence, shared by heads and
        # queries (bias 2), not a mask per score (bias 1)
        assert all((np.nan_to_num(att.param("bias")) == 2) == masked)


def test_the_cache_kind_is_in_the_capture_key_only_when_static(tiny):
    mc, _ = tiny
    dynamic = cases.case_key(mc, DECODE, kv_len=KV, batch=BATCH)
    static = cases.case_key(mc, DECODE, kv_len=KV, batch=BATCH, cache=cases.STATIC)
    assert "cache" not in dynamic                               # existing cache keys unchanged
    assert static == {**dynamic, "cache": "static"}
    with pytest.raises(ValueError):
        cases.case_key(mc, DECODE, kv_len=KV, cache="paged")


def test_graph_wall_of_decode_replays_the_static_step(tmp_path):
    wl = workload(str(write_tiny("llama-3.1-8b", tmp_path)))
    request = Request(prompt_tokens=2000, decode_tokens=48, batch=16)
    parts = wl.stage_records(request, use_cache=False).parts
    graph = wl.graph_parts(request, use_cache=False)
    assert set(graph) == {DECODE}
    assert wl.graph_parts(Request(prompt_tokens=8, decode_tokens=0), use_cache=False) == {}
    (static, weight), = graph[DECODE]
    assert weight == 1.0
    assert set(static.select(static.kind == "attention").param("seq_kv")) == {2000 + 48}
    hw, profile = load_hardware("h200"), load_profile(data_dir("calibration") / "h200")
    host = load_host_model(data_dir("calibration") / "h200" / "host")
    plain = stage_walls(parts, hw, profile, host)
    walls = stage_walls(parts, hw, profile, host, graph_parts=graph)
    for stage, w in walls.items():                              # eager and kernel time: the
        assert w.kernel_s == plain[stage].kernel_s              # dynamic capture still
        assert w.eager_s == plain[stage].eager_s
    d, p = walls[DECODE], plain[DECODE]
    assert p.graph_kernel_s == p.kernel_s
    assert d.graph_kernel_s != d.kernel_s
    assert d.graph_s != p.graph_s
    launches = float(static.count.sum())
    assert d.graph_s == pytest.approx(d.graph_kernel_s + launches * host.graph_node_s
                                      + host.graph_launch_s, rel=0.2)
    assert walls["prefill"].graph_s == plain["prefill"].graph_s
