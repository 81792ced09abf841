"""PNG decoding fixtures: one small file per colour type and bit depth, written chunk by chunk
with the standard library only (zlib, struct), independently of libpng.

Writes Tests/DetectorTests/Fixtures/png_*.png and png_expected.json, which holds for every
file the 8-bit RGB values a reader must return under the toolkit's documented rule:
  - samples of 1, 2 or 4 bits scale to 8 bits exactly (v * 255 / (2^d - 1));
  - 16-bit samples (taken as sRGB-encoded, no gAMA chunk) reduce to round(v / 257);
  - palette entries are looked up; tRNS (palette, gray or RGB) gives alpha;
  - alpha composites onto white in 8-bit sRGB values: round((c * a + 255 * (255 - a)) / 255).
16-bit Adam7-interlaced files (libpng's simplified API decodes them wrongly; PNG.swift reads
them another way) come at 8x8, where every pass holds pixels, each beside the same image
stored without interlacing: png_*16_8x8.png and png_*16_8x8_interlaced.png, for RGB, RGBA,
gray, gray+alpha, and gray and RGB with a 16-bit tRNS colour (compared at 16 bits: 0x1234 is
transparent, 0x12FF is not). png_rgb16_gamma1_8x8*.png add a gAMA chunk of 1.0 (linear
light), which libpng converts to sRGB with its own tables: they have no expected values here,
and the test only requires the interlaced file to decode exactly like its twin.
When Pillow is installed, each 16-bit interlaced file is also decoded by it and compared with
its twin and with the samples written (an independent check of the Adam7 layout).
Run: python3 scripts/png_fixtures.py
"""
import json
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "DetectorTests", "Fixtures")
W, H = 4, 3


def chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """One scanline's samples (ints) as bytes: sub-byte depths packed MSB first, 16-bit big endian."""
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


# Adam7 passes: (x start, y start, x step, y step).
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(pixels, color_type, depth, channels, extra=b"", interlace=False):
    """pixels: rows of tuples of `channels` samples (the image's size is theirs). Filter type 0
    except row 1 uses Sub (filter 1) for 8-bit data, so the reader's unfiltering is exercised
    too."""
    H, W = len(pixels), len(pixels[0])
    def scanlines(rows):
        raw = bytearray()
        for y, row in enumerate(rows):
            samples = [s for px in row for s in px]
            line = pack_row(samples, depth)
            if depth >= 8 and y == 1:
                bpp = channels * depth // 8
                raw.append(1)
                raw += bytes((line[i] - (line[i - bpp] if i >= bpp else 0)) & 0xFF for i in range(len(line)))
            else:
                raw.append(0)
                raw += line
        return raw

    if interlace:
        raw = bytearray()
        for x0, y0, dx, dy in ADAM7:
            rows = [[pixels[y][x] for x in range(x0, W, dx)] for y in range(y0, H, dy)]
            rows = [r for r in rows if r]
            if rows:
                raw += scanlines(rows)
    else:
        raw = scanlines(pixels)
    ihdr = struct.pack(">IIBBBBB", W, H, depth, color_type, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def to8(v, depth):
    if depth == 16:
        return (v + 128) // 257          # round(v / 257); v / 257 is never exactly k + 0.5
    return v * 255 // ((1 << depth) - 1)


def over_white(c, a):
    return (c * a + 255 * (255 - a) + 127) // 255   # round((c a + 255 (255 - a)) / 255)


def grid(f):
    return [[f(x, y) for x in range(W)] for y in range(H)]


files = {}

# Gray, 1/2/4/8/16 bits.
for depth in (1, 2, 4, 8):
    top = (1 << depth) - 1
    px = grid(lambda x, y: ((x * 3 + y * 5) % (top + 1),))
    files[f"png_gray{depth}.png"] = (png(px, 0, depth, 1), [[(to8(p[0], depth),) * 3 for p in r] for r in px])
# 16-bit values chosen so that round(v / 257) and v >> 8 differ (0x00FF → 1, 0xFF00 → 254)
# and 0x8080 → 128 as a user expects.
G16 = [0x0000, 0x00FF, 0x8080, 0xFFFF, 0xFF00, 0x1234, 0x7F80, 0x017F, 0xABCD, 0x0101, 0xFE01, 0x4000]
px = grid(lambda x, y: (G16[y * W + x],))
files["png_gray16.png"] = (png(px, 0, 16, 1), [[(to8(p[0], 16),) * 3 for p in r] for r in px])

# Gray with a tRNS colour: gray 3 (of 0...15, 4 bits) is fully transparent → white.
px = grid(lambda x, y: ((x + y * 4) % 16,))
trns = chunk(b"tRNS", struct.pack(">H", 3))
files["png_gray4_trns.png"] = (png(px, 0, 4, 1, trns),
                               [[(255,) * 3 if p[0] == 3 else (to8(p[0], 4),) * 3 for p in r] for r in px])

# Gray + alpha, 8 and 16 bits.
A8 = [0, 255, 128, 64, 1, 254, 200, 100, 30, 255, 0, 170]
px = grid(lambda x, y: ((x * 70 + y * 11) % 256, A8[y * W + x]))
files["png_gray_alpha8.png"] = (png(px, 4, 8, 2), [[(over_white(g, a),) * 3 for g, a in r] for r in px])
A16 = [0x0000, 0xFFFF, 0x8080, 0x4000, 0x00FF, 0xFF00, 0xC8C8, 0x6464, 0x1E1E, 0xFFFF, 0x0000, 0xAAAA]
px = grid(lambda x, y: (G16[(y * W + x + 5) % 12], A16[y * W + x]))
files["png_gray_alpha16.png"] = (png(px, 4, 16, 2),
                                 [[(over_white(to8(g, 16), to8(a, 16)),) * 3 for g, a in r] for r in px])

# Palette, 2 and 8 bits, without and with tRNS.
PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (0, 0, 0), (255, 255, 255),
           (12, 34, 56), (200, 100, 0)]
plte = chunk(b"PLTE", bytes(c for rgb in PALETTE for c in rgb))
px = grid(lambda x, y: ((x + y * 3) % 8,))
files["png_palette8.png"] = (png(px, 3, 8, 1, plte), [[PALETTE[p[0]] for p in r] for r in px])
px2 = grid(lambda x, y: ((x + y) % 4,))
files["png_palette2.png"] = (png(px2, 3, 2, 1, plte), [[PALETTE[p[0]] for p in r] for r in px2])
# tRNS shorter than the palette: entries beyond it are opaque.
TRNS = [0, 128, 255, 64, 200]
alpha = lambda i: TRNS[i] if i < len(TRNS) else 255
files["png_palette8_trns.png"] = (png(px, 3, 8, 1, plte + chunk(b"tRNS", bytes(TRNS))),
                                  [[tuple(over_white(c, alpha(p[0])) for c in PALETTE[p[0]]) for p in r] for r in px])

# RGB, 8 and 16 bits; RGB with a tRNS colour; 8-bit RGB interlaced (Adam7).
px = grid(lambda x, y: ((x * 60 + y * 7) % 256, (y * 100 + x * 3) % 256, (x * y * 40 + 9) % 256))
files["png_rgb8.png"] = (png(px, 2, 8, 3), [[tuple(p) for p in r] for r in px])
files["png_rgb8_interlaced.png"] = (png(px, 2, 8, 3, interlace=True), [[tuple(p) for p in r] for r in px])
trns_rgb = px[1][2]
files["png_rgb8_trns.png"] = (png(px, 2, 8, 3, chunk(b"tRNS", struct.pack(">HHH", *trns_rgb))),
                              [[(255, 255, 255) if tuple(p) == tuple(trns_rgb) else tuple(p) for p in r] for r in px])
px = grid(lambda x, y: (G16[y * W + x], G16[(y * W + x + 3) % 12], G16[(y * W + x + 7) % 12]))
files["png_rgb16.png"] = (png(px, 2, 16, 3), [[tuple(to8(c, 16) for c in p) for p in r] for r in px])

# RGBA, 8 and 16 bits.
px = grid(lambda x, y: ((x * 60 + y * 7) % 256, (y * 100 + x * 3) % 256, (x * y * 40 + 9) % 256, A8[y * W + x]))
files["png_rgba8.png"] = (png(px, 6, 8, 4), [[tuple(over_white(c, p[3]) for c in p[:3]) for p in r] for r in px])
px = grid(lambda x, y: (G16[y * W + x], G16[(y * W + x + 3) % 12], G16[(y * W + x + 7) % 12], A16[y * W + x]))
files["png_rgba16.png"] = (png(px, 6, 16, 4),
                           [[tuple(over_white(to8(c, 16), to8(p[3], 16)) for c in p[:3]) for p in r] for r in px])

# 16-bit, 8x8, interlaced and not. Samples from a fixed integer hash: no two neighbours alike,
# and round(v / 257) differs from v >> 8 for most of them.
def sample16(x, y, c):
    return ((x * 7919 + y * 104729 + c * 65521 + 12345) * 2654435761 >> 7) & 0xFFFF


def grid8(f):
    return [[f(x, y) for x in range(8)] for y in range(8)]


twins = []   # (interlaced file, plain file, samples, PIL mode check)
def add16(stem, color_type, channels, px, rgb, extra=b""):
    plain, interlaced = f"{stem}_8x8.png", f"{stem}_8x8_interlaced.png"
    files[plain] = (png(px, color_type, 16, channels, extra), rgb)
    files[interlaced] = (png(px, color_type, 16, channels, extra, interlace=True), rgb)
    twins.append((interlaced, plain, px))


px = grid8(lambda x, y: tuple(sample16(x, y, c) for c in range(3)))
add16("png_rgb16", 2, 3, px, [[tuple(to8(c, 16) for c in p) for p in r] for r in px])
px = grid8(lambda x, y: tuple(sample16(x, y, c) for c in range(3)) + (A16[(x + 3 * y) % 12],))
add16("png_rgba16", 6, 4, px, [[tuple(over_white(to8(c, 16), to8(p[3], 16)) for c in p[:3]) for p in r] for r in px])
px = grid8(lambda x, y: (sample16(x, y, 0),))
add16("png_gray16", 0, 1, px, [[(to8(p[0], 16),) * 3 for p in r] for r in px])
px = grid8(lambda x, y: (sample16(x, y, 0), A16[(x + 5 * y) % 12]))
add16("png_gray_alpha16", 4, 2, px, [[(over_white(to8(g, 16), to8(a, 16)),) * 3 for g, a in r] for r in px])
# tRNS: 0x1234 (gray) or (0x1234, 0x5678, 0x9ABC) is transparent, compared at 16 bits, so a
# sample with the same high byte (0x12FF) stays opaque. One such pixel in each pass.
def with_key(p, x, y, key, near):
    if (x, y) in [(0, 0), (4, 4), (2, 6), (5, 1)]:
        return key
    if (x, y) in [(1, 1), (7, 7)]:
        return near
    return p
key, near = (0x1234,), (0x12FF,)
px = grid8(lambda x, y: with_key((sample16(x, y, 0),), x, y, key, near))
add16("png_gray16_trns", 0, 1, px, [[(255,) * 3 if p == key else (to8(p[0], 16),) * 3 for p in r] for r in px],
      chunk(b"tRNS", struct.pack(">H", *key)))
key, near = (0x1234, 0x5678, 0x9ABC), (0x1234, 0x5678, 0x9A00)
px = grid8(lambda x, y: with_key(tuple(sample16(x, y, c) for c in range(3)), x, y, key, near))
add16("png_rgb16_trns", 2, 3, px, [[(255,) * 3 if p == key else tuple(to8(c, 16) for c in p) for p in r] for r in px],
      chunk(b"tRNS", struct.pack(">HHH", *key)))
# gAMA 1.0: no expected values (see the docstring), written separately below.
px = grid8(lambda x, y: tuple(sample16(x, y, c + 1) for c in range(3)))
gamma1 = chunk(b"gAMA", struct.pack(">I", 100000))
gamma_files = {"png_rgb16_gamma1_8x8.png": png(px, 2, 16, 3, gamma1),
               "png_rgb16_gamma1_8x8_interlaced.png": png(px, 2, 16, 3, gamma1, interlace=True)}
twins.append(("png_rgb16_gamma1_8x8_interlaced.png", "png_rgb16_gamma1_8x8.png", px))

try:
    import io
    from PIL import Image
    contents = {**{k: v[0] for k, v in files.items()}, **gamma_files}
    for interlaced, plain, px in twins:
        a, b = Image.open(io.BytesIO(contents[interlaced])), Image.open(io.BytesIO(contents[plain]))
        assert a.info.get("interlace") == 1 and not b.info.get("interlace"), interlaced
        assert a.tobytes() == b.tobytes(), f"Pillow decodes {interlaced} unlike {plain}"
        samples = [c for r in px for p in r for c in p]
        if a.mode == "I;16":   # 16-bit gray kept whole (little-endian): the exact samples written
            assert list(struct.unpack(f"<{len(samples)}H", a.tobytes())) == samples, interlaced
        else:                  # RGB, RGBA, and gray+alpha as RGBA: Pillow keeps each sample's high byte
            as_pillow = [(p[0], p[0], p[0], p[1]) if len(p) == 2 else p for r in px for p in r]
            assert a.mode in ("RGB", "RGBA") and list(a.tobytes()) == [c >> 8 for p in as_pillow for c in p], interlaced
    print(f"Pillow: the {len(twins)} interlaced 16-bit files decode like their twins and hold the samples written")
except ImportError:
    print("Pillow not installed: the interlaced files were not cross-checked")

for name, data in gamma_files.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)

expected = {}
for name, (data, rgb) in sorted(files.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    expected[name] = {"width": len(rgb[0]), "height": len(rgb), "rgb": [c for row in rgb for p in row for c in p]}
with open(os.path.join(OUT, "png_expected.json"), "w") as f:
    f.write("{\n" + ",\n".join(f'  "{k}": {json.dumps(v)}' for k, v in expected.items()) + "\n}\n")
print(f"wrote {len(files) + len(gamma_files)} PNG files and png_expected.json to {os.path.normpath(OUT)}")
