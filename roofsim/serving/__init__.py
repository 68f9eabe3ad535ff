"""Serving simulation: requests arriving over time, a continuous-batching scheduler like vLLM's,
per-step times from the engine (roofsim.serving.steps), latency percentiles and the highest
request rate that meets a latency target.

    reqs = poisson_requests(rate=4.0, count=1000, prompt_tokens=1024, output_tokens=128)
    times = EngineStepTimes(workload("llama-3.1-8b"), hardware=hw, profile=profile)
    result = simulate(reqs, times, SchedulerConfig(kv_blocks=...))
    result.metrics().ttft.p99

Modules: requests (arrivals: Poisson or a trace CSV), scheduler (the batching policy and KV
blocks, no time), steps (step times: the engine, cached per bucket), simulate (the event loop
and the metrics), search (rate sweeps and the highest rate meeting a target).
"""

from .requests import ServeRequest, poisson_requests, read_trace
from .scheduler import SchedulerConfig, Scheduler, StepPlan
from .simulate import Percentiles, RequestOutcome, ServeMetrics, ServeResult, simulate

__all__ = ["Percentiles", "RequestOutcome", "SchedulerConfig", "Scheduler", "ServeMetrics",
           "ServeRequest", "ServeResult", "StepPlan", "poisson_requests", "read_trace",
           "simulate"]
