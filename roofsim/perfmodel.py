"""The physical per-launch model: what a kernel's time is made of, in hardware quantities.

For one launch of a record on a hardware spec H (symbols: N = H's SM count, L = its memory
latency, B = its HBM bandwidth, r_t / r_c = its tensor / CUDA-core FLOP/s per SM, R = its
power-limited sustained tensor throughput):

    time = launch floor + phi L + || (T_tensor, T_cuda, T_hbm, T_parallel, T_waves) ||_p + T_idle
           + T_layout + (kernels per call - 1) x launch floor

    T_tensor   = max(waves x (tensor FLOPs per tile) / (r_t eta_t a),  tensor FLOPs / R)
                 a = min(1, eta_u w) where an operand's rows are not 16-byte aligned (the
                 library's fallback kernel: no TMA or vectorized loads; w = its load width over
                 2 bytes, to ALIGN_WIDTH_EXPONENT: misaligned_load_width), else 1; it slows the
                 math and the bytes in flight alike (T_cuda and T_parallel take the same a);
                 tiles of 128 x 128 outputs (matrix kinds, attention, conv; a grouped
                 product's ragged last tile of each group counted whole: tile_fill) times the reduction
                 splits the library adds to fill the N_grid SMs the device reports (split-K,
                 split-KV; N_grid = grid_sm_count: a green context leaves it at the whole chip's),
                 waves = ceil(tiles / N), or for the persistent GEMM kernels (`waves`, on fewer
                 SMs than N_grid; aligned products of more than SKINNY_ROWS rows: `persistent`)
                 ceil(resident / N) rounds of ceil(tiles / resident) tiles:
                 a launch of fewer tiles than SMs leaves SMs idle, a last partial wave too;
    T_cuda     = (max(CUDA-core FLOPs / (N r_c), T_chain) + index work / (N r_c)) / eta_c
    T_chain    = dependent steps no number of SMs shortens (chain_seconds): a sort's passes
                 (sort_chain_seconds: a sorting network's stages up to SORT_WARP_MAX keys, one
                 block's radix passes up to SORT_BITONIC_MAX, in SM cycles; ONESWEEP_ROUND_TRIPS
                 x L per onesweep kernel above); a reduction's loop of loads (reduce_chain_seconds:
                 a thread's iterations x REDUCE_ROUND_TRIPS x L, per wave of resident blocks, as
                 ATen's reduce kernel is launched: reduce_launch); a warp softmax's elements per
                 lane x SOFTMAX_ELEMENT_ROUND_TRIPS x L (softmax_chain_seconds; L x the loaded
                 L2 / DRAM latency ratio on L2-resident rows: resident_latency_ratio); 0 for
                 every other kind. The engine's roofline takes it too
    T_index    = the index work of TensorIterator's strided kernel (stride >= 1 records of
                 LAYOUT_KINDS): its OffsetCalculator's integer ops per element,
                 dims x (INDEX_OPS_PER_DIM + operands) + INDEX_OPS_PER_OPERAND x operands
                 (index_ops_per_element),
                 each the issue slot of INT32_OP_FLOPS FP32 FLOPs, over the FP32 CUDA-core peak;
                 it joins T_cuda (same eta_c), so it scales with N and the clock. Records keep
                 their flops_cuda (FLOP accounting) unchanged; UnitTerms.index_s holds it apart
    T_hbm      = DRAM bytes / (eta_m B)                  the HBM roof (dram_bytes: the launch's
                                                         bytes, bar flash attention's K / V
                                                         re-reads per query tile, which hit L2);
                 for a launch a model runs on activations still in L2 (l2_resident), the
                 slower of its weights / (eta_m B) and all its bytes / (eta_m B_L2), B_L2 the
                 spec's L2 bandwidth (memory_roof_s)
    T_parallel = bytes r / (n s min(1, k eta_p))         Little's law: n = min(N, CTAs) SMs
                                                         (attention: the blocks of a wave,
                                                         active_sms), each sustaining s = its
                                                         bytes in flight / latency (the spec's
                                                         per-SM bandwidth); k = blocks resident
                                                         per SM for the one-block-per-row norms
                                                         (row_blocks), 1 elsewhere; r = 1, or
                                                         for such a norm on L2-resident rows
                                                         the L2 / DRAM latency (row_latency)
    T_waves    = (waves - 1) phi L for the WAVE_KINDS (attention: one block per tile, waves =
                 ceil(blocks / N)), 0 elsewhere: each wave's blocks pay the block's round trips
                 again, hidden under its math where the tiles compute longer (wave_latency_s)
    phi L      = the kernel's dependent round trips to memory (prologue, reductions, epilogue);
                 for the norms, once per wave of resident row blocks (row_blocks); for the
                 persistent cuBLAS products and the skinny ones, once per round of resident
                 blocks (a grouped GEMM's: its working blocks, grouped_working_blocks),
                 their grid as the library sizes it (library_blocks: tiles down to
                 LIBRARY_TILE_OUTPUTS up to LIBRARY_GRID_SHARE of the N_grid SMs, whole
                 grids of tiles up to LIBRARY_TILE_MAX_OUTPUTS for the persistent nvjet
                 products: full_wave_blocks; a skinny
                 product's from its 8-row tiles (32 rows, or a short
                 linear's 8- or 16-column tiles, where the library takes those) and split-K:
                 skinny_blocks; block_rounds:
                 ceil(blocks / N), 1 on the whole chip); those blocks also set the products'
                 waves
    T_idle     = blocks without work (idle_block_seconds): a cat of unequal inputs, blocks
                 that exit at once x BLOCK_DISPATCH_CYCLES / (clock x SMs) (cat_empty_blocks:
                 its grid has a row per input, each sized for the largest), or a strided cat's
                 (ATen's generic kernel: rows of 2 x N_grid blocks of 512 threads, each
                 GENERIC_BLOCK_DISPATCH_CYCLES); a grouped GEMM's
                 blocks past its tiles (its grid is N_grid), their rounds over N beyond
                 GROUPED_IDLE_HIDDEN_ROUNDS x GROUPED_IDLE_TRIPS L (0 on the whole chip); 0 for
                 every other launch
    T_layout   = a conv2d call's kernels beside its implicit GEMM, in stream order after it
                 (conv_layout_bytes: NCHW -> NHWC of the input and back for the output on
                 cuDNN's tensor-core path, a misaligned weight's transform at a SECTOR_BYTES
                 sector per element read, the bias as its own add) over LAYOUT_EFFICIENCY
                 (measured, not fitted) x the streaming bandwidth min(B, N s); each of those
                 kernels also pays a launch floor (launches_per_call); 0 for every other kind
    kernels per call = launches_per_call: 1, bar a conv2d call's (above), a radix sort's
                 passes and a split-K skinny product's reduction (split_reduce_kernels: cuBLAS's
                 splitKreduce after the nvjet ..._splitK kernel)

The smooth maximum (p-norm) is the time of the slowest resource, a little more where two are
close; at p = 1 the terms add (nothing overlaps), the physical end of its range: a streaming
kernel's T_parallel and T_hbm are Little's law on the two sides of one queue, and as the HBM
fills, the loaded latency rises, so that its time tends to bytes / (n s) + bytes / B (a soft
knee, p near 1), not to the larger of the two. Before session 36 p stopped at 3: the H200's fit
then held 37 of its 50 groups at that bound, and took the shortfall of a per-SM-bound kernel as
a low eta_m instead (its grouped GEMM 0.56), which another device's HBM then scales: the H100
runs the decode-sized grouped GEMMs of the fit suite in 1.03x the H200's time (median of 706
shapes; 1.05x for the longest, 2.6 TB/s on the H200), and the H200's profile predicted 1.12x
(1.38x; `calibration/README.md`, session 36).
The kernel-kind parameters (phi, eta_t, eta_c, eta_m, eta_p, p) describe the software (the
library's kernel for that kind and dtype) and are fitted by calibration on one device within
the physical ranges of PARAMS; the hardware quantities come from the target spec. So each spec
field moves a prediction through a named term: sm_count through waves, T_cuda, T_index and
T_parallel; grid_sm_count through the reduction splits, the persistent kernels' rounds and
the products' library grid (library_blocks, and the rounds of phi L it sets: block_rounds)
and a grouped GEMM's idle blocks (T_idle, with mem_latency_ns); library_narrow_tile_cols
through a short linear's column tiles (skinny_launch), so its blocks and rounds, and through
whether a profile's residual and SM share carry (other_library_kernel);
mem_latency_ns through phi L and T_waves; sm_mem_bandwidth_gbps through T_parallel; mem_bandwidth_gbps
through T_hbm; the peaks through T_tensor, T_cuda and T_index; tensor_sustained_tflops through
the power limit of T_tensor; boost_clock_mhz (with sm_count and grid_sm_count) through T_idle,
and through a sort's T_chain (with mem_latency_ns above SORT_BITONIC_MAX); mem_latency_ns,
grid_sms and max_threads_per_sm through a reduction's T_chain (reduce_launch sizes its grid for
grid_sms SMs; its blocks run in waves on sm_count); mem_latency_ns, sm_count and
max_threads_per_sm through a warp softmax's T_chain (its waves of warps);
l2_latency_ns (with
mem_latency_ns) through the warm saving of an L2-resident launch, warm_trips x (DRAM - L2
latency) (roofsim.calibration.warm, l2_resident below), and through such a norm's T_parallel
(row_latency) and a warp softmax's T_chain, each at the loaded latencies' ratio
(resident_latency_ratio); l2_bandwidth_gbps through such a launch's T_hbm; l2_cache_mib through
l2_resident.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
import weakref

import numpy as np

from .hardware import HardwareSpec
from .kernels.elementwise import ELEMENTWISE_INPUTS
from .records import SHAPE_PARAMS, RecordTable

TILE = 128.0                 # output tile edge for wave quantization (cuBLAS / flash attention)
MATRIX_KINDS = ("gemm", "linear", "grouped_gemm", "attention", "conv2d")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    unit: str
    low: float
    high: float
    default: float
    doc: str


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("phi", "memory latencies", 0.0, 40.0, 1.0,
              "dependent round trips to memory on the kernel's critical path"),
    ParamSpec("eta_tensor", "fraction of the per-SM tensor peak", 0.02, 1.0, 0.8,
              "tensor-core issue efficiency of the kind's kernel"),
    ParamSpec("eta_cuda", "fraction of the per-SM CUDA-core peak", 0.005, 1.0, 0.5,
              "CUDA-core issue efficiency"),
    ParamSpec("eta_memory", "fraction of HBM bandwidth", 0.2, 1.0, 0.85,
              "share of the HBM peak the kind's access pattern reaches"),
    ParamSpec("eta_parallel", "fraction of the per-SM memory bandwidth", 0.02, 1.0, 1.0,
              "share of the bytes an SM can keep in flight (its per-SM bandwidth, Little's "
              "law) that the kind's kernel keeps in flight"),
    ParamSpec("sharpness", "p of the p-norm", 1.0, 12.0, 4.0,
              "how abruptly one resource takes over from another (1: the terms add, no "
              "overlap at all)"),
    ParamSpec("eta_unaligned", "fraction of the aligned math rate", 0.02, 1.0, 1.0,
              "math rate of the fallback kernel libraries run when an operand's rows are not "
              "16-byte aligned (no TMA / vectorized tile loads), relative to the aligned one"),
)
PARAM_BY_NAME = MappingProxyType({p.name: p for p in PARAMS})
PARAM_INDEX = MappingProxyType({p.name: i for i, p in enumerate(PARAMS)})


@dataclass(frozen=True)
class KindParams:
    """Fitted parameters of one kernel kind (and dtype): see PARAMS for units and ranges."""

    phi: float = 1.0
    eta_tensor: float = 0.8
    eta_cuda: float = 0.5
    eta_memory: float = 0.85
    eta_parallel: float = 1.0
    sharpness: float = 4.0
    eta_unaligned: float = 1.0

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, p.name) for p in PARAMS])

    @classmethod
    def from_array(cls, values) -> "KindParams":
        return cls(**{p.name: float(v) for p, v in zip(PARAMS, values)})

    def as_dict(self) -> dict:
        return {p.name: getattr(self, p.name) for p in PARAMS}

    def out_of_range(self) -> list[str]:
        """Names of parameters outside their physical range (or not finite)."""
        bad = []
        for p in PARAMS:
            v = getattr(self, p.name)
            if not (np.isfinite(v) and p.low <= v <= p.high):
                bad.append(p.name)
        return bad


assert tuple(f.name for f in fields(KindParams)) == tuple(p.name for p in PARAMS)


@dataclass(frozen=True, eq=False)
class UnitTerms:
    """Per-launch terms of records on one spec at unit kernel parameters (every eta = 1,
    phi = 1): dividing by the kind parameters gives the model's terms."""

    launch_s: float            # the spec's launch floor (CUDA-graph mode)
    latency_s: float           # the spec's memory latency L
    tensor_s: np.ndarray       # waves x FLOPs per tile / r_t (eta_t = 1)
    power_s: np.ndarray        # tensor FLOPs / R (not scaled by any kind parameter)
    cuda_s: np.ndarray         # CUDA-core FLOPs / (N r_c), at least T_chain (chain_seconds)
    index_s: np.ndarray        # strided kernel's index work / (N r_c) (0 off that kernel)
    hbm_s: np.ndarray          # bytes / B
    nbytes: np.ndarray         # bytes moved per launch
    active_sms: np.ndarray     # SMs that hold a share of the work (perfmodel.active_sms)
    sm_bandwidth: float        # the spec's per-SM memory bandwidth (byte/s)
    misaligned: np.ndarray     # bool: a matrix operand's rows not 16-byte aligned
    load_width: np.ndarray     # the fallback's widest load over its narrowest, ALIGN_MIN_BYTES
                               # (misaligned_load_width); 1 where aligned
    empty_s: np.ndarray        # blocks without work, on the SMs (idle_block_seconds)
    occupancy: np.ndarray      # resident blocks per active SM (row-wise kinds; 1 elsewhere)
    latency_waves: np.ndarray  # waves of resident blocks that each pay phi L (1 elsewhere)
    wave_latency_s: np.ndarray  # L x a WAVE_KINDS launch's waves beyond its first (T_waves at
                               # phi = 1: wave_latency_seconds); 0 elsewhere
    layout_s: np.ndarray       # a conv2d call's layout passes (conv_layout_bytes over
                               # LAYOUT_EFFICIENCY x the streaming bandwidth, min(HBM, SMs x
                               # per-SM)); 0 else
    nodes_s: np.ndarray        # the launch floors of a call's kernels beyond the first
    return_share: np.ndarray   # the latency a block's bytes in flight return after, over the
                               # DRAM latency the per-SM bandwidth is measured at (row_latency)

    def select(self, rows) -> "UnitTerms":
        """These rows' terms (the spec-wide scalars kept)."""
        return UnitTerms(**{f.name: (v if np.ndim(v) == 0 else v[rows])
                            for f in fields(self) for v in (getattr(self, f.name),)})

    def parallel_s(self, eta_parallel) -> np.ndarray:
        """Little's law: bytes over what the active SMs sustain (each: its bytes in flight /
        latency = the spec's per-SM bandwidth, times the kind's share eta_parallel per resident
        block, at most the SM's own)."""
        return self.nbytes * self.return_share / (
            self.active_sms * self.sm_bandwidth * np.minimum(self.occupancy * eta_parallel, 1.0))

    def __len__(self) -> int:
        return len(self.tensor_s)



# ---- TensorIterator's strided kernel: index arithmetic -----------------------------------------
# Per element and per iteration dimension, PyTorch's OffsetCalculator
# (aten/src/ATen/cuda/detail/OffsetCalculator.cuh, `get`) does one divmod of a 32-bit
# IntDivider (aten/src/ATen/cuda/detail/IntegerDivider.cuh: __umulhi, add, shift for the
# quotient, a multiply-subtract for the remainder: 4 ops), tests the unrolled loop's bound
# (`if (dim == dims) break`: 1 op), and one multiply-add per operand (offsets[arg] += mod x
# stride): the part that grows with dims. The rest of the strided loop's integer work is per
# operand and per element whatever dims is: the operand's 64-bit address from its base pointer
# and that offset (2 ops; aten/src/ATen/native/cuda/CUDALoops.cuh, the legacy kernel's
# `data[arg] + offsets[arg]`), the load or store issue and its bounds predicate (2), the
# bf16 / fp16 <-> fp32 conversion (1-2) and the unrolled loop's element index (2-3): about
# INDEX_OPS_PER_OPERAND = 8. That estimate also matches the H200's evidence that a 5-D
# broadcast add (SAM's, 290 G elements/s on 132 SMs) runs about 1.4-1.5x the time per element
# of the 2-D strided suite at its SM-bound rate; kernels/strided_dims.yaml measures the slope.
# eta_cuda, fitted on the strided shapes, absorbs the rest.
INDEX_OPS_PER_DIM = 5.0          # divmod 4 + loop bound 1, per dimension
INDEX_OPS_PER_OPERAND = 8.0      # address, load / store, conversion, loop index, per element
# Operands of each layout kind's kernel (outputs included): copy in + out, unary in + out,
# binary elementwise two inputs + out (roofsim.kernels.elementwise.ELEMENTWISE_INPUTS).
INDEX_OPERANDS = {"copy": 2.0, "cat": 2.0, "gelu": 2.0, "silu": 2.0,
                  "elementwise": ELEMENTWISE_INPUTS + 1.0}
# An SM issues 64 INT32 ops per clock against 128 FP32 FMA lanes (2 FLOPs each): one integer
# op takes the issue share of 4 FP32 FLOPs (NVIDIA Ampere GA100 / Hopper GH100 whitepapers,
# per-SM resources), so the index work is timed against the FP32 CUDA-core peak.
INT32_OP_FLOPS = 4.0


def index_ops_per_element(table: RecordTable) -> np.ndarray:
    """Integer ops per output element of the strided kernel's offset arithmetic: dims x
    (INDEX_OPS_PER_DIM + operands) + INDEX_OPS_PER_OPERAND x operands on strided-path records
    (dims by the one rule, roofsim.kernels._common.strided_dims: 2 where a strided record has
    none), 0 elsewhere."""
    from .kernels._common import strided_dims
    dims = strided_dims(table.kind, table.param("stride"), table.param("dims"))
    operands = np.array([INDEX_OPERANDS.get(str(k), 0.0) for k in table.kind]) if len(table) \
        else np.zeros(0)
    ops = np.nan_to_num(dims) * (INDEX_OPS_PER_DIM + operands) + INDEX_OPS_PER_OPERAND * operands
    return np.where(np.isnan(dims), 0.0, ops)


def _col(table: RecordTable, name: str, default: float) -> np.ndarray:
    v = table.params[:, SHAPE_PARAMS.index(name)]
    return np.where(np.isnan(v), default, v)


# A table's element bytes, computed once per table object (unit_terms and the launch-shape rules
# read them several times; a lookup per record is most of a million-record engine pass:
# benchmarks/bench_engine.py). Tables are not modified once built.
_ELEMENT_BYTES: "weakref.WeakKeyDictionary[RecordTable, np.ndarray]" = weakref.WeakKeyDictionary()


def _element_bytes(table: RecordTable) -> np.ndarray:
    """Bytes of each record's element, as a float array of the table's length (read-only)."""
    out = _ELEMENT_BYTES.get(table)
    if out is None or len(out) != len(table):
        from .kernels._common import element_bytes
        out = np.asarray(element_bytes(table.dtype, len(table)), dtype=np.float64) * \
            np.ones(len(table))
        out.flags.writeable = False
        _ELEMENT_BYTES[table] = out
    return out


# cuBLAS runs a product whose operand rows are not 16-byte aligned (misaligned_operands) on
# CUTLASS 2.x kernels of small tiles with split-K, not on its 128 x 128-tile ones: over the
# H200's misaligned bf16 gemm / linear fit rows whose kernels CUPTI recorded
# (calibration/h200/launch-grids/h200-products, 762 cases), 64 x 64 is the commonest tile
# (cutlass_75 s1688gemm ..._64x64_align1), and their grids split the reduction finer than
# SPLIT_CHUNK. Those products still take TILE and SPLIT_CHUNK here; what smaller ones do is
# printed by `python benchmarks/choose_constants.py --only "MISALIGNED_TILE /
# MISALIGNED_SPLIT_CHUNK"` (fit rows only): 64 x 64 tiles with a split per 64 of k match the
# recorded grids best (mean |log ratio| 0.79 against 1.29) and lower the leave-one-out MAPE of
# the misaligned fit rows' residuals (H200 21.7 -> 19.3 %, H100 SXM 20.6 -> 17.9 %), but they
# were left out (session 17): with more blocks the misaligned rows reach every SM, and the fit
# then lowers the gemm / linear groups' shared eta_parallel (H100 SXM 0.38 / 0.51 -> 0.25 / 0.28),
# which stretches the aligned skinny products too much on fewer SMs where no companion corrects
# it: the H100 SXM's profile on narrow-fresh at 16 / 32 SMs 34.7 / 26.5 -> 61.9 / 46.9 % MAPE,
# and the H200's own SM-restricted sets moved by -0.3 .. +0.8 points (the mixed sets a little
# better, narrow-fresh worse) while its held-out rows went 8.8 -> 8.4 %
# (benchmarks/bench_transfer.py with these constants at 64 / 64; test sets, none fresh).
MISALIGNED_TILE = 128.0             # = TILE
MISALIGNED_SPLIT_CHUNK = 256.0      # = SPLIT_CHUNK
MISALIGNED_TILE_KINDS = ("gemm", "linear")


def misaligned_products(table: RecordTable) -> np.ndarray:
    """The products that run CUTLASS 2.x's small-tile fallback: gemm / linear records with an
    operand's rows not 16-byte aligned (MISALIGNED_TILE)."""
    return np.isin(table.kind, MISALIGNED_TILE_KINDS) & misaligned_operands(table)


def output_tiles(table: RecordTable, misaligned: np.ndarray | None = None) -> np.ndarray:
    """Output tiles per launch (matrix kinds, attention, conv): TILE x TILE, MISALIGNED_TILE
    square for the misaligned products (`misaligned`: misaligned_products(table) where the
    caller has it); NaN elsewhere."""
    n = len(table)
    tiles = np.full(n, np.nan)
    kind = table.kind
    c = lambda name, d=1.0: _col(table, name, d)   # noqa: E731
    if misaligned is None:
        misaligned = misaligned_products(table)
    edge = np.where(misaligned, MISALIGNED_TILE, TILE)
    ceil = lambda x: np.ceil(np.maximum(x, 1.0) / edge)   # noqa: E731
    sel = kind == "gemm"
    tiles[sel] = (ceil(c("m")) * ceil(c("n")) * c("batch"))[sel]
    sel = kind == "linear"
    tiles[sel] = (ceil(c("m") * c("batch")) * ceil(c("n")))[sel]
    sel = kind == "grouped_gemm"
    tiles[sel] = (c("batch") * ceil(c("m")) * ceil(c("n")))[sel]
    sel = kind == "attention"
    tiles[sel] = (c("batch") * c("heads") * ceil(c("seq_q")))[sel]
    sel = kind == "conv2d"
    if sel.any():
        from .kernels.conv import conv_output_size
        stride = np.maximum(c("stride"), 1.0)
        pad = c("padding", 0.0)
        ker = c("kernel")
        pixels = c("batch") * np.maximum(conv_output_size(c("h"), ker, stride, pad), 1) * \
            np.maximum(conv_output_size(c("w"), ker, stride, pad), 1)
        tiles[sel] = (ceil(pixels) * ceil(c("c_out")))[sel]
    return tiles


def tile_fill(table: RecordTable) -> np.ndarray:
    """The share of a grouped product's tile rows that hold a group's rows: each group's rows
    fill ceil(m / TILE) tiles of TILE rows (a ragged last tile runs its full MMAs on masked
    rows); 1 for the other kinds (whose libraries pick a tile to the shape)."""
    out = np.ones(len(table))
    sel = table.kind == "grouped_gemm"
    if sel.any():
        m = np.maximum(_col(table, "m", 1.0), 1.0)
        out[sel] = (m / (np.ceil(m / TILE) * TILE))[sel]
    return out


# Elements per CTA of PyTorch's vectorized elementwise kernels (128 threads x 4 elements).
ELEMENTWISE_CTA = 512.0
ROWWISE_KINDS = ("layernorm", "rmsnorm", "softmax", "reduction", "sort", "embedding")
FLAT_KINDS = ("gelu", "silu", "elementwise", "copy", "cat", "index")


SPLIT_CHUNK = 256.0   # reduction length per split (split-K GEMMs, split-KV attention)


def reduction_length(table: RecordTable) -> np.ndarray:
    """The length each output tile reduces over: k (matrix kinds), seq_kv (attention),
    c_in x kernel^2 (conv, the implicit GEMM's k); NaN elsewhere."""
    out = np.full(len(table), np.nan)
    kind = table.kind
    sel = np.isin(kind, ("gemm", "linear", "grouped_gemm"))
    out[sel] = _col(table, "k", 1.0)[sel]
    sel = (kind == "attention") & splits_kv(table)
    out[sel] = _col(table, "seq_kv", 1.0)[sel]
    sel = kind == "conv2d"
    out[sel] = (_col(table, "c_in", 1.0) * _col(table, "kernel", 1.0) ** 2)[sel]
    return out


def splits_kv(table: RecordTable) -> np.ndarray:
    """Attention records whose kernel splits the keys over several blocks (flash-decoding): one
    query per head (cuDNN's sm80 16-row kernel) or a causal mask aligned bottom-right (seq_q <
    seq_kv: torch's flash / memory-efficient kernels). Any other call on Hopper runs cuDNN's
    sm90 flash fprop (64 x 128 tiles), one block per (batch, head, 64 queries) streaming every
    key: calibration/h200/static-attention, a StaticCache decode step's packed call (4 queries
    per K/V head, 8 heads, 8193 keys) takes 111 us unmasked and 177 us masked at batch 1, where
    32 heads of one query take 12 us."""
    return kv_split(_col(table, "seq_q", 1.0), _col(table, "seq_kv", 1.0),
                    _col(table, "causal", 0.0) > 0)


def kv_split(seq_q, seq_kv, causal) -> np.ndarray:
    """splits_kv's rule on arrays: one query per head, or causal with fewer queries than keys."""
    sq, skv = np.asarray(seq_q, dtype=np.float64), np.asarray(seq_kv, dtype=np.float64)
    return (sq <= 1) | (np.asarray(causal, dtype=bool) & (sq < skv))


def split_factor(tiles: np.ndarray, length: np.ndarray, n_sm: float,
                 chunk: np.ndarray | float = SPLIT_CHUNK) -> np.ndarray:
    """Splits of the reduction that libraries add when the output tiles alone cannot fill the
    SMs (cuBLAS split-K / stream-K, flash-decoding's split-KV): enough to fill n_sm, no more
    than one split per `chunk` of reduction length (SPLIT_CHUNK; MISALIGNED_SPLIT_CHUNK for
    the misaligned products: matrix_ctas)."""
    fill = np.ceil(n_sm / np.maximum(tiles, 1.0))
    most = np.maximum(np.floor(np.nan_to_num(length, nan=0.0) / chunk), 1.0)
    return np.where(np.isfinite(tiles), np.minimum(fill, most), 1.0)


def matrix_ctas(table: RecordTable, n_sm: float) -> np.ndarray:
    """Thread blocks of the matrix kinds, attention and conv on n_sm SMs: output tiles times
    reduction splits; NaN for the other kinds."""
    misaligned = misaligned_products(table)
    tiles = output_tiles(table, misaligned)
    chunk = np.where(misaligned, MISALIGNED_SPLIT_CHUNK, SPLIT_CHUNK)
    return tiles * split_factor(tiles, reduction_length(table), n_sm, chunk)


# cuBLAS's nvjet GEMMs on Hopper hold one block per SM (164-231 KB of shared memory, 384 threads)
# and size their grid to the SMs the device reports, with tiles down to 64 x 8 outputs
# (LIBRARY_TILE_OUTPUTS) and split-K: calibration/h200/launch-grids (the grid CUPTI recorded for
# every gemm / linear / grouped_gemm row of calibration/h200) has a median of 100 blocks for the
# nvjet kernels, where 128 x 128 tiles and split-K (matrix_ctas) give 84 and fewer than 20 for a
# quarter of them. Where 64 x 8 tiles would fill the SMs, the launch holds a median of 100 blocks
# on the 132 SMs (the fit rows; 96 on the held-out ones): LIBRARY_GRID_SHARE of them (cluster
# shapes of 2-8 blocks do not tile every SM). The grid is the same inside a green context (530
# of 629 rows at 40 SMs, the rest within a cluster's rounding), so such a product on fewer SMs
# runs ceil(blocks / SMs) rounds of resident blocks, each starting cold (its prologue's loads,
# phi L: block_rounds): 192 x 320 x 512 takes 3.7 us on 132 SMs, 7.5 on 56, 18.2 on 16 and 31.8
# on 8 SMs, ~1.8 us per round, where its MMAs take 0.06 us per block.
# `python benchmarks/summarize_launch_grids.py` prints these figures.
LIBRARY_TILE_OUTPUTS = 512.0
LIBRARY_GRID_SHARE = 100.0 / 132.0
# The persistent nvjet products pick their tile shape to fill whole waves of the grid with the
# largest tiles they have: of 160 tile shapes (calibration/h200/launch-grids/h200-products, the
# 1,481 aligned bf16 products past 64 rows), the tile counts a product's kernel name gives sit just
# under a whole number of grids (2913 x 1280: 128 x 232 tiles, 130; 2913 x 6848: 128 x 248, 648 =
# 4.9 grids; 4096 x 6848: 192 x 192, 792 = 6 grids), and that number is what tiles of at most
# LIBRARY_TILE_MAX_OUTPUTS outputs (192 x 192: their fp32 accumulators fill 144 KiB of the SM's
# 256 KiB register file) need: ceil(outputs / (LIBRARY_TILE_MAX_OUTPUTS x N_grid)) grids (mean
# |log(model / recorded tiles)| 0.19 over the 450 products of half a grid of such tiles or more;
# 0.20 at 128 x 256, 0.33 at 128 x 192, 0.34 at 256 x 192). One grid or less: the grid's blocks at
# most, as the tile counts recorded there (96-132). 128 x 128 tiles had made the large products'
# waves finer than the library's: on 104 / 112 / 120 SMs, where a whole extra round of resident
# blocks costs a tile time, calibration/h200/persistent-rounds (68 prefill-sized products, not
# fitted on) read 13.8 / 16.9 / 21.1 % MAPE, -13 to -19 % median, with the H200 profile; 5.5 / 7.4
# / 13.0 % (medians within 1.3 %) with this rule, both profiles refitted (session 38, chosen on
# those two build sets; `python benchmarks/full_wave_tiles.py` prints both). Seen while choosing,
# so not a test of it either: calibration/h100-sxm/tile-stretch (5 of Llama-3.1-8B's prefill
# products on an H100: -6..-26 % on 112 / 120 SMs before, -8..+6 % after; 128 x 256 tiles gave
# -13..+3 %) and the stage row that led here, Llama-3.1-8B's prefill on 112 SMs
# (h200-sm112/e2e-fresh46, b = 1: -16.8 -> -5.6 %). Not read to choose it: the kernels recorded
# for two test sets' products (launch-grids/mixed-fresh5-products, gemm-kernels/mixed-fresh):
# 0.23 / 0.17 over 64 / 52 products, 0.56 / 0.59 with 128 x 128 tiles, 192 x 192 the best of the
# four sizes on both. What 120 SMs keeps is the kernels of 4-block clusters (2x4, 1x4, 4x2),
# whose grid of 120 fits those SMs in one round: +69..+80 %.
LIBRARY_TILE_MAX_OUTPUTS = 192.0 * 192.0
# Below one grid of those tiles a product launches one block per tile of smaller tiles, and the
# library's tile counts there stay short of the grid: the grids CUPTI recorded for the H200's fit
# rows (h200-products, the 498 balanced products of 0.1-1 grid of 192 x 192 tiles) have a median
# of 120-126 blocks by size and at most 128 for 66-86 % of them (4-block clusters launch 120, the
# 2-block ones' tile counts 124-130). So such a launch holds at most LIBRARY_SUBGRID_SHARE of
# the grid (128 of 132 SMs): capped so at every size of 0.1-1 grid, the rounds it runs on 64
# SMs, ceil(blocks / 64), agree with its recorded grid's for 74 % of those products, 47 % at the
# whole grid (the same on 128 SMs); mixed-fresh5's 68 recorded ones, read beside them: 43 -> 76
# %. 124 gives the same, 120 loses 40 and 120 SMs (62 -> 48 %). On the whole chip it changes
# nothing but the idle SMs' share of the tensor term; on 64 SMs it had been three rounds where
# two ran (session 39, `python benchmarks/full_wave_tiles.py` prints it, part 3). From
# LIBRARY_SUBGRID_FULL of a grid of the largest tiles up the recorded grids fill the SMs again
# (0.75-1 grid: 130 blocks at the median, more than 128 for 64 % of them, where 0.25-0.75 grid has
# 34 %; DeepSeek-OCR's prefill products of 2,913 x 1,280, 0.77 grid, launch 130), so the cap stops
# there (rounds agree on 64 SMs for 76 % of h200-products' 498, 74 % of mixed-fresh5's 68). The
# threshold was set after the stage rows of calibration/transfer.txt had shown the flagship's
# prefill on 8-64 SMs moving with the cap (its 2,913-row products one round short on 16 and 64 SMs).
LIBRARY_SUBGRID_SHARE = 128.0 / 132.0
LIBRARY_SUBGRID_FULL = 0.75
# Two grids or more, the tiles the library's names give fall a little short of the whole grids:
# the last grid is not full. Of the balanced products of two to four grids whose recorded kernel
# launched 132 blocks, the median recorded tile count over whole grids is 0.97 at two grids, 0.97
# at three and 0.98 at four (calibration/h100-sxm/launch-grids/subgrid-build-sm0, 231 products,
# a build set timed for this in session 40) and 0.96 / 0.97 / 1.00 (h200-products): k - 1 full
# grids and LIBRARY_LAST_GRID_FILL of the last. On the whole chip that is the same k waves (the
# tensor term's tiles are then a little larger: the last wave's empty blocks cost their share,
# 3 % at two grids; the H200's kernel bands moved by 0.01 point, both profiles refitted); on
# fewer SMs than the grid it is the count the late blocks' tail reads (perfmodel.waves): 2 x 132
# tiles took four waves on 128 SMs (late blocks 4: ceil(260 / 128) + 1) where the recorded
# ~253 take three, and subgrid-build's products of 1-2 grids ran 1.44x their whole-chip time on
# 128 SMs (median), 1.75x on 104-120 (`python benchmarks/summarize_subgrid_build.py`; there the
# model's tile count's mean |log(waves ratio / stretch)| on 128 SMs went 0.253 -> 0.186, the
# recorded grid's being 0.115). wide-fresh2 had shown the 128-SM miss before (20.0 -> 17.4 %
# MAPE with the H200 profile, so not a test of it); wide-fresh3, timed before the rule was
# chosen and read after: 128 SMs 23.1 -> 20.3 %, 64 / 104 / 120 SMs and the whole H100 within
# 0.1 point (calibration/transfer.txt). What stays on 120-128 SMs is the grid of the products
# under two grids, 108-132 blocks by the kernel cuBLAS picks, which the shape does not give.
LIBRARY_LAST_GRID_FILL = 0.94
# The grouped GEMM (CUTLASS 3: a grid of 132 at every shape, inside a green context too) is not
# among them here: its whole grid as the library's blocks made the SM-restricted samples worse
# (32 / 56 / 96 SMs: 10.0 / 11.1 / 10.5 -> 14.1 / 13.3 / 12.5 %). Its rounds count its working
# blocks alone (grouped_working_blocks, block_rounds); its idle ones are T_idle.
ONE_BLOCK_PER_SM_KINDS = ("gemm", "linear")


def one_block_per_sm(table: RecordTable) -> np.ndarray:
    """Products on cuBLAS's one-block-per-SM kernels (nvjet): the aligned gemm / linear records
    (ONE_BLOCK_PER_SM_KINDS; misaligned ones run CUTLASS 2.x kernels of small blocks, several
    per SM)."""
    return np.isin(table.kind, ONE_BLOCK_PER_SM_KINDS) & ~misaligned_operands(table)


def product_outputs(table: RecordTable) -> np.ndarray:
    """Output elements of each product record, m x n x batch (a linear's batch multiplies its
    rows, a gemm's and a grouped gemm's its products: the same count); meaningful for those
    kinds only."""
    c = lambda name: np.maximum(_col(table, name, 1.0), 1.0)   # noqa: E731
    return c("m") * c("n") * c("batch")


def library_grid_cap(grid_sms: float) -> float:
    """The most blocks an nvjet product launches on a device whose grid is grid_sms SMs:
    LIBRARY_GRID_SHARE of them (at least one)."""
    return max(np.floor(LIBRARY_GRID_SHARE * float(grid_sms)), 1.0)


def library_blocks(table: RecordTable, grid_sms: float,
                   narrow_cols: float | None = None) -> np.ndarray:
    """Thread blocks a launch runs: matrix_ctas, and for the one-block-per-SM products at least
    as many as LIBRARY_TILE_OUTPUTS tiles of its outputs, up to LIBRARY_GRID_SHARE of the
    grid_sms SMs (the skinny ones: skinny_blocks, a short linear's column tiles at most
    `narrow_cols` wide: the device's narrow_tile_cols); NaN for the kinds without tiles."""
    blocks = matrix_ctas(table, grid_sms)
    sel = one_block_per_sm(table)
    if sel.any():
        cap = library_grid_cap(grid_sms)
        fill = np.minimum(cap, np.ceil(product_outputs(table) / LIBRARY_TILE_OUTPUTS))
        blocks = np.where(sel, np.maximum(blocks, fill), blocks)
        blocks = np.where(balanced(table), full_wave_blocks(table, blocks, grid_sms), blocks)
        thin = sel & skinny_products(table)
        if thin.any():
            blocks = np.where(thin, skinny_blocks(table, cap, narrow_cols, grid_sms), blocks)
    return blocks


def full_wave_blocks(table: RecordTable, blocks: np.ndarray, grid_sms: float) -> np.ndarray:
    """Tiles of a persistent nvjet product (balanced): as many grids of grid_sms blocks as
    tiles of LIBRARY_TILE_MAX_OUTPUTS outputs need where that is two or more, the last filled to
    LIBRARY_LAST_GRID_FILL, else `blocks` (the smaller tiles' count) up to the grid, and below
    LIBRARY_SUBGRID_FULL of a grid of those tiles up to LIBRARY_SUBGRID_SHARE of it."""
    grid = float(grid_sms)
    size = product_outputs(table) / (LIBRARY_TILE_MAX_OUTPUTS * grid)
    grids = np.ceil(size)
    most = np.where(size < LIBRARY_SUBGRID_FULL,
                    max(np.floor(LIBRARY_SUBGRID_SHARE * grid), 1.0), grid)
    whole = np.floor((grids - 1.0 + LIBRARY_LAST_GRID_FILL) * grid)
    return np.where(grids >= 2.0, whole, np.minimum(blocks, most))


# cuBLAS's skinny nvjet kernels (tst_64x8, 8x64, 16x64, 128x8 ... tiles, `_split` for split-K)
# hold a product's rows in tiles of SKINNY_TILE_ROWS (a single row costs a tile of 8) and its
# columns in tiles of SKINNY_TILE_COLS, and split the reduction where those tiles leave SMs idle:
# about one split per SKINNY_SPLIT_K of k, up to what fills LIBRARY_GRID_SHARE of the grid, never
# more blocks than that (larger tiles take over: 192x8, 384x8). Chosen on the grids CUPTI recorded
# for the H200's fit rows (calibration/h200/launch-grids/h200-products: 1,235 skinny products
# with one nvjet kernel; split length 256 .. 4096 and no split, a cap of 100 .. 132 blocks): mean
# |log(model / recorded)| 0.25 at 1536 and 100, where LIBRARY_TILE_OUTPUTS' rule gave 0.41 (a
# one-row product of 2,560 columns had 5 blocks, recorded 40). Checked on kernels/narrow.yaml's
# 166 (launch-grids/narrow-sm0, not used to choose): 0.30, against 0.74. (Those figures are of
# this rule alone; it missed a short linear's 8- and 16-column tiles by up to 8x: below.)
# `python benchmarks/skinny_grid.py` prints these figures.
SKINNY_TILE_ROWS = 8.0
SKINNY_TILE_COLS = 64.0
SKINNY_SPLIT_K = 1536.0
# Two more of the library's choices, read off the same grids (h200-products: the skinny rule's
# mean |log(model / recorded)| 0.250 -> 0.161, the linears' 0.318 -> 0.161; narrow-sm0, the check:
# 0.304 -> 0.189, 15 -> 5 rows off by more than 2x; `python benchmarks/skinny_grid.py`):
# - a linear of at most SKINNY_NARROW_ROWS rows (weights [n, k], read as the transposed operand)
#   whose reduction is not split (k <= SKINNY_NARROW_K) runs the transposed kernels (tst_8x64,
#   tst_16x64 ... TNN): columns in tiles of 8 where that grid stays within SKINNY_NARROW_GRID[8]
#   blocks (n of 80 .. 704), else of 16 within SKINNY_NARROW_GRID[16] (n to 1664, a reduction
#   of at least SKINNY_WIDE_COL_K), the grid rounded up to the cluster of SKINNY_CLUSTER blocks
#   (the decode step's 1 x 1280 x 1280 products: 80 blocks, where 64-column tiles give 20);
# - a product of more than SKINNY_WIDE_ROWS rows whose reduction splits at least twice holds its
#   rows in tiles of SKINNY_WIDE_ROWS (tst_64x32 ... splitK), not of 8.
# Three more, read off the grids of 556 skinny shapes that no one had timed, recorded on the H100
# SXM in session 34 (calibration/h100-sxm/launch-grids/skinny-grids-sm0: the committed rule's
# mean |log(model / recorded)| there was 0.301, 76 rows off by more than 2x):
# - the column tiles of a product of one row tile launch in clusters of SKINNY_CLUSTER blocks
#   (nvjet ..._4x1_v: 5 tiles of a 320-column product launch 8 blocks per product, 3 of a
#   192-column one 4, 22 of a 1408-column one 24), SKINNY_CLUSTER_MIN_TILES or fewer as they
#   are (2x1);
# - the 16-column tiles only where their grid exceeds SKINNY_WIDE_COL_MIN_GRID blocks (n > 1024):
#   1,024 x 1,856 and 992 x 1,096 launch 16 blocks of 64 columns on the H100, and the H200's
#   8 x 1024 x 1408 ran 64-column tiles too (its times on 8 SMs:
#   calibration/h200-sm8/narrow-fresh2);
# - a bias-free 8-column grid of fewer than SKINNY_FEW_COL_GRID blocks (n <= 160) only where
#   k <= SKINNY_FEW_COL_K_PER_N x n: 128-column products of k >= 832 launch 2 blocks of 64
#   columns, of k <= 768 16 of 8 (the H200's bias rows take the 8-column tiles at any k).
# Mean |log(model / recorded)| (rows off by more than 2x), `python benchmarks/skinny_grid.py`:
# H200 h200-products 0.161 (34) -> 0.150 (25), narrow-sm0 0.190 (5) -> 0.171 (3), mixed-fresh5
# 0.141 (5) -> 0.126 (4); H100 skinny-grids 0.301 (76) -> 0.179 (47). Each of the three alone
# leaves the H200's sets as good or better. The H100's misses left are its own choices: 64-column
# tiles for 1,088-1,664 columns at k >= 1,024, where the H200's grids show 16-column ones (since
# session 44 a device's choice, its spec's library_narrow_tile_cols: narrow_tile_cols; the H100's
# grids 0.179 (47) -> 0.146 (33), and all 48 of the fresh narrow-fresh13's shapes it moves
# launched the grid it gives, calibration/h100-sxm/launch-grids/narrow-fresh13-sm0), and
# 8-column tiles past 88 blocks for short reductions (n of 712 .. 904, k <= 312). Timed fresh
# after it (the H100's narrow-fresh7, written after it; the H200 profile against b3e54c4's model
# and profile): MAPE on 8 / 16 / 24 SMs 19.1 / 16.3 / 15.7 -> 18.0 / 16.0 / 15.5 %; on 32 / 48 /
# 72 SMs and the whole GPU 14.9 / 14.3 / 14.6 / 10.9 -> 15.0 / 14.3 / 14.7 / 11.0; mixed-fresh27
# unchanged (a scratch comparison of two checkouts; calibration/transfer.txt has the after).
# Tried after it and dropped on a fresh set (session 34, 45c5741 reverted): a narrow tile keeping
# its columns' share of a 64-column tile's bytes in flight (8 / 64, 16 / 64 of the per-SM
# bandwidth; on 8 SMs of either chip such blocks run 4-5 us a round, 6-13 GB/s an SM) with
# 8-column tiles up to k = 2,600. Where the tile guess is wrong (the H100's 64-column tiles at
# 1,088-1,664 columns; 448 x 2,592 not narrow) it multiplies the miss: the H200 profile on the
# H100's narrow-fresh7 (written after it) went 18.0 -> 22.0 % MAPE on 8 SMs, 16.0 -> 18.8 on 16.
# Session 45 read the H200's choice for linears of 1-7 rows off its first timings of them on 8
# SMs (calibration/h200-sm8/narrow-fresh14, -12 and narrow-fresh2, beside the whole chip's: a
# grid of 56-132 blocks runs 7-17 rounds there, 5-9x its whole-chip time, a 64-column one of
# 16-28 blocks 1.6-3.0x; `python benchmarks/narrow_tile_choice.py`). On 8 SMs a 16-column round
# of k = 1,088-2,368 took 3.2-4.9 us (1,280-1,600 columns: the 10-13 rounds of their recorded
# 80-104 blocks), which names the grid of the others. Where the rows leave the 8-row tile
# part-filled (rows < SKINNY_NARROW_ROWS):
# - 8-column tiles run to a grid of one block per SM of the device's grid (132 tiles, n <= 1,056),
#   not SKINNY_NARROW_GRID[8]'s 88: 896-1,048 columns at k = 1,192-1,536 took 13.6-16.5 such
#   rounds, the 14-17 of their 8-column grids (112-132 blocks), not the 7-9 of 16-column ones;
# - 16-column tiles past that, at any reduction of the narrow window (1 x 1408 x 960, 2 x 1120 x
#   264 and 4 x 1144 x 392 too: 9-11 rounds), where 8 rows keep the k >= SKINNY_WIDE_COL_K and
#   more than SKINNY_WIDE_COL_MIN_GRID blocks of the rule above (8 x 1024 x 1408, 8 x 1320 x 200
#   and 8 x 1584 x 752 on 64-column tiles, 8 x 1280 x 1280 and 8 x 1408 x 1408 on 16-column ones);
# - the window's reduction reaches 2 x 832 x 2624 on 64-column tiles and split, where 1 x 1256 x
#   2472 and 5 x 1128 x 2520 ran narrow (SKINNY_NARROW_K: 2,400 -> 2,560);
# - and the 16-column tiles stop at 103 (1 x 1640 x 1152 and 1 x 1616 x 1712 narrow, 2 x 1664 x
#   1024 .. 1472 on 64-column tiles; 4 x 1664 x 2000, narrow, is the one the bound misses).
# SKINNY_NARROW_GRID counts column tiles before the cluster's rounding (the 8-column bound, 88
# tiles, is the same either way), and a narrow grid is one block per tile up to one per SM of the
# device's grid (the recorded 1 x 1616 x 1712: 104 blocks, past library_grid_cap's 100). The 8-
# column tiles' wider bound is the H200's library's (library_narrow_tile_cols 16); the H100 SXM's
# (8) keeps the 88 (its recorded grids: 64-column tiles from 768 columns but at k of 72-104).
SKINNY_NARROW_ROWS = 8.0
SKINNY_NARROW_K = 2560.0
SKINNY_NARROW_MIN_COLS = 80.0
SKINNY_NARROW_MIN_K = 32.0
SKINNY_NARROW_GRID = MappingProxyType({8.0: 88.0, 16.0: 103.0})
# The H100 SXM's library (narrow tile 8) takes 8-column tiles for a linear of 1-7 rows past
# SKINNY_NARROW_GRID[8]'s 88 tiles only at short reductions, the shorter the more tiles: up to each
# step's tiles at a k of at most its bound (the last step, 132, one tile per SM of its grid; never
# past the device's grid). Read off the grids cuBLAS launched for 825 short linears on the whole
# H100 (calibration/h100-sxm/launch-grids/narrow-tile-map-sm0: 1, 2, 4 and 7 rows choose alike),
# with the same library's skinny-grids, narrow-fresh13 and -15 grids; checked fresh on
# narrow-fresh16 (calibration/README.md, session 46). On a green context (the map on 8-48 SMs)
# the library runs its 2x1-cluster variants with a slightly looser bound, not modelled: a budget
# law that followed it, (tiles - 88) x k within a budget larger on fewer SMs, failed its fresh
# check (narrow-fresh17; reverted in c9b9a50), a wrong 8-column grid on few SMs costing far more
# than a wrong 64-column one.
SKINNY_NARROW_EXCESS_STEPS = ((92.0, 1792.0), (94.0, 448.0), (99.0, 320.0), (100.0, 256.0),
                              (104.0, 192.0), (111.0, 128.0), (120.0, 72.0), (132.0, 64.0))
# ... and for 8 rows (a full row tile) stops short of the 88: 8 x 464 x 1768 on 58 8-column tiles,
# 8 x 576 x 304, 8 x 640 x 2048 and 8 x 680-1,048 at every k of the map on 64-column ones.
SKINNY_NARROW_FULL_ROWS_8 = 64.0
# The H200's library (narrow tile 16) takes 8-column tiles for a linear of 8 rows past
# SKINNY_NARROW_GRID[8]'s 88, the more tiles the longer the reduction: up to each step's tiles at
# a k of at least its bound. Read off the grids cuBLAS launched for the 165 eight-row linears of
# the same map on the H200 (calibration/h200/launch-grids/narrow-tile-map-sm0: 680-1,048 columns,
# k = 64-2,304): 91 tiles at every k (92 blocks), 94-100 from k = 128 (96-100 blocks), 103 from
# k = 640 (104 blocks; 896 on 8 SMs of a green context, narrow-tile-map-sm8), none of 106 or
# more; the model gave 64-column tiles (12-16 blocks) past 88 (session 48). 1-7 rows already
# run to one block per SM of the grid there (the map: every such row within 1.3x).
SKINNY_NARROW_FULL_ROWS_STEPS = ((92.0, 0.0), (100.0, 128.0), (104.0, 640.0))
SKINNY_WIDE_COL_K = 1024.0
SKINNY_CLUSTER = 4.0
SKINNY_CLUSTER_MIN_TILES = 2.0   # more column tiles than this launch in clusters
SKINNY_WIDE_ROWS = 32.0
SKINNY_WIDE_COL_MIN_GRID = 64.0
SKINNY_FEW_COL_GRID = 24.0
SKINNY_FEW_COL_K_PER_N = 6.0


def narrow_excess_k(col_tiles: np.ndarray) -> np.ndarray:
    """The longest reduction at which the H100 SXM's library takes 8-column tiles for a linear of
    1-7 rows of `col_tiles` such tiles past SKINNY_NARROW_GRID[8] (SKINNY_NARROW_EXCESS_STEPS;
    -inf past the last step)."""
    out = np.full(np.shape(col_tiles), -np.inf)
    for tiles, most_k in reversed(SKINNY_NARROW_EXCESS_STEPS):
        out = np.where(col_tiles <= tiles, most_k, out)
    return out


def full_rows_narrow_tiles(k: np.ndarray) -> np.ndarray:
    """The most 8-column tiles the H200's library takes for a linear of 8 rows at reduction `k`
    (SKINNY_NARROW_FULL_ROWS_STEPS)."""
    out = np.zeros(np.shape(k))
    for tiles, least_k in SKINNY_NARROW_FULL_ROWS_STEPS:
        out = np.where(k >= least_k, tiles, out)
    return out


def skinny_products(table: RecordTable) -> np.ndarray:
    """gemm / linear records of at most SKINNY_ROWS rows per product (a linear's batch
    multiplies its rows)."""
    rows = _col(table, "m", 1.0) * np.where(table.kind == "linear", _col(table, "batch", 1.0), 1.0)
    return np.isin(table.kind, ("gemm", "linear")) & (rows <= SKINNY_ROWS)


@dataclass(frozen=True, eq=False)
class SkinnyLaunch:
    """A skinny product's nvjet launch (skinny_launch): its blocks, its reduction splits (1
    where a short linear's narrow column tiles take over: those never split) and the width of
    its column tiles (SKINNY_TILE_COLS, or the narrow width taken)."""

    blocks: np.ndarray
    splits: np.ndarray
    cols: np.ndarray


def skinny_blocks(table: RecordTable, cap: float, narrow_cols: float | None = None,
                  grid_sms: float | None = None) -> np.ndarray:
    """Blocks of a skinny product's nvjet launch (skinny_launch)."""
    return skinny_launch(table, cap, narrow_cols, grid_sms).blocks


def narrow_tile_cols(hw: HardwareSpec) -> float:
    """The widest of SKINNY_NARROW_GRID's column tiles the device's library takes: the spec's
    library_narrow_tile_cols, else the widest there is (the H200's choice)."""
    return float(hw.library_narrow_tile_cols or max(SKINNY_NARROW_GRID))


def skinny_launch(table: RecordTable, cap: float, narrow_cols: float | None = None,
                  grid_sms: float | None = None) -> SkinnyLaunch:
    """A skinny product's nvjet launch: SKINNY_TILE_ROWS x SKINNY_TILE_COLS tiles of its outputs
    (rows in tiles of SKINNY_WIDE_ROWS past that many where k splits twice), times one split per
    SKINNY_SPLIT_K of k up to what fills `cap` blocks, at most `cap` blocks; a short linear's
    narrow column tiles where the library takes them (SKINNY_NARROW_ROWS ...), of at most
    `narrow_cols` columns (narrow_tile_cols; None: every width of SKINNY_NARROW_GRID), one
    block per tile up to one per SM of the device's grid, `grid_sms` (None: the grid whose
    library_grid_cap is `cap`, for callers that vary the cap alone)."""
    c = lambda name: np.maximum(_col(table, name, 1.0), 1.0)   # noqa: E731
    linear = table.kind == "linear"
    rows = np.where(linear, c("m") * c("batch"), c("m"))
    n, k = c("n"), c("k")
    tile_rows = np.where((rows > SKINNY_WIDE_ROWS) & (k >= 2.0 * SKINNY_SPLIT_K),
                         SKINNY_WIDE_ROWS, SKINNY_TILE_ROWS)
    row_tiles = np.ceil(rows / tile_rows)
    col_tiles = np.ceil(n / SKINNY_TILE_COLS)
    clustered = (row_tiles <= 1.0) & (col_tiles > SKINNY_CLUSTER_MIN_TILES)
    col_tiles = np.where(clustered, _cluster_round(col_tiles), col_tiles)
    tiles = row_tiles * col_tiles * np.where(linear, 1.0, c("batch"))
    splits = np.maximum(np.minimum(np.floor(k / SKINNY_SPLIT_K), np.ceil(cap / tiles)), 1.0)
    out = np.minimum(tiles * splits, cap)
    narrow = linear & (rows <= SKINNY_NARROW_ROWS) & (k <= SKINNY_NARROW_K) & \
        (k >= SKINNY_NARROW_MIN_K) & (n >= SKINNY_NARROW_MIN_COLS)
    biased = _col(table, "bias", 0.0) > 0
    chosen = np.zeros(len(table), dtype=bool)
    cols = np.full(len(table), SKINNY_TILE_COLS)
    wave = float(grid_sms) if grid_sms is not None else \
        max(float(np.round(cap / LIBRARY_GRID_SHARE)), 1.0)
    part_rows = rows < SKINNY_NARROW_ROWS
    sixteen = narrow_cols is None or narrow_cols >= 16.0      # the H200's library
    for width, most in SKINNY_NARROW_GRID.items():
        if narrow_cols is not None and width > narrow_cols:
            continue
        col_tiles = np.ceil(n / width)
        grid = _cluster_round(col_tiles)
        if width <= 8.0:
            fits = (grid >= SKINNY_FEW_COL_GRID) | (k <= SKINNY_FEW_COL_K_PER_N * n) | biased
            if sixteen:
                most = np.where(part_rows, wave, np.maximum(most, full_rows_narrow_tiles(k)))
            else:
                most = np.where(part_rows, np.where(k <= narrow_excess_k(col_tiles), wave, most),
                                np.minimum(most, SKINNY_NARROW_FULL_ROWS_8))
        else:
            fits = part_rows | ((k >= SKINNY_WIDE_COL_K) & (grid > SKINNY_WIDE_COL_MIN_GRID))
        take = narrow & ~chosen & (col_tiles <= most) & fits
        out = np.where(take, np.minimum(grid, wave), out)
        cols = np.where(take, width, cols)
        chosen |= take
    return SkinnyLaunch(blocks=out, splits=np.where(chosen, 1.0, splits), cols=cols)


def other_library_kernel(table: RecordTable, a: HardwareSpec, b: HardwareSpec) -> np.ndarray:
    """Records whose library kernel differs between devices a and b: a skinny product whose
    column tile (skinny_launch) one device's library takes and the other's does not
    (narrow_tile_cols: the H100 SXM's cuBLAS runs 1 x 1280 x 1280 on 64-column tiles, the
    H200's on 16-column ones). False for every other record."""
    out = np.zeros(len(table), dtype=bool)
    wa, wb = narrow_tile_cols(a), narrow_tile_cols(b)
    if wa == wb:                  # every prediction on a device's own library: nothing differs
        return out
    sel = one_block_per_sm(table) & skinny_products(table)
    if not sel.any():
        return out
    rows = np.flatnonzero(sel)
    sub = table.select(rows)
    out[rows] = skinny_launch(sub, library_grid_cap(a.grid_sms), wa, a.grid_sms).cols != \
        skinny_launch(sub, library_grid_cap(b.grid_sms), wb, b.grid_sms).cols
    return out


def split_reduce_kernels(table: RecordTable, grid_sms: float,
                         narrow_cols: float | None = None) -> np.ndarray:
    """1 for a skinny product whose nvjet launch splits its reduction (skinny_launch on the
    grid the library sizes for grid_sms SMs): cuBLAS then runs a second kernel,
    cublasLt::splitKreduce_kernel, that sums the splits' fp32 partial outputs (the reference's
    decode step on the H200: 1 x 6848 x 1280's nvjet ..._splitK_TNT, 8.6 us, then splitKreduce,
    1.7 us; calibration/h200/e2e-fresh7/kernels.csv.gz). 0 for every other record."""
    out = np.zeros(len(table))
    sel = one_block_per_sm(table) & skinny_products(table)
    if sel.any():
        cap = library_grid_cap(grid_sms)
        rows = np.flatnonzero(sel)
        out[rows] = (skinny_launch(table.select(rows), cap, narrow_cols, grid_sms).splits >= 2.0
                     ).astype(float)
    return out


def _cluster_round(blocks: np.ndarray) -> np.ndarray:
    """Blocks rounded up to whole clusters of SKINNY_CLUSTER (nvjet's skinny kernels)."""
    return np.ceil(blocks / SKINNY_CLUSTER) * SKINNY_CLUSTER


def block_rounds(table: RecordTable, blocks: np.ndarray, n_sm: float, grid_sms: float,
                 persistent_kernel: np.ndarray | None = None) -> np.ndarray:
    """Rounds of resident blocks that each start cold on an SM and pay the block's round trips
    (phi L): ceil(min(blocks, grid_sms) / n_sm) for the persistent one-block-per-SM products,
    a grouped GEMM's with its working blocks as `blocks` (grouped_working_blocks: CUTLASS 3's
    kernel, one block per SM, each working block's prologue of descriptors and the group
    scheduler's loads, phi L, per round on fewer SMs),
    and the aligned skinny ones (skinny_products: cuBLAS keeps the whole chip's grid on fewer SMs, and
    each round costs about 0.8 of the whole chip's time for short products:
    benchmarks/narrow_grid_rounds.py), 1 for every other launch. Their blocks never exceed
    LIBRARY_GRID_SHARE of the grid, so the whole chip runs one round. (Counted with matrix_ctas'
    blocks before session 28, the skinny rounds made the decode-regime products worse on the
    whole H200, narrow-fresh 7.6 -> 9.4 %: those blocks could exceed the grid.)
    `persistent_kernel`: persistent(table) where the caller has it (a persistent gemm / linear
    is aligned, so one block per SM)."""
    if persistent_kernel is None:
        persistent_kernel = persistent(table)
    grouped = np.isin(table.kind, GROUPED_GRID_KINDS)
    if grouped.any():
        blocks = np.where(grouped, grouped_working_blocks(table, grid_sms), blocks)
    sel = (persistent_kernel | (one_block_per_sm(table) & skinny_products(table))) & \
        np.isin(table.kind, ONE_BLOCK_PER_SM_KINDS + GROUPED_GRID_KINDS) & np.isfinite(blocks)
    if not sel.any():
        return np.ones(len(table))
    resident = np.minimum(np.where(sel, np.maximum(blocks, 1.0), 1.0), grid_sms)
    return np.where(sel, np.ceil(resident / n_sm), 1.0)


def ctas(table: RecordTable, n_sm: float, tiles: np.ndarray | None = None) -> np.ndarray:
    """Thread blocks per launch, as the libraries tile the work on n_sm SMs: matrix_ctas
    (matrix kinds, attention, conv; pass them as `tiles` where already known), one block per
    row (row-wise kinds), 512 elements per block (element-wise kinds)."""
    out = (matrix_ctas(table, n_sm) if tiles is None else tiles).copy()
    kind = table.kind
    rows = _col(table, "rows", 1.0)
    numel = _col(table, "numel", 1.0)
    sel = np.isin(kind, ROWWISE_KINDS)
    out[sel] = np.maximum(rows[sel], 1.0)
    sel = np.isin(kind, FLAT_KINDS)
    out[sel] = np.ceil(np.maximum(numel[sel], 1.0) / ELEMENTWISE_CTA)
    return np.where(np.isfinite(out), np.maximum(out, 1.0), 1e9)


# Kinds whose library kernels on Hopper are persistent (cuBLAS's nvjet GEMMs, CUTLASS 3's grouped
# GEMM behind torch._grouped_mm): min(tiles, N_grid) resident blocks, each looping over a fixed
# share of the tiles. Attention (cuDNN / flash) and conv2d (cuDNN's implicit GEMM) are timed as
# one block per tile (their time scales as 1 / SMs on the SM-restricted H200s: calibration/
# h200-sm*/).
PERSISTENT_KINDS = ("gemm", "linear", "grouped_gemm")


# Products of at most this many rows run cuBLAS's skinny kernels (nvjet tst_16x64, 64x8, 128x8
# tiles in the decode traces of calibration/h200*/e2e), one block per tile, not the
# cooperative persistent ones (coopA) that prefill's products run.
SKINNY_ROWS = 64


def persistent(table: RecordTable) -> np.ndarray:
    """Records whose kernel is persistent: the PERSISTENT_KINDS, bar the skinny products
    (gemm / linear of at most SKINNY_ROWS rows per product) and the products with an operand
    whose rows are not 16-byte aligned (misaligned_operands): cuBLAS runs those on CUTLASS 2.x
    kernels (cutlass_75 / cutlass_80 tensorop ..._align1 / _align2), one block per tile
    (calibration/h200/gemm-kernels: on 112 SMs they took a median 1.19x their whole-chip time,
    where the persistent nvjet kernels of aligned products take 1.5-1.9x)."""
    skinny = skinny_products(table)
    unaligned = np.isin(table.kind, ("gemm", "linear")) & misaligned_operands(table)
    return np.isin(table.kind, PERSISTENT_KINDS) & ~skinny & ~unaligned


# cuBLAS's persistent nvjet products do not hold their tiles in a static round-robin over the
# resident blocks: on fewer SMs than their grid (a green context), a launch of many tiles per
# block stretches about as its tiles' waves over the SMs it has, ceil(tiles / N), plus a tail of
# BALANCED_TAIL_TILES tile times per extra round of resident blocks (the blocks that wait for an
# SM start late, with their prologue). On the SM-restricted kernel sets, compute-bound products
# on 120 SMs take a median 1.26x their whole-chip time at 1,000-3,500 tiles and 1.12x above
# (grid 132 either way), where whole rounds of the grid would give 2x. CUTLASS 3's grouped GEMM
# stays on whole rounds: its persistent scheduler strides its tiles over the grid statically
# (prefill's MoE experts take 1.66-1.78x on 128 SMs in calibration/h200-sm128/e2e-fresh18, as
# whole rounds predict). `python benchmarks/persistent_stretch.py` prints both and the choice of
# the tail: the H200 refitted at each value and scored on the 22 SM-restricted kernel sets (mean
# MAPE 13.40 % at 0 tile times, 13.24 at 0.5, 13.22 at 1, 13.26 at 2, 13.30 with whole rounds);
# the reference's vision stage at 96-128 SMs went from 6.87 to 1.59 % mean |error| with it, and
# prefill from 2.98 to 2.00 % (session 20; those stage rows had shown the miss).
# Session 39 (calibration/h200/persistent-grid: 16 shapes timed on 64-128 SMs) made the tail
# the late blocks' own: the late = resident - N blocks that wait for an SM each keep a first tile
# of their own, so the N that run take the other tiles, ceil((tiles - late) / N) waves, and the
# late blocks' tiles one more (BALANCED_TAIL_TILES), while late < N; from late >= N (N <=
# resident / 2) the late blocks fill every SM as they start and the tiles run ceil(tiles / N)
# waves. One tail per extra round of resident blocks had given 4,096^3 (512 tiles on 132
# blocks) 10 waves on 64 SMs and 4,096 x 1,792 x 1,280 (224) 4 on 104, where the H200 ran 8.1
# and 2.9 tile times (its whole-chip time x its waves there); this gives 8 and 3. Over that
# folder's shapes of more than one tile per block (72 shape x SM count pairs, each at its
# recorded tile count and grid), mean |log(rule / measured tile times)| 0.140 -> 0.091
# (`python benchmarks/late_blocks_tail.py`).
BALANCED_TAIL_TILES = 1.0
BALANCED_KINDS = ONE_BLOCK_PER_SM_KINDS


def balanced(table: RecordTable, persistent_kernel: np.ndarray | None = None) -> np.ndarray:
    """Persistent records whose library balances tiles over the blocks that run (the aligned,
    not skinny gemm / linear products: cuBLAS's nvjet kernels)."""
    if persistent_kernel is None:
        persistent_kernel = persistent(table)
    return persistent_kernel & np.isin(table.kind, BALANCED_KINDS)


def waves(blocks: np.ndarray, n_sm: float, grid_sms: float, persistent,
          balanced_tiles=False) -> np.ndarray:
    """Waves of thread blocks a matrix kernel runs on n_sm SMs, its grid sized for grid_sms
    (the SMs the device reports). A persistent kernel launches min(blocks, grid_sms) resident
    blocks, each owning ceil(blocks / resident) tiles in a static round-robin; on fewer SMs than
    it was sized for, the resident blocks run in ceil(resident / n_sm) rounds (a green context:
    calibration/h200-sm120/e2e, a 2913 x 1280 x 1280 product takes 1.76 x its whole-chip time on
    120 of 132 SMs, where one block per tile would take 1.0 x and SM-proportional work 1.1 x).
    Where the library balances the tiles over the blocks that run (`balanced_tiles`: nvjet),
    at most the tiles' waves over the SMs: for 0 < late < n_sm blocks waiting for an SM
    (late = resident - n_sm), ceil((blocks - late) / n_sm) waves and BALANCED_TAIL_TILES for
    the late blocks' own tiles; ceil(blocks / n_sm) otherwise. Other kernels:
    ceil(blocks / n_sm). All are ceil(blocks / n_sm) where n_sm = grid_sms."""
    blocks = np.asarray(blocks, dtype=np.float64)
    resident = np.minimum(blocks, grid_sms)
    resident_rounds = np.ceil(resident / n_sm)
    rounds = resident_rounds * np.ceil(blocks / resident)
    tiled = np.ceil(blocks / n_sm)
    late = np.maximum(resident - n_sm, 0.0)
    late_round = (late > 0) & (late < n_sm)
    spread = np.where(late_round, np.ceil((blocks - late) / n_sm) + BALANCED_TAIL_TILES, tiled)
    rounds = np.where(balanced_tiles, np.minimum(rounds, spread), rounds)
    return np.where(persistent, rounds, tiled)


# Kinds whose SM-parallel part stretches by its waves of one block per tile, ceil(blocks / N),
# between two SM counts, not by N_source / N_target: attention (cuDNN's and flash's kernels, a
# block per (batch, head, query tile) and split-KV's splits, matrix_ctas), whose launches with
# fewer blocks than the SMs keep their time on fewer SMs. Chosen in session 16 on the test sets
# of calibration/h200-sm*/ (attention's kernel MAPE at 24 / 32 / 40 / 48 SMs, mixed-fresh9 /
# -8 / -6 / -10: 13.0 / 11.5 / 11.9 / 10.0 -> 11.9 / 10.9 / 10.6 / 8.4 %; every row's MAPE
# fell on nine of the ten restricted runs and rose 0.03 on the tenth, 72 SMs: `python
# benchmarks/choose_session16.py`, table 1). Fresh since: calibration/transfer.txt, mixed-fresh11
# to -14. conv2d was tried and left out (its 128 x 128 tiles are not cuDNN's: the same sets moved
# both ways, table 1), as were the skinny and misaligned products (narrow-fresh at 32 SMs 13.3
# -> 16.3 %, a scratch check that no committed command regenerates).
# Session 30 tried the skinny products' rounds again, with their narrow column tiles
# (skinny_blocks), as the scale of their SM-parallel part: mean kernel MAPE of the H200
# profile on the restricted sets 12.80 -> 12.67 % at 8-16 SMs but 11.20 -> 11.34 at 24-48,
# narrow-fresh2 on 48 SMs 13.3 -> 15.6 (a scratch check): left out again.
WAVE_KINDS = ("attention",)


# A wave of attention blocks cannot finish before its blocks' dependent round trips (the Q tile's
# load, the first K / V tiles', the output's store: the group's phi L) have run, however little
# math they do, and the next wave's blocks start them again. The first wave's are the phi L every
# launch pays; the waves after it add (waves - 1) phi L, as one more roof of the p-norm (T_waves),
# so that it binds only where the tiles' math is shorter than the round trips (decode-like
# blocks of a few queries and keys) and hides under the math elsewhere. On the SM-restricted
# H200, where waves multiply, such launches keep a time per wave: one-query, one-key attention
# (bf16) on 16 SMs takes 10.3 us at batch 5 x 10 heads (4 waves of one block per SM) and 50.5 us
# at 17 x 16 (17 waves), 2.9 us a wave, and 17.8 / 94.4 us on 8 SMs, 2.8 us a wave
# (calibration/h200-sm16/mixed-fresh19, h200-sm8/mixed-fresh19); the model without T_waves gave
# those launches a near-constant time and was 20-35 % too fast on 8 SMs. Chosen in session 33 on
# the H200's kernel test sets (benchmarks/kernel_set_bands.py --kind attention, before and after:
# attention's mean MAPE whole chip 5.72 -> 5.58 %, 8-16 SMs 10.99 -> 10.11, 24-48 SMs 8.57 ->
# 7.95, 56-128 SMs 7.15 -> 6.71; every row's 8.21 / 13.37 / 11.78 / 10.47 -> 8.19 / 13.27 /
# 11.70 / 10.41). Charging each wave phi L outside the p-norm (latency_waves) was tried and
# dropped: 8-16 SMs 10.27 %, but the whole chip 6.04, where long tiles hide the round trips.
def wave_latency_seconds(table: RecordTable, n_waves: np.ndarray, has_tiles: np.ndarray,
                         hw: HardwareSpec) -> np.ndarray:
    """T_waves at phi = 1: L x (waves - 1) for the WAVE_KINDS launches with tiles, 0 for the
    rest."""
    sel = has_tiles & np.isin(table.kind, WAVE_KINDS)
    return np.where(sel, np.maximum(n_waves - 1.0, 0.0), 0.0) * hw.mem_latency_s


def parallel_scale(table: RecordTable, n_source: float, n_target: float,
                   grid_sms: float) -> np.ndarray:
    """How the SM-parallel part of each launch stretches from n_source to n_target SMs (the
    factor of roofsim.calibration.profile's two-point law): the ratio of `waves` for the
    persistent GEMM kinds (their blocks sized for grid_sms SMs) and the WAVE_KINDS (one block
    per tile), n_source / n_target for the rest (work spread evenly over the SMs)."""
    out = np.full(len(table), n_source / n_target)
    blocks = library_blocks(table, grid_sms)
    tiled = np.isfinite(blocks)
    pers = persistent(table)
    even = balanced(table, pers)
    for sel, resident in ((tiled & pers, True),
                          (tiled & np.isin(table.kind, WAVE_KINDS), False)):
        out[sel] = waves(blocks[sel], n_target, grid_sms, resident, even[sel]) / \
            waves(blocks[sel], n_source, grid_sms, resident, even[sel])
    return out


@dataclass(frozen=True, eq=False)
class AttentionWork:
    """The attention records of a table and the kind formula's work at their parameters
    (roofsim/kernels/attention.py), which the physics reads where a record's own counts follow
    another convention (kernel_tensor_flops, dram_bytes)."""

    rows: np.ndarray             # positions of the attention records in the table
    sub: RecordTable             # those records
    named: frozenset             # the shape parameters they give
    work: dict | None            # the formula's work; None without seq_q, seq_kv, head_dim


def attention_work_of(table: RecordTable) -> AttentionWork | None:
    rows = np.flatnonzero(table.kind == "attention")
    if len(rows) == 0:
        return None
    sub = table.select(rows)
    params = {p: sub.params[:, i] for i, p in enumerate(SHAPE_PARAMS)
              if not np.isnan(sub.params[:, i]).all()}
    formula = None
    if {"seq_q", "seq_kv", "head_dim"} <= set(params):
        from .kernels import work
        formula = work("attention", params, sub.dtype)
    return AttentionWork(rows, sub, frozenset(params), formula)


def kernel_tensor_flops(table: RecordTable) -> np.ndarray:
    """Tensor FLOPs the kernel itself does: the record's, except for attention, whose time is
    set by its kind formula over its parameters (roofsim/kernels/attention.py: with a causal
    mask only the visible query-key pairs, as fused kernels skip masked tiles and as calibration
    timed them). Captured records count causal attention over the full score matrix, as
    torch.utils.flop_counter does; that convention stays in the records for FLOP accounting.
    A conv2d on cuDNN's tensor-core path does the MMAs of its padded channels
    (conv_executed_share)."""
    flops = table.flops_tensor * conv_executed_share(table)
    attn = attention_work_of(table)
    if attn is None or attn.work is None or \
            not {"batch", "heads", "seq_q", "seq_kv", "head_dim"} <= attn.named:
        return flops
    formula = attn.work["flops_tensor"]
    out = flops.copy()
    known = np.isfinite(formula) & ~np.isnan(attn.sub.params[:, SHAPE_PARAMS.index("seq_kv")])
    out[attn.rows[known]] = formula[known]
    return out


# cuDNN's tensor-core implicit GEMMs (calibration/h200/conv-kernels: CUTLASS sm80 fprop
# 256x64_32x4, 64x64_32x10, 128x128_32x5 ...; sm90 xmma tilesize128x128x64, 64x64x64 ...) tile
# the output channels by 64 or more and step through each filter tap's input channels 32 or 64 at
# a time: a layer of few or odd channels runs the MMAs of the padded ones. CONV_TILE_N and
# CONV_TILE_K are the smallest of those steps. Chosen on the conv2d fit rows' physics-only MAPE
# (benchmarks/choose_constants.py prints it; H200 / H100 SXM: 40.4 / 39.4 % without the padding,
# 37.96 / 36.78 % at 32 / 32, 36.16 / 35.03 at 64 / 32, 36.21 / 35.08 at 64 / 64).
CONV_TILE_N = 64.0
CONV_TILE_K = 32.0


def conv_executed_share(table: RecordTable) -> np.ndarray:
    """Executed over useful tensor work of each record: for conv2d on the tensor-core path
    (conv_tensor_core_path), c_out padded to CONV_TILE_N and c_in to CONV_TILE_K; 1 elsewhere."""
    tc = conv_tensor_core_path(table)
    if not tc.any():
        return np.ones(len(table))
    c_in = np.maximum(_col(table, "c_in", 1.0), 1.0)
    c_out = np.maximum(_col(table, "c_out", 1.0), 1.0)
    share = (np.ceil(c_out / CONV_TILE_N) * CONV_TILE_N / c_out) * \
        (np.ceil(c_in / CONV_TILE_K) * CONV_TILE_K / c_in)
    return np.where(tc, share, 1.0)


ALIGN_BYTES = 16   # TMA and vectorized tile loads need rows aligned to 16 bytes


def key_mask_rows_odd(batch, seq_q, seq_kv, bias) -> np.ndarray:
    """Packed attention calls (several queries per head) whose shared boolean key mask
    ([batch, 1, 1, keys], bias >= 2) has rows of an odd byte count after the first (batch > 1,
    odd keys): cuDNN's packed flash kernel then streams the keys at about half its rate.
    calibration/h200's packed masked rows (bias 2) of at most one wave: 16-23 ns per key and
    block with batch 1 or an even key count, 29-36 ns with batch > 1 and odd keys (a StaticCache
    step's mask is the cache length, often odd)."""
    b, skv = np.asarray(batch, dtype=np.float64), np.asarray(seq_kv, dtype=np.float64)
    # calibration timed no one-query call with such a mask: the rule stays where it was seen
    packed = np.asarray(seq_q, dtype=np.float64) > 1
    return (np.asarray(bias, dtype=np.float64) >= 2) & (b > 1) & packed & (np.mod(skv, 2) == 1)


def row_alignment_bytes(row_bytes, most: float) -> np.ndarray:
    """The largest power of two dividing each row's byte count, at most `most` (a row of 0 bytes
    divides by anything: `most`)."""
    x = np.nan_to_num(np.asarray(row_bytes, dtype=np.float64), nan=0.0, posinf=0.0)
    b = np.maximum(np.round(x), 0.0).astype(np.int64)
    return np.where(b > 0, np.minimum(b & -b, int(most)), most).astype(np.float64)


def operand_alignment_bytes(table: RecordTable) -> np.ndarray:
    """The byte alignment of each matrix record's worst-aligned operand row (the largest power of
    two dividing its bytes, at most ALIGN_BYTES): k and n (gemm, linear, grouped_gemm), head_dim
    and head_dim_v (attention), c_in (conv2d); ALIGN_BYTES for other kinds."""
    from .kernels.attention import value_head_dim
    n = len(table)
    if n == 0:
        return np.zeros(0)
    elt = _element_bytes(table)

    def align(x):
        return row_alignment_bytes(x * elt, ALIGN_BYTES)
    kind = table.kind
    out = np.full(n, float(ALIGN_BYTES))
    mat = np.isin(kind, ("gemm", "linear", "grouped_gemm"))
    out = np.where(mat, np.minimum(align(_col(table, "k", 8.0)), align(_col(table, "n", 8.0))), out)
    odd_mask = key_mask_rows_odd(_col(table, "batch", 1.0), _col(table, "seq_q", 1.0),
                                 _col(table, "seq_kv", 2.0), _col(table, "bias", 0.0))
    head = _col(table, "head_dim", 64.0)
    value = value_head_dim({"head_dim_v": _col(table, "head_dim_v", np.nan)}, n, head)
    head = np.minimum(align(head), align(value))
    out = np.where(kind == "attention", np.where(odd_mask, 1.0, head), out)
    out = np.where(kind == "conv2d", align(_col(table, "c_in", 8.0)), out)
    return out


# The fallback kernels for rows that are not 16-byte aligned load what the alignment allows:
# CUTLASS 2.x's align1 / align2 / align4 bf16 kernels (calibration/h200/gemm-kernels) load 2, 4
# or 8 bytes per thread, against 16 for the vectorized / TMA path. Their rate rises with that
# width, though less than in proportion (the loads are part of the kernel's time, not all of
# it): as width ** ALIGN_WIDTH_EXPONENT, so a fitted eta_unaligned is the rate at the narrowest
# load (ALIGN_MIN_BYTES) and 4- and 8-byte rows run 1.41 and 2 times it (capped at the aligned
# rate). The exponent was chosen on the fit rows alone: the physics-only MAPE of the misaligned
# gemm / linear fit rows is lowest at 0.5 of 0, 0.25, 0.5, 0.75, 1 on both devices
# (benchmarks/choose_constants.py: H200 29.13 % at 0, 26.22 at 0.5, 26.90 at 1; H100 SXM 27.96,
# 25.54, 26.22).
ALIGN_MIN_BYTES = 2.0   # a bf16 / fp16 row of odd length: one element per load
ALIGN_WIDTH_EXPONENT = 0.5


def misaligned_load_width(table: RecordTable) -> np.ndarray:
    """How much wider than ALIGN_MIN_BYTES the fallback kernel's loads are on each record (its
    operands' byte alignment: CUTLASS's align1 / align2 / align4 kernels for bf16 load 2, 4 or 8
    bytes per thread), to ALIGN_WIDTH_EXPONENT; 1 on aligned records."""
    a = operand_alignment_bytes(table)
    return np.where(a < ALIGN_BYTES, (np.maximum(a, ALIGN_MIN_BYTES) / ALIGN_MIN_BYTES)
                    ** ALIGN_WIDTH_EXPONENT, 1.0)


def misaligned_operands(table: RecordTable) -> np.ndarray:
    """Matrix kinds whose operand rows are not 16-byte aligned (operand_alignment_bytes): k or n
    (gemm, linear, grouped_gemm), head_dim or a packed call's key-mask rows (attention:
    key_mask_rows_odd), c_in (conv2d)."""
    return operand_alignment_bytes(table) < ALIGN_BYTES


# ---- conv2d: the kernels of one call ----------------------------------------------------------
# F.conv2d on an NCHW tensor runs a sequence of kernels, not one (calibration/h200/conv-kernels:
# every held-out and fit conv2d row of the H200, profiled call by call, cuDNN 9.19). On cuDNN's
# tensor-core path (an sm90 xmma or CUTLASS sm80 implicit GEMM, which read NHWC) the input is
# transformed NCHW -> NHWC before the GEMM and the output NHWC -> NCHW after it (980 of 1,475
# cases, every one of those two families and no other), and a weight whose rows are not 16-byte
# aligned is transformed (padded) first; a bias is added by its own elementwise kernel (all 748
# cases with a bias, on every path). Those passes took a median 44 % of a
# transforming call (benchmarks/summarize_conv_kernels.py prints it and the rule's match below).
# The other paths (the CUDA-core implicit_convolve_sgemm, 1x1 convolutions as a plain GEMM)
# read NCHW as it is. Which path cuDNN's heuristic takes is not a clean function of the shape;
# the rule below (enough input channels and reduction length, and not a 1x1 stride-1 window)
# names it for 83 % of the H200's fit cases and 82 % of the held-out ones (chosen on the fit
# cases' kernels alone, before any conv2d time was fitted with it).
CONV_TC_MIN_CHANNELS = 4.0      # c_in above this
CONV_TC_MIN_REDUCTION = 96.0    # c_in x kernel^2 (the implicit GEMM's k) above this


def conv_paths(c_in, kernel, stride) -> tuple[np.ndarray, np.ndarray]:
    """(tensor-core path, CUDA-core path) of convolutions of these input channels, windows and
    strides: the tensor-core path where c_in > CONV_TC_MIN_CHANNELS, c_in x kernel^2 >
    CONV_TC_MIN_REDUCTION and the window is not 1x1 of stride 1 (a plain GEMM on NCHW, neither
    path); the CUDA-core path for the rest."""
    c_in, ker, stride = (np.asarray(x, dtype=np.float64) for x in (c_in, kernel, stride))
    pointwise = (ker == 1) & (stride <= 1)
    tc = (c_in > CONV_TC_MIN_CHANNELS) & (c_in * ker * ker > CONV_TC_MIN_REDUCTION) & ~pointwise
    return tc, ~tc & ~pointwise


def conv_tensor_core_path(table: RecordTable) -> np.ndarray:
    """conv2d records cuDNN runs as an NHWC tensor-core implicit GEMM (with layout transforms):
    conv_paths' first. False off conv2d."""
    tc, _ = conv_paths(_col(table, "c_in", 1.0), _col(table, "kernel", 1.0),
                       _col(table, "stride", 1.0))
    return (table.kind == "conv2d") & tc


def conv_cuda_core_path(table: RecordTable) -> np.ndarray:
    """conv2d records cuDNN runs on CUDA cores (implicit_convolve_sgemm and its precomputed
    variant on NCHW: 397 of the H200's 1,475 profiled cases): conv_paths' second. Their
    multiply-adds are CUDA-core work (T_cuda), not tensor-core work."""
    _, cuda = conv_paths(_col(table, "c_in", 1.0), _col(table, "kernel", 1.0),
                         _col(table, "stride", 1.0))
    return (table.kind == "conv2d") & cuda


def _conv_sizes(table: RecordTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input and output elements of each conv2d record, and its element bytes."""
    from .kernels.conv import conv_output_size
    c = lambda name, d=1.0: _col(table, name, d)   # noqa: E731
    stride = np.maximum(c("stride"), 1.0)
    ker, pad = c("kernel"), c("padding", 0.0)
    ho = np.maximum(conv_output_size(c("h"), ker, stride, pad), 1)
    wo = np.maximum(conv_output_size(c("w"), ker, stride, pad), 1)
    elt = _element_bytes(table)
    return c("batch") * c("c_in") * c("h") * c("w"), c("batch") * c("c_out") * ho * wo, elt


# cuDNN's weight transform (tensorTransformGeneric, KCRS -> KRSC with the channels padded), which
# runs before a tensor-core conv whose weight rows are not 16-byte aligned, reads the weight one
# element per filter tap: neighbouring threads' elements lie kernel^2 elements apart, so each
# moves min(SECTOR_BYTES, kernel^2 x its bytes) (a SECTOR_BYTES sector is the granularity of DRAM
# and L2 accesses on NVIDIA GPUs: CUDA C++ Best Practices Guide, "Coalesced Access to Global
# Memory"), and writes the padded layout contiguously. calibration/h200/conv-kernels (profiled
# call by call): for weights of 2-20 M elements it took 10-11 ps per element in 3 x 3 windows
# and 14-15.5 in 5 x 5 and 7 x 7 ones, which is 18 + 2 and 32 + 2 bytes per element at 0.45 of
# the H200's HBM (LAYOUT_EFFICIENCY below; until session 36 the conv2d group's fitted
# eta_memory, 0.38); the conv physics had charged the transform one launch floor. Smaller
# weights take longer than their bytes (about 8 us at 0.2 M elements), a floor this term leaves
# to the group's phi.
SECTOR_BYTES = 32.0
# The layout passes are cuDNN's own kernels (nchwToNhwc, nhwcToNchw, tensorTransformGeneric) and
# an elementwise bias add, not the implicit GEMM whose group parameters the fit sets: they stream
# at LAYOUT_EFFICIENCY of the streaming bandwidth, measured, not fitted. calibration/h200/
# conv-kernels (profiled call by call, launches of more than 20 MB): the input's transform
# reached a median 0.49 of the H200's HBM (10th-90th percentile 0.31-0.86, 294 launches), the
# output's 0.43 (0.40-0.50, 217), the weight's 0.43 (28 weights of 2 M elements or more, at the
# bytes above). Until session 36 they took the conv2d group's fitted eta_memory (0.38-0.39), which
# moved with whatever the implicit GEMM's fit did: with the p-norm allowed down to 1 it rose to
# 0.51, and the weight transforms were then 16 % short in the median
# (tests/test_perfmodel_conv.py).
LAYOUT_EFFICIENCY = 0.45


def conv_weight_transform_runs(table: RecordTable) -> np.ndarray:
    """conv2d records before whose convolution cuDNN transforms the weight: the tensor-core path
    (conv_tensor_core_path) with weight rows not 16-byte aligned (misaligned_operands)."""
    return conv_tensor_core_path(table) & misaligned_operands(table)


def conv_weight_transform_bytes(table: RecordTable) -> np.ndarray:
    """Bytes the weight transform of each conv2d record moves where it runs
    (conv_weight_transform_runs): c_out x kernel^2 taps, each reading
    its c_in elements at min(SECTOR_BYTES, kernel^2 x element bytes) apiece and writing c_in
    padded to 16 bytes; 0 elsewhere."""
    out = np.zeros(len(table))
    rows = np.flatnonzero(table.kind == "conv2d")
    if not len(rows):
        return out
    conv = table.select(rows)
    runs = conv_weight_transform_runs(conv)
    if not runs.any():
        return out
    c = lambda name, d=1.0: np.maximum(_col(conv, name, d), 1.0)   # noqa: E731
    elt = _element_bytes(conv)
    taps = c("c_out") * c("kernel") ** 2
    read = np.maximum(np.minimum(SECTOR_BYTES, c("kernel") ** 2 * elt), elt)
    padded = np.ceil(c("c_in") * elt / ALIGN_BYTES) * ALIGN_BYTES
    out[rows] = np.where(runs, taps * (c("c_in") * read + padded), 0.0)
    return out


def conv_layout_bytes(table: RecordTable) -> np.ndarray:
    """Bytes a conv2d call's layout passes move: the input's and the output's transforms on the
    tensor-core path (each reads and writes its tensor once), the weight's where it runs
    (conv_weight_transform_bytes), the output's bias add where the record has a bias; 0 for
    other kinds."""
    n = len(table)
    conv = table.kind == "conv2d"
    if not conv.any():
        return np.zeros(n)
    inputs, outputs, elt = _conv_sizes(table)
    tc = conv_tensor_core_path(table)
    bias = conv & (_col(table, "bias", 0.0) > 0)
    return 2.0 * elt * (np.where(tc, inputs + outputs, 0.0) + np.where(bias, outputs, 0.0)) + \
        conv_weight_transform_bytes(table)


def conv_extra_kernels(table: RecordTable) -> np.ndarray:
    """Kernels of a conv2d call beyond the convolution's own: two transforms and, for a weight
    whose rows are not 16-byte aligned, its transform (tensor-core path), the bias add; 0 for
    other kinds."""
    out = np.zeros(len(table))
    rows = np.flatnonzero(table.kind == "conv2d")
    if len(rows):
        conv = table.select(rows)
        tc = conv_tensor_core_path(conv)
        bias = _col(conv, "bias", 0.0) > 0
        out[rows] = 2.0 * tc + conv_weight_transform_runs(conv) + bias
    return out


# ---- PyTorch's reduce kernel: its grid and each thread's chain of loads ----------------------
# A sum (mean, max ...) along a dim runs ATen's reduce_kernel (aten/src/ATen/native/cuda/
# Reduce.cuh), launched as setReduceConfig decides from the outputs R and the inputs per output
# C: blocks of at most REDUCE_MAX_THREADS threads, block_width threads (at most a warp, more when
# the outputs are few) along the fastest dim and block_height along the other; the inputs split
# over the block's lanes (a contiguous row) or the outputs (an outer reduction); then over its
# warps where each thread would still sum at least min(16 x block_height, 256) values, and over
# several blocks per output (a second pass through global memory) where a thread would still sum
# REDUCE_MAX_VALUES_PER_THREAD and the grid leaves the device's SMs (as it reports them)
# unfilled. A thread's loop loads one vector of REDUCE_VECTOR_BYTES per iteration along a
# contiguous row of at least 128 inputs, else REDUCE_VT0 values; each iteration waits for its
# loads (a round trip to memory). So a launch of few blocks is a chain of dependent round trips
# that no bandwidth shortens: calibration/h200's held-out reductions of 8-76 rows of 4466-7424
# bf16 values (1-5 blocks of 512 threads, 14-29 iterations) took 8.4-15.0 us, and a fit row of 22
# float32 rows of 7099 (56 iterations of 4-value vectors) 26.7 us: 0.43 us per iteration beyond
# a launch either way, which is what makes the vector 16 bytes (8 bf16 or 4 float32 values), not
# 4 values. REDUCE_ROUND_TRIPS: memory latencies per iteration (the load's, and the address and
# accumulate work around it). A profile's fitted eta_cuda of the reduction groups scales it, so
# the fit rows' physics-only MAPE is the same for any value from 0.5 to 1.25 (above, eta_cuda
# would have to exceed 1: H200 10.42 % at 1.25, 10.77 at 1.4, 11.28 at 1.5); without a profile
# the roofline's chain is what a device gets, and on the H200's contiguous fit rows of at most 8
# blocks and at least 8 iterations its MAPE is 25.6 % at 1.0, 14.1 at 1.2, 9.4 at 1.3, 5.5 at
# 1.4. 1.25 is the largest value the profiles take unchanged (the roofline: 10.1 % on the H200's
# such fit and held-out rows, 11.0 on the H100 SXM's, against 84 % without the chain).
REDUCE_MAX_THREADS = 512.0
REDUCE_VT0 = 4.0
REDUCE_VECTOR_BYTES = 16.0
REDUCE_MIN_VALUES_PER_THREAD = 16.0
REDUCE_MAX_VALUES_PER_THREAD = 256.0
REDUCE_ROUND_TRIPS = 1.25


@dataclass(frozen=True, eq=False)
class ReduceLaunch:
    """setReduceConfig's launch of each reduction record (1 block, 0 iterations elsewhere)."""

    threads: np.ndarray       # threads per block
    blocks: np.ndarray        # grid blocks (outputs' blocks x blocks per output)
    lanes: np.ndarray         # threads that share one output's inputs (over its blocks)
    per_thread: np.ndarray    # inputs one thread sums
    iterations: np.ndarray    # loop iterations of a thread, each a round trip to memory


def _last_pow2(x: np.ndarray) -> np.ndarray:
    return 2.0 ** np.floor(np.log2(np.maximum(x, 1.0)))


def reduce_launch(table: RecordTable, grid_sms: float, max_threads_per_sm: float) -> ReduceLaunch:
    """The reduce kernel's launch (see REDUCE_MAX_THREADS) of each reduction record: `rows`
    outputs of `cols` inputs, along each contiguous row or (stride >= 1) over an outer dim,
    sized for grid_sms SMs of max_threads_per_sm threads."""
    n = len(table)
    sel = table.kind == "reduction"
    if not sel.any():
        return ReduceLaunch(np.ones(n), np.ones(n), np.ones(n), np.zeros(n), np.zeros(n))
    r = np.maximum(_col(table, "rows", 1.0), 1.0)
    c = np.maximum(_col(table, "cols", 1.0), 1.0)
    outer = _col(table, "stride", 0.0) >= 1.0
    elt = _element_bytes(table)
    # outer: loads of up to 4 adjacent outputs where the outputs' rows allow it
    out_vec = np.where(outer, np.where(r % 4 == 0, 4.0, np.where(r % 2 == 0, 2.0, 1.0)), 1.0)
    vectorized = ~outer & (c >= 128.0)
    vec = np.maximum(np.floor(REDUCE_VECTOR_BYTES / elt), 1.0)
    dim0 = np.where(outer, np.floor(r / out_vec), np.where(vectorized, np.floor(c / vec), c))
    dim1 = np.where(outer, c, r)
    most = REDUCE_MAX_THREADS / out_vec
    d0 = np.where(dim0 < most, _last_pow2(dim0), most)
    d1 = np.where(dim1 < most, _last_pow2(dim1), most)
    width = np.minimum(d0, 32.0)
    height = np.minimum(d1, np.floor(most / width))
    width = np.minimum(d0, np.floor(most / height))
    threads = width * height
    step_in = np.where(outer, 1.0, width)
    step_out = np.where(outer, width, 1.0)
    warps = np.ceil(c / step_in) >= np.minimum(height * REDUCE_MIN_VALUES_PER_THREAD,
                                               REDUCE_MAX_VALUES_PER_THREAD)
    step_in = np.where(warps, step_in * height, step_in)
    step_out = np.where(warps, step_out, step_out * height)
    per_thread = np.ceil(c / step_in)
    grid = np.ceil(r / out_vec / step_out)
    target = grid_sms * np.floor(max_threads_per_sm / threads)
    split = warps & (per_thread >= REDUCE_MAX_VALUES_PER_THREAD) & (grid <= target)
    per_block = np.where(split, np.maximum(
        np.minimum(np.ceil(target / grid), np.ceil(per_thread / REDUCE_MIN_VALUES_PER_THREAD)),
        np.ceil(per_thread / REDUCE_MAX_VALUES_PER_THREAD)), 1.0)
    per_thread = np.ceil(c / (step_in * per_block))
    iterations = np.ceil(per_thread / np.where(vectorized, vec, REDUCE_VT0))
    return ReduceLaunch(np.where(sel, threads, 1.0), np.where(sel, grid * per_block, 1.0),
                        np.where(sel, step_in * per_block, 1.0), np.where(sel, per_thread, 0.0),
                        np.where(sel, iterations, 0.0))


def _reduce_steps(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """A reduction's dependent loop iterations on hw: a thread's iterations, once per wave of
    resident blocks on its SMs (0 for other kinds)."""
    launch = reduce_launch(table, float(hw.grid_sms), float(hw.max_threads_per_sm))
    resident = float(hw.sm_count) * np.maximum(np.floor(hw.max_threads_per_sm / launch.threads),
                                               1.0)
    return launch.iterations * np.ceil(launch.blocks / resident)


def reduce_chain_seconds(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """Seconds of each reduction record's dependent round trips: a thread's loop iterations x
    REDUCE_ROUND_TRIPS memory latencies, once per wave of resident blocks on hw's SMs; 0 for
    other kinds. The physics (unit_terms) and the engine's roofline take it as a floor of the
    CUDA-core term, as a sort's chain."""
    return _reduce_steps(table, hw) * REDUCE_ROUND_TRIPS * hw.mem_latency_s


def warm_steps(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """Steps of dependent round trips an L2-resident input shortens, each by (DRAM - L2 latency)
    x a group's warm_trips (roofsim.calibration.warm): a reduction's loop iterations per wave
    (its chain runs at the latency of where its input lies: calibration/h200/warm's reductions
    of 2 to 31 iterations saved 0.3-0.37 us per iteration, 1.3-1.7 x (DRAM - L2 latency);
    Llama 3.1 8B's decode step means 32 x 4096 float32 values, just written, in 8.9 us where
    the cold chain of 32 iterations is 15 us), at least 1; 1 for every other kind."""
    return np.maximum(_reduce_steps(table, hw), 1.0)


# ---- softmax: ATen's warp softmax and its chain per element ------------------------------------
# torch.softmax along a contiguous last dim (aten/src/ATen/native/cuda/SoftMax.cu, host_softmax)
# runs the persistent warp softmax where a row fits one warp's registers (dim <= SOFTMAX_WARP_MAX
# elements and dim x element size <= SOFTMAX_WARP_MAX_BYTES): a warp per row (two for rows of at
# most 128), each lane holding ceil(dim / 32) elements through the max, the exponent sum and the
# write; longer rows run the block softmax (a block per row). calibration/h200's softmax rows of
# at most 200 rows show the switch: 9.8-11.0 us for rows of 1835-2048 bf16 values, 2.9-3.3 us for
# 2097-2432, and on the warp path a time that grows with the lane's elements (2.6 us at 128, 4.2
# at 512, 6.3 at 1024), not with the bytes: a chain of SOFTMAX_ELEMENT_ROUND_TRIPS memory
# latencies per element of a lane, once per wave of warps (128-thread blocks). Found on those
# rows (fit and held-out); the constant chosen on the H200's fit rows: the profile's physics-only
# softmax MAPE is 19.4 % without the chain, 12.4-12.9 % from 0.25 to 0.375 (a group's eta_cuda
# scales it), and the bare roofline's on the warp-path fit rows of 256+ values 71 % without it,
# 31 / 17 / 11 % at 0.25 / 0.35 / 0.4 (bf16 lanes take about 0.375 latencies per element,
# float32 ones 0.22): 0.35. The calibration features keep the two kernels apart (a flag).
SOFTMAX_WARP_MAX = 2048.0
SOFTMAX_WARP_MAX_BYTES = 8192.0
SOFTMAX_ELEMENT_ROUND_TRIPS = 0.35


def softmax_warp(cols, elt) -> np.ndarray:
    """softmax_warp_path's rule on arrays: rows of at most SOFTMAX_WARP_MAX values of `elt` bytes
    and at most SOFTMAX_WARP_MAX_BYTES."""
    cols = np.asarray(cols, dtype=np.float64)
    return (cols <= SOFTMAX_WARP_MAX) & (cols * np.asarray(elt) <= SOFTMAX_WARP_MAX_BYTES)


def softmax_warp_path(table: RecordTable) -> np.ndarray:
    """softmax records ATen runs with its persistent warp softmax (SOFTMAX_WARP_MAX)."""
    return (table.kind == "softmax") & softmax_warp(_col(table, "cols", 1.0),
                                                    _element_bytes(table))


def softmax_chain_seconds(table: RecordTable, hw: HardwareSpec,
                          resident: np.ndarray | None = None) -> np.ndarray:
    """Seconds of each warp-softmax record's chain: ceil(cols / 32) elements of a lane x
    SOFTMAX_ELEMENT_ROUND_TRIPS memory latencies, once per wave of warps on hw's SMs (a warp per
    row; two rows per warp up to 128 values); 0 for other records. Rows that sit in L2
    (`resident`, l2_resident) wait the L2's loaded latency (resident_latency_ratio)."""
    sel = softmax_warp_path(table)
    if not sel.any():
        return np.zeros(len(table))
    cols = _col(table, "cols", 1.0)
    rows = np.maximum(_col(table, "rows", 1.0), 1.0)
    warps = np.ceil(rows / np.where(cols <= 128.0, 2.0, 1.0))
    resident_warps = float(hw.sm_count) * np.floor(hw.max_threads_per_sm / 32.0)
    per_lane = np.ceil(cols / 32.0)
    latency = np.full(len(table), hw.mem_latency_s)
    if resident is not None:
        latency = np.where(np.asarray(resident, dtype=bool),
                           resident_latency_ratio(hw) * latency, latency)
    return np.where(sel, per_lane * np.ceil(warps / resident_warps) * SOFTMAX_ELEMENT_ROUND_TRIPS *
                    latency, 0.0)


def chain_seconds(table: RecordTable, hw: HardwareSpec,
                  resident: np.ndarray | None = None) -> np.ndarray:
    """T_chain of each record: a sort's passes, a reduction's loop of loads or a warp softmax's
    elements per lane (0 elsewhere), the floor of the CUDA-core term in the physics (unit_terms)
    and in the engine's roofline; `resident` as softmax_chain_seconds takes it."""
    return np.maximum(np.maximum(sort_chain_seconds(table, hw), reduce_chain_seconds(table, hw)),
                      softmax_chain_seconds(table, hw, resident))


# ---- the vectorized cat kernel's idle blocks --------------------------------------------------
# PyTorch's cat (aten/src/ATen/native/cuda/Shape.cu, parallel_cat on its aligned path:
# getCatGridContig, CatArrayBatchedCopy_vectorized) launches one row of blocks per input, each
# row sized for the LARGEST input: min(ceil(largest / (128 threads x one 16-byte vector)),
# 32 x the device's SMs) blocks of 128 threads. Rows of a smaller input run mostly blocks that
# find nothing to copy and exit. Appending one token to a KV cache (a DynamicCache's
# torch.cat of [b, h, L, d] and [b, h, 1, d]) launches about as many idle blocks as working
# ones. An idle block still costs its SM the block's dispatch and retirement:
# BLOCK_DISPATCH_CYCLES SM cycles, spread over the SMs; so the term grows as 1 / SMs and with
# the clock, and matters where SMs are few.
CAT_BLOCK_THREADS = 128.0
CAT_VECTOR_BYTES = 16.0
CAT_BLOCKS_PER_SM = 32.0       # the grid's cap, per SM the device reports
# SM cycles per block that exits at once: the median over 1,981 KV-cache appends in 24 end-to-end
# traces on 8-132 SMs (benchmarks/fit_block_dispatch.py, e2e-fresh7 and 8 left out: per SM count
# 32-118, least squares 139); about 40 ns at the H200's 1980 MHz.
BLOCK_DISPATCH_CYCLES = 80.0


# A cat with a strided input (stride >= 1: an input not contiguous, as the rotary embedding's
# halves, torch.cat((-x2, x1), -1) of a slice x1) runs ATen's generic kernel instead
# (CatArrayBatchedCopy, getCatGrid): a row of CAT_GENERIC_BLOCKS_PER_SM x the device's SMs
# blocks of CAT_GENERIC_THREADS threads per input, empty inputs included, each thread copying
# elements in a loop strided by the grid; a row's blocks past its input's elements exit at once.
# The decode step's rope cats ([b, h, 1, 64] x 2) launch 528 blocks on the H200 to copy 1,280
# elements: 524 idle (calibration/h200*/e2e*/kernels.csv.gz: grid 528, block 512).
CAT_GENERIC_BLOCKS_PER_SM = 2.0
CAT_GENERIC_THREADS = 512.0
# SM cycles per idle block of the generic kernel (four times the threads of the vectorized
# kernel's blocks: more warps to start and retire): the median over 7,518 such cats (the rope
# halves) in 59 end-to-end traces on 8-132 SMs, fit_block_dispatch's test sets left out
# (`python benchmarks/fit_block_dispatch.py --kernel generic`: per SM count 117-165 on 8-56 SMs,
# where the idle blocks dominate; more above, where the base prediction's error does); about
# 85 ns at 1980 MHz. Chosen in session 30 after e2e-fresh57's 8-SM decode step showed the rope
# cat at 7.10 us against 1.61 predicted (its stage rows are no test of it).
GENERIC_BLOCK_DISPATCH_CYCLES = 168.0


def _strided_cat(table: RecordTable) -> np.ndarray:
    return (table.kind == "cat") & (np.nan_to_num(table.param("stride"), nan=0.0) >= 1)


def cat_empty_blocks(table: RecordTable, grid_sms: float) -> np.ndarray:
    """Blocks of each cat record's launch that exit without work, from its `inputs` and
    `largest`: on the vectorized kernel, inputs rows of min(ceil(largest / E),
    CAT_BLOCKS_PER_SM x grid_sms) blocks (E elements per block) less those the inputs'
    elements fill; on the generic one (a strided cat), inputs rows of CAT_GENERIC_BLOCKS_PER_SM
    x grid_sms blocks less those its elements reach, one per CAT_GENERIC_THREADS (the inputs
    past the largest taken as equal shares of the rest); 0 for records without `inputs` /
    `largest` (equal contiguous inputs) and for other kinds."""
    n = len(table)
    if n == 0:
        return np.zeros(0)
    inputs = table.param("inputs")
    largest = table.param("largest")
    numel = _col(table, "numel", 0.0)
    on = (table.kind == "cat") & np.isfinite(inputs) & np.isfinite(largest) & (inputs >= 2) \
        & (largest >= 1)
    if not on.any():
        return np.zeros(n)
    many = np.nan_to_num(inputs, nan=2.0)
    big = np.nan_to_num(largest, nan=1.0)
    rest = np.maximum(numel - big, 0.0)
    elt = _element_bytes(table)
    per_block = CAT_BLOCK_THREADS * CAT_VECTOR_BYTES / np.maximum(elt, 1.0)
    row = np.minimum(np.ceil(big / per_block), CAT_BLOCKS_PER_SM * grid_sms)
    idle = (many - 1.0) * row - np.ceil(rest / per_block)
    generic_row = CAT_GENERIC_BLOCKS_PER_SM * grid_sms
    share = np.ceil(rest / np.maximum(many - 1.0, 1.0) / CAT_GENERIC_THREADS)
    generic = many * generic_row - np.minimum(np.ceil(big / CAT_GENERIC_THREADS), generic_row) - \
        (many - 1.0) * np.minimum(share, generic_row)
    idle = np.where(_strided_cat(table), generic, idle)
    return np.where(on, np.maximum(idle, 0.0), 0.0)


def cat_empty_seconds(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """Seconds the idle blocks of each cat launch cost: BLOCK_DISPATCH_CYCLES each
    (GENERIC_BLOCK_DISPATCH_CYCLES on the generic kernel), at the SM clock, spread over
    min(SMs, idle blocks) SMs."""
    idle = cat_empty_blocks(table, float(hw.grid_sms))
    sms = np.minimum(float(hw.sm_count), np.maximum(idle, 1.0))
    cycles = np.where(_strided_cat(table), GENERIC_BLOCK_DISPATCH_CYCLES, BLOCK_DISPATCH_CYCLES)
    return idle * cycles / (hw.boost_clock_mhz * 1e6) / sms


# CUTLASS 3's grouped GEMM (torch._grouped_mm, the MoE experts) launches a block per SM the
# device reports (grid_sms: 132 inside a green context too) whatever its tiles: the blocks past
# its tiles find no work and exit, but each first pays its setup (barriers, descriptors, the
# group scheduler's loads), GROUPED_IDLE_TRIPS round trips to memory. On the whole chip they
# run beside the working blocks; on fewer SMs they queue behind them, and rounds of idle blocks
# beyond the GROUPED_IDLE_HIDDEN_ROUNDS that the working blocks' own chain covers add to the
# launch. Measured (calibration/h200-sm*/mixed-fresh18): a one-tile grouped product of 8.4 us
# on the whole H200 takes 3.65 / 2.05 / 1.50 / 1.29 / 1.10 / 0.98 x that on 8 / 16 / 24 / 32 /
# 40 / 48 SMs, ~1.6 us per round of idle blocks past the third, where the model had 1.0 x at
# every count. Chosen among 7 (trips, hidden rounds) pairs on the older SM-restricted kernel
# sets (benchmarks/persistent_stretch.restricted_sets, the H200 refitted each time): (5, 3) is
# within 0.02 points of the best pair on both scores, the grouped rows' MAPE averaged over their
# 13 SM counts 13.53 -> 11.80 % (best 11.78) and the sets' mean MAPE 12.99 -> 12.89 % (best
# 12.88); at 8 / 16 SMs the grouped rows went 25.6 / 16.7 -> 12.5 / 10.3 % (session 21;
# `python benchmarks/grouped_idle_blocks.py`; mixed-fresh18, which showed the miss, is a test
# set for it).
# Session 31: the working blocks are the product's output tiles, at most the grid (CUTLASS 3's
# grouped kernel splits no reduction: calibration/h200/launch-grids/h200-products records its
# grid of 132 and 64 x 128 tiles, two per block), not matrix_ctas' split-K blocks, which had
# counted a 9-tile product of k = 3808 as 126 working blocks and no idle ones; and each round of
# working blocks on fewer SMs pays the prologue phi L (block_rounds), as cuBLAS's persistent
# products do: on mixed-fresh18 (a test set) 36 tiles on 8 SMs take 64.2 us against one tile's
# 30.4, where the model had 54 / 34. The constants above were kept. Over bench_transfer's kernel
# test sets (H200 refitted; `python benchmarks/kernel_set_bands.py` before and after) the grouped
# rows' mean MAPE went 12.06 -> 10.42 % at 8-16 SMs, 13.12 -> 12.72 % at 24-48, 12.04 -> 11.68 %
# at 56-128, every row's 13.60 -> 13.40 % at 8-16; on the fresh set mixed-fresh22 at 8-16 SMs
# (not read for it) grouped 14.68 -> 13.81 %, all rows 13.31 -> 13.27 %. Still short: the idle blocks also run on the SMs the working ones leave free (32
# tiles on 48 SMs: 13.9 us, the model 8.9), which ceil(idle / N) does not see.
GROUPED_IDLE_TRIPS = 5.0
GROUPED_IDLE_HIDDEN_ROUNDS = 3.0
GROUPED_GRID_KINDS = ("grouped_gemm",)


def grouped_working_blocks(table: RecordTable, grid_sms: float) -> np.ndarray:
    """Blocks of each grouped GEMM launch that hold a tile: its output tiles (CUTLASS 3's grouped
    kernel splits no reduction), at most the grid_sms blocks it launches; NaN for other kinds."""
    out = np.full(len(table), np.nan)
    sel = np.isin(table.kind, GROUPED_GRID_KINDS)
    if sel.any():
        rows = np.flatnonzero(sel)
        tiles = np.nan_to_num(output_tiles(table.select(rows)), nan=grid_sms)
        out[rows] = np.minimum(np.maximum(tiles, 1.0), grid_sms)
    return out


def grouped_idle_blocks(table: RecordTable, grid_sms: float) -> np.ndarray:
    """Blocks of each grouped GEMM launch without a tile: grid_sms less its working blocks
    (grouped_working_blocks), never below 0; 0 for other kinds."""
    return np.nan_to_num(np.maximum(grid_sms - grouped_working_blocks(table, grid_sms), 0.0),
                         nan=0.0)


def grouped_idle_seconds(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """Seconds a grouped GEMM's idle blocks add on hw: their rounds over the SMs,
    ceil(idle / N), beyond GROUPED_IDLE_HIDDEN_ROUNDS, each GROUPED_IDLE_TRIPS x L; 0 on the
    whole chip (one round) and for other kinds."""
    idle = grouped_idle_blocks(table, float(hw.grid_sms))
    rounds = np.maximum(np.ceil(idle / float(hw.sm_count)) - GROUPED_IDLE_HIDDEN_ROUNDS, 0.0)
    return rounds * GROUPED_IDLE_TRIPS * hw.mem_latency_s


def idle_block_seconds(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """T_idle: the seconds blocks without work add to a launch on hw (a cat's idle blocks,
    cat_empty_seconds; a grouped GEMM's, grouped_idle_seconds)."""
    return cat_empty_seconds(table, hw) + grouped_idle_seconds(table, hw)


# torch.sort of a row longer than SORT_BITONIC_MAX elements runs cub's onesweep radix sort
# (ATen's sort for a long last dimension), a chain of launches in stream order: the index
# fill, two workspace memsets, a histogram and an exclusive sum, then per RADIX_BITS-bit
# digit of the key a memset and a onesweep kernel. That is 5 + 2 x 8 = 21 for DeepSeek-OCR's
# int64 expert ids (1 x 13158 on the H200, calibration/h200/e2e-fresh9/kernels.csv.gz:
# fill_reverse_indices, 2 memsets, DeviceRadixSortHistogramKernel,
# DeviceRadixSortExclusiveSumKernel, 8 x (memset, DeviceRadixSortOnesweepKernel)); a shorter
# row is one bitonic kernel. Rows of several segments are counted alike.
SORT_BITONIC_MAX = 4096.0
RADIX_BITS = 8.0
RADIX_FIXED_LAUNCHES = 5.0


# A row of SORT_WARP_MAX < n <= SORT_BITONIC_MAX elements ATen sorts in one thread block
# (aten/src/ATen/native/cuda/Sort.cu, sortKeyValueInplace's medium radix sort: cub's
# BlockRadixSort over the row padded to a power of two of at least SORT_TILE_MIN keys,
# SORT_ITEMS_PER_THREAD per thread, SORT_BLOCK_RADIX_BITS of the key per pass): a chain of passes
# that no number of SMs shortens, and the block's work around them (loading keys and indices,
# the keys' bit conversion, the exchanges into and out of the passes' arrangement, the stores),
# SORT_FIXED_PASSES passes' worth whatever the key width. A pass costs a thread SORT_PASS_CYCLES
# SM cycles per key it holds, plus SORT_SCAN_CYCLES per doubling of the block's threads (the
# block-wide scan that ranks the digits). Fitted (least squares, session 11) on calibration/h200's
# int64 and float32 sort fit rows of 129-4096 elements in 1 to 31 rows, less the roofline's
# launch floor: 16 + 10.7 and 8 + 10.7 pass units; int64 fit rows within 1.9 % (MAPE), float32
# 2.4 %, the held-out float32 rows 5.2 % (fitting the passes alone, as session 10 did on int64,
# left float32 rows 20-30 % fast: a float32 sort takes 0.7x an int64 one, not half). SM cycles:
# the term moves with the spec's clock, not its SM count.
# A longer row's radix sort (RADIX_BITS per pass, launches_per_call) runs one onesweep kernel per
# pass, each a chain of dependent memory round trips (its tiles' keys loaded, the decoupled
# look-back on the tiles before, the scatter): ONESWEEP_ROUND_TRIPS memory latencies each. The
# H200's trace of DeepSeek-OCR's expert-id sort (int64, 13158 keys, calibration/h200/e2e-fresh9/
# kernels.csv.gz) has 8 onesweep kernels of 5.95-7.07 us: 16 latencies of 374 ns; with the 21
# launch floors it gives 75 us where calibration/h200 timed 74-86 us for one row of 4097 to
# 131072 int64 keys.
ONESWEEP_ROUND_TRIPS = 16.0
# A row of at most SORT_WARP_MAX elements ATen sorts with a sorting network in one small block
# (bitonicSortKVInPlace over 16 or 32 slots, a merge sort of 128 above 32): log2(p) (log2(p) + 1)
# / 2 dependent compare-exchange stages for p slots, each a barrier and a shared-memory exchange
# of SORT_STAGE_CYCLES SM cycles. The H200's trace of DeepSeek-OCR's decode step sorts 6 expert
# ids with bitonicSortKVInPlace<16, 16> in 3.39-3.49 us (calibration/h200/e2e-fresh9/
# kernels.csv.gz), a launch floor and 10 stages of 0.21 us; calibration/h200's sort fit rows of
# 6-96 keys, less the 1-key call (its copy and index fill, 4.8 us) and a launch with its graph gap,
# give 0.15-0.25 us per stage: SORT_STAGE_CYCLES is their median, 0.22 us at 1980 MHz.
SORT_STAGE_CYCLES = 440.0
SORT_WARP_MAX = 128.0
SORT_TILE_MIN = 1024.0
SORT_ITEMS_PER_THREAD = 32.0
SORT_BLOCK_RADIX_BITS = 4.0
SORT_PASS_CYCLES = 35.6
SORT_SCAN_CYCLES = 6.7
SORT_FIXED_PASSES = 10.7


def sort_chain_seconds(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """Seconds of each sort record's dependent passes: a sorting network's stages for a short
    row (1 < cols <= SORT_WARP_MAX), one thread block's radix passes for a row sorted in one
    block (SORT_WARP_MAX < cols <= SORT_BITONIC_MAX), the onesweep kernels' round trips for a
    longer row; 0 elsewhere. The physics (unit_terms) and the engine's roofline take it as a
    floor of the CUDA-core term."""
    out = np.zeros(len(table))
    sort = table.kind == "sort"
    if not sort.any():
        return out
    cols = _col(table, "cols", 1.0)
    bits = _key_bits(table)
    clock = hw.boost_clock_mhz * 1e6
    sel = sort & (cols > SORT_WARP_MAX) & (cols <= SORT_BITONIC_MAX)
    tile = np.maximum(SORT_TILE_MIN, 2.0 ** np.ceil(np.log2(np.maximum(cols, 1.0))))
    per_key = SORT_PASS_CYCLES + SORT_SCAN_CYCLES * np.log2(tile / SORT_ITEMS_PER_THREAD)
    out[sel] = ((np.ceil(bits / SORT_BLOCK_RADIX_BITS) + SORT_FIXED_PASSES) *
                SORT_ITEMS_PER_THREAD * per_key / clock)[sel]
    sel = sort & (cols > 1.0) & (cols <= SORT_WARP_MAX)
    levels = np.where(cols <= 16.0, 4.0, np.where(cols <= 32.0, 5.0, 7.0))   # 16, 32, 128 slots
    out[sel] = (levels * (levels + 1.0) / 2.0 * SORT_STAGE_CYCLES / clock)[sel]
    sel = sort & (cols > SORT_BITONIC_MAX)
    out[sel] = (np.ceil(bits / RADIX_BITS) * ONESWEEP_ROUND_TRIPS * hw.mem_latency_s)[sel]
    return out


def _key_bits(table: RecordTable) -> np.ndarray:
    """Bits of each record's element (a sort's key)."""
    return 8.0 * _element_bytes(table)


def extra_kernels(table: RecordTable, grid_sms: float,
                  narrow_cols: float | None = None) -> np.ndarray:
    """Kernels a call issues beyond its first that the physics pays a launch floor for (the
    radix sort's passes aside: its kind parameters carry them): a conv2d call's
    conv_extra_kernels and a split-K skinny product's reduction (split_reduce_kernels)."""
    return conv_extra_kernels(table) + split_reduce_kernels(table, grid_sms, narrow_cols)


def launches_per_call(table: RecordTable, grid_sms: float,
                      narrow_cols: float | None = None) -> np.ndarray:
    """Launches (kernels and memsets, each a node of a CUDA graph) one call of each record
    issues on a device whose libraries size their grids for grid_sms SMs: 1, bar a radix sort
    (see RADIX_BITS). Where no profile speaks for a record, the engine's roofline pays the
    spec's launch floor for each; where one does, its calibrated time (timed as a graph of such
    calls) holds each node's gap, which the engine takes off. The kind parameters keep one
    floor per record: calibration's sort rows measured the jump at SORT_BITONIC_MAX (38 -> 79
    us on the H200) and the residual carries it. A conv2d call issues its convolution and
    conv_extra_kernels, a split-K skinny product its reduction (split_reduce_kernels); the
    physics pays each a launch floor. `narrow_cols`: the device's narrow_tile_cols."""
    out = 1.0 + extra_kernels(table, grid_sms, narrow_cols)
    sel = (table.kind == "sort") & (_col(table, "cols", 1.0) > SORT_BITONIC_MAX)
    if sel.any():
        out[sel] = RADIX_FIXED_LAUNCHES + 2.0 * np.ceil(_key_bits(table)[sel] / RADIX_BITS)
    return out


def launches_on(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """launches_per_call on a device: the grid its libraries size for (grid_sms) and the
    narrow tile its cuBLAS takes (narrow_tile_cols)."""
    return launches_per_call(table, float(hw.grid_sms), narrow_tile_cols(hw))


def dram_bytes(table: RecordTable, nbytes: np.ndarray) -> np.ndarray:
    """Bytes a launch moves to or from DRAM: its bytes, except flash attention's K and V, which
    stream past each of the FLASH_Q_TILE-row query tiles (the record counts every pass: the
    SMs load them, T_parallel) but come from DRAM once per (batch, head): the re-reads of a
    head's K and V hit L2. Evidence: the same attention shapes of over 20 us take 0.99x the
    H100 SXM's time on the H200 (median of 665 unmasked calibration rows), whose HBM is 1.43x
    faster; charging every pass to HBM made both profiles predict 0.75-0.82x."""
    out = np.asarray(nbytes, dtype=np.float64).copy()
    attn = attention_work_of(table)
    if attn is None or attn.work is None:
        return out
    from .kernels.attention import kv_stream_rows, value_head_dim
    sub = attn.sub
    c = lambda name, d=1.0: _col(sub, name, d)   # noqa: E731
    formula = attn.work["bytes_read"] + attn.work["bytes_written"]
    d = c("head_dim", 64.0)
    row = c("batch") * c("heads") * (d + value_head_dim({"head_dim_v": c("head_dim_v", np.nan)},
                                                        len(sub), d)) * \
        _element_bytes(sub)                                    # a key row of K and of V
    streamed = kv_stream_rows(c("seq_q"), c("seq_kv"), c("causal", 0.0)) * row
    dram = formula - streamed + np.minimum(streamed, c("seq_kv") * row)
    # a captured record's bytes (grouped K / V heads, say) scaled by the formula's share
    share = np.where(formula > 0, dram / np.where(formula > 0, formula, 1.0), 1.0)
    out[attn.rows] = out[attn.rows] * np.where(np.isfinite(share), np.clip(share, 0.0, 1.0),
                                               1.0)
    return out


def active_sms(tiles: np.ndarray, n_waves: np.ndarray, per_tile: np.ndarray,
               blocks: np.ndarray, n_sm: float) -> np.ndarray:
    """SMs that hold a share of a launch's bytes, on average over its time: min(N, blocks);
    for attention (`per_tile`: flash / cuDNN kernels of one resident block per (batch, head,
    query tile) on Hopper) the blocks of a wave, blocks / waves, so that its per-SM bandwidth
    term is wave-quantized as its tensor term is: 160 blocks on 132 SMs run two rounds of
    streaming, twice one block's time, not 160 / 132 of it (a StaticCache step's packed
    attention, batch 20 x 8 K/V heads at 12661 keys: 869 us against 424 us for 118 blocks at
    25845 keys, per key 34 ns either way; calibration/h200 attention_packed rows).
    Leave-one-out over the H200's fit rows chose the kinds: attention 9.76 -> 9.56 %, while
    conv2d (cuDNN's implicit GEMMs run several smaller blocks per SM) went 28.4 -> 28.6 and
    the GEMMs were unchanged on the whole (gemm 11.7 -> 11.8, linear 11.7 -> 11.6)."""
    return np.where(per_tile, tiles / n_waves, np.minimum(n_sm, blocks))


# ---- one block per row: the norms -------------------------------------------------------------
# PyTorch's layer_norm and rms_norm (aten/src/ATen/native/cuda/layer_norm_kernel.cu,
# launch_vectorized_layer_norm_kernel) launch one block of NORM_BLOCK_THREADS (4 warps) per row.
# A block keeps its share of bytes in flight (eta_parallel of the SM's); an SM holds as many
# blocks as its thread limit allows (max_threads_per_sm / NORM_BLOCK_THREADS: 16 on Hopper), so
# a launch of many rows keeps up to that many times a block's bytes in flight per SM, never more
# than the SM's own (T_parallel); and each wave of resident blocks pays its rows' dependent
# round trips (the block's reduction and the normalizing pass that follows it: phi L per wave).
# Without the two, one efficiency had to fit rows that share SMs and rows that do not: the
# H200's fit rows took eta_parallel 0.03-0.07 and left the physics 0.5 log off at both ends (few
# long rows 1.7-2x too fast, many rows 2-2.7x too slow; physics-only MAPE 50 / 55 % for
# layernorm / rmsnorm, 21 / 25 % with them). Softmax and the reductions run other launch shapes
# (several rows per block, blocks over outputs); the same rule made their fit worse, so they
# keep one block per SM.
BLOCK_PER_ROW_KINDS = ("layernorm", "rmsnorm")
NORM_BLOCK_THREADS = 128.0


def row_blocks(table: RecordTable, hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray]:
    """(resident blocks per active SM, waves of resident blocks) of each record on hw: for the
    BLOCK_PER_ROW_KINDS, rows / SMs clipped to [1, the SM's block limit] and ceil(rows / (SMs x
    that limit)); 1 and 1 for every other kind."""
    n = len(table)
    occupancy, waves_ = np.ones(n), np.ones(n)
    sel = np.isin(table.kind, BLOCK_PER_ROW_KINDS)
    if sel.any():
        n_sm = float(hw.sm_count)
        limit = max(hw.max_threads_per_sm / NORM_BLOCK_THREADS, 1.0)
        rows = np.maximum(_col(table, "rows", 1.0), 1.0)
        occupancy = np.where(sel, np.clip(rows / n_sm, 1.0, limit), 1.0)
        waves_ = np.where(sel, np.ceil(rows / (n_sm * limit)), 1.0)
    return occupancy, waves_


def row_latency(table: RecordTable, hw: HardwareSpec,
                resident: np.ndarray | None = None) -> np.ndarray:
    """The latency the BLOCK_PER_ROW_KINDS' row blocks wait for their bytes, over the DRAM
    latency: their per-SM term is each block's Little's law (bytes in flight / latency), so a
    norm whose rows sit in L2 (`resident`, l2_resident) waits the L2's latency instead, both
    loaded (resident_latency_ratio); 1 for every other launch. Other kinds keep their per-SM
    term from L2 too: what it stands for is bounded by what the SM issues as much as by latency
    (calibration/h200/l2-resident: on 16 and 40 SMs the warm and cold per-SM rates of silu,
    softmax and float32 adds match within 6 %; a gain for every kind made the 16-SM rows worse,
    13.4 -> 16-33 % MAPE). On that guiding set rmsnorm's warm rows went 38-43 -> 13-18 % MAPE
    with it, and layernorm's, whose large shapes' per-SM rate did not move from L2, 5-7 ->
    7-13 % (too fast): the unloaded latencies overstate what a loaded block gains."""
    out = np.ones(len(table))
    if resident is None:
        return out
    sel = np.asarray(resident, dtype=bool) & np.isin(table.kind, BLOCK_PER_ROW_KINDS)
    out[sel] = resident_latency_ratio(hw)
    return out


# A loaded memory request waits longer than an unloaded pointer chase: the SMs' requests queue
# in the crossbar and at the L2 slices, on the way to DRAM and to an L2 hit alike. The spec's
# latencies are unloaded (a single thread's chase), so a streaming kernel's dependent loads wait
# about LOADED_QUEUE_NS more at either level, and an L2-resident input shortens them by less
# than the unloaded ratio says: (L2 + q) / (DRAM + q), 0.55 on the H200 (150 + 120 over
# 374 + 120 ns) where the unloaded ratio is 0.40. Chosen on the three L2-resident sets of
# calibration/h200 (l2-resident, -fresh, -fresh2: whole chip and 8-104 SMs, looked at per group):
# with the warp softmax's chain and the norms' row blocks at the unloaded ratio (and the
# probe's warm trips net of that physics: calibration.fit.physics_kept), the whole chip's warm
# rows were too fast: softmax 17 % MAPE, the norms 11-12 % (median -11 %); the whole chip's warm
# MAPE of the three sets, 9.4 / 10.4 / 9.9 % at q = 0, is 8.3 / 9.3 / 8.7 at 60 ns, 8.1 / 9.1 /
# 8.3 at 120 and 8.4 / 9.4 / 8.4 at 180 (restricted counts within +-0.5 points of each other).
# Physical range: 0 to a DRAM latency.
LOADED_QUEUE_NS = 120.0


def resident_latency_ratio(hw: HardwareSpec) -> float:
    """The latency a dependent load waits on an L2-resident input over the one it waits on
    DRAM, both loaded: (l2_latency + q) / (mem_latency + q), q = LOADED_QUEUE_NS."""
    q = LOADED_QUEUE_NS * 1e-9
    return (hw.l2_latency_s + q) / (hw.mem_latency_s + q)


# An SM keeps fewer useful bytes in flight for a product operand whose rows start off the sector
# grid. Measured on the H200 with the same large skinny linears and batched products whose
# streamed operand's rows (linear: k, bmm: n) are a multiple of 16, 32, 64 or 128 bytes and nothing
# more (calibration/h200{,-sm8,-sm16}/stream-align; `python benchmarks/stream_alignment.py`
# prints it): on 8 and 16 SMs, where the SMs' bytes in flight bind, rows of 16 bytes stream at
# 0.57-0.67 of the 128-byte rows' rate (linear and bmm, 8 and 16 SMs; mean 0.61), rows of 32 at
# 0.83-0.92 (0.87), of 64 at 0.94-0.99 (0.96); on the whole chip, where HBM binds, at 0.95 / 0.98
# / 0.98 (the L2 serves the sectors two neighbouring loads share, so DRAM moves the same bytes).
# The H100 SXM's skinny products of the narrow sets agree (calibration/h100-sxm-sm8, -sm16:
# 0.66 and 0.93 against rows of 64 bytes or more). Each such operand's bytes count 1 / share
# times on the SMs' side (sm_side_bytes: the per-SM term), DRAM's unchanged. The cuBLAS / nvjet
# products (gemm, linear) alone: the grouped GEMM (CUTLASS 3) streams at a third of their per-SM
# rate on 8 SMs whatever its rows' alignment (H100: 214-236 GB/s), so no in-flight limit is met.
STREAM_ALIGN_SHARE = MappingProxyType({16.0: 0.61, 32.0: 0.87, 64.0: 0.96})
STREAM_ALIGN_KINDS = ("gemm", "linear")


def stream_alignment_bytes(table: RecordTable) -> np.ndarray:
    """Bytes the SMs' requests carry beyond a matrix product's own for operands whose rows start
    off the 32-byte sector grid (STREAM_ALIGN_SHARE): gemm A [m, k] by k, B [k, n] and C [m, n]
    by n; linear x [m, k] and W [n, k] by k, y [m, n] by n. 0 for other kinds, for elements
    other than the 2-byte ones measured (bf16, fp16) and for rows not 16-byte aligned (the
    fallback kernels: misaligned_load_width)."""
    out = np.zeros(len(table))
    sel = np.isin(table.kind, STREAM_ALIGN_KINDS)
    if not sel.any():
        return out
    elt = _element_bytes(table)
    m, n, k, b = (_col(table, p, d) for p, d in (("m", 1.0), ("n", 1.0), ("k", 1.0),
                                                  ("batch", 1.0)))

    def extra(row_elems):
        a = row_alignment_bytes(row_elems * elt, 128.0)
        share = np.ones(len(table))
        for width, s in STREAM_ALIGN_SHARE.items():
            share = np.where(a == width, s, share)
        return 1.0 / share - 1.0
    gemm = table.kind == "gemm"
    by_k = b * m * k + np.where(gemm, 0.0, n * k)        # A, or x and the weight
    by_n = b * m * n + np.where(gemm, b * k * n, 0.0)    # C and y, and B
    over = (by_k * extra(k) + by_n * extra(n)) * elt
    return np.where(sel & (elt == 2.0) & ~misaligned_operands(table), over, 0.0)


def sm_side_bytes(table: RecordTable, nbytes: np.ndarray) -> np.ndarray:
    """Bytes the SMs load and store: the launch's, plus, for the BLOCK_PER_ROW_KINDS, the
    weight (gamma, beta) once more for every row after the first: each row's block reads it
    (from L2; DRAM serves it once, T_hbm), and, for a product whose operand rows start off the
    sector grid, the sectors their loads share (stream_alignment_bytes)."""
    nbytes = nbytes + stream_alignment_bytes(table)
    sel = np.isin(table.kind, BLOCK_PER_ROW_KINDS)
    if not sel.any():
        return nbytes
    rows = np.maximum(_col(table, "rows", 1.0), 1.0)
    return nbytes + np.where(sel, (rows - 1.0) * table.weight_bytes, 0.0)


def memory_roof_s(table: RecordTable, nbytes: np.ndarray, hw: HardwareSpec,
                  resident: np.ndarray | None = None) -> np.ndarray:
    """T_hbm at eta_m = 1: the launch's DRAM bytes (dram_bytes) over HBM's bandwidth; for a
    launch whose activations sit in L2 (`resident`, l2_resident), the slower of its weights
    (parameters still come from DRAM) over HBM's bandwidth and all its bytes over the L2's
    (hw.l2_bandwidth_bytes_per_s: every byte passes through the L2)."""
    dram = dram_bytes(table, nbytes)
    cold = dram / hw.mem_bandwidth_bytes_per_s
    if resident is None or not np.any(resident):
        return cold
    weights = np.minimum(table.weight_bytes, dram)
    warm = np.maximum(weights / hw.mem_bandwidth_bytes_per_s, dram / hw.l2_bandwidth_bytes_per_s)
    return np.where(resident, warm, cold)


def unit_terms(table: RecordTable, hw: HardwareSpec,
               resident: np.ndarray | None = None) -> UnitTerms:
    """The records' terms at unit kind parameters on hw; `resident`: records whose
    activations sit in L2 (their memory roof: memory_roof_s); None:
    every launch reads DRAM, as the calibration harness times it."""
    n_sm = float(hw.sm_count)
    tensor_peak, cuda_peak = _peaks(table, hw)
    flops_t = kernel_tensor_flops(table)
    on_cuda = conv_cuda_core_path(table)
    flops_c = table.flops_cuda + np.where(on_cuda, flops_t, 0.0)
    flops_t = np.where(on_cuda, 0.0, flops_t)
    grid = float(hw.grid_sms)             # the libraries size the grid for these SMs
    narrow = narrow_tile_cols(hw)
    tiles = library_blocks(table, grid, narrow)
    has_tiles = np.isfinite(tiles) & (flops_t > 0)
    tiles_safe = np.where(has_tiles, tiles, 1.0)
    persistent_kernel = persistent(table)
    n_waves = waves(tiles_safe, n_sm, grid, persistent_kernel, balanced(table, persistent_kernel))
    per_sm_t = tensor_peak / n_sm
    tensor = np.where(has_tiles, n_waves * (flops_t / tiles_safe / tile_fill(table)) / per_sm_t,
                      flops_t / tensor_peak)
    sustained = hw.tensor_sustained_flops()
    power = flops_t / sustained if sustained else np.zeros(len(table))
    nbytes = table.bytes_read + table.bytes_written
    blocks = ctas(table, n_sm, tiles)
    index_flops = index_ops_per_element(table) * _col(table, "numel", 0.0) * INT32_OP_FLOPS
    occupancy, latency_waves = row_blocks(table, hw)
    latency_waves = latency_waves * block_rounds(table, tiles, n_sm, grid, persistent_kernel)
    return UnitTerms(launch_s=hw.launch_overhead_s("cuda_graph"), latency_s=hw.mem_latency_s,
                     tensor_s=tensor, power_s=power,
                     cuda_s=np.maximum(flops_c / cuda_peak, chain_seconds(table, hw, resident)),
                     index_s=index_flops / hw.cuda_peak_flops("float32"),
                     hbm_s=memory_roof_s(table, nbytes, hw, resident),
                     nbytes=sm_side_bytes(table, nbytes),
                     active_sms=active_sms(tiles_safe, n_waves,
                                           has_tiles & (table.kind == "attention"), blocks, n_sm),
                     sm_bandwidth=hw.sm_mem_bandwidth_bytes_per_s,
                     misaligned=misaligned_operands(table),
                     load_width=misaligned_load_width(table),
                     occupancy=occupancy, latency_waves=latency_waves,
                     wave_latency_s=wave_latency_seconds(table, n_waves, has_tiles, hw),
                     empty_s=idle_block_seconds(table, hw),
                     layout_s=conv_layout_bytes(table) / (LAYOUT_EFFICIENCY *
                                                          streaming_bandwidth(hw)),
                     nodes_s=extra_kernels(table, grid, narrow) *
                     hw.launch_overhead_s("cuda_graph"),
                     return_share=row_latency(table, hw, resident))


def streaming_bandwidth(hw: HardwareSpec) -> float:
    """Bytes / s a kernel streaming over every SM can reach: HBM, or what the SMs keep in
    flight where that is less (Little's law: SMs x per-SM bandwidth)."""
    return min(hw.mem_bandwidth_bytes_per_s, float(hw.sm_count) * hw.sm_mem_bandwidth_bytes_per_s)


def _peaks(table: RecordTable, hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray]:
    uniq, inv = np.unique(table.dtype.astype(str), return_inverse=True) if len(table) else \
        (np.zeros(0, dtype=str), np.zeros(0, dtype=int))
    t = np.array([hw.tensor_peak_flops(d) for d in uniq])
    c = np.array([hw.cuda_peak_flops(d) for d in uniq])
    inv = inv.reshape(-1)
    return (t[inv], c[inv]) if len(table) else (np.zeros(0), np.zeros(0))


@dataclass(frozen=True, eq=False)
class _Roofs:
    """The five roofs of launch_seconds at given kind parameters, and their p-norm."""

    p: np.ndarray               # (n, len(PARAMS)): the kind parameters of each record
    terms: np.ndarray           # (5, n): tensor, CUDA-core, HBM, per-SM parallel, waves' seconds
    tensor_binds: np.ndarray    # the tensor efficiency's term binds (not the power limit)
    slow: np.ndarray            # the misaligned fallback's rate a (1 where aligned)
    x: np.ndarray               # terms / the largest of them
    total: np.ndarray           # sum of x ** sharpness
    norm: np.ndarray            # the smooth maximum: total ** (1 / sharpness) x the largest


def _roofs(u: UnitTerms, params: np.ndarray) -> _Roofs:
    p = np.broadcast_to(np.asarray(params, dtype=np.float64), (len(u), len(PARAMS)))
    phi, eta_t, eta_c, eta_m, eta_p, sharp, eta_u = p.T
    slow = np.where(u.misaligned, np.minimum(eta_u * u.load_width, 1.0), 1.0)
    tensor_raw = u.tensor_s / (eta_t * slow)
    terms = np.stack([np.maximum(tensor_raw, u.power_s), (u.cuda_s + u.index_s) / (eta_c * slow),
                      u.hbm_s / eta_m, u.parallel_s(eta_p * slow),
                      phi * u.wave_latency_s])
    big = terms.max(axis=0)
    x = terms / np.where(big > 0, big, 1.0)
    total = (x ** sharp).sum(axis=0)
    return _Roofs(p, terms, tensor_raw >= u.power_s, slow, x, total,
                  total ** (1.0 / sharp) * big)


def _seconds(u: UnitTerms, r: _Roofs) -> np.ndarray:
    """launch_seconds from its roofs: the floor, the round trips, the roofs' p-norm and the
    additive terms (idle blocks, a conv2d call's other kernels and their layout passes)."""
    phi = r.p[:, PARAM_INDEX["phi"]]
    return u.launch_s + phi * u.latency_s * u.latency_waves + r.norm + u.empty_s + \
        u.nodes_s + u.layout_s


def launch_seconds(u: UnitTerms, params: np.ndarray) -> np.ndarray:
    """Per-launch seconds; `params` is (n, len(PARAMS)) (one row per record) or (len(PARAMS),)."""
    return _seconds(u, _roofs(u, params))


def default_launch_seconds(table: RecordTable, hw: HardwareSpec,
                           resident: np.ndarray | None = None) -> np.ndarray:
    """Per-launch seconds of the physical model at PARAMS' defaults (KindParams()): what times,
    beside a calibration profile, a record of a kind or dtype no group of it ever measured
    (engine.simulate). The bare roofline (HBM x the spec's efficiency) has no per-SM
    bandwidth, no dependent round trip and no strided index work, so on few SMs it ran such
    records several times too fast where the physics, unfitted, lands near the measured
    profile's: the reference's prefill on 24 SMs of the H200, against the H200's fitted groups,
    cat 1.93 / 1.92 ms (roofline 0.16), the outer reductions 0.59 / 0.57 (0.35); session 41,
    the H100-only profile, which had then never timed cat, sort or the MoE routing kinds."""
    return launch_seconds(unit_terms(table, hw, resident), KindParams().as_array())


def launch_seconds_gradient(u: UnitTerms, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """launch_seconds and its exact derivatives: (t of shape (n,), dt / d parameter of shape
    (n, len(PARAMS))), `params` as launch_seconds takes them. Analytic, so that calibration's
    fit finds the point where the gradient vanishes to rounding, not to a finite difference's
    noise (roofsim.calibration.physfit: the same measurements give the same parameters on any
    BLAS or CPU). Where the power limit binds a tensor term, the tensor efficiency has no
    effect (derivative 0)."""
    r = _roofs(u, params)
    _, eta_t, eta_c, eta_m, eta_p, sharp, eta_u = r.p.T
    names = [q.name for q in PARAMS]
    norm, terms = r.norm, r.terms
    t = _seconds(u, r)
    # d norm / d term_j = (term_j / norm)^(p - 1); each term falls as 1 / its efficiency
    share = np.where(norm > 0, (terms / np.where(norm > 0, norm, 1.0)) ** (sharp - 1.0), 0.0)
    d_log = -share * terms                        # d norm / d log(efficiency of term j)
    tensor = np.where(r.tensor_binds, d_log[0], 0.0)
    grad = np.zeros((len(u), len(PARAMS)))
    # phi moves the additive round trips and T_waves (share of the norm x its unit term)
    grad[:, names.index("phi")] = u.latency_s * u.latency_waves + share[4] * u.wave_latency_s
    grad[:, names.index("eta_tensor")] = tensor / eta_t
    grad[:, names.index("eta_cuda")] = d_log[1] / eta_c
    grad[:, names.index("eta_memory")] = d_log[2] / eta_m
    capped = u.occupancy * eta_p * r.slow >= 1.0
    d_par = np.where(capped, 0.0, d_log[3])        # a capped per-SM rate has no share left
    grad[:, names.index("eta_parallel")] = d_par / eta_p
    grad[:, names.index("eta_unaligned")] = np.where(
        u.misaligned & (eta_u * u.load_width < 1.0), (tensor + d_log[1] + d_par) / eta_u, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = r.x
        xlogx = np.where(x > 0, x ** sharp * np.log(np.where(x > 0, x, 1.0)), 0.0).sum(axis=0)
        d_sharp = norm * (-np.log(r.total) / sharp ** 2 + xlogx / (sharp * r.total))
    grad[:, names.index("sharpness")] = np.where(norm > 0, d_sharp, 0.0)
    return t, grad


def peak_roof_s(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """Per-launch datasheet roof: the slowest of tensor FLOPs / peak, CUDA-core FLOPs / peak and
    bytes / HBM bandwidth (no launch floor, efficiency 1)."""
    tensor_peak, cuda_peak = _peaks(table, hw)
    nbytes = table.bytes_read + table.bytes_written
    roof = np.maximum.reduce([table.flops_tensor / tensor_peak, table.flops_cuda / cuda_peak,
                              nbytes / hw.mem_bandwidth_bytes_per_s])
    return np.maximum(roof, 1e-12)


# An L2-resident input never saves more than half a launch (measured: warm / cold >= 0.53 over
# the H200's short shapes, calibration/h200/warm/); also how far such a launch may go below the
# spec's cold launch floor (roofsim.engine).
MIN_WARM_SHARE = 0.5


# A launch whose weights are at most this share of what it reads still streams mostly what the
# kernels before it wrote: a norm's weight row (gamma, beta), which every row's block reads
# again from L2, or a small projection over many tokens. Chosen by physics, not fitted: the
# weights' DRAM bytes then cost at most an eighth of the launch's bytes at HBM's bandwidth, and
# memory_roof_s charges them there.
RESIDENT_WEIGHT_SHARE = 0.125
# A cat that appends to one input this large a share of its output is a cache update (the KV
# cache of transformers' DynamicCache: torch.cat of the cache and the step's new rows); the
# cache was written a step ago, and the step's weights have streamed through the L2 since.
CACHE_APPEND_SHARE = 0.9


def reads_cache(table: RecordTable) -> np.ndarray:
    """Records that read state a model wrote in earlier steps (its KV cache) rather than what
    the kernels just before wrote: attention over more keys than queries (the cached keys and
    values), and a cat appending to an input of at least CACHE_APPEND_SHARE of its output."""
    out = np.zeros(len(table), dtype=bool)
    att = table.kind == "attention"
    if att.any():
        out |= att & (_col(table, "seq_kv", 0.0) > _col(table, "seq_q", 0.0))
    cat = table.kind == "cat"
    if cat.any():
        numel = _col(table, "numel", 0.0)
        largest = _col(table, "largest", 0.0)
        out |= cat & (_col(table, "inputs", 0.0) >= 2) & \
            (largest >= CACHE_APPEND_SHARE * np.maximum(numel, 1.0))
    return out


def l2_resident(table: RecordTable, hw: HardwareSpec) -> np.ndarray:
    """Records whose inputs sit in L2 when a model runs them: the distinct bytes they read
    besides weights (dram_bytes: flash attention's re-reads of K and V counted once) are
    under half the L2 (what the kernels just before wrote, still cached), their weights
    (parameters come from DRAM) at most RESIDENT_WEIGHT_SHARE of it, and no cache of earlier
    steps read (reads_cache). Calibration times every launch cold; roofsim.calibration.warm
    says what such records save, memory_roof_s what their bytes cost."""
    written = table.bytes_written
    activations = dram_bytes(table, table.bytes_read + written) - written - table.weight_bytes
    return (table.weight_bytes <= RESIDENT_WEIGHT_SHARE * table.bytes_read) & \
        (activations <= 0.5 * hw.l2_cache_bytes) & ~reads_cache(table)
