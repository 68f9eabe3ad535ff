"""The bad-input corpus: every subcommand, every option, bad files of every kind.

Each case runs `roofsim.cli.main` in this process and must end with exit status 2, at most two
lines on stderr (none on stdout), a message that names the flag or the file, no traceback, in
under TIME_LIMIT_S and without raising the process's peak memory by MEMORY_LIMIT_MB (a size
bomb such as 6 KB per decode step times 10 million steps would).

The cases are generated, not listed: the parser is walked, and every option gets the bad values
of its type (integers, amounts, names, choices, free text such as --grid), every input file
option gets every kind of broken file of its format, every output option every kind of bad
path; then come the sizes beyond the model's or the GPU's limits. A new option is covered as
soon as it is added. `corpus_size()` is the count the README states.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from roofsim.cli import build_parser, main

TIME_LIMIT_S = 20.0
SHIPPED_HOST = str(Path(__file__).resolve().parents[1] / "calibration" / "h200" / "host")
# A committed measurements file that fits on its own (166 rows): "<measurements:COLUMN=VALUE>"
# is a calibration folder holding it with that cell of its first row changed.
SHIPPED_MEASUREMENTS = (Path(__file__).resolve().parents[1] / "calibration" / "h200"
                        / "attention-mla" / "sm8" / "measurements.csv")
MEMORY_LIMIT_MB = 512

# How each subcommand is run when one of its options is given a bad value: the other arguments
# are good. "{dir}" is a scratch folder, "{cases}" / "{suite}" good input files.
BASE = {
    "hardware list": ["hardware", "list"],
    "hardware show": ["hardware", "show", "h100-sxm"],
    "hardware derive": ["hardware", "derive", "h200", "--sms", "40"],
    "roofline": ["roofline", "--flops", "1e9", "--bytes", "1e6"],
    "calibrate": ["calibrate", "--device", "cpu", "--suite", "{suite}",
                  "--out", "{dir}/cal"],
    "predict-kernels": ["predict-kernels", "{cases}"],
    "predict": ["predict", "--implementation", "flash"],
    "tokens": ["tokens"],
    "host-probe": ["host-probe", "--device", "cpu"],
    "cost": ["cost", "--layers", "none"],
    "verify": ["verify", "--e2e-only", "--grids", "1x2"],
    "sweep": ["sweep", "vision", "--grids", "1x2", "--no-reference", "--no-plots",
              "--out", "{dir}/sweep"],
    "report": ["report", "--grids", "1x2", "--no-reference", "--no-decoder-sweeps", "--quiet",
               "--out", "{dir}/report"],
    "models list": ["models", "list"],
    "models show": ["models", "show", "llama-3.1-8b"],
    "serve": ["serve", "--requests", "5", "--rate", "5"],
}
# Positional arguments: which base token they replace.
POSITIONAL = {("hardware show", "hardware"): "h100-sxm", ("hardware derive", "hardware"): "h200", ("predict-kernels", "cases"): "{cases}",
              ("sweep", "kind"): "vision", ("models show", "model"): "llama-3.1-8b"}

# Bad values of the options that take free text, by option (the same in every subcommand).
BAD_TEXT = {
    "--grid": ["0x3", "-1x2", "2x", "x3", "2.5x3", "twoxthree", "", "2x3x4",
               "99999999999x99999999999"],
    "--image": ["0x100", "-5x5", "100", "axb", "", "1.5x2", "100x100x3"],
    "--grids": ["2y3", "1x2,0x1", ",", "1x2,-3x1", "1x2;2x3", "100000x100000"],
    "--vary": ["batch", "batch=", "batch=x", "bogus=1,2", "batch=0", "batch=1.5", "batch=4:2",
               "batch=1:2:0", "prompt-tokens=1:1000000000:1", "decode-tokens=1e9",
               "heads=3", "kv-heads=3", "batch=nan:4"],
    "--set": ["novalue", "=5", "bogus=1", "mem_bandwidth_gbps=3.35", "mem_bandwidth_gbps=abc",
              "efficiency.memory=-1", "sm_count=1.5", "tensor_core_tflops.int3=5",
              "sm_count=1:30", "sm_count=0x20"],     # YAML 1.1: sexagesimal 90, hex 32
    "--dtype": ["int8", "int4", "", "float64", "bfloat", "tf32x"],
    "--mode": ["huge", "", "gundamx"],
}
BAD_INTEGERS = ["2.5", "ten", "", "nan", "inf", "1e999", "0x1f", "1/2"]
BAD_AMOUNTS = ["-5", "nan", "inf", "-inf", "x", "", "1e999", "5ms"]


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    names: tuple[str, ...] = ()     # the message must contain one of these (flag or file)


def _walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(subcommand, action) for every action of every subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, prefix + (name,))
        elif prefix and action.dest not in ("help", "version"):
            yield " ".join(prefix), action


# Options whose bad values need another base than their command's: predict's BASE runs the
# analytic flash model, which refuses any --model before the file is read.
OPTION_BASE = {("predict", "model"): ["predict"]}


def _with(command: str, action, value: str) -> tuple[str, ...]:
    base = list(OPTION_BASE.get((command, action.dest), BASE[command]))
    if not action.option_strings:
        token = POSITIONAL[(command, action.dest)]
        return tuple(value if t == token else t for t in base)
    return tuple(base + [f"{action.option_strings[-1]}={value}"])


def _flag(action) -> tuple[str, ...]:
    return tuple(action.option_strings) or (action.metavar or action.dest,)


# A calibration folder's provenance.json (roofsim calibrate writes {"runs": [...]}), broken.
PROVENANCE_FILES = {
    "not-json": b'{"runs": [', "list": b"[1, 2]", "runs-not-a-list": b'{"runs": "x"}',
    "run-not-an-object": b'{"runs": [5]}',
    "device-not-an-object": b'{"runs": [{"device_before": "NVIDIA H200"}]}',
    "device-name-not-text": b'{"runs": [{"device_before": {"name": 5}}]}',
    "sms-not-a-number": b'{"runs": [{"sm_restriction": {"probed_sms": "eight"}}]}',
}

# Broken files of each format: name -> (file name, content bytes) or a special marker.
YAML_FILES = {
    "missing": None, "folder": "<folder>", "device": "<device>", "long-name": "<long>",
    "binary": b"\xff\xfe\x00\x01 not text", "latin1": "name: caf\xe9\n".encode("latin-1"),
    "empty": b"", "syntax": b"a: [1, 2\n", "tab-indent": b"a:\n\tb: 1\n",
    "duplicate-key": b"name: x\nname: y\n", "list": b"- a\n- b\n", "scalar": b"42\n",
    "deep": ("[" * 3000 + "]" * 3000).encode(), "nul": b"name: x\x00\n",
}
JSON_FILES = {
    "missing": None, "folder-without-profile": "<folder>", "binary": b"\xff\xfe\x00",
    "empty": b"", "syntax": b"{\"a\": 1,}", "duplicate-key": b'{"a": 1, "a": 2}',
    "nan": b'{"a": NaN}', "list": b"[1, 2]", "empty-object": b"{}",
    "wrong-format": b'{"format": "something-else"}', "deep": b"[" * 100000,
}
HEADER = ("kind,dtype,m,n,k,bias,batch,heads,seq_q,seq_kv,head_dim,causal,rows,cols,numel,"
          "c_in,c_out,h,w,kernel,stride,padding")
CSV_FILES = {
    "missing": None, "folder": "<folder>", "device": "<device>", "binary": b"\xff\xfe\x00\x01",
    "empty": b"", "no-kind-column": b"m,n,k\n1,2,3\n",
    "duplicate-column": b"kind,m,m,n,k\ngemm,1,2,3,4\n",
    "unnamed-column": b"kind,,m\ngemm,1,2\n",
    "extra-cells": b"kind,m,n,k\ngemm,1,2,3,4\n",
    "unknown-kind": b"kind\nmatmul\n",
    "undocumented-dtype": b"kind,dtype,m,n,k\ngemm,int8,1,2,3\n",
    "unknown-dtype-after-blank-lines": b"kind,dtype,m,n,k\n\n\ngemm,xyz,1,2,3\n",
    "fraction": b"kind,m,n,k\ngemm,1.5,2,3\n", "negative": b"kind,m,n,k\ngemm,-1,2,3\n",
    "text-size": b"kind,m,n,k\ngemm,many,2,3\n", "nan-size": b"kind,m,n,k\ngemm,nan,2,3\n",
    "overflow": b"kind,m,n,k\ngemm,1e200,1e200,1e200\n",
    "larger-than-memory": b"kind,numel\ncopy,1e15\n",
    "missing-parameter": b"kind,m,n\ngemm,1,2\n",
    "bias-not-a-flag": b"kind,m,n,k,bias\nlinear,1,2,3,2\n",
    "conv-stride-0": b"kind,c_in,c_out,h,w,kernel,stride\nconv2d,3,8,32,32,3,0\n",
    "conv-kernel-0": b"kind,c_in,c_out,h,w,kernel\nconv2d,3,8,32,32,0\n",
    "conv-kernel-larger-than-input": b"kind,c_in,c_out,h,w,kernel\nconv2d,3,8,4,4,9\n",
    "causal-more-queries-than-keys":
        b"kind,seq_q,seq_kv,head_dim,causal\nattention,100,10,64,1\n",
    "nul-byte": b"kind,m,n,k\ngemm,1\x00,2,3\n",
    "unclosed-quote": b'kind,m,n,k\ngemm,"1,2,3\n',
    # a quote opened in the user's own last column took the rows after it for its text
    "unclosed-quote-swallows-rows": b'kind,m,n,k,note\ngemm,1,2,3,"a\ngemm,4,5,6,b\n',
}
SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "workloads" / "models"


def _shipped_config(name: str, drop=(), vision=None, **changes) -> bytes:
    """A shipped model's config.json with fields dropped or changed (vision: vision_config's)."""
    import json
    raw = json.loads((SHIPPED_MODELS / f"{name}.json").read_text())
    for key in drop:
        raw.pop(key)
    raw.update(changes)
    if vision:
        raw["vision_config"].update(vision)
    return json.dumps(raw).encode()


# A transformers config.json given to --model (written as NAME.json).
MODEL_FILES = {
    "missing": None, "folder": "<folder>", "device": "<device>", "long-name": "<long>",
    "binary": b"\xff\xfe\x00", "empty": b"", "syntax": b"{\"model_type\": \"llama\",}",
    "duplicate-key": b'{"model_type": "llama", "model_type": "qwen2"}',
    "nan": b'{"model_type": "llama", "num_hidden_layers": NaN}', "list": b"[1, 2]",
    "empty-object": b"{}", "no-layers": b'{"model_type": "llama"}',
    "text-config-not-an-object": b'{"model_type": "llama", "text_config": [1]}',
    "deep": b"[" * 100000,
    # a field roofsim's arithmetic reads (params.kv_cache_bytes_per_token): a KeyError traceback
    "no-hidden-size": _shipped_config("llama-3.1-8b", drop=("hidden_size",)),
    # a window of no positions: a traceback from the attention mask while capturing
    "sliding-window-0": _shipped_config("mistral-7b-v0.3", sliding_window=0),
    # no head_dim: transformers floors hidden / heads, and the model was built and timed
    "hidden-not-a-multiple-of-heads": _shipped_config("qwen2.5-7b", hidden_size=3590),
    # the encoder's image tokens narrower than the decoder: built and timed
    "vision-width-not-the-decoder's": _shipped_config("qwen2-vl-7b", vision={"hidden_size": 1000}),
    # multi-head latent attention without its rotary key: a KeyError traceback
    "latent-attention-without-rope-dim": _shipped_config("deepseek-v2-lite",
                                                         drop=("qk_rope_head_dim",)),
}
# Configs transformers reads and fills in with its class's defaults where roofsim's own
# arithmetic would take another value (predicted with a wrong KV cache or parameter count).
DEFAULTED_MODEL_FILES = {
    "kv-heads-defaulted": _shipped_config("mistral-7b-v0.3", drop=("num_key_value_heads",)),
    "experts-defaulted": _shipped_config("qwen3-30b-a3b", drop=("num_experts",)),
}
# A host model given to --host-model (written as NAME.json; roofsim.host).
HOST_FILES = {
    "missing": None, "folder": "<folder>", "device": "<device>", "long-name": "<long>",
    "binary": b"\xff\xfe\x00", "empty": b"", "syntax": b"{\"a\": 1,}",
    "duplicate-key": b'{"a": 1, "a": 2}', "nan": b'{"forward_ms": NaN}', "list": b"[1, 2]",
    "empty-object": b"{}", "deep": b"[" * 100000,
    "out-of-range": b'{"dispatch_us": {"matrix": 1e9, "other": 10}, "forward_ms": 1, '
                    b'"sync_us": 1, "graph_launch_us": 5, "graph_node_us": 0}',
    "negative": b'{"dispatch_us": {"matrix": 10, "other": 10}, "forward_ms": -1, '
                b'"sync_us": 1, "graph_launch_us": 5, "graph_node_us": 0}',
    "strings": b'{"dispatch_us": {"matrix": "x", "other": 10}, "forward_ms": 1, '
               b'"sync_us": 1, "graph_launch_us": 5, "graph_node_us": 0}',
}
FILE_FORMATS = {"a host model file": HOST_FILES, "a hardware id or a YAML file": YAML_FILES, "a hardware id or file": YAML_FILES,
                "a config file": YAML_FILES, "a profiles file": YAML_FILES,
                "a kernel suite file": YAML_FILES, "a calibration folder": JSON_FILES,
                "a CSV file": CSV_FILES, "a model name or config.json": MODEL_FILES}
OUTPUT_FOLDER = {"is-a-file": "<file>", "under-a-file": "<file>/sub", "long-name": "<long>"}
OUTPUT_FILE = {"is-a-folder": "<folder>", "missing-parent": "<dir>/no/such/out.csv",
               "under-a-file": "<file>/out.csv", "long-name": "<long>"}


def _generated_cases() -> list[Case]:
    cases: list[Case] = []
    seen: set[str] = set()

    def add(case: Case) -> None:
        if case.id not in seen:
            seen.add(case.id)
            cases.append(case)

    for command, action in _walk(build_parser()):
        flag = _flag(action)
        add(Case(f"{command} unknown option", tuple(BASE[command]) + ("--bogus-option",),
                 ("--bogus-option",)))
        if action.nargs == 0:          # a switch given a value
            add(Case(f"{command} {flag[-1]}=value", tuple(BASE[command]) + (f"{flag[-1]}=1",),
                     flag))
            continue
        t = action.type
        kind = getattr(t, "__name__", "")
        if action.choices:
            add(Case(f"{command} {flag[-1]} bogus choice", _with(command, action, "bogus"),
                     flag + ("bogus",)))
        elif kind == "integer":
            lo, _ = t.bounds
            for v in BAD_INTEGERS + [str(lo - 1)]:
                add(Case(f"{command} {flag[-1]}={v!r}", _with(command, action, v), flag))
        elif kind == "number":
            lo, hi, strict = t.bounds
            edges = [f"{lo:g}"] if strict else ([f"{lo / 10:g}"] if lo > 0 else [])
            for v in BAD_AMOUNTS + edges + ([repr(float(hi))] if hi is not None else []):
                add(Case(f"{command} {flag[-1]}={v!r}", _with(command, action, v), flag))
        elif kind == "name":
            for v in ("", " "):
                add(Case(f"{command} {flag[-1]}={v!r}", _with(command, action, v), flag))
            files = FILE_FORMATS.get(t.what)
            if files is not None:
                for name in files:
                    token = f"<input:{t.what}:{name}>"
                    add(Case(f"{command} {flag[-1]} {name} file", _with(command, action, token),
                             (token,)))
            elif t.what == "a folder":
                for name, path in OUTPUT_FOLDER.items():
                    add(Case(f"{command} {flag[-1]} {name}", _with(command, action, path),
                             flag))
            elif t.what == "a file name":
                for name, path in OUTPUT_FILE.items():
                    add(Case(f"{command} {flag[-1]} {name}", _with(command, action, path),
                             flag))
        elif flag[-1] in BAD_TEXT:
            for v in BAD_TEXT[flag[-1]]:
                add(Case(f"{command} {flag[-1]}={v!r}", _with(command, action, v),
                         flag + ("--vary",)))
    return cases


# Sizes beyond the model's positions or the GPU's memory, and other values that are well formed
# but impossible; the message must name the flag.
LIMIT_CASES = [
    Case("predict decode over positions", ("predict", "--implementation", "flash",
                                           "--decode-tokens", "10000000"), ("--decode-tokens",)),
    Case("cost decode over positions", ("cost", "--decode-tokens", "1000000000"),
         ("--decode-tokens",)),
    Case("cost prompt over positions", ("cost", "--prompt-tokens", "1000000000"),
         ("--prompt-tokens",)),
    Case("cost prompt + decode over positions", ("cost", "--prompt-tokens", "8000",
                                                 "--decode-tokens", "8000"), ("--prompt-tokens",)),
    Case("cost batch over memory", ("cost", "--batch", "1000000000"), ("--batch",)),
    Case("cost grid over memory", ("cost", "--grid", "99999999999x99999999999"), ("--grid",)),
    Case("predict grid over the GPU's memory", ("predict", "--implementation", "flash",
                                                "--grid", "100x100"), ("--grid",)),
    Case("predict grid over a small GPU's memory", ("predict", "--implementation", "flash",
                                                    "--hardware", "rtx-4090", "--grid", "60x60"),
         ("rtx-4090",)),
    Case("tokens max crops over positions", ("tokens", "--image", "2480x3508",
                                             "--max-crops", "100000"), ("--max-crops",)),
    Case("tokens min crops over max", ("tokens", "--image", "2480x3508", "--min-crops", "5",
                                       "--max-crops", "3"), ("--min-crops",)),
    Case("tokens grid over memory", ("tokens", "--grid", "1000x1000"), ("--grid",)),
    # the crop chooser's limits where no grid is chosen (they were silently ignored)
    Case("tokens min crops with a grid", ("tokens", "--grid", "2x3", "--min-crops", "5"),
         ("--min-crops",)),
    Case("tokens max crops without an image", ("tokens", "--max-crops", "4"), ("--max-crops",)),
    Case("tokens max crops in a single-view mode", ("tokens", "--image", "2480x3508", "--mode",
                                                    "tiny", "--max-crops", "4"),
         ("--max-crops",)),
    Case("cost max crops with a grid", ("cost", "--layers", "none", "--grid", "2x3",
                                        "--max-crops", "4"), ("--max-crops",)),
    Case("cost max crops with the default grid", ("cost", "--layers", "none", "--max-crops",
                                                  "4"), ("--max-crops",)),
    Case("predict min crops with a grid", ("predict", "--implementation", "flash", "--grid",
                                           "2x3", "--min-crops", "2"), ("--min-crops",)),
    Case("tokens grid in a single-view mode", ("tokens", "--grid", "2x3", "--mode", "tiny"),
         ("2x3",)),
    Case("sweep grids over memory", ("sweep", "vision", "--grids", "100000x100000",
                                     "--no-reference", "--out", "{dir}/s"), ("--grids",)),
    Case("sweep too many grids", ("sweep", "vision", "--grids", ",".join(["1x2"] * 1001),
                                  "--no-reference", "--out", "{dir}/s"), ("--grids",)),
    Case("sweep vary batch over memory", ("sweep", "decode", "--vary", "batch=1:1000000000",
                                          "--no-reference", "--out", "{dir}/s"), ("--vary",)),
    Case("sweep vary product too large", ("sweep", "decode", "--vary", "batch=1:500:1",
                                          "--vary", "decode-tokens=1:500:1", "--no-reference",
                                          "--out", "{dir}/s"), ("--vary",)),
    Case("sweep vary prefill below the image", ("sweep", "decode", "--vary",
                                                "prefill-tokens=1,2", "--no-reference",
                                                "--out", "{dir}/s"), ("--vary",)),
    Case("sweep vary prefill over positions", ("sweep", "decode", "--vary",
                                               "prefill-tokens=512:65536", "--no-reference",
                                               "--out", "{dir}/s"), ("--vary",)),
    Case("sweep vary twice", ("sweep", "decode", "--vary", "batch=1,2", "--vary", "batch=4",
                              "--no-reference", "--out", "{dir}/s"), ("--vary",)),
    Case("sweep vary with two grids", ("sweep", "decode", "--vary", "batch=1,2", "--grids",
                                       "1x2,2x3", "--no-reference", "--out", "{dir}/s"),
         ("--vary",)),
    # an option the --vary knob sets at every point (it was silently ignored)
    Case("sweep vary batch with --batch", ("sweep", "decode", "--vary", "batch=1,2", "--batch",
                                           "4", "--no-reference", "--out", "{dir}/s"),
         ("--batch 4",)),
    Case("sweep vary decode tokens with --decode-tokens",
         ("sweep", "decode", "--vary", "decode-tokens=1,2", "--decode-tokens", "7",
          "--no-reference", "--out", "{dir}/s"), ("--decode-tokens 7",)),
    Case("sweep vary prefill with --prompt-tokens",
         ("sweep", "decode", "--vary", "prefill-tokens=512:1024", "--prompt-tokens", "7",
          "--no-reference", "--out", "{dir}/s"), ("--prompt-tokens 7",)),
    Case("sweep vary prompt tokens with --prompt-tokens",
         ("sweep", "decode", "--vary", "prompt-tokens=8,16", "--prompt-tokens", "7",
          "--no-reference", "--out", "{dir}/s"), ("--prompt-tokens 7",)),
    Case("sweep model default vary with --prompt-tokens",
         ("sweep", "decode", "--model", "llama-3.1-8b", "--prompt-tokens", "9", "--out",
          "{dir}/s"), ("--prompt-tokens 9",)),
    Case("sweep decode tokens 0", ("sweep", "decode", "--decode-tokens", "0", "--no-reference",
                                   "--out", "{dir}/s"), ("--decode-tokens",)),
    Case("report grids over memory", ("report", "--grids", "100x100", "--no-reference",
                                      "--out", "{dir}/r"), ("--grids",)),
    Case("report profile over positions", ("report", "--profiles", "<profiles:decode_tokens: "
                                           "100000000>", "--no-reference", "--out", "{dir}/r"),
         ("decode_tokens",)),
    Case("report profile max crops over positions", ("report", "--profiles",
                                                     "<profiles:max_crops: 100000>",
                                                     "--no-reference", "--out", "{dir}/r"),
         ("max_crops",)),
    Case("report jobs too many", ("report", "--jobs", "100000", "--out", "{dir}/r"),
         ("--jobs",)),
    Case("verify grids over memory", ("verify", "--grids", "1000x1000"), ("--grids",)),
    Case("verify tolerance 1", ("verify", "--tolerance", "1"), ("--tolerance",)),
    Case("roofline work that overflows", ("roofline", "--flops", "1e308", "--cuda-flops",
                                          "1e308", "--bytes", "1e308"), ("--flops",)),
    Case("roofline without --bytes", ("roofline", "--flops", "1"), ("--bytes",)),
    Case("hardware set twice", ("hardware", "show", "h100-sxm", "--set", "sm_count=100",
                                "--set", "sm_count=120"), ("sm_count",)),
    Case("hardware unknown id", ("hardware", "show", "h100"), ("h100",)),
    Case("hardware no action", ("hardware",), ("hardware",)),
    Case("no command", (), ("COMMAND", "command")),
    Case("unknown command", ("simulate",), ("simulate",)),
    Case("calibrate fit-only without out", ("calibrate", "--fit-only"), ("--out",)),
    Case("calibrate fit-only on a folder without measurements",
         ("calibrate", "--fit-only", "--out", "{dir}/empty-cal"), ("measurements",)),
    Case("calibrate fit-only with resume", ("calibrate", "--fit-only", "--out",
                                            "{dir}/empty-cal", "--resume"), ("--resume",)),
    Case("calibrate no-fit with hardware", ("calibrate", "--device", "cpu", "--no-fit",
                                            "--suite", "{suite}", "--out", "{dir}/cal-nofit",
                                            "--hardware", "h100-sxm"), ("--hardware",)),
    Case("calibrate retry-failed without resume", ("calibrate", "--device", "cpu", "--suite",
                                                   "{suite}", "--out", "{dir}/cal-retry",
                                                   "--no-fit", "--retry-failed"),
         ("--retry-failed",)),
    Case("calibrate on cuda without a GPU", ("calibrate", "--suite", "{suite}", "--out",
                                             "{dir}/cal"), ("GPU",)),
    Case("predict-kernels calibration unknown", ("predict-kernels", "{cases}", "--calibration",
                                                 "no-such-device"), ("no-such-device",)),
    Case("predict image and grid together", ("predict", "--image", "100x100", "--grid", "2x3"),
         ("--grid",)),
    # --model: the transformers model's own limits (max_position_embeddings, its KV cache)
    Case("predict model prompt over positions", ("predict", "--model", "llama-3.1-8b",
                                                 "--prompt-tokens", "200000"),
         ("--prompt-tokens",)),
    Case("predict model prompt + decode over positions",
         ("predict", "--model", "mistral-7b-v0.3", "--prompt-tokens", "30000",
          "--decode-tokens", "5000"), ("--prompt-tokens",)),
    Case("predict model grid", ("predict", "--model", "llama-3.1-8b", "--grid", "2x3"),
         ("--grid",)),
    Case("predict model max crops", ("predict", "--model", "llama-3.1-8b", "--max-crops", "4"),
         ("--max-crops",)),
    # the image tokens of a vision-language model count against max_position_embeddings
    # (image 16384 + prompt 16000 + decode 1000 > 32768; prompt + decode alone fit)
    Case("predict model image + prompt + decode over positions",
         ("predict", "--model", "qwen2-vl-7b", "--image", "3584x3584", "--prompt-tokens",
          "16000", "--decode-tokens", "1000"), ("--image 3584x3584",)),
    Case("sweep model vary prefill with the image over positions",
         ("sweep", "vision-prefill", "--model", "qwen2-vl-7b", "--image", "3584x3584", "--vary",
          "prefill-tokens=32768", "--decode-tokens", "1000", "--out", "{dir}/s"),
         ("--image 3584x3584",)),
    # predict's generated --model file cases stop at its --implementation flash base
    Case("predict model sliding window 0", ("predict", "--model",
                                            "<input:a model name or config.json:sliding-window-0>"),
         ("sliding_window",)),
    Case("cost model defaulted kv heads", ("cost", "--model", "<defaulted:kv-heads-defaulted>"),
         ("num_key_value_heads",)),
    Case("cost model defaulted experts", ("cost", "--model", "<defaulted:experts-defaulted>"),
         ("num_experts",)),
    Case("predict model image of a text model", ("predict", "--model", "llama-3.1-8b",
                                                 "--image", "64x64"), ("--image",)),
    Case("predict model implementation", ("predict", "--model", "llama-3.1-8b",
                                          "--implementation", "flash"), ("--implementation",)),
    Case("cost model unknown", ("cost", "--model", "no-such-model"), ("no-such-model",)),
    Case("cost model batch over memory", ("cost", "--model", "qwen2.5-7b", "--batch",
                                          "1000000000"), ("--batch",)),
    Case("cost model image over memory", ("cost", "--model", "qwen2-vl-7b", "--image",
                                          "100000x100000", "--batch", "100000"), ("--image",)),
    Case("sweep model vary prefill over positions",
         ("sweep", "vision-prefill", "--model", "mistral-7b-v0.3", "--vary",
          "prefill-tokens=512:65536", "--out", "{dir}/s"), ("--vary",)),
    Case("sweep model vary heads", ("sweep", "decode", "--model", "llama-3.1-8b", "--vary",
                                    "heads=2,4", "--out", "{dir}/s"), ("heads",)),
    Case("sweep model with grids", ("sweep", "vision", "--model", "llama-3.1-8b", "--grids",
                                    "1x2", "--out", "{dir}/s"), ("--grids",)),
    Case("sweep image without a model", ("sweep", "vision", "--image", "640x480",
                                         "--no-reference", "--out", "{dir}/s"), ("--image",)),
    Case("report model decode over positions", ("report", "--model", "mistral-7b-v0.3",
                                                "--decode-tokens", "40000", "--out", "{dir}/r"),
         ("--decode-tokens",)),
    Case("report model with profiles", ("report", "--model", "llama-3.1-8b", "--profiles",
                                        "<profiles:decode_tokens: 100>", "--out", "{dir}/r"),
         ("--profiles",)),
    # DeepSeek-OCR's options, which a --model would ignore
    Case("cost model with mode", ("cost", "--model", "llama-3.1-8b", "--mode", "tiny"),
         ("--mode",)),
    Case("cost model with attention and accounting",
         ("cost", "--model", "llama-3.1-8b", "--attention", "normal", "--accounting", "report"),
         ("--attention", "--accounting")),
    Case("sweep model with accounting", ("sweep", "decode", "--model", "llama-3.1-8b",
                                         "--accounting", "report", "--out", "{dir}/s"),
         ("--accounting",)),
    Case("sweep model without reference", ("sweep", "decode", "--model", "llama-3.1-8b",
                                           "--no-reference", "--out", "{dir}/s"),
         ("--no-reference",)),
    Case("report model with lm head", ("report", "--model", "llama-3.1-8b", "--lm-head", "all",
                                       "--out", "{dir}/r"), ("--lm-head",)),
    Case("report model without decoder sweeps", ("report", "--model", "llama-3.1-8b",
                                                 "--no-decoder-sweeps", "--out", "{dir}/r"),
         ("--no-decoder-sweeps",)),
    Case("verify model with grids", ("verify", "--model", "llama-3.1-8b", "--grids", "2x2"),
         ("--grids",)),
    Case("verify model with tolerance and decode", ("verify", "--model", "llama-3.1-8b",
                                                    "--tolerance", "0.5", "--decode-tokens", "5"),
         ("--tolerance", "--decode-tokens")),
    Case("verify model e2e only", ("verify", "--model", "llama-3.1-8b", "--e2e-only"),
         ("--e2e-only",)),
    # serve options another given option would silently override
    Case("serve rates with a target", ("serve", "--requests", "5", "--rates", "1,2",
                                       "--ttft-target-ms", "200"), ("--rates",)),
    Case("serve rates with a rate", ("serve", "--requests", "5", "--rates", "1,2", "--rate",
                                     "5"), ("--rate",)),
    Case("serve target percentile without a target", ("serve", "--requests", "5",
                                                      "--target-percentile", "99"),
         ("--target-percentile",)),
    Case("serve TPOT target of one-token requests", ("serve", "--requests", "5",
                                                      "--output-tokens", "1",
                                                      "--tpot-target-ms", "5"),
         ("--tpot-target-ms",)),
    # budgets that only the text table and the figures use (the JSON holds no requirement)
    Case("sweep budget with json and no plots", ("sweep", "vision", "--grids", "1x2",
                                                 "--no-reference", "--no-plots", "--json",
                                                 "--ttft", "5", "--out", "{dir}/s"),
         ("--ttft",)),
    Case("serve KV cache smaller than a block", ("serve", "--requests", "5",
                                                 "--gpu-memory-utilization", "0.2116",
                                                 "--block-size", "4096"), ("--block-size",)),
    Case("verify model with no prompt", ("verify", "--model", "llama-3.1-8b", "--prompt-tokens",
                                         "0"), ("--prompt-tokens 0",)),
    Case("verify model prompt over positions", ("verify", "--model", "mistral-7b-v0.3",
                                                "--prompt-tokens", "100000"),
         ("--prompt-tokens",)),
    Case("models show unknown", ("models", "show", "no-such-model"), ("no-such-model",)),
    Case("models no action", ("models",), ("ACTION", "models_command")),
    # options the prediction would ignore, or errors from deeper that named no option
    Case("predict eager and host overhead", ("predict", "--implementation", "flash", "--eager",
                                             "--host-overhead-us", "5"), ("--eager",)),
    Case("predict host model without wall", ("predict", "--implementation", "flash",
                                              "--host-model", SHIPPED_HOST), ("--host-model",)),
    Case("predict host probe without a recorded probe", ("predict", "--implementation", "flash",
                                                         "--wall", "graph", "--host-probe-us",
                                                         "5"), ("--host-probe-us",)),
    Case("predict host probe beyond the host model's range",
         ("predict", "--implementation", "flash", "--hardware", "h200", "--calibration", "h200",
          "--wall", "eager", "--host-probe-us", "199"), ("--host-probe-us",)),
    Case("verify layers only with grids", ("verify", "--layers-only", "--grids", "1x2"),
         ("--grids",)),
    Case("verify layers only with tokens", ("verify", "--layers-only", "--prompt-tokens", "5"),
         ("--prompt-tokens",)),
    # an output path whose folder is missing higher up, or is a file: the path at fault named
    Case("hardware derive output under a file", ("hardware", "derive", "h200", "--sms", "40",
                                                 "-o", "<file>/sub/out.yaml"),
         ("a-file is a file, not a folder",)),
    Case("hardware derive output two folders missing",
         ("hardware", "derive", "h200", "--sms", "40", "-o", "<dir>/no/such/out.yaml"),
         ("/no does not exist (nor, in it,",)),
    Case("predict-kernels output under a file", ("predict-kernels", "{cases}", "-o",
                                                 "<file>/out.csv"),
         ("a-file is a file, not a folder",)),
] + [
    # a measurements row's method cells as the harness writes them (a fit took these silently)
    Case(f"calibrate fit-only measurements {cell}",
         ("calibrate", "--fit-only", "--out", f"<measurements:{cell}>", "--hardware", "h200"),
         (f"line 2: column {cell.split('=')[0]} = ",))
    for cell in ("launches=0", "launches=2.5", "trials=0", "sets=0", "set_bytes=1.5",
                 "timer=cuda_graph", "timer=CUDA_EVENTS", "graph=2")
] + [
    # a calibration folder's provenance.json that is not what the harness writes (a traceback)
    Case(f"calibrate fit-only provenance {name}",
         ("calibrate", "--fit-only", "--out", f"<provenance:{name}>"), ("provenance.json",))
    for name in ("not-json", "list", "runs-not-a-list", "run-not-an-object",
                 "device-not-an-object", "device-name-not-text", "sms-not-a-number")
] + [
    Case("calibrate fit-only more measurements launches 0",
         ("calibrate", "--fit-only", "--out", "<measurements:launches=1>", "--hardware", "h200",
          "--more", "<measurements:launches=0>"), ("line 2: column launches = ",)),
]


def _repeated_option_cases() -> list[Case]:
    """Each subcommand with its first one-value option of BASE given twice (argparse kept the
    last value without a word: roofsim.cli.args.refuse_repeated_options)."""
    out = []
    for sub, base in BASE.items():
        for i, tok in enumerate(base[:-1]):
            if tok.startswith("--") and not base[i + 1].startswith("-"):
                out.append(Case(f"{sub} {tok} given twice", (*base, tok, base[i + 1]),
                                (f"{tok} given twice",)))
                break
    return out


def corpus_cases() -> list[Case]:
    return _generated_cases() + LIMIT_CASES + _repeated_option_cases()


CASES = corpus_cases()


def corpus_size() -> int:
    """Parametrized cases here + examples of the hypothesis properties (README states it)."""
    import importlib.util
    path = Path(__file__).parent / "properties" / "test_bad_input_properties.py"
    spec = importlib.util.spec_from_file_location("_bad_input_properties", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return len(CASES) + module.EXAMPLES


# ---- running one case --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad-inputs")
    (d / "a-file").write_text("not a folder\n")
    (d / "a-folder").mkdir()
    (d / "empty-cal").mkdir()
    (d / "cases.csv").write_text(HEADER + "\n" + "gemm,bfloat16,64,64,64" + "," * 19 + "\n")
    (d / "suite.yaml").write_text("name: tiny\nentries:\n  - kind: elementwise\n    list:\n"
                                  "      - {numel: 1024}\n")
    return d


def _materialize(token: str, scratch: Path) -> str:
    """Placeholders -> real paths in the scratch folder."""
    if token.startswith("<input:"):
        what, name = token[len("<input:"):-1].split(":", 1)
        files = FILE_FORMATS[what]
        content = files[name]
        path = scratch / "inputs" / what.replace(" ", "-") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            return str(path) + ".missing"
        if content == "<folder>":
            path.mkdir(exist_ok=True)
            return str(path)
        if content == "<device>":
            return "/dev/zero" if os.path.exists("/dev/zero") else str(path) + ".missing"
        if content == "<long>":
            return str(scratch / ("x" * 300 + ".yaml"))
        if files is JSON_FILES:             # a calibration folder holding this profile.json
            path.mkdir(exist_ok=True)
            (path / "profile.json").write_bytes(content)
            return str(path)
        path = path.with_suffix({id(CSV_FILES): ".csv", id(MODEL_FILES): ".json",
                                 id(HOST_FILES): ".json"}
                                .get(id(files), ".yaml"))
        path.write_bytes(content)
        return str(path)
    if token.startswith(("<measurements:", "<provenance:")):
        kind, spec = token[1:-1].split(":", 1)
        folder = scratch / kind / spec
        folder.mkdir(parents=True, exist_ok=True)
        with open(SHIPPED_MEASUREMENTS, newline="") as f:
            rows = list(csv.reader(f))
        if kind == "measurements":
            column, value = spec.split("=", 1)
            rows[1][rows[0].index(column)] = value
        else:
            (folder / "provenance.json").write_bytes(PROVENANCE_FILES[spec])
        with open(folder / "measurements.csv", "w", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
        return str(folder)
    if token.startswith("<defaulted:"):
        name = token[len("<defaulted:"):-1]
        path = scratch / "defaulted" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(DEFAULTED_MODEL_FILES[name])
        return str(path)
    if token.startswith("<profiles:"):
        field = token[len("<profiles:"):-1]
        path = scratch / f"profiles-{field.split(':')[0]}.yaml"
        path.write_text(_profile_yaml(field))
        return str(path)
    token = (token.replace("<file>", str(scratch / "a-file"))
             .replace("<folder>", str(scratch / "a-folder"))
             .replace("<dir>", str(scratch))
             .replace("<long>", str(scratch / ("y" * 300))))
    return (token.replace("{dir}", str(scratch)).replace("{cases}", str(scratch / "cases.csv"))
            .replace("{suite}", str(scratch / "suite.yaml")))


def _profile_yaml(field: str) -> str:
    entry = {"name": "p", "width": "2480", "height": "3508", "mode": "gundam",
             "prompt_tokens": "10", "decode_tokens": "100"}
    key, value = (x.strip() for x in field.split(":", 1))
    entry[key] = value
    return "profiles:\n  - {" + ", ".join(f"{k}: {v}" for k, v in entry.items()) + "}\n"


def _peak_mb() -> float:
    """The process's peak resident memory (kB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def run_case(case: Case, scratch: Path, capsys) -> tuple[int, str, str, float, float]:
    argv = []
    for tok in case.argv:
        # placeholders may sit after "--flag=" in a generated case
        head, eq, tail = tok.partition("=")
        if eq and tail.startswith("<") and head.startswith("-"):
            argv.append(f"{head}={_materialize(tail, scratch)}")
        else:
            argv.append(_materialize(tok, scratch))
    peak0 = _peak_mb()
    t0 = time.perf_counter()
    try:
        rc = main(argv)
    except SystemExit as exc:          # argparse --help / --version only
        rc = exc.code
    elapsed = time.perf_counter() - t0
    peak_mb = _peak_mb() - peak0
    out, err = capsys.readouterr()
    return rc, out, err, elapsed, peak_mb


def assert_clear_error(rc, out, err, elapsed, peak_mb, names=()) -> None:
    assert rc == 2, (rc, out[-500:], err[-500:])
    assert out == "", out[-500:]
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("roofsim: error: "), err
    assert "Traceback" not in err and "Error:" not in err.split("error:", 1)[1], err
    if names:
        assert any(n in err for n in names), (names, err)
    assert elapsed < TIME_LIMIT_S, elapsed
    assert peak_mb < MEMORY_LIMIT_MB, peak_mb


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line_and_status_2(case, scratch, capsys):
    rc, out, err, elapsed, peak = run_case(case, scratch, capsys)
    names = tuple(_materialize(n, scratch) if n.startswith("<") else n for n in case.names)
    # a file is named by its path; a path too long for the message by its start
    names += tuple(n[:40] for n in names)
    assert_clear_error(rc, out, err, elapsed, peak, names)


def test_the_corpus_covers_every_subcommand_and_is_large_enough():
    commands = {c.argv[0] for c in CASES if c.argv}
    assert commands >= {"hardware", "roofline", "calibrate", "predict-kernels", "predict",
                        "models", "tokens", "cost", "verify", "sweep", "report", "serve"}
    assert corpus_size() >= 250


def test_readme_states_the_corpus_size():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"{corpus_size()} bad or extreme inputs" in readme


def test_options_that_collect_and_flags_may_repeat_and_one_value_options_may_not():
    """--set collects (each key once is its own check), a flag given twice is the same flag;
    a one-value option given twice, in either spelling, is refused; `--` ends the options."""
    from roofsim.cli.args import refuse_repeated_options
    from roofsim.errors import UserError
    parser = build_parser()
    refuse_repeated_options(parser, ["predict", "--set", "a=1", "--set", "b=2", "--json",
                                     "--json", "--grid", "2x3"])
    refuse_repeated_options(parser, ["predict", "--grid", "2x3", "--", "--grid"])
    for argv in (["predict", "--grid=2x3", "--json", "--grid", "4x4"],
                 ["hardware", "derive", "h200", "--sms", "8", "-o", "a.yaml", "-o", "b.yaml"]):
        with pytest.raises(UserError, match="given twice"):
            refuse_repeated_options(parser, argv)
