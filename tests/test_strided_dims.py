"""Iteration dimensions of TensorIterator's strided kernel (issue 11, `dims`): capture counts
them as TensorIterator coalesces them, the calibration runners build cases that really loop
over the dims they claim, and the one-place rule for strided rows without dims."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from roofsim.capture import capture  # noqa: E402
from roofsim.capture import layout  # noqa: E402
from roofsim.errors import UserError  # noqa: E402
from roofsim.kernels import records_from_params  # noqa: E402
from roofsim.kernels._common import RUNNER_DIMS, strided_dims  # noqa: E402
from roofsim.kernels.elementwise import (broadcast_shapes, dims_shape,  # noqa: E402
                                         strided_shape)
from roofsim.calibration.runners import runner_table  # noqa: E402


def _dims(out, *ins):
    return layout.iteration_dims("add", list(ins), [out], "meta")


def test_sam_broadcast_add_loops_over_three_dims():
    # DeepSeek-OCR's SAM: [240,40,40,40,1] + [240,40,40,1,40] -> [40, 40, 384000].
    a = torch.empty(240, 40, 40, 40, 1, device="meta")
    b = torch.empty(240, 40, 40, 1, 40, device="meta")
    out = a + b
    strides = [layout._aligned_strides(t, list(out.shape)) for t in (out, a, b)]
    assert layout.coalesced_shape(out.shape, strides) == (40, 40, 384000)
    assert _dims(out, a, b) == 3
    assert layout.strided_path("add", [a, b], [out], "meta")


def test_row_slice_loops_over_two_dims():
    x = torch.empty(100, 64, device="meta")
    y = torch.empty(100, 32, device="meta")
    view = x[:, :32]
    assert _dims(view + y, view, y) == 2


def test_contiguous_op_is_not_strided_and_is_one_dim():
    x = torch.empty(8, 16, 4, device="meta")
    out = x + x
    assert not layout.strided_path("add", [x, x], [out], "meta")
    assert _dims(out, x, x) == 1


def test_permuted_copy_loops_over_every_dim_that_moved():
    x = torch.empty(2, 3, 4, 5, device="meta")
    v = x.permute(0, 2, 1, 3)            # [2, 4, 3, 5]: dims 1 and 2 swapped
    assert layout.copy_dims(v) == 4      # 5 | 3 | 4 | 2: no neighbours adjacent in memory
    assert layout.copy_dims(x.permute(1, 0, 2, 3)) == 3   # [3, 2, 4x5]: 20 merges
    assert layout.copy_dims(x) == 1


def test_capture_records_dims_on_strided_records_only():
    class M(torch.nn.Module):
        def forward(self, a, b, x):
            y = a + b                                  # broadcast: strided, 3 dims
            z = x.permute(0, 2, 1, 3).contiguous()     # permuted copy: 4 dims
            return y, z, x * 2                         # contiguous: not strided

    a = torch.empty(240, 40, 40, 1, device="meta")
    b = torch.empty(240, 40, 1, 40, device="meta")
    x = torch.empty(2, 3, 4, 5, device="meta")
    t = capture(M(), a, b, x).table
    stride, dims = t.param("stride"), t.param("dims")
    assert list(t.kind) == ["elementwise", "copy", "elementwise"]
    assert stride[0] == 1 and dims[0] == 3
    assert stride[1] == 1 and dims[1] == 4
    assert np.isnan(stride[2]) and np.isnan(dims[2])


def test_cat_dims_are_the_input_against_its_output_slice():
    class M(torch.nn.Module):
        def forward(self, a, b):
            return torch.cat([a.transpose(1, 2), b], dim=1)

    a = torch.empty(4, 8, 6, device="meta")
    b = torch.empty(4, 3, 8, device="meta")
    t = capture(M(), a, b).table
    assert t.param("stride")[0] >= 1
    # a.transpose(1, 2) [4, 6, 8] into out[:, :6, :] of [4, 9, 8]: 8 | 6 | 4, none merge.
    assert t.param("dims")[0] == 3


# ---- the calibration runners build what they claim --------------------------------------
def _runner_dims(kind, params):
    fn, make = runner_table()[kind](params, "float32", "cpu")
    inputs = make()

    class M(torch.nn.Module):
        def forward(self, *xs):
            return fn(*xs)

    t = capture(M(), *inputs, device_type="cpu").table
    strided = t.select(np.nan_to_num(t.param("stride"), nan=0) >= 1)
    assert len(strided) == 1, (kind, params, list(t.kind))
    assert strided.param("numel")[0] == params["numel"]
    return int(strided.param("dims")[0]), int(strided.param("stride")[0])


@pytest.mark.parametrize("kind", ["elementwise", "copy", "gelu", "silu"])
@pytest.mark.parametrize("dims", [2, 3, 4, 5, 6])
def test_runner_case_coalesces_to_the_dims_it_claims(kind, dims):
    numel = 2 * 4 ** 5 * 9            # realizable in 1 .. 6 dims
    assert _runner_dims(kind, {"numel": numel, "stride": 1, "dims": dims}) == (dims, 1)


@pytest.mark.parametrize("kind", ["elementwise", "copy", "gelu"])
def test_runner_without_dims_is_the_two_dim_row_slice(kind):
    # Old measurements (no dims column) were timed on this layout: RUNNER_DIMS.
    assert _runner_dims(kind, {"numel": 4096 * 3, "stride": 1}) == (RUNNER_DIMS, 1)


def test_sam_sized_case_is_laid_out_like_sam():
    a, b = broadcast_shapes(614400000, 3)
    assert len(a) == len(b) == 3 and a[-1] == 1 and b[-2] == 1
    assert np.prod(dims_shape(614400000, 3)) == 614400000


def test_unrealizable_numel_is_one_clear_error():
    with pytest.raises(UserError, match="numel = 1031"):
        dims_shape(1031, 4)
    with pytest.raises(UserError, match="transposed"):
        runner_table()["copy"]({"numel": 4096, "stride": 2, "dims": 4}, "float32", "cpu")
    with pytest.raises(UserError, match="at least 2"):
        runner_table()["elementwise"]({"numel": 4096, "stride": 1, "dims": 1}, "float32", "cpu")


def test_a_dims_past_numels_bits_has_no_layout():
    # n^(dims - 1) of a dims beyond numel's bits took minutes (predict-kernels and a fit of a
    # measurements file with dims 1e9 hung): no n >= 2 leaves an outer size of 2 there, so no
    # power is computed; the formula's operands are then read whole
    with pytest.raises(UserError, match="numel = 4096"):
        dims_shape(4096, 10**9)
    with pytest.raises(UserError, match="numel = 4096"):
        dims_shape(4096, 13)                    # 2^12 = 4096 leaves an outer size of 1
    assert dims_shape(8192, 13) == (2,) + (2,) * 12
    assert dims_shape(8, 3) == (2, 2, 2)        # the last dims numel's bits allow
    t = records_from_params("elementwise", {"numel": [4096.0], "stride": [1.0],
                                            "dims": [1e9]}, "bfloat16")
    assert t.bytes_read[0] == 2 * 4096 * 2


def test_strided_dims_rule_lives_in_one_place():
    kind = np.array(["copy", "copy", "elementwise", "gelu", "copy", "conv2d"], dtype=object)
    stride = np.array([np.nan, 0, 1, 1, 2, 2])
    dims = np.array([np.nan, np.nan, np.nan, 5, np.nan, np.nan])
    out = strided_dims(kind, stride, dims)
    assert np.isnan(out[:2]).all() and np.isnan(out[5])   # conv2d's stride is the conv's
    assert list(out[2:5]) == [RUNNER_DIMS, 5, RUNNER_DIMS]
    assert strided_shape(4096 * 3)[0] * strided_shape(4096 * 3)[1] == 4096 * 3
