"""The serving event loop: arrivals join the scheduler's queue, each engine step takes the time
the step-time model gives it, and every request's first token and finish are recorded.

The loop advances from step to step (a step's end is the only event besides arrivals), so it
needs no discrete-event library: when nothing runs it jumps to the next arrival.
A step's time is `steps.step_s(plan)` plus the vision stage of each request it starts
(`steps.vision_s(request)`), run before its first prefill chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence as Seq

import numpy as np

from ..errors import UserError
from .requests import ServeRequest
from .scheduler import Scheduler, SchedulerConfig, Sequence, StepPlan

PERCENTILES = (50, 90, 99)


class StepTimes(Protocol):
    """How long an engine step takes (roofsim.serving.steps.EngineStepTimes)."""

    def prompt_positions(self, request: ServeRequest) -> int: ...

    def step_s(self, plan: StepPlan) -> float: ...

    def vision_s(self, request: ServeRequest) -> float: ...


@dataclass(frozen=True)
class RequestOutcome:
    arrival_s: float
    first_token_s: float
    finish_s: float
    prompt_positions: int
    output_tokens: int
    preemptions: int

    @property
    def ttft_s(self) -> float:
        return self.first_token_s - self.arrival_s

    @property
    def latency_s(self) -> float:
        return self.finish_s - self.arrival_s

    @property
    def tpot_s(self) -> float | None:
        """Mean time per output token after the first (None for a one-token request)."""
        if self.output_tokens < 2:
            return None
        return (self.finish_s - self.first_token_s) / (self.output_tokens - 1)


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p90: float
    p99: float
    mean: float

    @staticmethod
    def of(values) -> "Percentiles":
        v = np.asarray([x for x in values if x is not None], dtype=float)
        if v.size == 0:
            return Percentiles(*(float("nan"),) * 4)
        p = np.percentile(v, PERCENTILES)
        return Percentiles(float(p[0]), float(p[1]), float(p[2]), float(v.mean()))

    def at(self, percentile: int) -> float:
        return getattr(self, f"p{percentile}")

    def as_dict(self) -> dict:
        return {"p50": self.p50, "p90": self.p90, "p99": self.p99, "mean": self.mean}


@dataclass(frozen=True)
class ServeMetrics:
    requests: int
    duration_s: float                  # first arrival to last finish
    busy_s: float                      # time the GPU ran steps
    steps: int
    preemptions: int
    output_tokens: int
    ttft: Percentiles
    tpot: Percentiles
    latency: Percentiles

    @property
    def throughput_tokens_per_s(self) -> float:
        return self.output_tokens / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def request_throughput_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def busy_share(self) -> float:
        return self.busy_s / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict:
        return {"requests": self.requests, "duration_s": self.duration_s, "busy_s": self.busy_s,
                "busy_share": self.busy_share, "steps": self.steps,
                "preemptions": self.preemptions, "output_tokens": self.output_tokens,
                "throughput_tokens_per_s": self.throughput_tokens_per_s,
                "request_throughput_per_s": self.request_throughput_per_s,
                "ttft_s": self.ttft.as_dict(), "tpot_s": self.tpot.as_dict(),
                "latency_s": self.latency.as_dict()}


@dataclass(frozen=True)
class ServeResult:
    outcomes: tuple[RequestOutcome, ...]
    busy_s: float
    steps: int
    peak_kv_blocks: int
    config: SchedulerConfig

    def metrics(self) -> ServeMetrics:
        o = self.outcomes
        start = min(r.arrival_s for r in o)
        end = max(r.finish_s for r in o)
        return ServeMetrics(
            requests=len(o), duration_s=end - start, busy_s=self.busy_s, steps=self.steps,
            preemptions=sum(r.preemptions for r in o),
            output_tokens=sum(r.output_tokens for r in o),
            ttft=Percentiles.of(r.ttft_s for r in o), tpot=Percentiles.of(r.tpot_s for r in o),
            latency=Percentiles.of(r.latency_s for r in o))


def simulate(requests: Seq[ServeRequest], steps: StepTimes,
             config: SchedulerConfig) -> ServeResult:
    """Serve `requests` (any order) with continuous batching; every request finishes."""
    if not requests:
        raise UserError("serve: no requests to simulate")
    order = sorted(range(len(requests)), key=lambda i: requests[i].arrival_s)
    sched = Scheduler(config)
    seqs = [Sequence(i, steps.prompt_positions(r), r.output_tokens)
            for i, r in enumerate(requests)]
    first = [0.0] * len(requests)
    finish = [0.0] * len(requests)
    now = busy = 0.0
    n_steps = peak = 0
    nxt = 0
    remaining = len(requests)
    while remaining:
        while nxt < len(order) and requests[order[nxt]].arrival_s <= now:
            sched.add(seqs[order[nxt]])
            nxt += 1
        if sched.idle:
            now = requests[order[nxt]].arrival_s
            continue
        plan = sched.schedule()
        if plan.empty:          # cannot happen: the queue head fits an empty cache
            raise RuntimeError("serving scheduler made no progress")
        peak = max(peak, config.kv_blocks - sched.free_blocks)
        dt = steps.step_s(plan) + sum(steps.vision_s(requests[s.index]) for s in plan.started)
        now += dt
        busy += dt
        n_steps += 1
        got_first, done = sched.complete(plan)
        for s in got_first:
            first[s.index] = now
        for s in done:
            finish[s.index] = now
            remaining -= 1
    outcomes = tuple(RequestOutcome(r.arrival_s, first[i], finish[i], seqs[i].prompt,
                                    r.output_tokens, seqs[i].preemptions)
                     for i, r in enumerate(requests))
    return ServeResult(outcomes, busy, n_steps, peak, config)
