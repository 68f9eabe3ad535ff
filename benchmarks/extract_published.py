"""Regenerate calibration/published/ from fetched snapshots of the public sources.

Reads the raw result files straight out of the snapshot's git objects (no work tree needed) and
writes one CSV row per measured point, in SI units (bytes, seconds, bytes/s, FLOP/s, Hz), plus
calibration/published/sources.csv: one row per upstream file, with repository, snapshot commit,
path, the commit that last changed the file, and the upstream licence. Every data row names its
source by `source_id`. Nothing upstream is copied except the numbers.

    python benchmarks/extract_published.py --gpu-benches /path/te42kyfo+gpu-benches/repo \\
        --ml-engineering /path/stas00+ml-engineering/repo [--out calibration/published]

Either snapshot may be left out; then only the other one's files (and its sources rows) are
rewritten. The meaning of every column is in calibration/published/README.md; the parsing rules
(which upstream code version produced which file, and what each printed number counts) are
written beside each parser below.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "calibration" / "published"

GB = 1e9          # upstream GB/s are decimal (printed as bytes / s * 1e-9)
KIB = 1024        # upstream "kB" are binary (printed as bytes / 1024)

SOURCE_FIELDS = ["source_id", "repo", "snapshot_commit", "path", "data_commit", "data_date",
                 "license", "benchmark", "gpu", "mode", "note"]


# ----------------------------------------------------------------------------- git access

class Snapshot:
    def __init__(self, git_dir: str | Path, repo: str):
        self.git_dir = str(git_dir)
        self.repo = repo
        self.commit = self._git("rev-parse", "HEAD").strip()
        self.license = self._license()

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", "--git-dir", self.git_dir, *args], check=True,
                              capture_output=True, text=True).stdout

    def files(self, folder: str) -> list[str]:
        out = self._git("ls-tree", "-r", "--name-only", "HEAD", "--", folder)
        return [p for p in out.splitlines() if p]

    def show(self, path: str) -> str:
        return self._git("show", f"HEAD:{path}")

    def last_change(self, path: str) -> tuple[str, str]:
        """The commit (and its date) that last changed `path`: when the data was put there."""
        out = self._git("log", "-1", "--format=%H %ad", "--date=short", "HEAD", "--", path)
        sha, date = out.split()
        return sha, date

    def _license(self) -> str:
        names = [p for p in self._git("ls-tree", "--name-only", "HEAD").splitlines()
                 if p.upper().startswith("LICENSE")]
        text = " ".join(self.show(n)[:400] for n in names)
        text = " ".join(text.split())
        if "GNU GENERAL PUBLIC LICENSE Version 3" in text:
            return "GPL-3.0"
        if "Attribution-ShareAlike 4.0 International" in text:
            return "CC-BY-SA-4.0"
        return "unknown (" + ", ".join(names) + ")"

    def source(self, source_id: str, path: str, benchmark: str, gpu: str, mode: str = "",
               note: str = "") -> dict:
        sha, date = self.last_change(path)
        return dict(source_id=source_id, repo=self.repo, snapshot_commit=self.commit, path=path,
                    data_commit=sha, data_date=date, license=self.license, benchmark=benchmark,
                    gpu=gpu, mode=mode, note=note)


def _gpu(stem: str) -> str:
    """Upstream file stems are the GPU names (a100_80, h100_pcie, RX6900XT); lower-cased."""
    return stem.lower()


def _fmt(x: float) -> str:
    """Enough digits to round-trip what upstream printed (at most 5-6 significant)."""
    return f"{x:.7g}"


# ----------------------------------------------------------------------------- gpu-benches

# gpu-stream (main.cu): per kernel, arrays of N = 128 Mi + 2 doubles; the printed GB/s is
# streams * N * 8 bytes / median kernel time * 1e-9, counting each array once per kernel
# (write-allocate traffic not counted). Two launches back to back, averaged, median of 9.
# Shared memory (a never-used 'spoiler' array plus the carveout) holds residency at exactly
# 2 blocks per SM; the block size is scanned 32..1024, so occupancy goes 2*bs/maxThreadsPerSM.
# The 'threads' column upstream is SM count * block size (one block per SM), so SM count is
# threads / block size. Two older files (a100_40, mi210) label the last two columns
# "1pt 3pt"; the binary that wrote them ran the 3-point and 5-point stencils in that order
# (main.cu at 3f57da7 and cdcc732), so they are stored as stencil3pt / stencil5pt.
STREAM_N = 128 * 1024 * 1024 + 2
STREAM_KERNELS = [("init", 1), ("read", 1), ("scale", 2), ("triad", 3), ("stencil3pt", 2),
                  ("stencil5pt", 2)]


def extract_stream(snap: Snapshot, sources: list, out_rows: list) -> None:
    for path in snap.files("gpu-stream"):
        if not path.endswith(".txt"):
            continue
        gpu = _gpu(Path(path).stem)
        sid = f"stream/{gpu}"
        text = snap.show(path)
        header = text.splitlines()[0]
        note = ("last two columns labelled '1pt 3pt' upstream; stored as stencil3pt/stencil5pt"
                if "1pt" in header else "")
        sources.append(snap.source(sid, path, "gpu-stream", gpu, "2 blocks/SM", note))
        for line in text.splitlines()[1:]:
            m = re.match(r"\s*(\d+)\s+(\d+)\s+([\d.]+)\s*%\s*\|\s*GB/s:\s*(.*)$", line)
            if not m:
                continue
            bs, threads, occ = int(m[1]), int(m[2]), float(m[3])
            values = m[4].split()
            for (kernel, streams), v in zip(STREAM_KERNELS, values):
                nbytes = streams * STREAM_N * 8
                out_rows.append(dict(
                    source_id=sid, gpu=gpu, benchmark="gpu-stream", kernel=kernel,
                    block_size=bs, blocks_per_sm=2, sm_count=threads // bs,
                    occupancy=_fmt(occ / 100), array_elements=STREAM_N, bytes=nbytes,
                    bandwidth_Bps=_fmt(float(v) * GB)))


# gpu-l2-cache (main.cu): 200,000 blocks of 1024 threads; each block reads `block_bytes`
# (N * 1024 elements) from a window of the buffer picked by blockIdx % blockRun, so the data set
# (distinct bytes read) is block_bytes * blockRun; read-only, no stores of consequence. GB/s =
# block_bytes * 200000 / min time of the runs. The columns are printed in kB (1024 B). The
# hardware-counter columns after the bandwidth were disabled upstream (all 0) and are dropped.
# The element type / per-block volume differs between the files (512 kB blocks for the double
# builds, 384 kB for mi100's float4 build); the file states it, so it is read, not assumed.
def extract_l2(snap: Snapshot, sources: list, out_rows: list) -> None:
    pat = re.compile(r"\s*(\d+) kB\s+(\d+) kB\s+(\d+)ms\s+([\d.]+)%\s+([\d.]+) GB/s")
    for path in snap.files("gpu-l2-cache"):
        if not path.endswith(".txt"):
            continue
        gpu = _gpu(Path(path).stem)
        sid = f"l2/{gpu}"
        sources.append(snap.source(sid, path, "gpu-l2-cache", gpu, "read-only, 1024-thread blocks"))
        for line in snap.show(path).splitlines():
            m = pat.match(line)
            if not m:
                continue
            out_rows.append(dict(
                source_id=sid, gpu=gpu, benchmark="gpu-l2-cache",
                block_bytes=int(m[1]) * KIB, data_set_bytes=int(m[2]) * KIB,
                time_s=_fmt(int(m[3]) * 1e-3), spread=_fmt(float(m[4]) / 100),
                bandwidth_Bps=_fmt(float(m[5]) * GB)))


# gpu-latency (main.cu): one block of 64 threads follows a single random pointer cycle (all
# threads the same chain), one 8-byte pointer per 64 bytes (skip factor 8), every pointer hit
# once per round. Columns: chase steps, SM clock in MHz (measured by the program; the first
# line lists the clock samples), buffer footprint in kB (1024 B, integer-truncated), min time
# of 7 runs in ms, cycles per step = time / steps * clock. latency_s = cycles / clock (the
# more precise of the two printed numbers); time_s is the printed run time.
def extract_latency(snap: Snapshot, sources: list, out_rows: list) -> None:
    pat = re.compile(r"\s*(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s*$")
    for path in snap.files("gpu-latency"):
        if not path.endswith(".txt"):
            continue
        gpu = _gpu(Path(path).stem)
        sid = f"latency/{gpu}"
        sources.append(snap.source(sid, path, "gpu-latency", gpu, "1 block x 64 threads, one chain"))
        for line in snap.show(path).splitlines():
            m = pat.match(line)
            if not m:
                continue
            steps, mhz, kb, ms, cyc = int(m[1]), int(m[2]), int(m[3]), float(m[4]), float(m[5])
            out_rows.append(dict(
                source_id=sid, gpu=gpu, benchmark="gpu-latency", chase_steps=steps,
                clock_hz=_fmt(mhz * 1e6), footprint_bytes=kb * KIB, time_s=_fmt(ms * 1e-3),
                latency_cycles=_fmt(cyc), latency_s=_fmt(cyc / (mhz * 1e6))))


# gpu-small-kernels (main.cu): a SCALE kernel A[i] = B[i] * 0.25 on `elements` doubles, the
# bytes counted are 2 * 8 * elements (one read, one write stream); GB/s = bytes / per-kernel
# time. The per-kernel time is total / iterations of (file suffix -> mode):
#   ''       'stream'    back-to-back launches on the default stream (A->B, B->A alternating)
#   _graph   'graph'     the same launches captured in one CUDA/HIP graph
#   _pt      'pt_atomic' one persistent kernel, iterations separated by an atomic-flag barrier
#   _gsync   'pt_gsync'  one cooperative kernel, iterations separated by grid.sync()
# Each printed column is one block size. The block sizes follow from the code version that wrote
# the file: 6 columns = 32..1024 (main.cu from 80b7719 on), 7 columns = 16..1024 (main.cu at
# 11f5daa/5bc3dc6, when the mi210 files were written). The two a100_80 files (written with
# 11f5daa) have 9 columns and a size column in MB labelled kB, so they came from an unpublished
# variant; 9 columns are taken as 4..1024 (the 2-D predecessor scanned from 4), which the data
# support (bandwidth doubles per column up to 64-128 threads, and at 32 threads equals the
# H200's 32-thread figure scaled by SM count 108/132); sources.csv notes it on those files.
# The CSV stores bytes = 16 * elements only (elements = bytes / 16), to stay small.
# A last token without a following separator (a run cut off mid-line) is dropped.
SMALL_MODES = {"": "stream", "graph": "graph", "pt": "pt_atomic", "gsync": "pt_gsync"}
SMALL_BLOCKS = {6: ([32, 64, 128, 256, 512, 1024], 0),
                7: ([16, 32, 64, 128, 256, 512, 1024], 0),
                9: ([4, 8, 16, 32, 64, 128, 256, 512, 1024], 1)}


def extract_small_kernels(snap: Snapshot, sources: list, out_rows: list) -> None:
    for path in snap.files("gpu-small-kernels"):
        if not path.endswith(".txt"):
            continue
        stem = Path(path).stem
        base, _, suffix = stem.partition("_")
        if base == "a100":                     # a100_80[_graph|_gsync]
            rest = stem[len("a100_80"):].lstrip("_")
            base, suffix = "a100_80", rest
        gpu, mode = _gpu(base), SMALL_MODES[suffix]
        sid = f"small/{gpu}/{mode}"
        text = snap.show(path)
        lines = text.splitlines()
        ncols = max(len(l.split()) - 2 for l in lines if l.strip())
        blocks, inferred = SMALL_BLOCKS[ncols]
        note = ("block sizes 4..1024 inferred from the column count (9), see README"
                if inferred else "")
        sources.append(snap.source(sid, path, "gpu-small-kernels", gpu, mode, note))
        for i, line in enumerate(lines):
            tok = line.split()
            if len(tok) < 3:
                continue
            values = tok[2:]
            if i == len(lines) - 1 and not text.endswith((" ", "\n", "\t")):
                values = values[:-1]
            elements = int(tok[0])
            for bs, v in zip(blocks, values):
                out_rows.append(dict(
                    source_id=sid, gpu=gpu, benchmark="gpu-small-kernels", mode=mode,
                    bytes=2 * 8 * elements, block_size=bs, bandwidth_Bps=_fmt(float(v) * GB)))


# ----------------------------------------------------------------------------- ml-engineering

# compute/accelerator/README.md, "Maximum Achievable Matmul FLOPS comparison table": one markdown
# table per input dtype (BF16, then FP8 float8_e4m3fn). MAMF = best mean TFLOP/s (2*M*N*K per
# torch.mm / torch._scaled_mm, mean of 100 timed iterations after 50 warmups, L2 flushed before
# each) over the shapes the finder tried; Theory = the datasheet dense peak. 1 TFLOP/s = 1e12.
# Rows with an empty MAMF cell (no measurement yet) are skipped.
MAMF_PATH = "compute/accelerator/README.md"
MAMF_TABLES = {"**BF16**": "bfloat16", "**FP8 (`float8_e4m3fn`)**": "float8_e4m3fn"}


def extract_mamf(snap: Snapshot, sources: list, out_rows: list) -> None:
    text = snap.show(MAMF_PATH)
    start = text.index("#### Maximum Achievable Matmul FLOPS comparison table")
    end = text.find("\n#", start + 10)
    section = text[start:end if end > 0 else None]
    sid = "mamf"
    sources.append(snap.source(sid, MAMF_PATH, "mamf-finder", "", "",
                               "MAMF comparison table (BF16 and FP8 tables)"))
    dtype = None
    for line in section.splitlines():
        s = line.strip()
        for marker, dt in MAMF_TABLES.items():
            if s.startswith(marker):
                dtype = dt
        if dtype is None or not s.startswith("|"):
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if len(cells) < 7 or cells[0] in ("Accelerator", "") or set(cells[0]) <= set(":- "):
            continue
        name, mamf_t, theory_t, _eff, shape, torch_v, notes = cells[:7]
        if not mamf_t:
            continue
        m, n, k = (int(x) for x in shape.split("x"))
        out_rows.append(dict(
            source_id=sid, accelerator=name, benchmark="mamf-finder", dtype=dtype,
            mamf_flops=_fmt(float(mamf_t) * 1e12), peak_flops=_fmt(float(theory_t) * 1e12),
            m=m, n=n, k=k, torch_version=torch_v, notes=notes))


# ----------------------------------------------------------------------------- writing

# Written gzip-compressed (deterministic: no name or time in the header), as the reader takes
# them (roofsim.calibration.published): the largest file, kept small for the device tool.
GZIPPED = ("small_kernels",)


def _write(path: Path, rows: list[dict]) -> None:
    """rows as CSV at path, gzip-compressed where the name ends in .gz (GZIPPED)."""
    import io

    from roofsim.io import gzip_bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    data = buf.getvalue().encode()
    path.write_bytes(gzip_bytes(data) if path.suffix == ".gz" else data)
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {len(rows)} rows")


def _merge_sources(path: Path, new: list[dict], repo: str) -> list[dict]:
    """Keep the other repository's rows of an existing sources.csv; replace this one's."""
    old = []
    if path.is_file():
        with path.open() as f:
            old = [r for r in csv.DictReader(f) if r["repo"] != repo]
    return sorted(old + new, key=lambda r: r["source_id"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpu-benches", type=Path, help="git dir of a te42kyfo/gpu-benches snapshot")
    ap.add_argument("--ml-engineering", type=Path,
                    help="git dir of a stas00/ml-engineering snapshot")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not (args.gpu_benches or args.ml_engineering):
        ap.error("give --gpu-benches and/or --ml-engineering")
    src_path = args.out / "sources.csv"
    if args.gpu_benches:
        snap = Snapshot(args.gpu_benches, "te42kyfo/gpu-benches")
        sources: list[dict] = []
        for name, fn in [("stream", extract_stream), ("l2_cache", extract_l2),
                         ("latency", extract_latency), ("small_kernels", extract_small_kernels)]:
            rows: list[dict] = []
            fn(snap, sources, rows)
            _write(args.out / "gpu-benches" / f"{name}.csv{'.gz' if name in GZIPPED else ''}",
                   rows)
        _write(src_path, _merge_sources(src_path, sources, snap.repo))
    if args.ml_engineering:
        snap = Snapshot(args.ml_engineering, "stas00/ml-engineering")
        sources, rows = [], []
        extract_mamf(snap, sources, rows)
        _write(args.out / "ml-engineering" / "mamf.csv", rows)
        _write(src_path, _merge_sources(src_path, sources, snap.repo))
    return 0


if __name__ == "__main__":
    sys.exit(main())
