"""Op tables of capture: which aten ops launch no kernel, which are fills, copies, gathers,
scatters, reductions, softmax, and the per-element CUDA-core FLOPs of ops not covered by a
kernel-kind constant (roofsim/kernels holds those)."""

from __future__ import annotations

from ..kernels.attention import ATTENTION_CUDA_FLOPS_PER_SCORE
from ..kernels.elementwise import (ELEMENTWISE_FLOPS_PER_ELEMENT, GELU_FLOPS_PER_ELEMENT,
                                   SILU_FLOPS_PER_ELEMENT)
from ..kernels.norm import LAYERNORM_FLOPS_PER_ELEMENT
from ..kernels.reduction import REDUCTION_FLOPS_PER_ELEMENT
from ..kernels.softmax import SOFTMAX_FLOPS_PER_ELEMENT

# Kinds whose FLOPs are matrix products (tensor-core work on tensor-core dtypes).
MATRIX_KINDS = frozenset({"gemm", "linear", "grouped_gemm", "attention", "conv2d"})

# Per-element CUDA-core FLOPs of ops not covered by a kernel-kind constant. Transcendentals
# count one FLOP (roofsim/kernels/elementwise.py); sigmoid = exp, add, divide.
SIGMOID_FLOPS_PER_ELEMENT = 3.0
# Interpolation per output element: linear = two multiplies and an add; bicubic = 4 x 4 taps,
# a multiply and an add each (SAM's position-embedding resize; small either way).
UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT = 3.0
UPSAMPLE_BICUBIC_FLOPS_PER_ELEMENT = 32.0

# Ops that launch no kernel: allocations, metadata, host syncs, asserts. (View ops are found
# from the schema: OpOverload.is_view.)
NO_KERNEL = frozenset({
    "empty", "empty_strided", "empty_like", "new_empty", "new_empty_strided", "_unsafe_view",
    "_reshape_alias", "lift_fresh", "set_", "resize_", "_assert_async", "_assert_tensor_metadata",
    "_local_scalar_dense", "sym_size", "sym_stride", "sym_numel", "sym_storage_offset",
    "is_same_size", "_has_compatible_shallow_copy_type", "record_stream",
    "_functional_assert_async",
    "_assert_scalar",
})
FILL_OPS = frozenset({"zero_", "fill_", "zeros", "zeros_like", "ones", "ones_like", "full",
                      "full_like", "arange", "scalar_tensor", "new_zeros", "new_ones", "new_full",
                      "linspace", "normal_", "uniform_", "tril", "triu"})
CAT_OPS = frozenset({"cat", "stack"})     # their own kernel (CatArrayBatchedCopy): kind cat
COPY_OPS = frozenset({"_to_copy", "clone", "copy_", "constant_pad_nd",
                      "repeat", "_copy_from", "_copy_from_and_resize", "flip", "roll",
                      "contiguous", "pad"})
INDEX_GATHER_OPS = frozenset({"index", "index_select", "gather", "take", "masked_select",
                              "repeat_interleave"})
INDEX_SCATTER_OPS = frozenset({"index_put_", "index_put", "scatter", "scatter_", "index_add_",
                               "index_add", "index_copy_", "scatter_add_", "scatter_add",
                               "masked_scatter_", "masked_scatter"})
REDUCTION_OPS = frozenset({"mean", "sum", "amax", "amin", "max", "min", "argmax", "argmin",
                           "topk", "cumsum", "histc", "prod", "var", "std", "norm",
                           "linalg_vector_norm", "any", "all", "logsumexp", "bincount"})
# Reductions whose second argument names the reduced dims (an int or a list; None: all):
# where the input's innermost dim is not among them, TensorIterator reduces across outputs
# that lie contiguously (an "outer" reduction, roofsim.kernels._common.REDUCTION_LAYOUTS).
DIM_REDUCTION_OPS = frozenset({"mean", "sum", "amax", "amin", "max", "min", "argmax", "argmin",
                               "prod", "var", "std", "linalg_vector_norm", "any", "all",
                               "logsumexp"})
SORT_OPS = frozenset({"sort", "argsort"})
SOFTMAX_OPS = frozenset({"_softmax", "_safe_softmax", "_log_softmax"})
# Elementwise ops PyTorch does not tag pointwise.
EXTRA_ELEMENTWISE = frozenset({"floor_divide", "remainder", "masked_fill", "masked_fill_", "polar",
                               "where", "clamp", "clamp_min", "clamp_max"})
UNARY_FLOPS = {"sigmoid": SIGMOID_FLOPS_PER_ELEMENT, "sigmoid_": SIGMOID_FLOPS_PER_ELEMENT,
               "gelu": GELU_FLOPS_PER_ELEMENT, "silu": SILU_FLOPS_PER_ELEMENT,
               "silu_": SILU_FLOPS_PER_ELEMENT, "gelu_": GELU_FLOPS_PER_ELEMENT,
               "upsample_linear1d": UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT,
               "upsample_bilinear2d": UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT,
               "upsample_bicubic2d": UPSAMPLE_BICUBIC_FLOPS_PER_ELEMENT,
               "_upsample_bicubic2d_aa": UPSAMPLE_BICUBIC_FLOPS_PER_ELEMENT,
               "_upsample_bilinear2d_aa": UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT}
KIND_OF_UNARY = {"gelu": "gelu", "gelu_": "gelu", "silu": "silu", "silu_": "silu"}
# Ops whose CUDA kernel first makes its input contiguous (a copy kernel the meta function does
# not show): layer norm calls X.contiguous() (aten/src/ATen/native/cuda/layer_norm_kernel.cu).
CONTIGUOUS_INPUT_OPS = frozenset({"native_layer_norm"})
# A device op given a CPU tensor operand (not a 0-dim scalar) first copies it to the device:
# from pageable memory, a cudaMemcpyAsync and then a cudaStreamSynchronize, so the host waits
# for every queued kernel (calibration/h200/trace: SAM's relative-position lookup indexes a
# device table with CPU coordinates, 48 such syncs per vision forward of the reference).
# Capture writes that copy as its own record, named H2D_COPY (kind copy); an explicit upload
# (`_to_copy` / `copy_` from a CPU tensor) keeps its record under that name too.
# roofsim.host counts H2D_COPY among the synchronizing ops.
H2D_COPY = "_h2d_copy"
UPLOAD_OPS = frozenset({"_to_copy", "copy_"})
# In-place ops that overwrite their destination without reading it.
WRITE_ONLY_DEST = frozenset({"copy_", "zero_", "fill_", "normal_", "uniform_", "index_put_",
                             "index_copy_", "masked_scatter_"})
# Matrix ops and the fused attention ops (aten names).
FUSED_ATTENTION_OPS = frozenset({"_scaled_dot_product_flash_attention",
                                 "_scaled_dot_product_efficient_attention",
                                 "_scaled_dot_product_cudnn_attention",
                                 "_scaled_dot_product_flash_attention_for_cpu"})
MATRIX_OPS = frozenset({"mm", "addmm", "bmm", "baddbmm", "_grouped_mm", "convolution"}) | \
    FUSED_ATTENTION_OPS


def per_element_counts() -> dict[str, float]:
    """The per-element constants a capture's FLOPs depend on (part of the cache key)."""
    return {"attention": ATTENTION_CUDA_FLOPS_PER_SCORE,
            "elementwise": ELEMENTWISE_FLOPS_PER_ELEMENT, "gelu": GELU_FLOPS_PER_ELEMENT,
            "silu": SILU_FLOPS_PER_ELEMENT,
            "layernorm": LAYERNORM_FLOPS_PER_ELEMENT, "reduction": REDUCTION_FLOPS_PER_ELEMENT,
            "softmax": SOFTMAX_FLOPS_PER_ELEMENT, "sigmoid": SIGMOID_FLOPS_PER_ELEMENT,
            "upsample_linear": UPSAMPLE_LINEAR_FLOPS_PER_ELEMENT,
            "upsample_bicubic": UPSAMPLE_BICUBIC_FLOPS_PER_ELEMENT}
