"""Shape features per kernel kind: the coordinates in which calibration finds neighbours.

Sizes enter as log2 (one unit = a factor of two), so neighbours are close in ratio, not in
absolute size. More kinds of feature carry what sizes alone miss:
- alignment: to how many bytes a dimension's rows are aligned (1 .. 16: vectorized loads, TMA
  and tensor-core tiles need 16) and whether it is a multiple of 64 elements (tile edges);
- wave quantization (matrix kinds, attention): output tiles of 128 x 128 over the SM count;
  the last partial wave leaves SMs idle, so `waves / ceil(waves)` is the useful fraction;
- a tiled launch's grid, log2 of its blocks (products, attention, conv2d), and for a product's
  SM-parallel share (share=True) its kernel class too (persistent or not): _launch_grid.
Each feature has a weight: a distance of 1 is a factor of two in one size, or that weight's
share of a change in alignment (a misaligned case is far from an aligned one of equal size).
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..kernels import records_from_params, used_columns
from ..kernels._common import element_bytes, strided_dims
from ..kernels.conv import conv_output_size
from ..kernels.attention import value_head_dim
from ..perfmodel import (conv_paths, key_mask_rows_odd, kv_split, library_blocks, persistent,
                         softmax_warp)

TILE = 128.0          # output tile edge assumed for wave quantization
ALIGN_WEIGHT = 1.0    # distance per halving of a dimension's byte alignment (16 -> 8 -> ...)
TILE_ALIGN_WEIGHT = 1.0   # ... and by one that is not a multiple of 64 elements
WAVE_WEIGHT = 1.0
FLAG_WEIGHT = 2.0     # bias, causal: a different kernel or epilogue
STRIDED_WEIGHT = 8.0  # strided vs vectorized elementwise kernel: never neighbours
SPLIT_KV_WEIGHT = 8.0  # split-KV (flash-decoding) vs one block per query tile: never neighbours
TRANSPOSED_STEP = 0.1  # transposed vs row-sliced strided operand, in units of STRIDED_WEIGHT
DIMS_WEIGHT = 2.5     # per iteration dimension of the strided kernel: 2-D and 5-D cases are
                      # beyond MAX_DISTANCE (profile.py), neighbours only within a dim or two
# The SM-parallel share of a product (gemm, linear, grouped_gemm) follows its kernel's grid more
# than its sizes: a persistent kernel (perfmodel.persistent) stretches by its rounds of resident
# blocks, a one-block-per-tile one with fewer blocks than the target's SMs not at all. So the
# share's neighbours are also close in the launch's blocks (log2 perfmodel.library_blocks on the
# measuring device) and of the same kernel class (persistent or not). Weights by leave-one-shape-
# out over the H200's companion shapes alone (each shape's share predicted from the other shapes
# at every SM count; time error at the companion's count, MAPE %; `python
# benchmarks/share_metric_loo.py`, session 26): without them 18.50 / 12.90 / 11.69 / 10.07 % at
# 8 / 16 / 32 / 48 SMs (11.94 over all); the flag alone at 4: 11.58; log2 blocks alone at 1:
# 11.31; both, flag 4 and blocks 1 / 1.5 / 2 / 3: 11.06 / 10.99 / 10.99 / 11.01 (8 SMs: 16.29 /
# 16.05 / 16.09 / 16.47); flag 8, blocks 2: 10.98.
SHARE_PERSISTENT_WEIGHT = 4.0
SHARE_BLOCKS_WEIGHT = 1.5
MATRIX_SHARE_KINDS = ("gemm", "linear", "grouped_gemm")
# The residual's metric of every tiled kind takes the launch's blocks too (log2
# perfmodel.library_blocks; the products' kernel class did not help the residual): the library's
# kernel (tile, split-K or split-KV, cluster) follows the grid it picks. Weights per kind by
# leave-one-out over the fit rows' residuals (`python benchmarks/share_metric_loo.py
# --residual`, session 26; H200 / H100 SXM MAPE %):
# - products: 9.60 / 10.78 without; 0.5: 9.36 / 10.57; 1: 9.16 / 10.48; 1.5: 9.14 / 10.51;
#   2: 9.16 / 10.48; 3: 9.37 / 10.66;
# - attention: 6.38 / 7.02 without; 0.25: 5.99 / 6.70; 0.5: 5.79 / 6.64; 0.75: 5.76 / 6.73;
#   1: 5.81 / 6.86;
# - conv2d (its three layouts): 18.44, 18.65, 21.05 / 21.24, 18.76, 21.91 without; 0.5: 18.39,
#   17.43, 20.55 / 20.97, 18.02, 21.89; 1: 18.71, 17.20, 20.58 / 21.31, 18.27, 22.22.
RESIDUAL_BLOCKS_WEIGHT: Mapping[str, float] = {"gemm": 1.0, "linear": 1.0, "grouped_gemm": 1.0,
                                               "attention": 0.5, "conv2d": 0.5}
CONV_PATH_WEIGHT = 8.0  # cuDNN's tensor-core, CUDA-core or GEMM path (perfmodel.conv_paths):
                        # never neighbours (leave-one-out over the fit rows' conv2d residuals,
                        # H200 24.85 -> 23.83 %, H100 SXM 23.31 -> 22.38 %; 4 gives the same:
                        # benchmarks/choose_constants.py)


def _p(params: Mapping[str, np.ndarray], name: str, default: float) -> np.ndarray:
    v = np.asarray(params[name], dtype=np.float64) if name in params else None
    if v is None:
        return np.full(len(next(iter(params.values()))), default)
    return np.where(np.isnan(v), default, v)


def _log(x) -> np.ndarray:
    return np.log2(np.maximum(np.asarray(x, dtype=np.float64), 1.0))


def alignment_level(x, elt) -> np.ndarray:
    """Bytes of alignment of a row of x elements, as log2 capped at 16 bytes: 0 (odd bytes)
    .. 4 (a multiple of 16 bytes, the width of a vector load)."""
    nbytes = np.maximum(np.asarray(x, dtype=np.float64), 1.0).astype(np.int64) * \
        np.asarray(elt, dtype=np.int64)
    low = nbytes & -nbytes
    return np.minimum(np.log2(np.maximum(low, 1)), 4.0)


def _align(x, elt) -> list[tuple[np.ndarray, float]]:
    x = np.asarray(x, dtype=np.float64)
    return [(4.0 - alignment_level(x, elt), ALIGN_WEIGHT),
            ((x % 64 != 0).astype(float), TILE_ALIGN_WEIGHT)]


def _waves(tiles, sm_count: float) -> list[tuple[np.ndarray, float]]:
    waves = np.maximum(tiles, 1.0) / sm_count
    return [(waves / np.ceil(waves), WAVE_WEIGHT)]


# A product's rows (m) are in no leading dimension of cuBLAS's call: x [m, k] and y [m, n] have
# rows of k and n elements, so m's byte alignment moves no load width, TMA descriptor or kernel
# choice (a ragged last row tile is the wave feature's). As a residual and share coordinate it
# only kept the products of odd m away from every aligned neighbour. Seen on the H100's test sets
# of random m (wide-fresh1-3, subgrid-build: products of 0.25-6 grids whose m is no multiple of
# 8 were predicted a median 7-10 % too slow by the H100 profile, the aligned ones 0-2 %; the
# physics alone 8-11 % too slow for both) and chosen there (session 41). Leave-one-out over the
# fit rows' product residuals (benchmarks/share_metric_loo.py's residual_loo): H200 9.29 -> 9.16
# %, H100 SXM 10.73 -> 10.62. Not looked at to choose it: the products recorded inside the
# measured models (`python benchmarks/insitu_products.py`), the reference's prefill products of
# odd m (its token count): whole H200, H200 profile 14.7 -> 4.8 % MAPE; whole H100, H100 profile
# 25.1 -> 8.3 %. calibration/transfer.txt (its kernel rows hold the sets that guided it): 217 of
# 493 kernel rows better by more than half a point, none worse; the reference's prefill 1.5-3 %
# faster in every profile, so the H100-only profile, whose prefill was already 10-18 % too fast
# (cat, index and the elementwise kinds), loses 39 of 1,053 stage rows (906 -> 867 within
# target; 994 after the kinds it never timed took the physics: engine.simulate), the H200 and
# shipped profiles none. The grouped GEMM's groups do start every m x k elements: it keeps m's.
ROWS_ALIGN_KINDS = ("grouped_gemm",)


def _matrix(params, elt, sm, kind, share=False) -> list:
    m, n, k = _p(params, "m", 1), _p(params, "n", 1), _p(params, "k", 1)
    batch = _p(params, "batch", 1)
    rows = m * batch if kind == "linear" else m
    groups = 1.0 if kind == "linear" else batch
    f = [(_log(rows), 1.0), (_log(n), 1.0), (_log(k), 1.0)]
    if kind != "linear":
        f.append((_log(batch), 1.0))
    else:
        f.append((_p(params, "bias", 0), FLAG_WEIGHT))
    if kind == "grouped_gemm":
        f.append((_p(params, "bias", 0), FLAG_WEIGHT))
    if kind in ROWS_ALIGN_KINDS:
        f += _align(m, elt)
    f += _align(n, elt) + _align(k, elt)
    tiles = np.ceil(rows / TILE) * np.ceil(n / TILE) * groups
    return f + _waves(tiles, sm)


def _attention(params, elt, sm, kind, share=False) -> list:
    b, h = _p(params, "batch", 1), _p(params, "heads", 1)
    sq, skv, d = _p(params, "seq_q", 1), _p(params, "seq_kv", 1), _p(params, "head_dim", 64)
    causal = (_p(params, "causal", 0) > 0) & (sq > 1)
    bias = _p(params, "bias", 0)
    # a value head unlike the query-key head (multi-head latent attention): log2 of their ratio,
    # 0 on every call of one head size, so those keep their distances
    unequal = np.abs(_log(d) - _log(value_head_dim(params, len(d), d)))
    if share:
        # the SM-parallel share: how the work spreads over blocks (query tiles, batch x heads)
        # and their waves. Weights by leave-one-out over the H200's companion shapes (time
        # error at the companions' SM counts 7.9 -> 6.9 %, from 1, 0.5, 1, 1, 1, the keys'
        # alignment at 1 and the waves at 1).
        f = [(_log(b * h), 4.0), (_log(b), 0.25), (_log(sq), 2.0), (_log(skv), 0.5),
             (_log(d), 1.0), (unequal, 1.0)]
    else:
        # the residual, what the physics leaves: the physics already scales with the queries
        # and the batch (FLOPs, bytes, tiles, waves); the kernel a library picks follows the
        # head size, the keys and the heads. Weights by leave-one-out over the H200's fit rows
        # (9.56 -> 7.19 %, from seq_q, batch x heads, batch, keys, head size at 1, 1, 0.5, 1,
        # 1 and the keys' alignment at 1); chosen before any held-out or test row was read.
        f = [(_log(b * h), 0.5), (_log(skv), 0.5), (_log(d), 2.0), (unequal, 2.0)]
    f += [(causal.astype(float), FLAG_WEIGHT),
          ((bias == 1).astype(float), FLAG_WEIGHT),    # a mask per score
          ((bias >= 2).astype(float), FLAG_WEIGHT * (1.0 if share else 2.0)),  # a shared key mask
          # ... broadcast over the batch too (batch 1): cuDNN reads it once per call, not per
          # sequence; 1.6x faster at 8193 keys (calibration/h200/attention-check)
          (((bias >= 2) & (b <= 1)).astype(float), FLAG_WEIGHT),
          # ... or with rows of an odd byte count (perfmodel.key_mask_rows_odd): half the rate
          (key_mask_rows_odd(b, sq, skv, bias).astype(float), FLAG_WEIGHT),
          # another kernel: split-KV decode (roofsim.perfmodel.splits_kv) scales with the SMs
          # (SM-parallel share 0.15-0.25 at 1-4k keys), a packed few-query call of one block
          # per head does not (share 0): one query apart in seq_q, a different kernel
          (kv_split(sq, skv, causal).astype(float), SPLIT_KV_WEIGHT)]
    waves = _waves(np.ceil(sq / TILE) * b * h, sm)
    return f + ([(x, 4.0 * w) for x, w in waves] if share else waves)


def _conv(params, elt, sm, kind, share=False) -> list:
    b = _p(params, "batch", 1)
    c_in, c_out = _p(params, "c_in", 1), _p(params, "c_out", 1)
    h, w, ker = _p(params, "h", 1), _p(params, "w", 1), _p(params, "kernel", 1)
    stride, pad = np.maximum(_p(params, "stride", 1), 1), _p(params, "padding", 0)
    pixels = b * np.maximum(conv_output_size(h, ker, stride, pad), 1) * \
        np.maximum(conv_output_size(w, ker, stride, pad), 1)
    waves = _waves(np.ceil(pixels / TILE) * np.ceil(c_out / TILE), sm)
    if share:
        # the SM-parallel share: how the output tiles spread over the SMs
        f = [(_log(pixels), 1.0), (_log(c_in), 1.0), (_log(c_out), 1.0), (_log(ker), 1.0),
             (_log(stride), 1.0), (_log(b), 0.5), (_p(params, "bias", 0), FLAG_WEIGHT * 0.5),
             ((pad > 0).astype(float), 0.5),
             (_log(c_in * ker * ker), 0.5),       # the implicit GEMM's reduction length
             (_log(pixels / np.maximum(b, 1.0)), 0.5)]             # output pixels per image
        return f + _align(c_in, elt) + _align(c_out, elt) + waves
    # the residual, what the physics leaves: cuDNN's choice of kernel, which follows the
    # window, the channels, the epilogue (bias), padding and wave fill more than the pixel
    # count (log2 pixels = log2 batch + log2 pixels per image, both kept at 0.5) or c_out's
    # byte alignment. Weights by leave-one-out over the H200's fit rows (28.4 / 26.7 / 32.8 %
    # for the three layouts -> 26.4 / 23.4 / 24.7 %); the H100's fit rows, not used, 28.2 /
    # 25.5 / 33.1 -> 26.7 / 22.3 / 24.5 %.
    f = [(_log(c_in), 1.0), (_log(c_out), 0.5), (_log(ker), 2.0),
         (_log(stride), 1.0), (_log(b), 0.5), (_p(params, "bias", 0), FLAG_WEIGHT),
         ((pad > 0).astype(float), 1.0),
         (_log(c_in * ker * ker), 0.5),
         (_log(pixels / np.maximum(b, 1.0)), 0.5)]
    tc, cuda = conv_paths(c_in, ker, stride)
    return f + _align(c_in, elt) + _align(c_out, elt)[1:] + [(x, 2.0 * w) for x, w in waves] + \
        [(tc.astype(float), CONV_PATH_WEIGHT), (cuda.astype(float), CONV_PATH_WEIGHT)]


def _rowwise(params, elt, sm, kind, share=False) -> list:
    rows, cols = _p(params, "rows", 1), _p(params, "cols", 1)
    f = [(_log(rows), 1.0), (_log(cols), 1.0)] + _align(cols, elt)
    if kind == "softmax":
        # ATen's warp softmax against its block softmax (perfmodel.softmax_warp_path): 3x apart
        # in time across the switch at 2048 values, never neighbours
        f.append((softmax_warp(cols, elt).astype(float), SPLIT_KV_WEIGHT))
    return f


def _flat(params, elt, sm, kind, share=False) -> list:
    numel = _p(params, "numel", 1)
    # stride = 1: TensorIterator's strided kernel (roofsim.capture.LAYOUT_KINDS), far from
    # every contiguous shape so that neither borrows the other's efficiency.
    # stride = 2 (a transposed operand) a step further: until such shapes are measured it
    # borrows the row-sliced strided ones; once measured, its own are the nearest.
    # dims: the strided kernel's iteration dimensions (its index work grows with them; the
    # one rule for strided rows without dims is roofsim.kernels._common.strided_dims); 0 off
    # the strided kernel, where STRIDED_WEIGHT already keeps rows apart.
    stride = _p(params, "stride", 0)
    strided = (stride > 0) + TRANSPOSED_STEP * (stride > 1)
    dims = np.nan_to_num(strided_dims(kind, stride, _p(params, "dims", np.nan)), nan=0.0)
    f = [(_log(numel), 1.0), (strided, STRIDED_WEIGHT), (dims, DIMS_WEIGHT)] + _align(numel, elt)
    if kind == "index":
        # elements each index gathers (a row gather's width; 1: one element per index)
        rows = np.asarray(params["rows"], dtype=np.float64) if "rows" in params else numel
        rows = np.where(np.isnan(rows), numel, rows)
        f.append((_log(numel / np.maximum(rows, 1.0)), 1.0))
    return f


def _launch_grid(kind: str, params: Mapping[str, np.ndarray], dtype: str,
                 sm_count: float, share: bool,
                 narrow_cols: float | None = None) -> list[tuple[np.ndarray, float]]:
    """A tiled launch as coordinates: log2 of its blocks on sm_count SMs (the residual's:
    RESIDUAL_BLOCKS_WEIGHT), and for a product's SM-parallel share its kernel class too
    (SHARE_PERSISTENT_WEIGHT, SHARE_BLOCKS_WEIGHT)."""
    table = records_from_params(kind, used_columns(params), dtype)
    # The residual's coordinate is the same for every device: the blocks with every narrow tile
    # width (library_blocks' default), whichever a device's library takes (narrow_tile_cols).
    # The share's is the blocks the share's device launched (`narrow_cols`: its
    # narrow_tile_cols), since a share describes that launch's stretch, and the profile reads it
    # only on that device's library (other_library_kernel). Session 48: with the H100 SXM's first
    # companions (calibration/h100-sxm-sm8, -sm16, -sm40), its 64-column short linears sat among
    # the H200's 8- and 16-column grids there, and lent their small stretch to the ones that do
    # take narrow tiles on the H100: its profile on the narrow-tile rows of narrow-fresh16 (8
    # H100 SMs) -0.5 % median without the shares, -21.9 % with them (the H200's library, whose
    # own blocks the default gives, is unchanged).
    blocks = _log(np.nan_to_num(library_blocks(table, sm_count, narrow_cols if share else None),
                                nan=1.0))
    if not share:
        return [(blocks, RESIDUAL_BLOCKS_WEIGHT[kind])]
    return [(persistent(table).astype(float), SHARE_PERSISTENT_WEIGHT),
            (blocks, SHARE_BLOCKS_WEIGHT)]


FEATURES: dict[str, Callable] = {
    "gemm": _matrix, "linear": _matrix, "grouped_gemm": _matrix,
    "attention": _attention, "conv2d": _conv,
    "layernorm": _rowwise, "rmsnorm": _rowwise, "softmax": _rowwise, "reduction": _rowwise, "sort": _rowwise,
    "embedding": _rowwise,
    "gelu": _flat, "silu": _flat, "elementwise": _flat, "copy": _flat, "cat": _flat, "index": _flat,
}


def features(kind: str, params: Mapping[str, np.ndarray], dtype: str, sm_count: float,
             share: bool = False, narrow_cols: float | None = None) -> np.ndarray:
    """(n, d) weighted feature matrix of one kind's rows (Euclidean distance = neighbourliness):
    for the residual's interpolation, or (`share`) for the SM-parallel share's, where a kind's
    neighbours differ (attention, conv2d); `narrow_cols`: the share device's widest narrow
    column tile (perfmodel.narrow_tile_cols; None: every width)."""
    n = len(next(iter(params.values())))
    elt = element_bytes(dtype, n) if n else np.zeros(0)
    cols = FEATURES[kind](params, elt, float(sm_count), kind, share)
    if n and (kind in MATRIX_SHARE_KINDS if share else kind in RESIDUAL_BLOCKS_WEIGHT):
        cols += _launch_grid(kind, params, dtype, float(sm_count), share, narrow_cols)
    return np.column_stack([np.asarray(v, dtype=np.float64) * w for v, w in cols]) if n else \
        np.zeros((0, len(cols)))
