"""Published measurements of GPUs we cannot run (calibration/published/, see its README).

Read-only access to the CSVs that benchmarks/extract_published.py wrote from public sources:
te42kyfo/gpu-benches (memory microbenchmarks: STREAM kernels vs occupancy, repeated small SCALE
kernels vs data size, shared-cache bandwidth vs data set, pointer-chase latency vs footprint)
and stas00/ml-engineering (MAMF: maximum achievable matmul FLOP/s). Everything is SI (bytes,
seconds, bytes/s, FLOP/s, Hz); every record carries the `source_id` of its row in sources.csv.

    from roofsim.calibration import published
    published.stream_curves()["h200"].plateau()       # B/s, scale kernel, best block size
    published.latency_curves()["a100_80"].median_latency(256 * 2**20)
    published.mamf("bfloat16")
    published.key_numbers()                           # the per-GPU figures a model needs

`python -m roofsim.calibration.published` prints the key numbers. Needs numpy only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..data import data_dir

MIB = 2**20
GIB = 2**30


def published_dir() -> Path:
    return data_dir("calibration") / "published"


# --------------------------------------------------------------------------- names -> specs

@dataclass(frozen=True)
class GpuInfo:
    name: str                  # the product, as far as the source states it
    spec_id: str | None        # roofsim hardware/<id>.yaml of the same product, if shipped
    note: str = ""


# gpu-benches names are its file stems. A spec is given only where it is the same product;
# `note` says how sure that is and what is nearest otherwise.
GPUS: dict[str, GpuInfo] = {
    "a100_40": GpuInfo("NVIDIA A100-SXM4-40GB", None,
                       "no spec (a100-sxm-80gb is the 80 GB part: same SMs and clocks, "
                       "HBM2 1555 vs HBM2e 2039 GB/s)"),
    "a100_80": GpuInfo("NVIDIA A100 80GB", "a100-sxm-80gb",
                       "form factor not stated upstream (108 SMs at 1410 MHz fit SXM4 and PCIe)"),
    "a40": GpuInfo("NVIDIA A40", None, "no spec"),
    "h100_pcie": GpuInfo("NVIDIA H100 PCIe", "h100-pcie", "114 SMs, as the spec"),
    "h200": GpuInfo("NVIDIA H200", "h200", "132 SMs; SXM or NVL not stated upstream"),
    "l40": GpuInfo("NVIDIA L40", None,
                   "no spec; nearest l40s (same AD102 chip, SM count and GDDR6 memory system, "
                   "different tensor rates)"),
    "v100": GpuInfo("NVIDIA V100", None, "no spec (80 SMs, measured clock 1380 MHz)"),
    "mi100": GpuInfo("AMD Instinct MI100", None, "no spec"),
    "mi210": GpuInfo("AMD Instinct MI210", None, "no spec"),
    "rx6900xt": GpuInfo("AMD Radeon RX 6900 XT", None, "no spec"),
}

# MAMF table accelerator names -> spec ids (None: no shipped spec of that product).
MAMF_SPECS: dict[str, str | None] = {
    "NVIDIA A100 SXM": "a100-sxm-80gb",   # memory size not stated; the bf16 peak is the same
    "NVIDIA H100 SXM": "h100-sxm",
    "NVIDIA H200 SXM": "h200",
    "NVIDIA B200 SXM": "b200",
}


def spec_id(name: str) -> str | None:
    """The roofsim hardware spec id of a published GPU name (gpu-benches stem or MAMF name)."""
    if name in GPUS:
        return GPUS[name].spec_id
    return MAMF_SPECS.get(name)


def without_spec() -> list[str]:
    """Published GPU names (both sources) that have no shipped hardware spec."""
    names = sorted({g for c in (stream_occupancy_curves(), latency_curves(), l2_curves(),
                                stream_curves()) for g in c})
    names += sorted({r.gpu for r in mamf()})
    return [n for n in dict.fromkeys(names) if spec_id(n) is None]


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class Source:
    source_id: str
    repo: str
    snapshot_commit: str
    path: str
    data_commit: str           # the upstream commit that last changed the file
    data_date: str
    license: str
    benchmark: str
    gpu: str
    mode: str
    note: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo}/blob/{self.snapshot_commit}/{self.path}"


@dataclass(frozen=True, eq=False)
class Curve:
    """Bandwidth (B/s) against bytes: bytes moved per kernel (small kernels) or distinct bytes
    read (shared-cache benchmark). Sorted by bytes."""
    gpu: str
    benchmark: str
    mode: str
    bytes: np.ndarray
    bandwidth: np.ndarray
    source_id: str

    @property
    def time_s(self) -> np.ndarray:
        return self.bytes / self.bandwidth

    def plateau(self, min_bytes: float = 256 * MIB) -> float:
        """Median bandwidth of the points at or above min_bytes (default: past every cache)."""
        sel = self.bandwidth[self.bytes >= min_bytes]
        return float(np.median(sel)) if sel.size else float("nan")

    def half_plateau_bytes(self, plateau: float | None = None) -> float:
        """Smallest size whose bandwidth reaches half the plateau."""
        p = self.plateau() if plateau is None else plateau
        hit = np.nonzero(self.bandwidth >= 0.5 * p)[0]
        return float(self.bytes[hit[0]]) if hit.size and np.isfinite(p) else float("nan")

    def launch_fit(self, max_bytes: float = 4 * MIB) -> tuple[float, float]:
        """Least squares of time = a + bytes / b over sizes up to max_bytes: (a s, b B/s)."""
        m = self.bytes <= max_bytes
        a, inv_b = np.linalg.lstsq(np.vstack([np.ones(m.sum()), self.bytes[m]]).T,
                                   self.time_s[m], rcond=None)[0]
        return float(a), float(1 / inv_b)

    def first_plateau(self, start_bytes: float = 4 * MIB, keep: float = 0.8) -> tuple[float, float]:
        """(median bandwidth, last size) of the run of points from start_bytes on that stay
        above keep x the running median: the shared-cache plateau before it spills."""
        idx = np.nonzero(self.bytes >= start_bytes)[0]
        run = []
        for i in idx:
            if run and self.bandwidth[i] < keep * np.median(self.bandwidth[run]):
                break
            run.append(i)
        return float(np.median(self.bandwidth[run])), float(self.bytes[run[-1]])


@dataclass(frozen=True, eq=False)
class OccupancyCurve:
    """gpu-stream: one kernel over 1 GiB-sized arrays, 2 blocks per SM, block size scanned."""
    gpu: str
    kernel: str
    block_size: np.ndarray
    resident_threads: np.ndarray     # 2 blocks x block size x SM count
    occupancy: np.ndarray            # resident threads / (max threads per SM x SMs)
    bandwidth: np.ndarray            # B/s, bytes counted = streams x array bytes
    bytes: int                       # counted per kernel
    sm_count: int
    source_id: str

    def max(self) -> float:
        return float(self.bandwidth.max())

    def threads_for(self, fraction: float) -> int:
        """Fewest resident threads at which bandwidth reaches fraction x its maximum."""
        return int(self.resident_threads[np.argmax(self.bandwidth >= fraction * self.max())])


@dataclass(frozen=True, eq=False)
class LatencyCurve:
    """gpu-latency: one dependent chain, footprint = buffer bytes (one 8 B pointer per 64 B)."""
    gpu: str
    footprint_bytes: np.ndarray
    latency_s: np.ndarray
    latency_cycles: np.ndarray
    clock_hz: float
    source_id: str

    def median_latency(self, lo: float, hi: float = float("inf")) -> float:
        sel = self.latency_s[(self.footprint_bytes >= lo) & (self.footprint_bytes <= hi)]
        return float(np.median(sel)) if sel.size else float("nan")


@dataclass(frozen=True)
class MamfRow:
    gpu: str                  # accelerator as the table names it
    dtype: str                # torch dtype name
    tflops: float             # best mean over the shapes tried (1e12 FLOP/s)
    peak_tflops: float        # datasheet dense peak the table compares with
    shape: tuple[int, int, int]   # M, N, K of the best shape (A MxK, B KxN)
    torch_version: str
    notes: str
    source_id: str

    @property
    def flops(self) -> float:
        return self.tflops * 1e12

    @property
    def efficiency(self) -> float:
        return self.tflops / self.peak_tflops

    @property
    def spec_id(self) -> str | None:
        return spec_id(self.gpu)


# --------------------------------------------------------------------------- readers

@lru_cache(maxsize=None)
def _rows(rel: str) -> tuple[dict, ...]:
    """The rows of a data file, read from its gzip-compressed copy <rel>.gz where that is what
    is stored (gpu-benches/small_kernels.csv: 1.6 MB as text, kept small so that the
    repository travels to the GPU machine)."""
    from ..io import read_text, stored_file
    path = stored_file(published_dir() / rel)
    return tuple(csv.DictReader(io.StringIO(read_text(path, expected="a published data CSV"),
                                            newline="")))


@lru_cache(maxsize=None)
def sources() -> dict[str, Source]:
    return {r["source_id"]: Source(**r) for r in _rows("sources.csv")}


def _group(rows, *keys):
    out: dict = {}
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def stream_occupancy_curves(kernel: str = "scale") -> dict[str, OccupancyCurve]:
    """gpu-stream bandwidth against parallelism, per GPU, for one kernel (init, read, scale,
    triad, stencil3pt, stencil5pt)."""
    out = {}
    for (gpu,), rows in _group([r for r in _rows("gpu-benches/stream.csv")
                                if r["kernel"] == kernel], "gpu").items():
        rows.sort(key=lambda r: int(r["block_size"]))
        bs = np.array([int(r["block_size"]) for r in rows])
        sm = int(rows[0]["sm_count"])
        out[gpu] = OccupancyCurve(
            gpu, kernel, bs, bs * int(rows[0]["blocks_per_sm"]) * sm,
            np.array([float(r["occupancy"]) for r in rows]),
            np.array([float(r["bandwidth_Bps"]) for r in rows]),
            int(rows[0]["bytes"]), sm, rows[0]["source_id"])
    return out


def _curve(rows, gpu, benchmark, mode, size_key, block_size=None) -> Curve:
    best: dict[int, float] = {}
    for r in rows:
        if block_size is not None and int(r["block_size"]) != block_size:
            continue
        b, bw = int(r[size_key]), float(r["bandwidth_Bps"])
        best[b] = max(best.get(b, 0.0), bw)
    x = np.array(sorted(best), dtype=float)
    return Curve(gpu, benchmark, mode, x, np.array([best[int(b)] for b in x]),
                 rows[0]["source_id"])


def stream_curves(mode: str = "stream", block_size: int | None = None) -> dict[str, Curve]:
    """gpu-small-kernels: SCALE kernel bandwidth against bytes moved per kernel (read + write),
    kernels repeated back to back. mode: stream (plain launches), graph, pt_atomic, pt_gsync.
    block_size None: the best block size at each size."""
    rows = [r for r in _rows("gpu-benches/small_kernels.csv") if r["mode"] == mode]
    out = {}
    for (gpu,), g in _group(rows, "gpu").items():
        c = _curve(g, gpu, "gpu-small-kernels", mode, "bytes", block_size)
        if c.bytes.size:
            out[gpu] = c
    return out


def l2_curves() -> dict[str, Curve]:
    """gpu-l2-cache: read bandwidth against the data set (distinct bytes), per GPU."""
    return {gpu: _curve(g, gpu, "gpu-l2-cache", "", "data_set_bytes")
            for (gpu,), g in _group(_rows("gpu-benches/l2_cache.csv"), "gpu").items()}


def latency_curves() -> dict[str, LatencyCurve]:
    """gpu-latency: pointer-chase latency against buffer footprint, per GPU."""
    out = {}
    for (gpu,), rows in _group(_rows("gpu-benches/latency.csv"), "gpu").items():
        rows.sort(key=lambda r: int(r["footprint_bytes"]))
        out[gpu] = LatencyCurve(
            gpu, np.array([float(r["footprint_bytes"]) for r in rows]),
            np.array([float(r["latency_s"]) for r in rows]),
            np.array([float(r["latency_cycles"]) for r in rows]),
            float(np.median([float(r["clock_hz"]) for r in rows])), rows[0]["source_id"])
    return out


def mamf(dtype: str | None = None) -> list[MamfRow]:
    """The MAMF table rows (bfloat16, float8_e4m3fn), optionally of one dtype."""
    return [MamfRow(r["accelerator"], r["dtype"], float(r["mamf_flops"]) / 1e12,
                    float(r["peak_flops"]) / 1e12, (int(r["m"]), int(r["n"]), int(r["k"])),
                    r["torch_version"], r["notes"], r["source_id"])
            for r in _rows("ml-engineering/mamf.csv") if dtype in (None, r["dtype"])]


# --------------------------------------------------------------------------- key numbers

@dataclass(frozen=True)
class KeyNumbers:
    """Per GPU, NaN where the source has no data. Definitions (all computed from the CSVs):
    dram_latency_s   median chase latency, footprints >= 256 MiB (past every cache)
    l2_latency_s     median chase latency, footprints 1..4 MiB (past L1, inside every L2)
    stream_*_Bps     gpu-stream maximum over occupancy (read: 1 load; scale: load+store;
                     triad: 2 loads+store); counted bytes, no write-allocate
    scale_threads_50/90     fewest resident threads (2 blocks/SM) giving 50 / 90% of the
                     scale maximum: the parallelism DRAM bandwidth needs
    dram_read_Bps    gpu-l2-cache median for data sets >= 1 GiB (read-only)
    l2_Bps, l2_edge_bytes   gpu-l2-cache first plateau from 4 MiB (Curve.first_plateau); the
                     edge is the last data set on it, not the cache capacity
    size_plateau_Bps gpu-small-kernels SCALE, plain launches, best block size, sizes >= 256 MiB
    half_plateau_bytes      smallest bytes (read + write per kernel) reaching half of that
    launch_stream_s / launch_graph_s   per-kernel time of the smallest SCALE (64 KiB moved),
                     back-to-back launches / inside a graph
    launch_fit_*     (a, b) of time = a + bytes / b over sizes <= 4 MiB
    """
    gpu: str
    spec_id: str | None
    dram_latency_s: float = float("nan")
    l2_latency_s: float = float("nan")
    stream_read_Bps: float = float("nan")
    stream_scale_Bps: float = float("nan")
    stream_triad_Bps: float = float("nan")
    scale_threads_50: float = float("nan")
    scale_threads_90: float = float("nan")
    dram_read_Bps: float = float("nan")
    l2_Bps: float = float("nan")
    l2_edge_bytes: float = float("nan")
    size_plateau_Bps: float = float("nan")
    half_plateau_bytes: float = float("nan")
    launch_stream_s: float = float("nan")
    launch_graph_s: float = float("nan")
    launch_fit_stream: tuple[float, float] = (float("nan"), float("nan"))
    launch_fit_graph: tuple[float, float] = (float("nan"), float("nan"))
    sources: tuple[str, ...] = field(default=())


def key_numbers() -> dict[str, KeyNumbers]:
    lat, l2 = latency_curves(), l2_curves()
    occ = {k: stream_occupancy_curves(k) for k in ("read", "scale", "triad")}
    small = {m: stream_curves(m) for m in ("stream", "graph")}
    gpus = sorted(set(lat) | set(l2) | set(occ["scale"]) | set(small["stream"])
                  | set(small["graph"]))
    out = {}
    for g in gpus:
        k: dict = {"gpu": g, "spec_id": spec_id(g)}
        used = []
        if g in lat:
            k["dram_latency_s"] = lat[g].median_latency(256 * MIB)
            k["l2_latency_s"] = lat[g].median_latency(1 * MIB, 4 * MIB)
            used.append(lat[g].source_id)
        for name, curves in occ.items():
            if g in curves:
                k[f"stream_{name}_Bps"] = curves[g].max()
                if name == "scale":
                    k["scale_threads_50"] = curves[g].threads_for(0.5)
                    k["scale_threads_90"] = curves[g].threads_for(0.9)
        if g in occ["scale"]:
            used.append(occ["scale"][g].source_id)
        if g in l2:
            k["dram_read_Bps"] = l2[g].plateau(GIB)
            k["l2_Bps"], k["l2_edge_bytes"] = l2[g].first_plateau()
            used.append(l2[g].source_id)
        for mode, curves in small.items():
            if g not in curves:
                continue
            c = curves[g]
            k[f"launch_{mode}_s"] = float(c.time_s[0])
            k[f"launch_fit_{mode}"] = c.launch_fit()
            if mode == "stream":
                k["size_plateau_Bps"] = c.plateau()
                k["half_plateau_bytes"] = c.half_plateau_bytes()
            used.append(c.source_id)
        out[g] = KeyNumbers(**k, sources=tuple(used))
    return out


def _table() -> str:
    def f(x, scale, nd=0):
        return "-" if not np.isfinite(x) else f"{x * scale:.{nd}f}"
    lines = ["gpu        spec           DRAMlat L2lat  read  scale triad  thr50  thr90 DRAMrd"
             "   L2bw  L2edge  plat  half   launch graph",
             "                               ns    ns  TB/s  TB/s  TB/s threads threads  TB/s"
             "   TB/s    MiB   TB/s   MiB      us    us"]
    for g, k in key_numbers().items():
        lines.append(
            f"{g:10s} {k.spec_id or '-':14s} {f(k.dram_latency_s, 1e9):>6s} "
            f"{f(k.l2_latency_s, 1e9):>5s} {f(k.stream_read_Bps, 1e-12, 2):>5s} "
            f"{f(k.stream_scale_Bps, 1e-12, 2):>5s} {f(k.stream_triad_Bps, 1e-12, 2):>5s} "
            f"{f(k.scale_threads_50, 1):>6s} {f(k.scale_threads_90, 1):>6s} "
            f"{f(k.dram_read_Bps, 1e-12, 2):>6s} {f(k.l2_Bps, 1e-12, 2):>6s} "
            f"{f(k.l2_edge_bytes, 1 / MIB):>6s} {f(k.size_plateau_Bps, 1e-12, 2):>5s} "
            f"{f(k.half_plateau_bytes, 1 / MIB, 1):>5s} {f(k.launch_stream_s, 1e6, 2):>7s} "
            f"{f(k.launch_graph_s, 1e6, 2):>5s}")
    lines.append("")
    lines.append("MAMF: accelerator, dtype, TFLOP/s, peak, efficiency, MxNxK, spec")
    for r in mamf():
        lines.append(f"  {r.gpu:18s} {r.dtype:13s} {r.tflops:7.1f} {r.peak_tflops:6.0f} "
                     f"{r.efficiency:6.1%}  {'x'.join(map(str, r.shape)):17s} {r.spec_id or '-'}")
    lines.append("")
    lines.append("no shipped spec: " + ", ".join(without_spec()))
    return "\n".join(lines)


if __name__ == "__main__":
    print(_table())
