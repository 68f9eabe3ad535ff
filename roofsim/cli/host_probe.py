"""`roofsim host-probe`: how fast this machine's host issues eager GPU work, for
`roofsim predict --wall eager --host-probe-us`."""

from __future__ import annotations

from ..errors import UserError
from .args import amount
from .common import add_json_arg
from .output import print_json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "host-probe", help="this host's probe reading, for predict --host-probe-us",
        description="Times this process's eager dispatch of a one-element in-place add on the "
                    "GPU (roofsim.calibration.hostprobe: Python, dispatcher and launch) and "
                    "prints microseconds per dispatch. An eager, host-bound wall follows it: "
                    "pass it to `roofsim predict --wall eager --host-probe-us` to predict this "
                    "host. Readings of one machine can differ from process to process; take "
                    "one where the workload will run. Needs torch (and a CUDA GPU unless "
                    "--device cpu, a check that times the CPU dispatch instead).")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="cuda (default) or cpu (a check without a GPU: not a reading "
                             "for --host-probe-us)")
    parser.add_argument("--seconds", metavar="S", type=amount(0.0, hi=3600.0, unit="s"),
                        default=0.0,
                        help="keep reading for S seconds and give the median, least and most "
                             "reading (a host whose speed moves shows it here); default: one "
                             "reading")
    add_json_arg(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    try:
        import torch
    except ImportError:
        raise UserError("host-probe needs torch (pip install torch)") from None
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UserError("host-probe: no CUDA GPU here (torch.cuda.is_available() is False); "
                        "run it on the machine to predict, or --device cpu for a check")
    import statistics
    import time
    from ..calibration.hostprobe import host_probe
    readings = [host_probe(torch, args.device)]
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        readings.append(host_probe(torch, args.device))
    probe_s = statistics.median(readings)
    if args.json:
        print_json({"host_probe_us": probe_s * 1e6, "device": args.device,
                    "readings_us": [r * 1e6 for r in readings], "torch": torch.__version__})
        return 0
    if len(readings) > 1:
        least, most = min(readings), max(readings)
        print(f"{len(readings)} readings over {args.seconds:g} s: least {least * 1e6:.2f}, "
              f"most {most * 1e6:.2f} us (most / least {most / least:.2f})")
    print(f"host probe: {probe_s * 1e6:.2f} us per eager dispatch on {args.device}"
          + (" (a check: CPU dispatch, not a reading for --host-probe-us)"
             if args.device == "cpu" else
             f"; use: roofsim predict --wall eager --host-probe-us {probe_s * 1e6:.2f}"))
    return 0
