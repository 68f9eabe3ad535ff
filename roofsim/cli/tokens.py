"""`roofsim tokens`: views, crop grid and image tokens of DeepSeek-OCR for an image or a grid."""

from __future__ import annotations

from ..errors import UserError
from ..workloads.deepseek_ocr import (MODES, Request, choose_grid, load_config, parse_grid,
                                      parse_image_size, views)
from .common import add_json_arg
from .output import format_table, print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tokens", help="views, crop grid and image tokens of DeepSeek-OCR",
        description="Which views the DeepSeek-OCR preprocessor makes of an image (global view + "
                    "a grid of crops in gundam mode), and how many image tokens the decoder "
                    "sees: single view q (q + 1) + 1 with q = size / 64; gundam "
                    "273 + 10 R (10 C + 1) for R x C crops.")
    add_view_args(parser)
    add_json_arg(parser)
    parser.set_defaults(func=run)


def add_view_args(parser) -> None:
    """--image WxH | --grid RxC, --mode, --min-crops/--max-crops, --config (shared with cost)."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--image", metavar="WxH",
                     help="image size in pixels; the crop grid is the one the preprocessor picks")
    src.add_argument("--grid", metavar="RxC", help="crop grid, rows x columns (e.g. 2x3)")
    parser.add_argument("--mode", default="gundam", type=str.lower,
                        help=f"resolution mode: {', '.join(MODES)} (default gundam)")
    parser.add_argument("--min-crops", type=int, default=None,
                        help="fewest crops the chooser may pick (default: the config's, 2)")
    parser.add_argument("--max-crops", type=int, default=None,
                        help="most crops the chooser may pick (default: the config's, 9)")
    parser.add_argument("--config", metavar="PATH", default=None,
                        help="model config YAML (default workloads/deepseek-ocr.yaml)")


def grid_from_args(args, cfg) -> tuple[int, int] | None:
    if args.mode not in MODES:
        raise UserError(f"--mode {args.mode}: expected one of {', '.join(MODES)}")
    if args.grid is not None:
        return parse_grid(args.grid)
    if args.image is not None:
        width, height = parse_image_size(args.image)
        if args.mode != "gundam":
            return None
        lo = cfg.views.min_crops if args.min_crops is None else args.min_crops
        hi = cfg.views.max_crops if args.max_crops is None else args.max_crops
        return choose_grid(width, height, lo, hi, crop_size=cfg.views.crop_size)
    return None


def run(args) -> int:
    cfg = load_config(args.config)
    grid = grid_from_args(args, cfg)
    v = views(cfg, Request(grid=grid, mode=args.mode))
    out = v.as_dict()
    if args.image:
        out["image"] = args.image
    if args.json:
        print_json(out)
        return 0
    rows, cols = v.grid
    crops = f"{rows}x{cols} ({v.num_crops} crops of {v.crop_size} px)" if v.num_crops else "none"
    table = [("mode", v.mode), ("global view", f"{v.global_size} px, {v.global_tokens} tokens"),
             ("crops", crops)]
    if v.num_crops:
        table.append(("tokens per crop", v.crop_tokens))
    table.append(("image tokens", v.image_tokens))
    if args.image:
        table.insert(0, ("image", args.image))
    print(format_table(("", ""), table).split("\n", 2)[2])
    return 0
