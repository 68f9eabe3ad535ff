"""The probes' shared run record (benchmarks/probe_static_attention.ProbeRun): on the whole
chip it holds no green context, and a run writes its rows and a provenance with the device state
before and after and the command."""

import csv
import json
from benchmark_module import load_benchmark



def _module():
    return load_benchmark("probe_static_attention")


def test_a_run_writes_its_rows_and_provenance(tmp_path):
    mod = _module()
    run = mod.ProbeRun.start("what it probes", "probe_x.py", ["--kv", "8"], 0, tmp_path / "o")
    assert run.restriction is None and run.prov["sms"] is None
    run.finish([{"heads": 4, "kv": 8, "kernel_s": 1e-6}, {"heads": 8, "kv": 8, "kernel_s": 2e-6}])
    with open(tmp_path / "o" / "cases.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["heads"] for r in rows] == ["4", "8"]
    prov = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert prov["what"] == "what it probes" and prov["command"] == "probe_x.py --kv 8"
    assert "device_before" in prov and "device_after" in prov and prov["software"]
