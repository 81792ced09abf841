#!/usr/bin/env python3
"""ONNX Runtime's outputs for our exported ONNX files, committed as a fixture so that the Swift
tests compare our engine's head with an independent runtime without needing ONNX Runtime.

It writes, under Tests/DetectorTests/Fixtures/:

  onnx_routes.safetensors  a small model with every layer type (conv, separable, depthwise with
                           and without batch norm, pointwise, maxpool 2x2/2, 2x2/1 and 3x3/3,
                           shortcut, route; leaky, relu, relu6, linear), a 96x72 input (not
                           square) and random weights and batch-norm statistics from numpy's
                           seeded generator, in this toolkit's checkpoint format
  onnx_routes.onnx         that model exported by `train-detector export --format onnx` (the
                           Swift test checks that its own export gives these bytes)
  onnx_cases.json          for that model (batch 3, exercising the dynamic batch axis) and for
                           models/tiny-dsc-shapes.safetensors and its int8 copy, exported with
                           float32 kernels and with --int8 (int8 kernels + DequantizeLinear),
                           batch 1: the
                           exported file's size and FNV-1a 64 digest, and ONNX Runtime's head
                           output on the fixed input below, NCHW, as float32 little-endian
                           bytes in base64 (exact, and a third of the size of decimal text)

The input is exact in float32 on both sides: image n, channel c, row y, column x holds
((3x + 5y + 7c + 11n) mod 17) / 16.

Each exported file is checked with onnx.checker (full_check, which runs shape inference) and its
graph input and output are checked to have the symbolic batch dimension and the shapes the README
documents.

With --detect, it also runs the shipped model's ONNX files (float32, and int8 QDQ) on
samples/images/*.png the way README "Exporting to ONNX" tells a user of another runtime to
(letterbox in numpy, ONNX Runtime, decode, NMS in numpy), and compares the detections with
`detect --json` on the same model file; nothing is written for that.

Run (after `swift build`):  pip install onnx onnxruntime numpy   (and pillow for --detect)
                            python3 scripts/onnx_fixture.py [--detect] [--bin .build/debug]
"""
import argparse
import base64
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
FIXTURES = os.path.join(ROOT, "Tests", "DetectorTests", "Fixtures")

ROUTES_CONFIG = {
    "name": "onnx-routes",
    "input": {"width": 96, "height": 72, "channels": 3},
    "classes": ["a", "b"],
    "anchors": [[1.0, 1.5], [2.5, 2.0]],
    "layers": [
        {"type": "conv", "filters": 8, "size": 3, "stride": 1, "batchnorm": True, "activation": "leaky"},
        {"type": "maxpool", "size": 2, "stride": 1},
        {"type": "maxpool", "size": 2, "stride": 2},
        {"type": "separable", "filters": 8, "size": 3, "stride": 1, "batchnorm": True, "activation": "relu"},
        {"type": "depthwise", "size": 3, "stride": 2, "batchnorm": True, "activation": "relu6"},
        {"type": "pointwise", "filters": 8, "batchnorm": True, "activation": "leaky"},
        {"type": "shortcut", "from": 4, "activation": "leaky"},
        {"type": "route", "layers": [5, -1]},
        {"type": "conv", "filters": 8, "size": 3, "stride": 2, "batchnorm": False, "activation": "relu"},
        {"type": "depthwise", "size": 3, "stride": 1, "batchnorm": False, "activation": "leaky"},
        {"type": "maxpool", "size": 3, "stride": 3},
        {"type": "separable", "filters": 8, "size": 5, "stride": 1, "batchnorm": False, "activation": "linear"},
        {"type": "conv", "filters": 14, "size": 1, "stride": 1, "batchnorm": False, "activation": "linear"},
    ],
}


def routes_tensors(config, seed=5):
    """The engine's tensors for `config` (names and shapes as Network.build makes them), random."""
    rng = np.random.default_rng(seed)
    tensors = {}

    def add(name, shape, low=-0.8, high=0.8):
        tensors[name] = rng.uniform(low, high, size=shape).astype(np.float32)

    def batchnorm(prefix, c):
        add(prefix + ".scale", [c], 0.5, 1.5)
        add(prefix + ".shift", [c], -0.3, 0.3)
        add(prefix + ".running_mean", [c], -0.5, 0.5)
        add(prefix + ".running_var", [c], 0.2, 2.0)

    c = config["input"]["channels"]
    channels = []  # output channels of each layer
    for i, layer in enumerate(config["layers"]):
        p = f"layers.{i}"
        t = layer["type"]
        bn = layer.get("batchnorm", False)
        if t == "conv":
            k, f = layer["size"], layer["filters"]
            add(p + ".conv.weight", [k, k, c, f])
            if bn:
                batchnorm(p + ".bn", f)
            else:
                add(p + ".conv.bias", [f], -0.2, 0.2)
            c = f
        elif t in ("separable", "depthwise"):
            k = layer["size"]
            add(p + ".depthwise.weight", [k, k, c])
            if t == "separable":
                f = layer["filters"]
                add(p + ".pointwise.weight", [c, f])
                if not bn:
                    add(p + ".pointwise.bias", [f], -0.2, 0.2)
                c = f
            if bn:
                batchnorm(p + ".bn", c)
        elif t == "pointwise":
            f = layer["filters"]
            add(p + ".pointwise.weight", [c, f])
            if bn:
                batchnorm(p + ".bn", f)
            else:
                add(p + ".pointwise.bias", [f], -0.2, 0.2)
            c = f
        elif t == "route":
            c = sum(channels[j if j >= 0 else i + j] for j in layer["layers"])
        channels.append(c)
    return tensors


def write_safetensors(path, tensors, metadata):
    """The safetensors format by hand: 8-byte little-endian header length, JSON header, data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def fixed_input(batch, channels, height, width):
    n, c, y, x = np.meshgrid(np.arange(batch), np.arange(channels), np.arange(height), np.arange(width), indexing="ij")
    return (((3 * x + 5 * y + 7 * c + 11 * n) % 17) / 16).astype(np.float32)


def export(binary, model, out, *options):
    subprocess.run([os.path.join(binary, "train-detector"), "export", model, "--format", "onnx", "--out", out, *options],
                   check=True, stdout=subprocess.DEVNULL)


def check(path, config):
    """onnx.checker, then the documented interface: names, the symbolic batch, shapes, metadata."""
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == 8 and [o.version for o in model.opset_import] == [13], (model.ir_version, model.opset_import)

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    (inp,), (out,) = model.graph.input, model.graph.output
    w, h = config["input"]["width"], config["input"]["height"]
    stride = int(dict((p.key, p.value) for p in model.metadata_props)["stride"])
    channels = len(config["anchors"]) * (5 + len(config["classes"]))
    assert inp.name == "images" and dims(inp) == ["batch", 3, h, w], dims(inp)
    assert out.name == "head" and dims(out) == ["batch", channels, h // stride, w // stride], dims(out)
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["classes"]) == config["classes"] and json.loads(meta["anchors"]) == config["anchors"], meta
    ops = sorted({n.op_type for n in model.graph.node})
    assert "BatchNormalization" not in ops, ops
    return model, ops


def run(path, batch, config):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = fixed_input(batch, 3, config["input"]["height"], config["input"]["width"])
    (y,) = session.run(["head"], {"images": x})
    return y


def case(name, model_path, onnx_path, batch, config):
    _, ops = check(onnx_path, config)
    head = run(onnx_path, batch, config)
    data = open(onnx_path, "rb").read()
    print(f"{name}: {len(data)} bytes, ops {ops}, head {list(head.shape)}, |head| max {np.abs(head).max():.3f}")
    return {"name": name, "model": os.path.relpath(model_path, ROOT), "onnx_bytes": len(data), "onnx_fnv1a64": fnv1a64(data),
            "batch": batch, "shape": list(head.shape),
            "head_f32le_base64": base64.b64encode(np.ascontiguousarray(head, dtype="<f4").tobytes()).decode()}


# --- --detect: what README "Exporting to ONNX" tells a user of another runtime to do ---------------

def letterbox(rgb, width, height):
    """uint8 [h, w, 3] -> float32 [3, height, width]: scale min(W/w, H/h), centred, bilinear with
    pixel centres aligned (clamped at the edges), 0.5 elsewhere, / 255."""
    sh, sw = rgb.shape[:2]
    scale = min(width / sw, height / sh)
    pad_x, pad_y = (width - sw * scale) / 2, (height - sh * scale) / 2
    out = np.full((height, width, 3), 0.5, np.float32)
    half_up = lambda v: int(np.floor(v + 0.5))  # Swift's rounded(): ties away from zero, not to even
    x0, x1 = max(0, half_up(pad_x)), min(width, half_up(pad_x + sw * scale))
    y0, y1 = max(0, half_up(pad_y)), min(height, half_up(pad_y + sh * scale))
    sx = np.clip((np.arange(x0, x1) + 0.5 - pad_x) / scale - 0.5, 0, sw - 1)
    sy = np.clip((np.arange(y0, y1) + 0.5 - pad_y) / scale - 0.5, 0, sh - 1)
    left, top = sx.astype(int), sy.astype(int)
    right, bottom = np.minimum(left + 1, sw - 1), np.minimum(top + 1, sh - 1)
    fx, fy = (sx - left)[None, :, None], (sy - top)[:, None, None]
    src = rgb.astype(np.float32)
    upper = src[top][:, left] + (src[top][:, right] - src[top][:, left]) * fx
    lower = src[bottom][:, left] + (src[bottom][:, right] - src[bottom][:, left]) * fx
    out[y0:y1, x0:x1] = (upper + (lower - upper) * fy) / 255
    return out.transpose(2, 0, 1), (scale, pad_x, pad_y)


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def decode(head, anchors, classes, conf=0.25, iou_threshold=0.45, max_det=100):
    """head [A*(5+K), gh, gw] -> [(class, score, x1, y1, x2, y2)] in normalised input coordinates,
    after per-class greedy NMS (score = sigmoid(t_o) * softmax(logits)[best class])."""
    a, k = len(anchors), len(classes)
    _, gh, gw = head.shape
    t = head.reshape(a, 5 + k, gh, gw).astype(np.float64)
    j, i = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    sig = lambda v: 1 / (1 + np.exp(-v))
    candidates = []
    for n, (pw, ph) in enumerate(anchors):
        cx, cy = (i + sig(t[n, 0])) / gw, (j + sig(t[n, 1])) / gh
        w, h = pw * np.exp(np.minimum(t[n, 2], 10)) / gw, ph * np.exp(np.minimum(t[n, 3], 10)) / gh
        logits = t[n, 5:]
        p = np.exp(logits - logits.max(0))
        p /= p.sum(0)
        best = p.argmax(0)
        score = sig(t[n, 4]) * p.max(0)
        for y, x in zip(*np.nonzero(score >= conf)):
            candidates.append((int(best[y, x]), float(score[y, x]), cx[y, x] - w[y, x] / 2, cy[y, x] - h[y, x] / 2,
                               cx[y, x] + w[y, x] / 2, cy[y, x] + h[y, x] / 2))
    candidates.sort(key=lambda d: (-d[1], d[0], d[2], d[3], d[4], d[5]))
    kept = []
    for d in candidates:
        if all(o[0] != d[0] or iou(o[2:], d[2:]) <= iou_threshold for o in kept):
            kept.append(d)
            if len(kept) == max_det:
                break
    return kept


def compare_detections(binary, onnx_path, model, config):
    from PIL import Image
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    meta = {p.key: p.value for p in onnx.load(onnx_path).metadata_props}
    anchors, classes = json.loads(meta["anchors"]), json.loads(meta["classes"])
    width, height = config["input"]["width"], config["input"]["height"]
    images = sorted(glob.glob(os.path.join(ROOT, "samples", "images", "*.png")))
    out = subprocess.run([os.path.join(binary, "detect"), "--json", "--no-render", "--model",
                          model] + images,
                         check=True, capture_output=True, text=True).stdout
    ours = {os.path.basename(r["image"]): r for r in map(json.loads, out.splitlines())}
    same, total, boxes, worst_box, worst_score = 0, 0, 0, 0.0, 0.0
    for path in images:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        x, (scale, pad_x, pad_y) = letterbox(rgb, width, height)
        (head,) = session.run(["head"], {"images": x[None]})
        found = []
        for c, s, x1, y1, x2, y2 in decode(head[0], anchors, classes):
            # normalised network input -> source pixels, clipped to the image
            box = [(x1 * width - pad_x) / scale, (y1 * height - pad_y) / scale, (x2 * width - pad_x) / scale, (y2 * height - pad_y) / scale]
            box = [min(max(v, 0), lim) for v, lim in zip(box, [rgb.shape[1], rgb.shape[0]] * 2)]
            found.append((classes[c], s, box))
        theirs = ours[os.path.basename(path)]["detections"]
        total += 1
        if [f[0] for f in found] == [d["class"] for d in theirs]:
            same += 1
            boxes += len(found)
            for f, d in zip(found, theirs):
                worst_score = max(worst_score, abs(f[1] - d["score"]))
                worst_box = max(worst_box, max(abs(a - b) for a, b in zip(f[2], d["box"])))
        else:
            print(f"  {os.path.basename(path)}: ONNX {[(f[0], round(f[1], 4)) for f in found]} vs detect {[(d['class'], d['score']) for d in theirs]}")
    print(f"detections of {os.path.basename(onnx_path)}: {same} of {total} images give the same classes in the same order ({boxes} detections) as "
          f"detect --json --model {os.path.relpath(model, ROOT)}; "
          f"largest difference then {worst_score:.4f} in score (detect prints 4 decimals), {worst_box:.2f} px in a box (1 decimal)")
    return same == total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "debug"), help="folder of the built train-detector")
    parser.add_argument("--detect", action="store_true", help="also compare detections with detect --json on samples/")
    args = parser.parse_args()

    routes_model = os.path.join(FIXTURES, "onnx_routes.safetensors")
    write_safetensors(routes_model, routes_tensors(ROUTES_CONFIG),
                      {"config": json.dumps(ROUTES_CONFIG), "format": "detector-checkpoint-1"})
    routes_onnx = os.path.join(FIXTURES, "onnx_routes.onnx")
    export(args.bin, routes_model, routes_onnx)
    cases = [case("routes", routes_model, routes_onnx, 3, ROUTES_CONFIG)]

    shipped_config = json.load(open(os.path.join(ROOT, "models", "tiny-dsc-shapes.json")))
    with tempfile.TemporaryDirectory() as folder:
        for name, file, options in [("shipped", "tiny-dsc-shapes.safetensors", []),
                                    ("shipped-int8", "tiny-dsc-shapes-int8.safetensors", []),
                                    ("shipped-int8-qdq", "tiny-dsc-shapes-int8.safetensors", ["--int8"])]:
            model = os.path.join(ROOT, "models", file)
            path = os.path.join(folder, name + ".onnx")
            export(args.bin, model, path, *options)
            cases.append(case(name, model, path, 1, shipped_config))
            if options:
                cases[-1]["options"] = options
                assert "DequantizeLinear" in {n.op_type for n in onnx.load(path).graph.node}
        detections_agree = True
        if args.detect:
            for name, file in [("shipped", "tiny-dsc-shapes.safetensors"), ("shipped-int8-qdq", "tiny-dsc-shapes-int8.safetensors")]:
                detections_agree &= compare_detections(args.bin, os.path.join(folder, name + ".onnx"),
                                                       os.path.join(ROOT, "models", file), shipped_config)

    with open(os.path.join(FIXTURES, "onnx_cases.json"), "w") as f:
        json.dump({"input": "((3x + 5y + 7c + 11n) mod 17) / 16 at image n, channel c, row y, column x",
                   "onnxruntime": ort.__version__, "onnx": onnx.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(FIXTURES, ROOT)}/onnx_routes.safetensors, onnx_routes.onnx, onnx_cases.json")
    if not detections_agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
