"""Calibration against real GPU kernels (issue 6).

kernels/*.yaml suites (suites.py) -> timing harness on the GPU (timing.py: CUDA graphs over
rotating random inputs on a cold L2, CUDA events; nvml.py: device state beside every row;
run.py: rows written as measured, resumable) -> calibration/<device>/measurements.csv ->
fit (fit.py, features.py, interpolate.py) -> profile.json (profile.py), which the engine uses
through `predict_launch_s(table, hardware)`. accuracy.py checks it on held-out shapes.
"""

from .profile import CalibrationProfile, load_profile

__all__ = ["CalibrationProfile", "load_profile"]
