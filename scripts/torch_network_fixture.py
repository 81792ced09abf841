#!/usr/bin/env python3
"""Independent reference for the Swift engine: a small network in PyTorch, one training-mode
forward and backward, written as Tests/DetectorTests/Fixtures/network_small.json.

The network (a conv + batch norm + leaky, a pool, a separable block with batch norm, a pool,
a 1x1 head with bias) follows the config semantics of ../shared/bench/tiny_dsc.py. Tensors
are converted to the engine's layouts before writing:

  activations          NCHW -> NHWC
  conv weight          [Cout, Cin, kh, kw] -> [kh, kw, Cin, Cout] (HWIO)
  depthwise weight     [C, 1, kh, kw]      -> [kh, kw, C]
  pointwise weight     [Cout, Cin, 1, 1]   -> [Cin, Cout]
  batch norm           weight -> scale, bias -> shift, running_mean, running_var

The loss is L = sum(out * R) for a fixed random R (given NHWC); the fixture holds the input,
every parameter, R, the output, dL/d(input), dL/d(every parameter), and the running statistics
after the step (PyTorch: momentum 0.1, unbiased batch variance, eps 1e-5).

Run: python3 scripts/torch_network_fixture.py  (torch 2.x; deterministic, CPU).
"""

import json
import os

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "DetectorTests", "Fixtures", "network_small.json")

CONFIG = {
    "name": "torch-small",
    "input": {"width": 16, "height": 12, "channels": 3},
    "classes": ["a", "b"],
    "anchors": [[1.0, 1.0], [2.0, 1.5]],
    "layers": [
        {"type": "conv", "filters": 8, "size": 3, "stride": 1, "batchnorm": True, "activation": "leaky"},
        {"type": "maxpool", "size": 2, "stride": 2},
        {"type": "separable", "filters": 16, "size": 3, "stride": 1, "batchnorm": True, "activation": "leaky"},
        {"type": "maxpool", "size": 2, "stride": 2},
        {"type": "conv", "filters": 14, "size": 1, "stride": 1, "batchnorm": False, "activation": "linear"},
    ],
}
BATCH = 2


def build(cfg):
    """nn.ModuleDict keyed by the engine's parameter prefixes, and the forward order."""
    mods = {}
    order = []
    c = cfg["input"]["channels"]
    for i, layer in enumerate(cfg["layers"]):
        t = layer["type"]
        if t == "conv":
            k, f, bn = layer["size"], layer["filters"], layer["batchnorm"]
            mods[f"l{i}_conv"] = nn.Conv2d(c, f, k, layer["stride"], padding=k // 2, bias=not bn)
            order.append((i, "conv", f"l{i}_conv"))
            if bn:
                mods[f"l{i}_bn"] = nn.BatchNorm2d(f, eps=1e-5, momentum=0.1)
                order.append((i, "bn", f"l{i}_bn"))
            order.append((i, "act", layer["activation"]))
            c = f
        elif t == "separable":
            k, f = layer["size"], layer["filters"]
            mods[f"l{i}_depthwise"] = nn.Conv2d(c, c, k, layer["stride"], padding=k // 2, groups=c, bias=False)
            mods[f"l{i}_pointwise"] = nn.Conv2d(c, f, 1, 1, bias=False)
            mods[f"l{i}_bn"] = nn.BatchNorm2d(f, eps=1e-5, momentum=0.1)
            order += [(i, "depthwise", f"l{i}_depthwise"), (i, "pointwise", f"l{i}_pointwise"),
                      (i, "bn", f"l{i}_bn"), (i, "act", layer["activation"])]
            c = f
        elif t == "maxpool":
            order.append((i, "maxpool", None))
    return nn.ModuleDict(mods), order


def run(mods, order, x):
    for _, kind, key in order:
        if kind == "maxpool":
            x = nn.functional.max_pool2d(x, 2, 2)
        elif kind == "act":
            if key == "leaky":
                x = nn.functional.leaky_relu(x, 0.1)
        else:
            x = mods[key](x)
    return x


def main():
    torch.manual_seed(1234)
    mods, order = build(CONFIG)
    with torch.no_grad():
        for name, p in mods.named_parameters():
            if name.endswith("_bn.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith("_bn.bias") or name.endswith("conv.bias"):
                p.copy_(0.2 * torch.randn_like(p))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)
        for m in mods.values():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn_like(m.running_mean))
                m.running_var.copy_(1 + 0.2 * torch.rand_like(m.running_var))
    mods.train()

    h, w = CONFIG["input"]["height"], CONFIG["input"]["width"]
    x_nhwc = torch.randn(BATCH, h, w, 3)
    x = x_nhwc.permute(0, 3, 1, 2).contiguous().requires_grad_(True)

    def engine_tensors(after=False):
        """Parameters (or running statistics after the step) under the engine's names and layouts."""
        out = {}
        for i, kind, key in order:
            if kind == "conv":
                m = mods[key]
                out[f"layers.{i}.conv.weight"] = m.weight.permute(2, 3, 1, 0)
                if m.bias is not None:
                    out[f"layers.{i}.conv.bias"] = m.bias
            elif kind == "depthwise":
                out[f"layers.{i}.depthwise.weight"] = mods[key].weight[:, 0].permute(1, 2, 0)
            elif kind == "pointwise":
                out[f"layers.{i}.pointwise.weight"] = mods[key].weight[:, :, 0, 0].t()
            elif kind == "bn":
                m = mods[key]
                out[f"layers.{i}.bn.scale"] = m.weight
                out[f"layers.{i}.bn.shift"] = m.bias
                out[f"layers.{i}.bn.running_mean"] = m.running_mean
                out[f"layers.{i}.bn.running_var"] = m.running_var
        return out

    before = {k: v.detach().clone() for k, v in engine_tensors().items()}
    y = run(mods, order, x)                       # NCHW
    y_nhwc = y.permute(0, 2, 3, 1)
    r_nhwc = torch.randn(y_nhwc.shape)
    loss = (y_nhwc * r_nhwc).sum()
    loss.backward()

    def grad_of(name, p):
        # Gradients go through the same layout maps as the values.
        g = {"conv.weight": lambda t: t.permute(2, 3, 1, 0), "depthwise.weight": lambda t: t[:, 0].permute(1, 2, 0),
             "pointwise.weight": lambda t: t[:, :, 0, 0].t()}
        for suffix, f in g.items():
            if name.endswith(suffix):
                return f(p.grad)
        return p.grad

    grads = {"input": x.grad.permute(0, 2, 3, 1)}
    for i, kind, key in order:
        if kind in ("conv", "depthwise", "pointwise"):
            m = mods[key]
            grads[f"layers.{i}.{kind}.weight"] = grad_of(f"{kind}.weight", m.weight)
            if m.bias is not None:
                grads[f"layers.{i}.conv.bias"] = m.bias.grad
        elif kind == "bn":
            grads[f"layers.{i}.bn.scale"] = mods[key].weight.grad
            grads[f"layers.{i}.bn.shift"] = mods[key].bias.grad
    after = {k: v.detach() for k, v in engine_tensors().items() if "running" in k}

    def enc(t):
        t = t.detach().contiguous().float()
        return {"shape": list(t.shape), "data": [float("%.8g" % v) for v in t.flatten().tolist()]}

    fixture = {
        "about": "scripts/torch_network_fixture.py, torch " + torch.__version__ + "; NHWC, engine layouts",
        "config": CONFIG,
        "input": enc(x_nhwc),
        "parameters": {k: enc(v) for k, v in before.items()},
        "projection": enc(r_nhwc),
        "output": enc(y_nhwc),
        "loss": float(loss.detach()),
        "gradients": {k: enc(v) for k, v in grads.items()},
        "running_after": {k: enc(v) for k, v in after.items()},
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixture, f, separators=(",", ":"))
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes), loss {float(loss.detach()):.6f}")


if __name__ == "__main__":
    main()
