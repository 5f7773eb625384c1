#!/usr/bin/env python3
"""Draw Murmur's icons: a rounded tile with three sound bars, one tray icon per state.

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


def tray(colour, dot=None):
    def pixel(u, v):
        if dot and (u - 0.8) ** 2 + (v - 0.8) ** 2 <= 0.035:
            return dot
        if on_bar(u, v, 0.08):
            return colour
        return (0, 0, 0, 0)

    return pixel


if __name__ == "__main__":
    for size, name in [(32, "32x32.png"), (128, "128x128.png"), (256, "128x128@2x.png"), (512, "icon.png")]:
        png(HERE / name, size, app_icon)
    # icon.icns (macOS) is made from icon.png by the Tauri CLI: `tauri icon icons/icon.png`.
    black = (0, 0, 0, 255)
    # Stopped is the ready icon at low opacity, so it still reads as "off" when macOS draws
    # it as a template (alpha only).
    grey = (0, 0, 0, 100)
    png(HERE / "tray-ready.png", 44, tray(black))
    png(HERE / "tray-stopped.png", 44, tray(grey))
    png(HERE / "tray-warming.png", 44, tray(black, (230, 160, 0, 255)))
    png(HERE / "tray-failed.png", 44, tray(black, (220, 40, 40, 255)))
