"""Unit conversions, used only at the edge (tables, plots, CLI). Inside the code: SI base units."""

TERA = 1e12
GIGA = 1e9
MEGA = 1e6
BITS_PER_BYTE = 8


def to_tflops(flops):
    return flops / TERA


def to_gflops(flops):
    return flops / GIGA


def to_gb(nbytes):
    return nbytes / GIGA


def to_terabits(nbytes):
    return nbytes * BITS_PER_BYTE / TERA


def to_ms(seconds):
    return seconds * 1e3


def to_us(seconds):
    return seconds * 1e6
