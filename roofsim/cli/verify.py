"""`roofsim verify`: the analytic workload against the captured transformers reference.

Prints the specification's two layer-wise tables (captured vs analytic FLOPs with status, and
each layer's reference class), then the end-to-end table (vision, prefill, decode and the full
model for several crop grids: FLOPs, bytes and kernel launches), with every difference over the
tolerance explained kernel kind by kind. With --model (a transformers model): its captured
prefill FLOPs against the closed form 2 x active parameters x tokens + attention."""

from __future__ import annotations

from ..errors import UserError
from .args import amount, count, fill_defaults, given_options
from .common import add_json_arg
from .limits import check_memory, check_text_tokens, largest_shipped_memory
from .models import add_model_arg, is_default_model, refuse_deepseek_options
from .sweep import parse_grids
from .output import format_table, print_json

# The options of DeepSeek-OCR's verification and their defaults: argparse leaves them None, so
# that a --model (its prefill FLOPs against the closed form, within its own tolerance) refuses
# a given one instead of ignoring it.
DEEPSEEK_OPTIONS = {"grids": "1x2,2x3,4x5", "decode_tokens": 100, "layers_only": False,
                    "e2e_only": False}
# The end-to-end table's options, which --layers-only (no end-to-end table) would ignore.
E2E_OPTIONS = ("grids", "prompt_tokens", "decode_tokens")
PROMPT_TOKENS = 10      # --prompt-tokens' default (None until then: see E2E_OPTIONS)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "verify", help="check the analytic workload against the captured reference",
        description="Layer-wise and end-to-end verification of the analytic DeepSeek-OCR "
                    "workload against transformers' classes traced on meta tensors (needs "
                    "torch and transformers; captures are cached under ROOFSIM_CACHE_DIR, "
                    "default ~/.cache/roofsim).")
    add_model_arg(parser)
    parser.add_argument("--grids", default=None, metavar="RxC,...",
                        help="crop grids (rows x cols) of the end-to-end table (default "
                             "1x2,2x3,4x5)")
    parser.add_argument("--prompt-tokens", type=count(0), default=None, metavar="N",
                        help="text tokens after the image tokens (default 10)")
    parser.add_argument("--decode-tokens", type=count(0), default=None, metavar="K",
                        help="decode steps (default 100)")
    parser.add_argument("--tolerance", type=amount(0, hi=1), default=None, metavar="FRACTION",
                        help="relative tolerance of the status column (default 0.01)")
    parser.add_argument("--no-cache", action="store_true", help="capture again, ignore the cache")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--layers-only", action="store_true", default=None,
                      help="only the layer-wise tables")
    part.add_argument("--e2e-only", action="store_true", default=None,
                      help="only the end-to-end table")
    add_json_arg(parser)
    parser.set_defaults(func=run)


def run_model(args) -> int:
    """A transformers model: captured prefill FLOPs against the closed form."""
    from ..workloads import Request, workload
    from ..workloads.hf.check import check_model
    from .request import check_model_request
    wl = workload(args.model)
    refuse_deepseek_options(args, wl.name, (*DEEPSEEK_OPTIONS, "tolerance"))
    tokens = PROMPT_TOKENS if args.prompt_tokens is None else int(args.prompt_tokens)
    if tokens < 1:                      # it used to check 1 token without a word
        raise UserError(f"--prompt-tokens {tokens}: verify --model checks a prefill's FLOPs, "
                        f"which needs 1 token or more")
    check_model_request(wl, Request(prompt_tokens=tokens, decode_tokens=0),
                        largest_shipped_memory(), f"--prompt-tokens {tokens}")
    c = check_model(wl.config, tokens, use_cache=not args.no_cache)
    if args.json:
        print_json(c.as_dict())
    else:
        print(format_table(
            ["model", "prefill tokens", "captured TFLOP", "closed form TFLOP", "difference",
             "status"],
            [[c.model, c.tokens, c.captured_flops / 1e12, c.closed_form_flops / 1e12,
              f"{c.error:+.2%}", "ok" if c.ok else f"over {c.as_dict()['tolerance']:.0%}"]]))
        print("closed form: 2 x active parameters x tokens + lm_head on the last position + "
              "attention (QK^T and PV over every score)")
    return 0 if c.ok else 1


def run(args) -> int:
    from .. import verify
    from ..workloads.deepseek_ocr import Request, load_config
    if not is_default_model(args):
        return run_model(args)
    if args.layers_only:
        given = given_options(args, E2E_OPTIONS)
        if given:
            raise UserError(f"{', '.join(given)}: {'sets' if len(given) == 1 else 'set'} the "
                            f"end-to-end table, which --layers-only leaves out")
    fill_defaults(args, {**DEEPSEEK_OPTIONS, "prompt_tokens": PROMPT_TOKENS})
    cfg = load_config()
    check_text_tokens(cfg, prompt=("--prompt-tokens", args.prompt_tokens),
                      decode=("--decode-tokens", args.decode_tokens))
    grids = tuple(parse_grids(args.grids))
    for g in grids:
        check_memory(cfg, Request(grid=g, prompt_tokens=args.prompt_tokens,
                                  decode_tokens=args.decode_tokens), largest_shipped_memory(),
                     f"--grids {g[0]}x{g[1]}")
    tol = verify.TOLERANCE if args.tolerance is None else args.tolerance
    report = verify.verification_report(
        grids=grids, prompt_tokens=args.prompt_tokens,
        decode_tokens=args.decode_tokens, tolerance=tol, use_cache=not args.no_cache,
        layers=not args.e2e_only, end_to_end=not args.layers_only)
    report["unexplained"] = verify.unexplained(report)
    if args.json:
        print_json(report)
        return 0
    print(render(report))
    return 0


def render(report: dict) -> str:
    from ..verify import percent
    tol = report["tolerance"]
    out = ["Verification of the analytic workload against the captured reference"]
    out += [f"  {k}: {v}" for k, v in report["settings"].items()]
    if "layers" in report:
        rows = report["layers"]
        out += ["", f"Layer-wise verification (status: |rel diff| <= {100 * tol:g}%; measured = "
                    "captured reference, theoretical = analytic; all FLOPs, tensor-core + "
                    "CUDA-core; the tensor-core column is what a FLOP counter counts)", ""]
        out.append(format_table(
            ["Group", "Analytic layer", "Measured GFLOPs", "Theoretical GFLOPs", "Rel diff",
             "Status", "Captured tensor-core GFLOPs"],
            [[r["group"], r["layer"], f"{r['measured_flops'] / 1e9:.4e}",
              f"{r['theoretical_flops'] / 1e9:.4e}", percent(r["rel_diff"]), r["status"],
              f"{r['captured_tensor_flops'] / 1e9:.4e}"] for r in rows]))
        off = [r for r in rows if r["status"] != "✓"]
        if off:
            out += ["", "Out of tolerance:"]
            out += [f"  {r['layer']} ({percent(r['rel_diff'])}): {r['explanation']}" for r in off]
        out += ["", "Reference classes", ""]
        out.append(format_table(
            ["Group", "Analytic layer", "Specification class", "Reference class (fully qualified)",
             "Note"],
            [[r["group"], r["layer"], r["impl_class"], r["reference_class"], r["note"]]
             for r in rows]))
    if "end_to_end" in report:
        from ..verify import E2E_HEADERS, e2e_cells, e2e_explanations
        e2e = report["end_to_end"]
        out += ["", f"End-to-end verification ({e2e['prompt_tokens']} prompt tokens, "
                    f"{e2e['decode_tokens']} decode steps; analytic: flash attention, model "
                    "accounting, lm_head on the last position)", ""]
        out.append(format_table(list(E2E_HEADERS), [e2e_cells(r) for r in e2e["rows"]]))
        out += ["", f"Differences over {100 * tol:g}%, by kernel kind (captured - analytic):"]
        for head, lines in e2e_explanations(e2e, tol):
            out.append(f"  {head}:")
            out += [f"    {line}" for line in lines]
    if report.get("unexplained"):
        out += ["", "UNEXPLAINED: " + "; ".join(report["unexplained"])]
    return "\n".join(out)
