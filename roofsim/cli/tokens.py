"""`roofsim tokens`: views, crop grid and image tokens of DeepSeek-OCR for an image or a grid."""

from __future__ import annotations

from ..workloads.deepseek_ocr import Request, load_config, views
from .common import add_json_arg
from .limits import check_memory, largest_shipped_memory
from .output import format_table, print_json
from .request import add_view_args, views_from_args


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tokens", help="views, crop grid and image tokens of DeepSeek-OCR",
        description="Which views the DeepSeek-OCR preprocessor makes of an image (global view + "
                    "a grid of crops in gundam mode), and how many image tokens the decoder "
                    "sees: single view q (q + 1) + 1 with q = size / 64; gundam "
                    "273 + 10 R (10 C + 1) for R x C crops.")
    add_view_args(parser, grid_default=None)
    add_json_arg(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    cfg = load_config(args.config)
    chosen = views_from_args(args, cfg)
    request = Request(grid=chosen.grid, mode=chosen.mode, prompt_tokens=0, decode_tokens=0)
    check_memory(cfg, request, largest_shipped_memory(), chosen.flags or "global view")
    v = views(cfg, request)
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
