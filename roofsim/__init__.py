"""roofsim: a per-kernel roofline simulator for transformer inference.

Everything that costs something is a kernel record (roofsim.records); the engine
(roofsim.engine) turns records + a hardware spec (roofsim.hardware) into time.
"""

__version__ = "0.1.0"
