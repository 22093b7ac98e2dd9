"""Draws the IBEX Updater icon (assets/ibex-updater.png and .ico) from the same shapes as
assets/ibex-updater.svg: a blue rounded square with a white arrow over a bar.

Run from the repository root: python3 packaging/make_icons.py. Uses only the standard library.
"""
import struct
import zlib

SIZE = 256
BLUE = (31, 78, 121, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def inside_rounded_square(x, y, margin=8, radius=48):
    lo, hi = margin, SIZE - margin
    cx = min(max(x, lo + radius), hi - radius)
    cy = min(max(y, lo + radius), hi - radius)
    return lo <= x <= hi and lo <= y <= hi and (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2


def inside_arrow(x, y):
    # Shaft, head (a triangle pointing down: "install"), and the bar it lands on.
    shaft = 108 <= x <= 148 and 48 <= y <= 128
    head = 128 <= y <= 180 and abs(x - 128) <= (180 - y) * 1.25
    bar = 64 <= x <= 192 and 196 <= y <= 216
    return shaft or head or bar


def pixels():
    rows = []
    for y in range(SIZE):
        row = bytearray([0])  # PNG filter: none
        for x in range(SIZE):
            colour = WHITE if inside_arrow(x, y) else BLUE if inside_rounded_square(x, y) else CLEAR
            row.extend(colour)
        rows.append(bytes(row))
    return b"".join(rows)


def png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels(), 9)) + chunk(b"IEND", b"")


def ico(png_bytes):
    # One 256x256 image stored as PNG (size bytes 0 mean 256), as Windows Vista and later read.
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png_bytes), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + png_bytes


if __name__ == "__main__":
    image = png()
    with open("assets/ibex-updater.png", "wb") as f:
        f.write(image)
    with open("assets/ibex-updater.ico", "wb") as f:
        f.write(ico(image))
