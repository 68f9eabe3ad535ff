"""SM-restricted GPUs: run on n of the device's SMs through a CUDA green context.

`torch.cuda.green_contexts.GreenContext.create(n, device).set_context()` makes the calling
thread's current context a green context holding n SMs (the driver may round n up to its
partition granularity). Every kernel launched afterwards from that thread runs on those SMs
only: a real GPU that no profile has seen, with the full chip's memory system. This is how
roofsim measures the transfer of its physical model to devices it was not fitted on.

`probe_sm_count()` counts the SMs kernels really run on (a Triton kernel that writes %smid
from many more blocks than there are SMs), so a measurement records the SM count it got, not
the count it asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class SmRestriction:
    requested: int          # SMs asked for (0: the whole device)
    probed: int             # distinct SMs kernels ran on (0 where the probe could not run)
    device_sms: int         # the device's SM count
    handle: object = None   # the green context, kept alive while the restriction holds

    @property
    def sms(self) -> int:
        """The SM count to describe this device with: the probed one where known."""
        return self.probed or self.requested or self.device_sms

    def as_dict(self) -> dict:
        return {"requested_sms": self.requested, "probed_sms": self.probed,
                "device_sms": self.device_sms}


def probe_sm_count(device: int = 0) -> int:
    """Distinct SMs that the blocks of one large launch ran on (0 if Triton is missing)."""
    try:
        import torch
        import triton
        import triton.language as tl
    except ImportError:
        return 0

    @triton.jit
    def _smid(out_ptr):
        pid = tl.program_id(0)
        smid = tl.inline_asm_elementwise("mov.u32 $0, %smid;", "=r", [], dtype=tl.int32,
                                         is_pure=False, pack=1)
        tl.store(out_ptr + pid, smid)

    props = torch.cuda.get_device_properties(device)
    blocks = props.multi_processor_count * 64
    out = torch.full((blocks,), -1, dtype=torch.int32, device=f"cuda:{device}")
    _smid[(blocks,)](out)
    torch.cuda.synchronize(device)
    ids = out[out >= 0]
    return int(torch.unique(ids).numel())


def restrict_sms(n: int | None, device: int = 0) -> SmRestriction:
    """Make the calling thread run on n SMs (None or 0: leave the device whole)."""
    import torch
    props = torch.cuda.get_device_properties(device)
    total = int(props.multi_processor_count)
    if not n:
        return SmRestriction(requested=0, probed=_safe_probe(device), device_sms=total)
    if not 1 <= n <= total:
        raise UserError(f"--sms {n}: expected an SM count between 1 and {total} "
                        f"(this device's SMs)")
    gc = getattr(getattr(torch.cuda, "green_contexts", None), "GreenContext", None)
    if gc is None:
        raise UserError(f"--sms {n}: this torch ({torch.__version__}) has no "
                        f"torch.cuda.green_contexts; restricting SMs needs torch >= 2.9")
    try:
        ctx = gc.create(int(n), device)
        ctx.set_context()
    except RuntimeError as err:
        raise UserError(f"--sms {n}: the driver refused a green context ({err})") from None
    return SmRestriction(requested=int(n), probed=_safe_probe(device), device_sms=total,
                         handle=ctx)


def _safe_probe(device: int) -> int:
    try:
        return probe_sm_count(device)
    except Exception:   # the probe is a record, never a reason to stop measuring
        return 0
