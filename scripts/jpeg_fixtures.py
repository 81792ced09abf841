"""JPEG decoding fixtures, written and decoded by Pillow (its own bundled libjpeg-turbo build,
independent of the system's libturbojpeg that JPEG.swift uses).

Writes Tests/DetectorTests/Fixtures/jpeg_*.jpg (and two files whose extension lies about their
content) and jpeg_expected.json, which holds for every file the 8-bit RGB pixels Pillow gives
after `ImageOps.exif_transpose` and `convert("RGB")` (hex, row by row), and its width and
height. Two decoders of the same file may differ by a level or two (IDCT and upsampling
rounding in different libjpeg-turbo versions and SIMD paths), so the tests compare with a
tolerance.

  jpeg_baseline.jpg          16x12 colour pattern, baseline, 4:2:0 chroma (a partial MCU row)
  jpeg_progressive.jpg       the same pixels, progressive
  jpeg_gray.jpg              16x12 grayscale (one component)
  jpeg_cmyk_adobe.jpg        16x12 CMYK as Pillow writes it: inverted values, APP14 "Adobe"
  jpeg_cmyk_plain.jpg        the same file without its APP14 segment (still read as inverted)
  jpeg_orientation_N.jpg     N = 1..8: a 32x16 image of four solid 16x8 quadrants (red, green /
                             blue, white; 4:4:4, quality 100, so each 8x8 block is one colour)
                             with EXIF orientation N (Pillow writes little-endian TIFF)
  jpeg_orientation_6_be.jpg  the same pixels with a hand-built big-endian ("MM") Exif segment
  jpeg_truncated.jpg         a 64x48 noisy baseline JPEG cut to 60% of its bytes (no expected
                             pixels: it must be refused)
  jpeg_really_png.jpg        a PNG file named .jpg (the reader goes by content)
  png_really_jpeg.png        jpeg_baseline.jpg's bytes named .png

Run: python3 scripts/jpeg_fixtures.py
"""
import io
import json
import os
import random
import struct

from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "DetectorTests", "Fixtures")


def pattern(w, h):
    """A smooth colour pattern with a sharp diagonal edge (exercises IDCT and upsampling)."""
    im = Image.new("RGB", (w, h))
    im.putdata([(x * 255 // (w - 1), y * 255 // (h - 1), 200 if x > y else 40) for y in range(h) for x in range(w)])
    return im


def quadrants(w=32, h=16):
    colours = [[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (255, 255, 255)]]
    im = Image.new("RGB", (w, h))
    im.putdata([colours[y >= h // 2][x >= w // 2] for y in range(h) for x in range(w)])
    return im


def jpeg_bytes(im, **options):
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def segments(data):
    """(offset, marker, total length) of each marker segment before the first SOS."""
    assert data[:2] == b"\xff\xd8"
    i, out = 2, []
    while True:
        assert data[i] == 0xFF
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((i, marker, 2 + length))
        if marker == 0xDA:
            return out
        i += 2 + length


def without_app14(data):
    for offset, marker, length in segments(data):
        if marker == 0xEE:
            return data[:offset] + data[offset + length:]
    raise SystemExit("Pillow wrote no APP14 marker for CMYK")


def big_endian_exif(orientation):
    """APP1 payload: Exif header, big-endian TIFF header, IFD0 with one SHORT entry 0x0112."""
    tiff = b"MM" + struct.pack(">HI", 42, 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    return b"Exif\x00\x00" + tiff


def expected(data):
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im).convert("RGB")
    return {"width": im.width, "height": im.height, "pixels": im.tobytes().hex()}


def main():
    files = {}
    base = pattern(16, 12)
    files["jpeg_baseline.jpg"] = jpeg_bytes(base, quality=90)
    files["jpeg_progressive.jpg"] = jpeg_bytes(base, quality=90, progressive=True)
    files["jpeg_gray.jpg"] = jpeg_bytes(base.convert("L"), quality=90)
    cmyk = jpeg_bytes(base.convert("CMYK"), quality=90)
    assert any(marker == 0xEE for _, marker, _ in segments(cmyk))
    files["jpeg_cmyk_adobe.jpg"] = cmyk
    files["jpeg_cmyk_plain.jpg"] = without_app14(cmyk)
    quads = quadrants()
    for n in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = n
        files[f"jpeg_orientation_{n}.jpg"] = jpeg_bytes(quads, quality=100, subsampling=0, exif=exif.tobytes())
    files["jpeg_orientation_6_be.jpg"] = jpeg_bytes(quads, quality=100, subsampling=0, exif=big_endian_exif(6))
    rng = random.Random(5)
    noisy = Image.new("RGB", (64, 48))
    noisy.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(64 * 48)])
    whole = jpeg_bytes(noisy, quality=90)
    files["jpeg_truncated.jpg"] = whole[:len(whole) * 6 // 10]
    png = io.BytesIO()
    base.save(png, "PNG")
    files["jpeg_really_png.jpg"] = png.getvalue()
    files["png_really_jpeg.png"] = files["jpeg_baseline.jpg"]

    results = {}
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        if name != "jpeg_truncated.jpg":
            results[name] = expected(data)
    # Pillow's orientation handling, checked against the quadrant layout it must give.
    for n in range(1, 9):
        r = results[f"jpeg_orientation_{n}.jpg"]
        assert (r["width"], r["height"]) == ((16, 32) if n >= 5 else (32, 16)), n
    with open(os.path.join(OUT, "jpeg_expected.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(files)} files and jpeg_expected.json to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
