"""MoE routing on meta tensors: the stated balanced-routing assumption.

On meta tensors the router runs (gate Linear in fp32, softmax, top-k), but which expert each
token picks is unknown: the data-dependent steps of transformers' eager experts loop
(`nonzero` of the expert mask, `torch.where` per expert) cannot run. Capture therefore assumes
**balanced routing**: the tokens x top_k (token, expert) pairs are spread as evenly as possible
over the experts (each expert gets floor or ceil of pairs / experts; with fewer pairs than
experts, `pairs` experts get one each). Under it:

- the grouped-GEMM experts path (transformers' default on CUDA, `grouped_mm`) runs unchanged on
  meta: its FLOPs do not depend on routing, and capture counts the weights of min(experts,
  pairs) experts as read (roofsim.capture);
- the eager path (`experts_implementation="eager"`) is substituted, on meta only, by
  `balanced_eager_forward`: the same per-expert sequence as transformers' eager loop (gather
  the expert's tokens, gate/up Linear, SiLU x up, down Linear, scale by the routing weight,
  index_add into the output) with the balanced token counts. The routing-mask bookkeeping of
  the original loop (one_hot, nonzero, one torch.where per expert: small kernels plus host
  syncs) is not modelled.
"""

from __future__ import annotations

import types


def balanced_expert_counts(tokens: int, top_k: int, experts: int) -> list[int]:
    """Rows each expert receives under balanced routing (sums to tokens x top_k)."""
    pairs = tokens * top_k
    base, extra = divmod(pairs, experts)
    return [base + (1 if e < extra else 0) for e in range(experts)]


def active_experts(tokens: int, top_k: int, experts: int) -> int:
    return min(experts, tokens * top_k)


def balanced_eager_forward(self, hidden_states, top_k_index, top_k_weights):
    """transformers' eager experts loop with balanced routing (meta tensors only)."""
    import torch
    import torch.nn.functional as F

    tokens, top_k = top_k_index.shape
    device = hidden_states.device
    out = torch.zeros_like(hidden_states)
    for expert, rows in enumerate(balanced_expert_counts(tokens, top_k, self.num_experts)):
        if rows == 0:
            continue
        # Placeholders for the routed positions: on meta only their count matters.
        token_idx = torch.empty(rows, dtype=torch.long, device=device)
        slot_idx = torch.empty(rows, dtype=torch.long, device=device)
        current = hidden_states[token_idx]
        gate, up = F.linear(current, self.gate_up_proj[expert]).chunk(2, dim=-1)
        h = self.act_fn(gate) * up
        h = F.linear(h, self.down_proj[expert])
        h = h * top_k_weights[token_idx, slot_idx, None]
        out.index_add_(0, token_idx, h.to(out.dtype))
    return out


def use_balanced_eager(model) -> int:
    """Route every experts module of `model` through `balanced_eager_forward` (instance-level
    substitution; the class and other models are untouched). Returns how many were replaced."""
    n = 0
    for module in model.modules():
        if hasattr(module, "gate_up_proj") and hasattr(module, "down_proj") \
                and hasattr(module, "num_experts"):
            module.forward = types.MethodType(balanced_eager_forward, module)
            n += 1
    return n


def balanced_indices(tokens: int, top_k: int, experts: int, like):
    """Top-k expert indices of `tokens` tokens spread as balanced_expert_counts spreads them:
    token t's slot j goes to expert (t * top_k + j) mod experts (distinct within a token when
    top_k <= experts). `like`: a tensor whose dtype and device the indices take."""
    import torch
    pairs = torch.arange(tokens * top_k, device=like.device) % experts
    return pairs.view(tokens, top_k).to(like.dtype)


def force_balanced_routing(model) -> int:
    """Make every top-k router of a transformers MoE model (a module class named *TopkRouter /
    *TopKRouter returning (logits, weights, indices)) pick experts as balanced routing does, on
    real tensors: what capture assumes, so a GPU measurement with random weights (whose routers
    send most tokens to a few experts: random attention makes tokens alike) tests the kernel
    model and not the router's randomness. The router still runs (its kernels are timed); only
    its indices are replaced. Returns how many routers were patched."""
    n = 0
    for module in model.modules():
        if not type(module).__name__.lower().endswith("topkrouter"):
            continue
        original = module.forward

        def forward(*args, _original=original, **kwargs):
            logits, weights, indices = _original(*args, **kwargs)
            tokens, top_k = indices.shape
            return logits, weights, balanced_indices(tokens, top_k, logits.shape[-1], indices)
        module.forward = forward
        n += 1
    return n
