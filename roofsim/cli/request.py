"""The request arguments of `tokens`, `cost` and `predict`, with one set of defaults:
--image WxH | --grid RxC (default 2x3), --mode, --min-crops / --max-crops, --config,
--prompt-tokens (default 16), --decode-tokens (default 100), --batch; and for `cost` and
`predict` --model (a transformers model instead of DeepSeek-OCR; its --image is the image of a
vision-language model).

`request_from_args` turns them into a validated DeepSeek-OCR Request: integers, text tokens
within the decoder's positions, crop limits, and weights + KV cache within the device memory
(roofsim.cli.limits). `model_request_from_args` does the same for a --model's request, with
the model config's positions and sizes."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from ..workloads import DEFAULT_PROMPT_TOKENS
from ..workloads.deepseek_ocr import (MODES, Request, choose_grid, load_config, parse_grid,
                                      parse_image_size)
from ..workloads.deepseek_ocr.views import GUNDAM
from .args import count, nonempty
from .limits import check_crop_limits, check_memory, check_text_tokens

DEFAULT_GRID = "2x3"
DEFAULT_DECODE_TOKENS = 100


MODEL_IMAGE_HELP = ("; with --model, a vision-language model's image (default 1024x1024, "
                    "'none': text only)")


def add_view_args(parser, *, grid_default: str | None = DEFAULT_GRID, modes: bool = True,
                  models: bool = False) -> None:
    """[--model], --image WxH | --grid RxC, [--mode], --min-crops/--max-crops, --config."""
    if models:
        from .models import add_model_arg
        add_model_arg(parser)
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--image", metavar="WxH",
                     help="image size in pixels; the crop grid is the one the preprocessor picks"
                          + (MODEL_IMAGE_HELP if models else ""))
    src.add_argument("--grid", metavar="RxC",
                     help="crop grid, rows x columns (1x1: global view only; default "
                          f"{grid_default or 'the global view only'})")
    if modes:
        parser.add_argument("--mode", default=None, type=str.lower,
                            help=f"resolution mode: {', '.join(MODES)} (default gundam)")
    parser.add_argument("--min-crops", type=count(1), default=None, metavar="N",
                        help="fewest crops the chooser may pick with --image (default: the "
                             "config's, 2)")
    parser.add_argument("--max-crops", type=count(1), default=None, metavar="N",
                        help="most crops the chooser may pick with --image (default: the "
                             "config's, 9; at most what the decoder's positions hold)")
    parser.add_argument("--config", metavar="PATH", default=None, type=nonempty("a config file"),
                        help="model config YAML (default workloads/deepseek-ocr.yaml)")
    parser.set_defaults(grid_default=grid_default)


def add_token_args(parser, *, batch: bool = False) -> None:
    """--prompt-tokens, --decode-tokens (and --batch)."""
    parser.add_argument("--prompt-tokens", type=count(0), default=DEFAULT_PROMPT_TOKENS,
                        metavar="P", help="text tokens of the prompt besides the image "
                                          f"(default {DEFAULT_PROMPT_TOKENS})")
    parser.add_argument("--decode-tokens", type=count(0), default=DEFAULT_DECODE_TOKENS,
                        metavar="K", help=f"decode steps K (default {DEFAULT_DECODE_TOKENS})")
    if batch:
        parser.add_argument("--batch", type=count(1), default=1, metavar="B",
                            help="identical requests processed together (default 1)")


@dataclass(frozen=True)
class Views:
    """What the view arguments say: the grid (None: global view only) and where it came from."""

    grid: tuple[int, int] | None
    mode: str
    flags: str                  # "--grid 2x3", "--image 2480x3508 (grid 3x2)"


def flag_value(option: str, text: str, parse):
    """parse(text), its UserError restated with the flag that gave the text."""
    try:
        return parse(text)
    except UserError as err:
        what = str(err).split(": ", 1)[-1]
        raise UserError(f"{option} {text}: {what}") from None


def refuse_unused_crop_limits(args, mode: str) -> None:
    """--min-crops / --max-crops bound the grid the chooser picks for --image in gundam mode;
    with --grid, without --image or in a single-view mode no grid is chosen, and a given limit
    would be silently ignored."""
    given = [f"--{n.replace('_', '-')} {getattr(args, n)}" for n in ("min_crops", "max_crops")
             if getattr(args, n, None) is not None]
    if not given:
        return
    if args.grid is not None:
        why = f"--grid {args.grid} sets the grid itself"
    elif args.image is None:
        why = "no --image is given (the chooser picks a grid for an image)"
    elif mode != GUNDAM:
        why = f"--mode {mode} makes no crops"
    else:
        return
    raise UserError(f"{given[0]}: the crop chooser's limit applies only with --image in "
                    f"{GUNDAM} mode; {why}")


def views_from_args(args, cfg) -> Views:
    mode = getattr(args, "mode", None)
    mode = GUNDAM if mode is None else mode      # an empty --mode is refused below
    if mode not in MODES:
        raise UserError(f"--mode {mode}: expected one of {', '.join(MODES)}")
    if args.image is not None or args.min_crops is not None or args.max_crops is not None:
        check_crop_limits(cfg, args.min_crops, args.max_crops)
    refuse_unused_crop_limits(args, mode)
    if args.grid is not None:
        grid = flag_value("--grid", args.grid, parse_grid)
        return Views(grid, mode, f"--grid {args.grid}")
    if args.image is not None:
        width, height = flag_value("--image", args.image, parse_image_size)
        if mode != GUNDAM:
            return Views(None, mode, f"--image {args.image}")
        lo = cfg.views.min_crops if args.min_crops is None else args.min_crops
        hi = cfg.views.max_crops if args.max_crops is None else args.max_crops
        grid = choose_grid(width, height, lo, hi, crop_size=cfg.views.crop_size)
        return Views(grid, mode, f"--image {args.image} (grid {grid[0]}x{grid[1]})")
    default = getattr(args, "grid_default", None)
    if default is None or mode != GUNDAM:
        return Views(None, mode, "")
    return Views(parse_grid(default), mode, f"--grid {default} (default)")


def request_from_args(args, memory, cfg=None, plan=None,
                      sizes=None) -> tuple[object, Views, Request]:
    """(config, views, request), every size checked against the config and `memory`
    (roofsim.cli.limits.MemoryLimit; under a parallel `plan`, one GPU's share: check_memory)."""
    cfg = cfg if cfg is not None else load_config(args.config)
    v = views_from_args(args, cfg)
    check_text_tokens(cfg, prompt=("--prompt-tokens", args.prompt_tokens),
                      decode=("--decode-tokens", args.decode_tokens))
    request = Request(grid=v.grid, mode=v.mode, prompt_tokens=args.prompt_tokens,
                      decode_tokens=args.decode_tokens, batch=getattr(args, "batch", 1))
    flags = [v.flags or "global view only", f"--prompt-tokens {request.prompt_tokens}",
             f"--decode-tokens {request.decode_tokens}"]
    if request.batch != 1:
        flags.append(f"--batch {request.batch}")
    check_memory(cfg, request, memory, " ".join(flags), plan, sizes)
    return cfg, v, request


# DeepSeek-OCR's request options (argparse destinations, None unless given), refused with
# --model.
DEEPSEEK_ONLY = ("mode", "min_crops", "max_crops", "config")


def model_request_from_args(args, wl, memory, plan=None, sizes=None):
    """A transformers model's request (roofsim.workloads.Request) from --image, --prompt-tokens,
    --decode-tokens and --batch, checked against the model config's positions
    (max_position_embeddings) and `memory` (weights + KV cache; under a parallel `plan`, with
    the workload's shard_sizes() as `sizes`, one GPU's share)."""
    from ..workloads import Request as ModelRequest
    from .models import image_from_args, refuse_deepseek_options
    if getattr(args, "grid", None) is not None:
        raise UserError(f"--grid is DeepSeek-OCR's crop grid; {wl.name} takes --image")
    refuse_deepseek_options(args, wl.name, DEEPSEEK_ONLY)
    image = image_from_args(args, wl)
    request = ModelRequest(prompt_tokens=args.prompt_tokens, decode_tokens=args.decode_tokens,
                           batch=getattr(args, "batch", 1), image=image)
    check_model_request(wl, request, memory, plan=plan, sizes=sizes)
    return request


def check_model_request(wl, request, memory, flags: str = "", plan=None,
                        sizes=None) -> None:
    """A --model request's image + text tokens within the config's positions and its weights + KV
    cache within `memory` (one GPU's share under a parallel `plan`); `flags` name the request
    in the memory message."""
    from .models import image_text
    check_text_tokens(wl.config, prompt=("--prompt-tokens", request.prompt_tokens),
                      decode=("--decode-tokens", request.decode_tokens),
                      image=(f"--image {image_text(request.image)}" if request.image else "",
                             request.image))
    if not flags:
        flags = " ".join(([f"--image {image_text(request.image)}"] if request.image else []) + [
            f"--prompt-tokens {request.prompt_tokens}",
            f"--decode-tokens {request.decode_tokens}"]
            + ([f"--batch {request.batch}"] if request.batch != 1 else []))
    check_memory(wl.config, request, memory, f"--model {wl.name} {flags}", plan, sizes)


__all__ = ["DEEPSEEK_ONLY", "DEFAULT_DECODE_TOKENS", "DEFAULT_GRID", "Views",
           "add_token_args", "add_view_args", "check_model_request", "model_request_from_args",
           "refuse_unused_crop_limits", "request_from_args", "views_from_args"]
