"""`roofsim models list|show`: the shipped transformers model configs (workloads/models/), with
parameters, active parameters and layers; and the `--model` / `--image` options the workload
commands share.

    roofsim models list [--json]
    roofsim models show llama-3.1-8b [--json]

Parameter counts come from the model built on meta (exact, tied weights once); active
parameters are those one token's matrix products use (roofsim.workloads.hf.params). They are
cached with the captures, so a second listing needs no torch.
"""

from __future__ import annotations

import json

from ..errors import UserError
from ..workloads import DEFAULT_MODEL
from ..workloads.hf.configs import MODEL_CONFIG
from .args import nonempty
from .common import add_json_arg
from .output import format_table, print_json

MODEL_HELP = (f"the model: {DEFAULT_MODEL} (default) or a transformers model, shipped "
              "(`roofsim models list`) or a config.json path (or the checkpoint folder holding "
              "it), built on meta and captured")
IMAGE_HELP = ("image WIDTHxHEIGHT in pixels of a vision-language model's request (default "
              "1024x1024 for those; 'none' for text only)")
DEFAULT_IMAGE = (1024, 1024)


def add_model_arg(parser) -> None:
    parser.add_argument("--model", default=None, metavar="NAME|config.json",
                        type=nonempty(MODEL_CONFIG), help=MODEL_HELP)


def add_image_arg(parser) -> None:
    parser.add_argument("--image", default=None, metavar="WxH", help=IMAGE_HELP)


def is_default_model(args) -> bool:
    return getattr(args, "model", None) in (None, DEFAULT_MODEL)


def refuse_deepseek_options(args, model: str, dests) -> None:
    """A UserError naming the DeepSeek-OCR-only options among `dests` (argparse destinations,
    left None unless given: roofsim.cli.args.given_options) that were given with --model
    `model`, which would otherwise ignore them silently."""
    from .args import given_options
    given = given_options(args, [d for d in dests if hasattr(args, d)])
    if len(given) == 1:
        raise UserError(f"{given[0]} is DeepSeek-OCR's; {model} (--model) does not take it")
    if given:
        raise UserError(f"{', '.join(given)} are DeepSeek-OCR's; {model} (--model) does not "
                        f"take them")


def parse_image(option: str, text: str) -> tuple[int, int]:
    """'WxH' (pixels, width first as everywhere on the command line) -> (height, width)."""
    from ..workloads.deepseek_ocr.views import parse_image_size
    try:
        w, h = parse_image_size(text)
    except UserError as err:
        raise UserError(f"{option}: {err}") from None
    return h, w


def image_text(image) -> str:
    """(height, width) -> 'WxH'."""
    return f"{image[1]}x{image[0]}"


def image_from_args(args, wl) -> tuple[int, int] | None:
    """--image WxH of a vision-language model as (height, width) (default DEFAULT_IMAGE); an
    error for others."""
    text = getattr(args, "image", None)
    vlm = getattr(getattr(wl, "config", None), "is_vision_language", False)
    if text is None:
        return DEFAULT_IMAGE if vlm else None
    if text.lower() == "none":
        return None
    if not vlm:
        raise UserError(f"--image {text}: {wl.name} has no vision encoder")
    return parse_image("--image", text)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="the shipped transformers models (parameters, active, layers)",
        description="Transformers model configs roofsim ships (workloads/models/): any of them, "
                    "or a config.json path or a checkpoint folder holding one, goes to --model "
                    "of predict, cost, sweep and report.")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True
    p_list = sub.add_parser("list", help="every shipped model with its sizes")
    add_json_arg(p_list)
    p_list.set_defaults(func=run_list)
    p_show = sub.add_parser("show", help="one model's config fields and sizes")
    p_show.add_argument("model", metavar="NAME|config.json", type=nonempty(MODEL_CONFIG))
    add_json_arg(p_show)
    p_show.set_defaults(func=run_show)


def _summary(name: str) -> dict:
    from ..workloads.hf.configs import model_config
    from ..workloads.hf.summary import model_summary
    return model_summary(model_config(name))


def run_list(args) -> int:
    from ..workloads.hf.configs import shipped_models
    rows = [_summary(n) for n in shipped_models()]
    if args.json:
        print_json(rows)
        return 0
    headers = ["model", "type", "parameters B", "active B", "layers", "experts", "vision"]
    print(format_table(headers, [
        [r["name"], r["model_type"], round(r["parameters"] / 1e9, 3),
         round(r["active_parameters"] / 1e9, 3), r["layers"],
         f"{r['top_k']}/{r['experts']}" if r["experts"] else "-",
         "yes" if r["vision_language"] else "-"] for r in rows]))
    print("\nactive: parameters one token's matrix products use (routed experts: top-k of n; "
          "no embedding table, no vision encoder)")
    return 0


def run_show(args) -> int:
    from ..workloads.hf.configs import model_config
    mc = model_config(args.model)
    s = _summary(args.model)
    if args.json:
        print_json({**s, "config": dict(mc.raw)})
        return 0
    print(format_table(["field", "value"], [[k, v] for k, v in s.items()]))
    print("\nconfig (" + mc.source + "):")
    print(json.dumps(dict(mc.raw), indent=1))
    return 0
