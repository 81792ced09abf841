"""Peak memory of training against image size and count (`make bench-memory`): training holds
each image at most at the size the network needs, so 2400x1800 photos should cost about what
256x256 images cost. A benchmark, not a test.

Writes N random JPEG photos (smooth colour noise with a few boxes drawn and labelled, so the
files compress like photos rather than like noise) at each SIZE into OUT/SIZE-N (kept between
runs), trains one epoch on each with `train-detector --epochs 1 --batch-size 16` under
/usr/bin/time -v, and prints the peak resident set size (RSS) of each run, with the ratio of the
large to the small images; then the same at a quarter of N to show how RSS grows with N.

Environment: COUNTS="1000" (the largest N; a quarter of it too), SIZES="2400x1800 256x256",
BIN=.build/release, OUT=data/memory-bench. Needs Pillow (pip install pillow).
"""
import os
import random
import re
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)
BIN = os.environ.get("BIN", ".build/release")
OUT = os.environ.get("OUT", "data/memory-bench")
COUNTS = [int(c) for c in os.environ.get("COUNTS", "1000").split()]
SIZES = [tuple(int(v) for v in s.split("x")) for s in os.environ.get("SIZES", "2400x1800 256x256").split()]


def write_set(folder, count, width, height):
    """A one-class YOLO data set of `count` JPEGs (and 8 val images), unless it is there."""
    if os.path.exists(os.path.join(folder, "classes.txt")):
        return
    from PIL import Image, ImageDraw, ImageFilter
    tmp = folder + ".partial"
    for split, n in (("train", count), ("val", 8)):
        os.makedirs(os.path.join(tmp, split, "images"), exist_ok=True)
        os.makedirs(os.path.join(tmp, split, "labels"), exist_ok=True)
        for i in range(n):
            rng = random.Random(f"{split}{i}")
            base = Image.effect_noise((max(1, width // 16), max(1, height // 16)), 60).convert("RGB")
            image = base.resize((width, height), Image.BILINEAR).filter(ImageFilter.GaussianBlur(2))
            draw = ImageDraw.Draw(image)
            lines = []
            for _ in range(rng.randint(1, 6)):
                w, h = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3)
                cx, cy = rng.uniform(w / 2, 1 - w / 2), rng.uniform(h / 2, 1 - h / 2)
                colour = tuple(rng.randint(0, 255) for _ in range(3))
                draw.rectangle([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height], fill=colour)
                lines.append(f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
            image.save(os.path.join(tmp, split, "images", f"{i:05d}.jpg"), quality=90)
            with open(os.path.join(tmp, split, "labels", f"{i:05d}.txt"), "w") as f:
                f.write("\n".join(lines) + "\n")
    with open(os.path.join(tmp, "classes.txt"), "w") as f:
        f.write("box\n")
    os.rename(tmp, folder)


def peak_rss_mib(cmd):
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"memory_bench: failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return kib / 1024


def main():
    train = os.path.join(BIN, "train-detector")
    if not os.access(train, os.X_OK):
        sys.exit(f"memory_bench: {train} not found: run `swift build -c release` first, or set BIN")
    counts = sorted({max(1, COUNTS[-1] // 4), *COUNTS})
    rows = []
    for count in counts:
        for width, height in SIZES:
            folder = os.path.join(OUT, f"{width}x{height}-{count}")
            print(f"data set {folder}", flush=True)
            write_set(folder, count, width, height)
            run = os.path.join(OUT, "runs", f"{width}x{height}-{count}")
            rss = peak_rss_mib([train, "--data", folder, "--config", "models/tiny-dsc.json", "--epochs", "1",
                                "--batch-size", "16", "--out", run, "--exist-ok", "--no-autoanchor"])
            rows.append((count, f"{width}x{height}", rss))
            print(f"  {count} images of {width}x{height}: peak RSS {rss:.0f} MiB", flush=True)
    print("\nimages  size        peak RSS MiB")
    for count, size, rss in rows:
        print(f"{count:6d}  {size:10s}  {rss:8.0f}")
    for count in counts:
        r = [rss for c, _, rss in rows if c == count]
        if len(r) >= 2:
            print(f"{count} images: {SIZES[0][0]}x{SIZES[0][1]} / {SIZES[-1][0]}x{SIZES[-1][1]} = {r[0] / r[-1]:.2f}x")


if __name__ == "__main__":
    main()
