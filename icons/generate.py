#!/usr/bin/env python3
"""Draw Murmur's icons: a rounded tile with three sound bars, and tray icons for each state.

Standard library only, so it runs anywhere: `python3 icons/generate.py`.
"""
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def png(path, size, pixel):
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            row.extend(pixel((x + 0.5) / size, (y + 0.5) / size))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def inside_rounded(u, v, margin, radius):
    lo, hi = margin, 1 - margin
    cx = min(max(u, lo + radius), hi - radius)
    cy = min(max(v, lo + radius), hi - radius)
    return (u - cx) ** 2 + (v - cy) ** 2 <= radius**2 and lo <= u <= hi and lo <= v <= hi


# Bars: (centre x, half height)
BARS = [(0.32, 0.14), (0.5, 0.26), (0.68, 0.18)]


def on_bar(u, v, width=0.055):
    for cx, half in BARS:
        if abs(u - cx) <= width and abs(v - 0.5) <= half:
            return True
    return False


def app_icon(u, v):
    if not inside_rounded(u, v, 0.06, 0.2):
        return (0, 0, 0, 0)
    if on_bar(u, v):
        return (255, 255, 255, 255)
    t = v
    return (int(88 + 40 * t), int(86 - 30 * t), int(214 - 20 * t), 255)


# ---- tray icons -----------------------------------------------------------------------------
# One glyph per state, told apart by shape (macOS draws template images in the menu bar's own
# colour, so colour cannot carry the state there): three sound bars when ready, a flat line
# (silence) when stopped, a rising staircase while warming up, struck through when failed. Drawn from
# distance functions with 4×4 supersampling, at 22 px (1×) and 44 px (2×).


def segment(u, v, ax, ay, bx, by):
    """Distance from (u, v) to the segment a–b."""
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((u - ax) * dx + (v - ay) * dy) / (dx * dx + dy * dy or 1)))
    return ((u - ax - t * dx) ** 2 + (v - ay - t * dy) ** 2) ** 0.5


BAR_X = (0.22, 0.5, 0.78)
BAR_R = 0.08  # half a bar's width: rounded ends


def bars(u, v, halves, bottom=None):
    """Distance to rounded bars of the given half heights (centred, or standing on `bottom`)."""
    best = 9.0
    for x, half in zip(BAR_X, halves):
        if bottom is None:
            top, low = 0.5 - half, 0.5 + half
        else:
            top, low = bottom - 2 * half, bottom
        best = min(best, segment(u, v, x, top + BAR_R, x, low - BAR_R) - BAR_R)
    return best


def glyph(state):
    """The signed distance (negative inside) of a state's glyph at (u, v)."""
    if state == "ready":
        return lambda u, v: bars(u, v, (0.2, 0.36, 0.26))
    if state == "stopped":
        return lambda u, v: segment(u, v, BAR_X[0], 0.5, BAR_X[2], 0.5) - BAR_R
    if state == "warming":
        return lambda u, v: bars(u, v, (0.14, 0.24, 0.36), bottom=0.86)

    def failed(u, v):
        # The ready bars, cut along a diagonal, with the stroke in the cut.
        cut = segment(u, v, 0.1, 0.1, 0.9, 0.9)
        shape = max(bars(u, v, (0.2, 0.36, 0.26)), -(cut - 0.11))
        return min(shape, cut - 0.055)

    return failed


def coverage(sdf, u, v, size, grow=0.0):
    """How much of the pixel at (u, v) the shape covers (4×4 samples), grown by `grow`."""
    hits = 0
    for i in range(4):
        for j in range(4):
            su = u + (i - 1.5) / (4 * size)
            sv = v + (j - 1.5) / (4 * size)
            hits += sdf(su, sv) <= grow
    return hits / 16


def template(state, size):
    """macOS: black with alpha only; the menu bar colours it."""
    sdf = glyph(state)
    return lambda u, v: (0, 0, 0, round(255 * coverage(sdf, u, v, size)))


# Linux and Windows: the state's colour, ringed in near-black so it reads on light and dark
# panels alike.
COLOURS = {"ready": (48, 196, 88), "stopped": (160, 160, 166), "warming": (250, 170, 20), "failed": (250, 80, 80)}
RING = (20, 20, 22)


def coloured(state, size):
    sdf = glyph(state)
    fill = COLOURS[state]
    ring = 1.25 / size  # a pixel and a bit at either size

    def pixel(u, v):
        inner = coverage(sdf, u, v, size)
        outer = coverage(sdf, u, v, size, ring)
        alpha = outer
        if alpha == 0:
            return (0, 0, 0, 0)
        mix = inner / alpha
        rgb = tuple(round(f * mix + r * (1 - mix)) for f, r in zip(fill, RING))
        return (*rgb, round(255 * alpha))

    return pixel


STATES = ("ready", "stopped", "warming", "failed")


if __name__ == "__main__":
    for size, name in [(32, "32x32.png"), (128, "128x128.png"), (256, "128x128@2x.png"), (512, "icon.png")]:
        png(HERE / name, size, app_icon)
    # icon.icns (macOS) is made from icon.png by the Tauri CLI: `tauri icon icons/icon.png`.
    for state in STATES:
        for size, suffix in [(22, ""), (44, "@2x")]:
            png(HERE / f"tray-{state}{suffix}.png", size, coloured(state, size))
            png(HERE / f"tray-{state}-template{suffix}.png", size, template(state, size))
