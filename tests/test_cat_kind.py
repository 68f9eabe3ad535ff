"""torch.cat is its own kernel kind (CatArrayBatchedCopy), not a cudaMemcpy copy."""

from pathlib import Path

import pytest

from roofsim.calibration import load_profile
from roofsim.hardware import load_hardware
from roofsim.kernels import records_from_params

torch = pytest.importorskip("torch")

CAL = Path(__file__).resolve().parents[1] / "calibration"


class _Cat(torch.nn.Module):
    def forward(self, a, b):
        return torch.cat((a, b), dim=-2)         # DynamicCache's K/V append


def test_capture_records_a_cat_kind_with_the_copy_bytes():
    from roofsim.capture import capture
    a = torch.empty(2, 8, 1000, 64, device="meta", dtype=torch.bfloat16)
    b = torch.empty(2, 8, 1, 64, device="meta", dtype=torch.bfloat16)
    (rec,) = capture(_Cat(), a, b).table.records()
    assert rec.kind == "cat" and rec.params["numel"] == 2 * 8 * 1001 * 64
    assert rec.bytes_read == rec.bytes_written == 2 * 8 * 1001 * 64 * 2


def test_the_runner_makes_numel_elements():
    from roofsim.kernels.memory import cat_runner
    fn, make = cat_runner({"numel": 1001}, "bfloat16", "cpu")
    assert fn(*make()).numel() == 1001


def test_a_large_cat_is_predicted_at_the_measured_kernel_rate_not_the_memcpy_one():
    # H200, 2026-12-02: cat at 3.8-3.9 TB/s from 25 MB up; torch.clone (cudaMemcpy) at 2.7.
    p, hw = load_profile(CAL / "h200"), load_hardware("h200")
    n = 2 ** 28
    cat = p.predict_launch_s(records_from_params("cat", {"numel": [n]}, "bfloat16"), hw)[0]
    copy = p.predict_launch_s(records_from_params("copy", {"numel": [n]}, "bfloat16"), hw)[0]
    assert 4 * n / cat > 3.4e12 and cat < 0.8 * copy
