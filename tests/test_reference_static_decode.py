"""DeepSeek-OCR's decode step as a CUDA graph replays it (issue 16): over a StaticCache of the
whole generation's length, captured apart from the eager DynamicCache step, and what graph mode
times (DeepseekOCR.graph_parts)."""

import numpy as np
import pytest

from roofsim.errors import UserError
from roofsim.reference.spec import DEEPSEEK_OCR
from roofsim.reference.stages import case_config
from roofsim.stages import DECODE
from roofsim.workloads import Request, workload
from roofsim.workloads.case import DYNAMIC, STATIC

pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_the_static_step_is_keyed_apart_and_a_bad_cache_is_one_line():
    dyn = case_config(DECODE, kv_len=100)
    assert "cache" not in dyn                                    # earlier captures keep their key
    assert case_config(DECODE, kv_len=100, cache=DYNAMIC) == dyn
    assert case_config(DECODE, kv_len=100, cache=STATIC) == {**dyn, "cache": STATIC}
    with pytest.raises(UserError, match="cache"):
        case_config(DECODE, kv_len=100, cache="paged")


def test_graph_parts_time_the_static_step_over_the_whole_generation():
    wl = workload(None, "reference")
    req = Request(prompt_tokens=16, decode_tokens=3, grid=(1, 2))
    graph = wl.graph_parts(req)
    (table, weight), = graph[DECODE]
    assert weight == 1.0
    kv = DEEPSEEK_OCR.image_tokens((1, 2)) + 16 + 3 - 1
    att = table.select(table.kind == "attention")
    assert len(att) == DEEPSEEK_OCR.decoder.layers
    assert set(att.param("seq_kv")) == {kv + 1}               # the static length, kv + 1
    eager = wl.stage_records(req).parts[DECODE][0][0]
    # the eager step concatenates K and V onto the cache; the static one writes in place
    assert (eager.name == "aten.cat").sum() > (table.name == "aten.cat").sum()
    assert np.all(np.isfinite(table.bytes_read))
    assert wl.graph_parts(Request(prompt_tokens=16, decode_tokens=0, grid=(1, 2))) == {}
    assert workload(None, "flash").graph_parts(req) == {}
