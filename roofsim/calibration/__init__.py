"""Calibration against real GPU kernels (issue 6).

kernels/*.yaml suites (suites.py) -> timing harness on the GPU (timing.py: CUDA graphs over
rotating random inputs on a cold L2, CUDA events; nvml.py: device state beside every row;
run.py: rows written as measured, resumable) -> calibration/<device>/measurements.csv ->
fit (fit.py, features.py, interpolate.py) -> profile.json (profile.py), which the engine uses
through `predict_launch_s(table, hardware)`. accuracy.py checks it on held-out shapes.

published.py reads the public microbenchmark and MAMF measurements under
calibration/published/ (GPUs we cannot run); it needs only numpy, so the fitting stack (scipy)
is imported on first use of the names below, not with the package.
"""

__all__ = ["CalibrationProfile", "load_profile"]


def __getattr__(name):
    if name in __all__:
        from . import profile
        return getattr(profile, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
