"""Reference files for the weights code, from independent implementations:

- safetensors_reference.safetensors: written by Python's `safetensors` package (two F32
  tensors, one I8, metadata); the Swift test reads it back.
- adam_reference.json: five steps of torch.optim.Adam (lr 0.01, and a second run with
  weight_decay 0.1) on a fixed parameter with fixed gradients; and under "adamw_runs" the
  same with torch.optim.AdamW (decoupled weight decay 0.1 and 2.0; 2.0 makes the decay
  visible beside the Adam step, lr · λ = 0.02).

Run: python3 scripts/weights_fixtures.py [SWIFT_WRITTEN_FILE]
With an argument, it also checks that a file written by the Swift code loads in `safetensors`
(done by hand; the tests themselves never need Python).
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

here = os.path.join(os.path.dirname(__file__), "..", "Tests", "DetectorTests", "Fixtures")
tensors = {
    "layers.0.conv.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8 - 1,
    "layers.0.bn.scale": np.array([1.5, -2.25, 3.0], dtype=np.float32),
    "quantized": np.array([-127, -1, 0, 5, 127], dtype=np.int8),
}
save_file(tensors, os.path.join(here, "safetensors_reference.safetensors"), metadata={"config": "{\"name\": \"x\"}", "epoch": "3"})

runs = []
for decay in (0.0, 0.1):
    p = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float32))
    opt = torch.optim.Adam([p], lr=0.01, weight_decay=decay)
    grads = [[0.1, -0.2, 0.0, 1.0], [0.3, 0.1, -0.5, 1.0], [-0.2, 0.0, 0.2, 1.0], [0.05, -0.3, 0.4, 1.0], [0.0, 0.2, -0.1, 1.0]]
    values = []
    for g in grads:
        opt.zero_grad()
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        values.append(p.detach().tolist())
    runs.append({"weight_decay": decay, "initial": [0.5, -1.0, 2.0, 0.0], "gradients": grads, "values": values})
adamw_runs = []
for decay in (0.1, 2.0):
    p = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0, 0.0], dtype=torch.float32))
    opt = torch.optim.AdamW([p], lr=0.01, weight_decay=decay)
    values = []
    for g in grads:
        opt.zero_grad()
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        values.append(p.detach().tolist())
    adamw_runs.append({"weight_decay": decay, "initial": [0.5, -1.0, 2.0, 0.0], "gradients": grads, "values": values})
with open(os.path.join(here, "adam_reference.json"), "w") as f:
    json.dump({"lr": 0.01, "runs": runs, "adamw_runs": adamw_runs}, f, indent=1)
print("wrote safetensors_reference.safetensors and adam_reference.json")

if len(sys.argv) > 1:
    loaded = load_file(sys.argv[1])
    print("loaded", sys.argv[1], {k: (v.dtype, v.shape) for k, v in loaded.items()})
