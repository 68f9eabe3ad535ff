"""The kernel variants the end-to-end check found missing (issue 7): TensorIterator's strided
elementwise / copy kernels (records with stride = 1) and SDPA with an additive mask (bias = 1),
from capture through the calibration runners and features."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from roofsim.calibration.features import STRIDED_WEIGHT, features  # noqa: E402
from roofsim.calibration.runners import runner_for  # noqa: E402
from roofsim.capture import capture  # noqa: E402
from roofsim.kernels import KIND_FORMULAS  # noqa: E402


class _Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def _records(fn, *args):
    table = capture(_Fn(fn), *args).table
    return [(table.name[i], table.kind[i], table.param("stride")[i], table.param("bias")[i])
            for i in range(len(table))]


def _meta(*shape):
    return torch.empty(*shape, device="meta", dtype=torch.bfloat16)


def _strided(rows):
    """Strided kernel: stride 1 (row-contiguous operands) or 2 (a transposed operand)."""
    return [bool(r[2] >= 1) for r in rows]


def test_contiguous_operands_of_one_layout_take_the_vectorized_kernel():
    assert _strided(_records(lambda a, b: a + b, _meta(64, 32), _meta(64, 32))) == [False]
    assert _strided(_records(lambda a: a.clone(), _meta(64, 32))) == [False]
    assert _strided(_records(lambda a: F.silu(a), _meta(64, 32))) == [False]


def test_a_permuted_operand_takes_the_strided_kernel():
    rows = _records(lambda a, b: a + b.t(), _meta(64, 32), _meta(32, 64))
    assert _strided(rows) == [True]
    assert rows[0][2] == 2  # the operand is transposed along the output's fastest dimension
    assert _strided(_records(lambda a: a.permute(1, 0, 2).contiguous(),
                             _meta(4, 8, 16))) == [True]


def test_a_broadcast_operand_takes_the_strided_kernel():
    # SAM's relative-position sum: (.., k_h, 1) + (.., 1, k_w)
    rows = _records(lambda a, b: a + b, _meta(6, 40, 1), _meta(6, 1, 40))
    assert _strided(rows) == [True]
    rows = _records(lambda a, m: a.masked_fill(m, 0.0), _meta(64, 32),
                    torch.empty(64, 1, device="meta", dtype=torch.bool))
    assert _strided(rows) == [True]


def test_a_row_slice_takes_the_strided_kernel():
    assert _strided(_records(lambda a: F.silu(a[:, :16]), _meta(64, 32))) == [True]


def test_a_permuted_but_dense_tensor_cloned_keeps_its_layout():
    # clone preserves the strides of a dense permutation: the vectorized kernel.
    assert _strided(_records(lambda a: a.permute(1, 0).clone(), _meta(64, 32))) == [False]


def test_attention_with_an_additive_mask_is_its_own_variant():
    q = _meta(2, 4, 16, 64)
    with_mask = _records(lambda q, m: F.scaled_dot_product_attention(q, q, q, attn_mask=m),
                         q, _meta(2, 4, 16, 16))
    plain = _records(lambda q: F.scaled_dot_product_attention(q, q, q), q)
    att = [r for r in with_mask if r[1] == "attention"]
    assert len(att) == 1 and att[0][3] == 1
    assert all(np.isnan(r[3]) for r in plain if r[1] == "attention")


@pytest.mark.parametrize("kind,params", [
    ("elementwise", {"numel": 4096, "stride": 1}),
    ("copy", {"numel": 4096, "stride": 1}),
    ("silu", {"numel": 4096, "stride": 1}),
    ("gelu", {"numel": 4096, "stride": 1}),
])
def test_strided_runners_run_the_strided_kernel_on_numel_elements(kind, params):
    fn, make_inputs = runner_for(kind)(params, "bfloat16", "cpu")
    inputs = make_inputs()
    out = fn(*inputs)
    assert out.numel() == params["numel"]
    # The strided operand: a view whose rows are not adjacent (not contiguous), as captured.
    rows = _records(fn, *[torch.empty_like(t, device="meta") for t in inputs])
    assert rows and all(r[2] == 1 for r in rows)


def test_attention_runner_passes_an_additive_mask_and_the_formula_reads_it():
    p = dict(batch=2, heads=4, seq_q=16, seq_kv=16, head_dim=64, causal=0, bias=1)
    fn, make_inputs = runner_for("attention")(p, "bfloat16", "cpu")
    inputs = make_inputs()
    assert len(inputs) == 4 and tuple(inputs[3].shape) == (2, 4, 16, 16)
    assert fn(*inputs).shape == (2, 4, 16, 64)
    cols = {k: np.array([v, v], dtype=float) for k, v in p.items()}
    cols["bias"] = np.array([1.0, 0.0])
    w = KIND_FORMULAS["attention"](cols, "bfloat16")
    mask_bytes = 2 * 4 * 16 * 16 * 2
    assert w["bytes_read"][0] - w["bytes_read"][1] == mask_bytes


def test_strided_and_contiguous_shapes_are_never_calibration_neighbours():
    cols = {"numel": np.array([4096.0, 4096.0]), "stride": np.array([np.nan, 1.0])}
    x = features("elementwise", cols, "bfloat16", 132)
    assert np.linalg.norm(x[0] - x[1]) >= STRIDED_WEIGHT
