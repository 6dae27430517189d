#!/usr/bin/env python3
"""Writes the bad-input corpus into tests/corpus/files/ (deterministic: same bytes every run).

Needs Pillow (`python3 -m pip install pillow`); the files are committed, so tests never run
this. Two inputs are made by the tests themselves instead of being committed: a 200 MB file
(`huge-200MB.png`, sparse) and an empty folder (git keeps no empty folders).
"""
import io
import os
import random
import shutil
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent / "files"


def digit(size=28, mode="L"):
    """A '7'-like stroke, white on black, as MNIST draws digits."""
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    s = size / 28
    d.line([(7 * s, 7 * s), (21 * s, 7 * s), (12 * s, 23 * s)], fill=255, width=max(1, round(3 * s)))
    return img.convert(mode) if mode != "L" else img


def encode(img, fmt, **options):
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_header(width, height, idat=b"", bit_depth=8, color_type=0, crc_ok=True):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    chunk = png_chunk(b"IHDR", ihdr)
    if not crc_ok:
        chunk = chunk[:-4] + b"\0\0\0\0"
    return b"\x89PNG\r\n\x1a\n" + chunk + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def flip(data, seed, count=12, skip=64):
    """Flip `count` random bits past the first `skip` bytes (headers stay readable)."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(count):
        at = rng.randrange(min(skip, len(out) - 1), len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    files = {}
    seven = digit()
    big_seven = digit(64)
    png = encode(seven, "PNG")
    jpg = encode(big_seven, "JPEG", quality=90)
    gif = encode(seven.convert("P"), "GIF")
    webp = encode(big_seven, "WEBP", lossless=True)
    bmp = encode(seven, "BMP")

    # Valid images, each a different corner of the formats.
    files["valid.png"] = png
    files["valid-lossless.webp"] = webp
    files["valid-lossy.webp"] = encode(big_seven.convert("RGB"), "WEBP", quality=80)
    files["valid.bmp"] = bmp
    files["bmp-1-bit.bmp"] = encode(seven.convert("1"), "BMP")
    files["bmp-32-bit-alpha.bmp"] = encode(big_seven.convert("RGBA"), "BMP")
    files["one-pixel.png"] = encode(Image.new("L", (1, 1), 255), "PNG")
    files["wide-10000x10.png"] = encode(Image.new("L", (10000, 10), 128), "PNG")
    files["tall-10x10000.png"] = encode(Image.new("L", (10, 10000), 128), "PNG")
    files["gray-16-bit.png"] = encode(big_seven.convert("I;16").point(lambda v: v * 257), "PNG")
    files["palette.png"] = encode(big_seven.convert("P"), "PNG")
    transparent = big_seven.convert("P")
    files["palette-transparent.png"] = encode(transparent, "PNG", transparency=0)
    alpha_only = Image.merge("RGBA", [Image.new("L", (64, 64), 255)] * 3 + [big_seven])
    files["alpha-only-white-ink.png"] = encode(alpha_only, "PNG")
    files["alpha-only-black-ink.png"] = encode(
        Image.merge("RGBA", [Image.new("L", (64, 64), 0)] * 3 + [big_seven]), "PNG")
    files["gray-alpha.png"] = encode(big_seven.convert("LA"), "PNG")
    files["cmyk.jpg"] = encode(big_seven.convert("CMYK"), "JPEG", quality=90)
    files["progressive.jpg"] = encode(big_seven, "JPEG", quality=90, progressive=True)
    files["grayscale.jpg"] = jpg
    files["rgb.jpg"] = encode(big_seven.convert("RGB"), "JPEG", quality=90)
    # The same digit stored turned a quarter (EXIF orientation 6 says: turn it back).
    exif = Image.Exif()
    exif[0x0112] = 6
    files["exif-rotated.jpg"] = encode(big_seven.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif.tobytes())
    frames = [digit(), digit().transpose(Image.Transpose.FLIP_LEFT_RIGHT), Image.new("L", (28, 28), 0)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["animated.gif"] = buf.getvalue()
    files["png-named.jpg"] = png
    files["jpeg-named.png"] = jpg
    files["png-without-extension"] = png
    files["png-with-trailing-garbage.png"] = png + b"GARBAGE" * 100

    # Broken and hostile files.
    files["empty.png"] = b""
    files["empty.jpg"] = b""
    for name, data in [("png", png), ("jpg", jpg), ("gif", gif), ("webp", webp), ("bmp", bmp)]:
        files[f"truncated.{name}"] = data[: len(data) // 2]
        files[f"bit-flipped.{name}"] = flip(data, seed=len(name) * 7 + len(data))
    files["text-file.png"] = b"This is a text file, not an image.\n" * 20
    files["html-page.png"] = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>\n"
    files["executable.png"] = b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 16
    files["zip-archive.png"] = b"PK\x03\x04" + b"\x00" * 200
    files["svg-drawing.svg"] = b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><path d="M7 7h14l-9 16" stroke="#fff"/></svg>'
    files["tiff-image.tif"] = encode(seven, "TIFF")
    files["jpeg-markers-only.jpg"] = b"\xff\xd8\xff\xd9"
    files["png-signature-only.png"] = b"\x89PNG\r\n\x1a\n"
    # Decompression bombs: headers that claim huge sizes, almost no data.
    files["bomb-100000x100000.png"] = png_with_header(100_000, 100_000, zlib.compress(b"\0" * 100_000))
    files["bomb-gif-65535x65535.gif"] = gif[:6] + struct.pack("<HH", 65535, 65535) + gif[10:]
    bmp_header = bytearray(bmp)
    struct.pack_into("<ii", bmp_header, 18, 60_000, 60_000)
    files["bomb-bmp-60000x60000.bmp"] = bytes(bmp_header)
    files["png-zero-width.png"] = png_with_header(0, 28, zlib.compress(b"\0" * 28))
    files["png-bad-header-crc.png"] = png_with_header(28, 28, zlib.compress(b"\0" * (29 * 28)), crc_ok=False)
    files["png-bad-bit-depth.png"] = png_with_header(28, 28, zlib.compress(b"\0" * (29 * 28)), bit_depth=7)

    for name, data in sorted(files.items()):
        (OUT / name).write_bytes(data)
    # Pillow writes no Adam7 PNGs: interlace by hand from the 8-bit digit.
    (OUT / "interlaced.png").write_bytes(adam7_png(big_seven))
    print(f"wrote {len(list(OUT.iterdir()))} files to {OUT}")


def adam7_png(img):
    width, height = img.size
    pixels = img.tobytes()
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        for y in range(y0, height, dy):
            row = bytes(pixels[y * width + x] for x in range(x0, width, dx))
            if row:
                raw += b"\0" + row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(bytes(raw)))
            + png_chunk(b"IEND", b""))


if __name__ == "__main__":
    main()
