"""Views, crops and image tokens of DeepSeek-OCR.

Modes: tiny / small / base / large are one view of the size in the config (512 / 640 / 1024 /
1280 px); gundam is one global view (1024) plus a grid of crops (640 each). A view of s pixels
gives q = s / 16 / 4 tokens per side after SAM and the 16x compressor; the decoder sees q rows of
q + 1 tokens (one `image_newline` per row). Gundam's local block is 10 R rows of 10 C + 1 tokens
for an R x C grid (rows x columns). One `view_seperator` closes the image. So
    single view:  q (q + 1) + 1            (tiny 73, small 111, base 273, large 421)
    gundam:       273 + 10 R (10 C + 1)    (1x2 -> 483, 2x2 -> 693, 10x10 -> 10373)
A 1x1 grid means no crops (the real preprocessor sends only the global view).

The crop chooser follows `dynamic_preprocess` of the public code: among grids of i columns and j
rows with min_crops <= i j <= max_crops, the one whose i / j is closest to the image's W / H;
on a tie, the larger grid when W H > 0.5 * 640^2 * i j. Images no larger than 640 x 640 get
only the global view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import UserError
from .config import DeepseekOCRConfig

GUNDAM = "gundam"
SINGLE_VIEW_MODES = ("tiny", "small", "base", "large")
MODES = SINGLE_VIEW_MODES + (GUNDAM,)


def parse_grid(text: str) -> tuple[int, int]:
    """'RxC' (rows x columns) -> (R, C); both at least 1."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if not m:
        raise UserError(f"grid {text!r}: expected ROWSxCOLS, e.g. 2x3")
    rows, cols = int(m.group(1)), int(m.group(2))
    if rows < 1 or cols < 1:
        raise UserError(f"grid {text!r}: rows and columns must be at least 1")
    return rows, cols


def parse_image_size(text: str) -> tuple[int, int]:
    """'WxH' in pixels -> (width, height)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise UserError(f"image size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 2480x3508")
    return int(m.group(1)), int(m.group(2))


def _non_negative_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(f"{name}: expected an integer >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class Request:
    """One OCR request (B identical ones when batch > 1): a crop grid for gundam mode
    (None or 1x1: global view only), the prompt's text tokens and the decode steps."""

    grid: tuple[int, int] | None = None
    mode: str = GUNDAM
    prompt_tokens: int = 10
    decode_tokens: int = 100
    batch: int = 1

    def __post_init__(self):
        mode = str(self.mode).lower()
        if mode not in MODES:
            raise UserError(f"mode {self.mode!r}: expected one of {', '.join(MODES)}")
        object.__setattr__(self, "mode", mode)
        if self.grid is not None:
            grid = parse_grid(self.grid) if isinstance(self.grid, str) else tuple(self.grid)
            if len(grid) != 2 or not all(isinstance(g, int) and not isinstance(g, bool) and g >= 1
                                         for g in grid):
                raise UserError(f"grid {self.grid!r}: expected (rows, cols), both at least 1")
            if mode != GUNDAM and grid != (1, 1):
                raise UserError(f"grid {grid[0]}x{grid[1]}: crops exist only in gundam mode")
            object.__setattr__(self, "grid", grid)
        _non_negative_int("prompt tokens", self.prompt_tokens)
        _non_negative_int("decode tokens", self.decode_tokens)
        if _non_negative_int("batch", self.batch) < 1:
            raise UserError("batch: expected an integer >= 1, got 0")

    @property
    def crops(self) -> tuple[int, int]:
        """(rows, cols) of crops actually sent; (0, 0) when only the global view is."""
        if self.mode != GUNDAM or self.grid is None or self.grid == (1, 1):
            return (0, 0)
        return self.grid


def view_side_tokens(cfg: DeepseekOCRConfig, size: int) -> int:
    """Tokens per side of one view after SAM and the compressor."""
    return size // cfg.views.patch_size // cfg.views.downsample


def image_tokens(cfg: DeepseekOCRConfig, mode: str = GUNDAM,
                 grid: tuple[int, int] | None = None) -> int:
    """Image tokens the decoder sees for one image (newlines and the separator included)."""
    return views(cfg, Request(grid=grid, mode=mode)).image_tokens


def choose_grid(width: int, height: int, min_crops: int = 2, max_crops: int = 9,
                crop_size: int = 640) -> tuple[int, int]:
    """The (rows, cols) crop grid the real preprocessor picks for a W x H image; (1, 1) when
    the image is no larger than one crop (global view only)."""
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"image {name}: expected a positive integer, got {v!r}")
    if min_crops < 1 or max_crops < min_crops:
        raise UserError(f"crop limits: expected 1 <= min ({min_crops}) <= max ({max_crops})")
    if width <= crop_size and height <= crop_size:
        return (1, 1)
    aspect = width / height
    area = width * height
    # Candidate (cols, rows), smaller grids first; equal area + equal aspect means equal grid,
    # so the order within one area does not change the choice.
    candidates = sorted({(i, j) for i in range(1, max_crops + 1) for j in range(1, max_crops + 1)
                         if min_crops <= i * j <= max_crops}, key=lambda ij: (ij[0] * ij[1], ij))
    best, best_diff = (1, 1), float("inf")
    for i, j in candidates:
        diff = abs(aspect - i / j)
        if diff < best_diff:
            best, best_diff = (i, j), diff
        elif diff == best_diff and area > 0.5 * crop_size * crop_size * i * j:
            best = (i, j)
    cols, rows = best
    return rows, cols


@dataclass(frozen=True)
class Views:
    """What the vision encoder runs for one request: one global view and n crops."""

    mode: str
    global_size: int            # pixels per side of the global (or only) view
    crop_size: int              # pixels per side of a crop (0 when none)
    grid: tuple[int, int]       # (rows, cols) of crops; (0, 0) when none
    global_side_tokens: int     # q of the global view
    crop_side_tokens: int       # q of a crop
    image_tokens: int

    @property
    def num_crops(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def global_tokens(self) -> int:
        """Tokens of the global view before newlines: q^2 (CLIP's sequence minus CLS)."""
        return self.global_side_tokens ** 2

    @property
    def crop_tokens(self) -> int:
        return self.crop_side_tokens ** 2

    def as_dict(self) -> dict:
        return {"mode": self.mode, "global_view": self.global_size,
                "crop_view": self.crop_size or None, "grid": list(self.grid),
                "num_crops": self.num_crops, "global_tokens": self.global_tokens,
                "crop_tokens": self.crop_tokens, "image_tokens": self.image_tokens}


def views(cfg: DeepseekOCRConfig, request: Request) -> Views:
    v = cfg.views
    if request.mode == GUNDAM:
        size = v.global_size
    else:
        size = v.mode_size(request.mode)
        if size is None:
            raise UserError(f"mode {request.mode!r} is not defined in {cfg.source}: views.modes")
    q = view_side_tokens(cfg, size)
    tokens = q * (q + 1) + 1
    rows, cols = request.crops
    crop_q = view_side_tokens(cfg, v.crop_size) if rows else 0
    if rows:
        tokens += crop_q * rows * (crop_q * cols + 1)
    return Views(mode=request.mode, global_size=size, crop_size=v.crop_size if rows else 0,
                 grid=(rows, cols), global_side_tokens=q, crop_side_tokens=crop_q,
                 image_tokens=tokens)
