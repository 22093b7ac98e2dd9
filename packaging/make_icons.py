"""Draws the IBEX Updater icon (assets/ibex-updater.png and .ico) from the same shapes as
assets/ibex-updater.svg: a blue rounded square with a white arrow over a bar. Also draws the icons
of the shortcuts the MSI makes: "IBEX" (assets/ibex.ico, a green square with a white "start"
triangle) and "genie_python" (assets/genie_python.ico, a yellow square with a blue prompt).

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


GREEN = (46, 125, 50, 255)
YELLOW = (255, 212, 59, 255)
PYTHON_BLUE = (55, 118, 171, 255)


def inside_start(x, y):
    # A triangle pointing right: "start".
    return 88 <= x <= 184 and abs(y - 128) <= (184 - x) * 0.6


def inside_prompt(x, y):
    # ">" and "_": a console prompt.
    chevron = 64 <= x <= 128 and abs(abs(y - 112) - (128 - x) * 0.75) <= 10 and abs(y - 112) <= 48
    underscore = 140 <= x <= 196 and 152 <= y <= 172
    return chevron or underscore


def pixels(mark=inside_arrow, ground=BLUE, ink=WHITE):
    rows = []
    for y in range(SIZE):
        row = bytearray([0])  # PNG filter: none
        for x in range(SIZE):
            colour = ink if mark(x, y) else ground if inside_rounded_square(x, y) else CLEAR
            row.extend(colour)
        rows.append(bytes(row))
    return b"".join(rows)


def png(image=None):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(image or pixels(), 9)) + chunk(b"IEND", b"")


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
    ibex = png(pixels(inside_start, GREEN, WHITE))
    with open("assets/ibex.png", "wb") as f:
        f.write(ibex)
    with open("assets/ibex.ico", "wb") as f:
        f.write(ico(ibex))
    with open("assets/genie_python.ico", "wb") as f:
        f.write(ico(png(pixels(inside_prompt, YELLOW, PYTHON_BLUE))))
