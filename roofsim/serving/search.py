"""Rate sweeps and the highest Poisson request rate that meets a latency target.

The same seed gives the same arrival pattern at every rate (scaled in time), so a sweep's
points differ by the rate alone. The highest rate is found by doubling from `start` until the
target fails, then bisecting to `tolerance` (relative); a rate is met when every given target
holds at its percentile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import UserError
from .requests import ArrivalsTooLong
from .simulate import ServeMetrics


@dataclass(frozen=True)
class Target:
    ttft_s: float | None = None
    tpot_s: float | None = None
    percentile: int = 90

    def __post_init__(self):
        if self.ttft_s is None and self.tpot_s is None:
            raise UserError("a latency target needs a TTFT or a TPOT bound")
        if self.percentile not in (50, 90, 99):
            raise UserError(f"percentile {self.percentile}: expected 50, 90 or 99")

    def met(self, m: ServeMetrics) -> bool:
        ok = True
        if self.ttft_s is not None:
            ok &= m.ttft.at(self.percentile) <= self.ttft_s
        if self.tpot_s is not None:
            tpot = m.tpot.at(self.percentile)
            ok &= tpot != tpot or tpot <= self.tpot_s       # NaN: one-token requests only
        return bool(ok)

    def as_dict(self) -> dict:
        return {"ttft_s": self.ttft_s, "tpot_s": self.tpot_s, "percentile": self.percentile}


@dataclass(frozen=True)
class RatePoint:
    rate: float
    metrics: ServeMetrics

    def as_dict(self) -> dict:
        return {"rate_per_s": self.rate, **self.metrics.as_dict()}


@dataclass(frozen=True)
class RateSearch:
    target: Target
    best: RatePoint | None          # the highest rate found that meets the target
    tried: tuple[RatePoint, ...]
    # Every rate up to the search's cap met the target: a finite set of requests arriving
    # faster is only a burst of them at once, so there is no highest rate; `best` is the cap.
    unbounded: bool = False

    def as_dict(self) -> dict:
        return {"target": self.target.as_dict(),
                "max_rate_per_s": None if self.unbounded or not self.best else self.best.rate,
                "unbounded": self.unbounded,
                "at_max_rate": self.best.as_dict() if self.best else None,
                "tried_rates_per_s": [p.rate for p in self.tried]}


def sweep_rates(rates, run: Callable[[float], ServeMetrics]) -> list[RatePoint]:
    return [RatePoint(float(r), run(float(r))) for r in rates]


def max_rate(run: Callable[[float], ServeMetrics], target: Target, *, start: float = 1.0,
             tolerance: float = 0.02, max_doublings: int = 30) -> RateSearch:
    """The highest rate meeting `target` (run(rate) simulates at that rate). Halving stops,
    with no rate found, where run() refuses a rate too low for its requests to arrive within a
    simulation (ArrivalsTooLong): a target no rate meets ends in 'no rate tried meets it'."""
    tried: list[RatePoint] = []

    def ok(rate: float) -> bool:
        p = RatePoint(rate, run(rate))
        tried.append(p)
        return target.met(p.metrics)

    lo, hi = None, None
    rate = start
    if ok(rate):
        lo = rate
        for _ in range(max_doublings):
            rate *= 2
            if not ok(rate):
                hi = rate
                break
            lo = rate
        else:
            return RateSearch(target, _at(tried, lo), tuple(tried), unbounded=True)
    else:
        hi = rate
        for _ in range(max_doublings):
            rate /= 2
            try:
                met = ok(rate)
            except ArrivalsTooLong:     # too low a rate to simulate: no rate tried meets it
                return RateSearch(target, None, tuple(tried))
            if met:
                lo = rate
                break
            hi = rate
        else:
            return RateSearch(target, None, tuple(tried))
    while hi - lo > tolerance * lo:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return RateSearch(target, _at(tried, lo), tuple(tried))


def _at(tried, rate):
    return next(p for p in tried if p.rate == rate)
