"""A continuous-batching scheduler like vLLM's (v1): no time, only who runs how many tokens.

Every sequence has `tokens` (prompt + generated so far) and `computed` (positions in the KV
cache). A step gives each scheduled sequence `tokens - computed` new tokens, capped by the
step's token budget (chunked prefill); a decoding sequence gets exactly one. When a sequence's
computed tokens reach its tokens, the step samples one more token (the first one ends its
prefill: TTFT). Order of a step, as vLLM's:
1. running sequences first, in arrival order; each needs KV blocks for its new tokens; when the
   free blocks run out, the most recently admitted running sequence is preempted (recompute:
   its blocks are freed, it returns to the front of the queue and later prefills its prompt
   and the tokens it had generated again);
2. then waiting sequences, first come first served, while fewer than `max_seqs` run, the token
   budget lasts and their first chunk's blocks are free (no preemption for admission).
KV blocks hold `block_size` positions; a sequence holds ceil(computed / block_size) blocks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class SchedulerConfig:
    kv_blocks: int                    # KV cache capacity in blocks
    block_size: int = 16              # positions per block (vLLM's default)
    max_seqs: int = 256               # running sequences at most (vLLM's max_num_seqs)
    max_batched_tokens: int = 8192    # tokens per step (vLLM's max_num_batched_tokens)

    def __post_init__(self):
        for name in ("kv_blocks", "block_size", "max_seqs", "max_batched_tokens"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UserError(f"scheduler {name}: expected an integer >= 1, got {v!r}")

    @property
    def kv_tokens(self) -> int:
        return self.kv_blocks * self.block_size


@dataclass(slots=True)
class Sequence:
    """A request's state in the scheduler (mutable: the scheduler owns it; slots: a serve run
    reads these fields millions of times)."""

    index: int
    prompt: int                       # prompt positions (image tokens included)
    output: int                       # tokens to generate, the first included
    generated: int = 0
    computed: int = 0
    blocks: int = 0
    preemptions: int = 0
    started: bool = False             # scheduled at least once (its vision stage ran)

    @property
    def tokens(self) -> int:
        return self.prompt + self.generated

    @property
    def done(self) -> bool:
        return self.generated >= self.output


@dataclass(frozen=True)
class StepPlan:
    """One step: (sequence, new tokens) pairs; decode rows are the ones with one new token after
    their prefill. prefill_tokens / decode_seqs / decode_context summarize it for step times."""

    work: tuple[tuple[Sequence, int], ...]
    prefill_tokens: int
    decode_seqs: int
    decode_context: int              # KV positions the decode rows attend to, summed
    started: tuple[Sequence, ...]    # sequences scheduled for the first time (vision runs)
    preempted: int

    @property
    def empty(self) -> bool:
        return not self.work


class Scheduler:
    def __init__(self, config: SchedulerConfig):
        self.config = config
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.free_blocks = config.kv_blocks

    def blocks_for(self, positions: int) -> int:
        return -(-positions // self.config.block_size)

    def add(self, seq: Sequence) -> None:
        peak = seq.prompt + seq.output - 1          # positions cached when the last token comes
        if self.blocks_for(peak) > self.config.kv_blocks:
            raise UserError(
                f"request {seq.index}: {seq.prompt:,} prompt + {seq.output:,} output positions "
                f"need {self.blocks_for(peak) * self.config.block_size:,} KV positions, more "
                f"than the whole KV cache ({self.config.kv_tokens:,} positions)")
        self.waiting.append(seq)

    @property
    def idle(self) -> bool:
        return not self.running and not self.waiting

    def _grow(self, seq: Sequence, new: int) -> bool:
        need = self.blocks_for(seq.computed + new) - seq.blocks
        if need > self.free_blocks:
            return False
        self.free_blocks -= need
        seq.blocks += need
        return True

    def _free(self, seq: Sequence) -> None:
        self.free_blocks += seq.blocks
        seq.blocks = 0
        seq.computed = 0

    def schedule(self) -> StepPlan:
        budget = self.config.max_batched_tokens
        size = self.config.block_size
        work: list[tuple[Sequence, int]] = []
        preempted = 0
        kept: list[Sequence] = []
        # the running sequences in order: queue[i:end] are the ones not yet scheduled this step
        # (a preemption takes its victim from the end)
        queue = self.running
        i, end = 0, len(queue)
        while i < end and budget > 0:
            seq = queue[i]
            i += 1
            new = min(seq.prompt + seq.generated - seq.computed, budget)
            need = -(-(seq.computed + new) // size) - seq.blocks
            if need <= self.free_blocks:       # _grow's test, inline: the common case
                self.free_blocks -= need
                seq.blocks += need
                work.append((seq, new))
                kept.append(seq)
                budget -= new
                continue
            while not self._grow(seq, new):
                if i < end:
                    end -= 1
                    victim = queue[end]
                else:
                    victim = seq
                self._free(victim)
                victim.preemptions += 1
                preempted += 1
                self.waiting.appendleft(victim)
                if victim is seq:
                    break
            else:
                work.append((seq, new))
                kept.append(seq)
                budget -= new
        kept += queue[i:end]                # out of budget: they keep running, idle this step
        self.running = kept
        started = []
        while (self.waiting and budget > 0 and len(self.running) < self.config.max_seqs
               and not preempted):
            seq = self.waiting[0]
            new = min(seq.tokens - seq.computed, budget)
            if not self._grow(seq, new):
                break
            self.waiting.popleft()
            self.running.append(seq)
            work.append((seq, new))
            budget -= new
            if not seq.started:
                seq.started = True
                started.append(seq)
        prefill = decode = context = 0
        for seq, new in work:
            if new == 1 and seq.generated >= 1 and seq.computed == seq.prompt + seq.generated - 1:
                decode += 1
                context += seq.computed + 1
            else:
                prefill += new
        return StepPlan(tuple(work), prefill, decode, context, tuple(started), preempted)

    def complete(self, plan: StepPlan) -> tuple[list[Sequence], list[Sequence]]:
        """Apply a step: (sequences that got their first token, sequences that finished)."""
        first, finished = [], []
        for seq, new in plan.work:
            seq.computed += new
            if seq.computed == seq.prompt + seq.generated:
                seq.generated += 1
                if seq.generated == 1:
                    first.append(seq)
                if seq.done:
                    finished.append(seq)
        if finished:
            for seq in finished:
                self.free_blocks += seq.blocks
                seq.blocks = 0
            gone = {id(s) for s in finished}
            self.running = [s for s in self.running if id(s) not in gone]
        return first, finished
