"""The serving simulation: scheduler invariants (hypothesis), trace files, engine step times."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from roofsim.errors import UserError
from roofsim.serving import (SchedulerConfig, ServeRequest, poisson_requests, read_trace,
                             simulate)
from roofsim.serving.scheduler import Scheduler, Sequence


class LinearSteps:
    """A step costs a fixed part, per token and per cached position read (no engine)."""

    def __init__(self, fixed=1e-3, per_token=1e-5, per_position=1e-8, vision=0.0):
        self.fixed, self.per_token, self.per_position, self.vision = \
            fixed, per_token, per_position, vision
        self.plans = []

    def prompt_positions(self, r):
        return r.prompt_tokens

    def step_s(self, plan):
        self.plans.append(plan)
        return (self.fixed + self.per_token * (plan.prefill_tokens + plan.decode_seqs)
                + self.per_position * plan.decode_context)

    def vision_s(self, r):
        return self.vision


requests_st = st.lists(
    st.builds(ServeRequest, arrival_s=st.floats(0, 5), prompt_tokens=st.integers(1, 300),
              output_tokens=st.integers(1, 40)), min_size=1, max_size=40)
config_st = st.builds(SchedulerConfig, kv_blocks=st.integers(24, 80),
                      block_size=st.sampled_from([1, 4, 16]), max_seqs=st.integers(1, 8),
                      max_batched_tokens=st.integers(1, 512))


@settings(max_examples=150, deadline=None)
@given(requests_st, config_st)
def test_scheduler_invariants(reqs, cfg):
    fits = [r for r in reqs
            if -(-(r.prompt_tokens + r.output_tokens - 1) // cfg.block_size) <= cfg.kv_blocks]
    if not fits:
        return
    steps = LinearSteps()
    res = simulate(fits, steps, cfg)
    assert len(res.outcomes) == len(fits)                       # every request finishes
    for r, o in zip(fits, res.outcomes):
        assert o.output_tokens == r.output_tokens
        assert r.arrival_s < o.first_token_s <= o.finish_s       # TTFT <= end-to-end latency
        assert o.ttft_s <= o.latency_s
    assert res.peak_kv_blocks <= cfg.kv_blocks                  # KV never over capacity
    for plan in steps.plans:
        assert plan.prefill_tokens + plan.decode_seqs <= cfg.max_batched_tokens
        assert len(plan.work) <= cfg.max_seqs
    # tokens conserved: every prompt position and every generated token (but the last, which
    # is never fed back) is computed once, plus what preemption recomputes
    computed = sum(n for plan in steps.plans for _, n in plan.work)
    needed = sum(r.prompt_tokens + r.output_tokens - 1 for r in fits)
    assert computed >= needed
    if not any(o.preemptions for o in res.outcomes):
        assert computed == needed
    m = res.metrics()
    assert m.output_tokens == sum(r.output_tokens for r in fits)
    assert 0 < m.busy_share <= 1 + 1e-9


def test_preemption_when_kv_runs_out():
    cfg = SchedulerConfig(kv_blocks=12, block_size=4, max_seqs=8, max_batched_tokens=64)
    reqs = [ServeRequest(0.0, 8, 30) for _ in range(4)]          # 4 x 37 positions > 48
    res = simulate(reqs, LinearSteps(), cfg)
    assert sum(o.preemptions for o in res.outcomes) > 0
    assert res.peak_kv_blocks <= 12


def test_a_request_larger_than_the_cache_is_refused():
    cfg = SchedulerConfig(kv_blocks=4, block_size=16)
    with pytest.raises(UserError, match=r"request 0: .*more than the whole KV cache \(64"):
        simulate([ServeRequest(0.0, 60, 10)], LinearSteps(), cfg)


def test_chunked_prefill_splits_a_long_prompt():
    cfg = SchedulerConfig(kv_blocks=1000, block_size=16, max_batched_tokens=100)
    steps = LinearSteps()
    simulate([ServeRequest(0.0, 250, 2)], steps, cfg)
    assert [p.prefill_tokens for p in steps.plans] == [100, 100, 50, 0]
    assert steps.plans[-1].decode_seqs == 1


def test_decode_rows_batch_together_and_new_requests_join():
    s = Scheduler(SchedulerConfig(kv_blocks=100, block_size=16, max_seqs=2))
    a, b, c = (Sequence(i, prompt=10, output=3) for i in range(3))
    for q in (a, b, c):
        s.add(q)
    plan = s.schedule()
    assert [n for _, n in plan.work] == [10, 10] and len(s.waiting) == 1    # max_seqs = 2
    s.complete(plan)
    plan = s.schedule()
    assert plan.decode_seqs == 2 and plan.decode_context == 22 and plan.prefill_tokens == 0


def test_higher_rate_waits_longer():
    cfg = SchedulerConfig(kv_blocks=4000, max_seqs=16)
    slow, fast = (simulate(poisson_requests(rate, 300, 200, 50, seed=1), LinearSteps(), cfg)
                  .metrics() for rate in (2.0, 200.0))
    assert fast.ttft.p90 > slow.ttft.p90
    assert fast.throughput_tokens_per_s > slow.throughput_tokens_per_s
    assert fast.busy_share > slow.busy_share


def test_ten_thousand_requests_all_finish_after_they_arrive():
    # Its speed is benchmarks/bench_serving.py's figure (0.6 s on a 2-core machine), not a
    # timed assertion here.
    cfg = SchedulerConfig(kv_blocks=50_000, max_seqs=256)
    reqs = poisson_requests(50.0, 10_000, 512, 64, seed=0)
    res = simulate(reqs, LinearSteps(), cfg)
    assert len(res.outcomes) == 10_000
    assert all(o.finish_s > o.arrival_s for o in res.outcomes)


def test_trace_csv(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("arrival_s,prompt_tokens,output_tokens,image\n0.5,10,3,\n0.1,20,1,640x480\n")
    reqs = read_trace(p)
    assert [r.arrival_s for r in reqs] == [0.1, 0.5]
    assert reqs[0].image == (480, 640) and reqs[1].image is None


@pytest.mark.parametrize("text, match", [
    ("arrival_s,prompt_tokens\n0,1\n", "missing column"),
    ("arrival_s,prompt_tokens,output_tokens\n-1,1,1\n", "line 2: arrival_s"),
    ("arrival_s,prompt_tokens,output_tokens\n0,1.5,1\n", "line 2: prompt_tokens"),
    ("arrival_s,prompt_tokens,output_tokens\n0,5,0\n", "line 2: output tokens"),
    ("arrival_s,prompt_tokens,output_tokens\n", "no requests"),
    ("arrival_s,arrival_s,prompt_tokens,output_tokens\n", "given twice"),
    ("arrival_s,prompt_tokens,output_tokens\n1e308,100,10\n", "line 2: arrival_s '1e308'"),
])
def test_bad_trace(tmp_path, text, match):
    p = tmp_path / "t.csv"
    p.write_text(text)
    with pytest.raises(UserError, match=match):
        read_trace(p)


def test_serve_cli_json_and_target(capsys, tmp_path):
    import json

    from roofsim.cli import main
    assert main(["serve", "--requests", "30", "--rate", "4", "--hardware", "h200",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["requests"] == 30 and out["ttft_s"]["p50"] <= out["latency_s"]["p50"]
    assert 0 < out["busy_share"] <= 1 and out["memory"]["kv_positions"] > 0
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,prompt_tokens,output_tokens,image\n0,16,4,1024x1024\n"
                     "0.01,16,4,2480x3508\n")
    assert main(["serve", "--trace", str(trace), "--hardware", "h200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["requests"] == 2
    assert main(["serve", "--requests", "20", "--ttft-target-ms", "50", "--hardware",
                 "h200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["search"]["max_rate_per_s"] > 0
    assert main(["serve", "--requests", "20", "--rates", "1,8", "--plot",
                 str(tmp_path / "r.png"), "--hardware", "h200"]) == 0
    assert (tmp_path / "r.png").stat().st_size > 0


def test_weights_larger_than_memory_say_by_how_much():
    from roofsim.memory import kv_budget
    from roofsim.workloads.deepseek_ocr import load_config
    with pytest.raises(UserError, match=r"weights need 6.67.* GB.*by .* GB"):
        kv_budget(load_config(), 5e9)


def test_a_target_every_rate_meets_has_no_highest_rate():
    from roofsim.serving.search import Target, max_rate

    class Always:              # a metrics stand-in whose latencies never grow with the rate
        class _P:
            def at(self, _):
                return 0.01
        ttft = tpot = _P()

        def as_dict(self):
            return {}

    found = max_rate(lambda rate: Always(), Target(ttft_s=1.0), max_doublings=5)
    assert found.unbounded and found.as_dict()["max_rate_per_s"] is None
    assert found.best.rate == 32.0                     # the cap it reached, kept for the output


def test_the_serve_cli_says_when_no_rate_is_the_highest(capsys):
    from roofsim.cli import main
    assert main(["serve", "--implementation", "flash", "--requests", "20", "--ttft-target-ms",
                 "100000", "--hardware", "h200"]) == 0
    assert "no rate is the highest for this many requests" in capsys.readouterr().out


def test_a_target_no_rate_meets_ends_the_search_without_an_error(capsys):
    """Halving toward a target no rate meets reached a rate whose requests outlast a
    simulation, and the search ended in that refusal: 'rate 6.1e-05 requests/s: ... more than
    a simulation takes', a rate the user never gave. Now: no rate tried meets it."""
    from roofsim.cli import main
    assert main(["serve", "--implementation", "flash", "--requests", "20", "--tpot-target-ms",
                 "0.001", "--hardware", "h200"]) == 0
    out, err = capsys.readouterr()
    assert "no rate tried meets TPOT p90 <= 0.001 ms" in out and err == ""


@pytest.mark.parametrize("rate", [1e-308, 1e-5])
def test_a_rate_too_slow_for_the_simulation_is_refused(rate):
    with pytest.raises(UserError, match="more than a simulation takes"):
        poisson_requests(rate, 200, 16, 4)


def test_trace_refuses_the_poisson_options(tmp_path, capsys):
    from roofsim.cli import main
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,prompt_tokens,output_tokens\n0,16,4\n")
    base = ["serve", "--implementation", "flash", "--trace", str(trace), "--hardware", "h200"]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base + ["--requests", "3", "--prompt-tokens", "16"]) == 2
    err = capsys.readouterr().err
    assert "--requests, --prompt-tokens describe Poisson arrivals" in err
    assert len(err.strip().splitlines()) == 1


def test_serve_spans_gpus_with_a_parallel_plan(capsys):
    """serve --tp 2: the steps are sharded (a decode step of the one server takes less time
    than on one GPU, collectives included), one GPU's share of the weights leaves more KV
    positions, and a plan no engine runs is refused as predict refuses it."""
    import json

    from roofsim.cli import main
    from roofsim.hardware import load_hardware
    from roofsim.parallel import ParallelPlan
    from roofsim.serving.steps import EngineStepTimes
    from roofsim.workloads import workload
    args = ["serve", "--model", "llama-3.1-8b", "--requests", "20", "--rate", "4",
            "--hardware", "h200", "--json"]
    assert main(args) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(args + ["--tp", "2"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert one["parallel"]["gpus"] == 1 and two["parallel"]["gpus"] == 2
    assert two["memory"]["kv_positions"] > 2 * one["memory"]["kv_positions"]
    assert two["tpot_s"]["p50"] < one["tpot_s"]["p50"]
    wl, h200 = workload("llama-3.1-8b"), load_hardware("h200")
    single = EngineStepTimes(wl, hardware=h200).decode_s(8, 1024)
    sharded = EngineStepTimes(wl, hardware=h200, plan=ParallelPlan(tp=2)).decode_s(8, 1024)
    assert sharded < single
    assert main(args[:-1] + ["--tp", "3"]) == 2
    assert "--tp 3: llama-3.1-8b's 32 attention heads" in capsys.readouterr().err
    assert main(args[:-1] + ["--tp", "2"]) == 0
    assert "on h200 x 2 (tp 2, ep 1)" in capsys.readouterr().out


def test_serve_names_tp_when_ep_does_not_divide_it(capsys):
    """serve has no --dp: the expert-parallel group is its tp GPUs, and the message says so."""
    from roofsim.cli import main
    assert main(["serve", "--model", "qwen3-30b-a3b", "--ep", "2", "--requests", "5"]) == 2
    err = capsys.readouterr().err
    assert "--ep 2: serve's expert-parallel group is its --tp 1 GPUs" in err and "dp" not in err


def test_a_trace_row_over_the_models_positions_names_its_line(tmp_path, capsys):
    """The position check ran after read_trace sorted the requests, so its message named the
    file but not the row; it now runs on each row as it is read."""
    from roofsim.cli import main
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,prompt_tokens,output_tokens\n0,16,4\n0.5,1e9,4\n0.1,16,4\n")
    assert main(["serve", "--model", "llama-3.1-8b", "--trace", str(trace), "--hardware",
                 "h200"]) == 2
    err = capsys.readouterr().err
    assert f"{trace}: line 3: prompt_tokens 1000000000" in err and err.count("\n") == 1


def test_a_one_token_run_shows_no_tpot_as_n_a(capsys):
    """With one output token no request has a TPOT: the text table says n/a (it printed nan),
    the JSON null."""
    from roofsim.cli import main
    assert main(["serve", "--requests", "5", "--output-tokens", "1"]) == 0
    out = capsys.readouterr().out
    tpot = next(line for line in out.splitlines() if line.startswith("TPOT"))
    assert tpot.split()[1:] == ["n/a"] * 4 and "nan" not in out
    assert main(["serve", "--requests", "5", "--output-tokens", "1", "--json"]) == 0
    import json
    assert set(json.loads(capsys.readouterr().out)["tpot_s"].values()) == {None}


def test_rates_given_twice_are_refused(capsys):
    """`--rates 1,1,1` simulated rate 1 three times and printed three equal rows."""
    from roofsim.cli import main
    assert main(["serve", "--requests", "5", "--rates", "1,2,1.0"]) == 2
    out, err = capsys.readouterr()
    assert err == "roofsim: error: --rates 1,2,1.0: rate 1 given twice\n" and out == ""


def test_a_plot_suffix_matplotlib_cannot_write_is_refused(capsys, tmp_path):
    """`--plot x.txt` wrote a PNG into x.txt (and .jpg, .eps... a PNG too): a suffix savefig
    cannot write is refused before any simulation, one it can is the format written, and a path
    without a suffix is still a PNG."""
    from roofsim.cli import main
    base = ["serve", "--requests", "5", "--rates", "1,8", "--plot"]
    assert main(base + [str(tmp_path / "x.txt")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"roofsim: error: --plot {tmp_path / 'x.txt'}: matplotlib cannot "
                          f"write .txt files") and err.count("\n") == 1 and out == ""
    assert "png, ps" in err and not (tmp_path / "x.txt").exists()
    assert main(base + [str(tmp_path / "x.svg")]) == 0
    assert (tmp_path / "x.svg").read_bytes().lstrip().startswith(b"<?xml")
    assert main(base + [str(tmp_path / "x")]) == 0
    assert (tmp_path / "x").read_bytes().startswith(b"\x89PNG")
