"""Valid and invalid safetensors files, judged by the reference implementation.

Writes Tests/DetectorTests/Fixtures/safetensors_cases/<name>.safetensors (tiny files, most
built byte by byte) and Tests/DetectorTests/Fixtures/safetensors_cases.json, which records for
each file what Python's `safetensors` package (the Rust reader behind it) does with it:
"accepted" with the tensors it read, or "refused" with its message. The Swift tests read the
same files and check that we accept and refuse the same ones (a few deliberate differences are
listed in the test), so the tests never need Python.

Run: pip install safetensors numpy && python3 scripts/safetensors_cases.py
"""
import json
import os
import struct

import numpy as np
import safetensors
from safetensors.numpy import load, save

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DetectorTests", "Fixtures")
folder = os.path.join(here, "safetensors_cases")
os.makedirs(folder, exist_ok=True)


def raw(header, data=b"", pad=True, length=None):
    """8-byte little-endian length, the header (padded with spaces to a multiple of 8 unless
    pad is False), the data. `length` overrides the length field."""
    h = header.encode() if isinstance(header, str) else header
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h) if length is None else length) + h + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def hdr(d):
    return json.dumps(d, separators=(",", ":"))


two = np.array([1.5, -2.0], dtype=np.float32).tobytes()  # 8 bytes: one F32 tensor of shape [2]
ok = hdr({"a": entry("F32", [2], 0, 8)})

# A file written by the reference writer: tensors of odd byte counts (5-byte I8, 6-byte F16)
# so later tensors start at unaligned offsets, and metadata.
reference = save({
    "b.int8": np.array([-127, -1, 0, 5, 127], dtype=np.int8),
    "c.half": np.array([0.5, -1.0, 65504.0], dtype=np.float16),
    "d.float": np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.5,
}, metadata={"config": "{}", "epoch": "3"})
ref_length = struct.unpack("<Q", reference[:8])[0]
assert reference[8 + ref_length - 1:8 + ref_length] == b" ", "expected a space-padded header"

deep = lambda n: "[" * n + "]" * n
cases = {
    # Accepted by the reference.
    "valid_reference_writer": reference,
    "valid_padded_header": raw(ok, two),
    "valid_unpadded_header": raw(ok, two, pad=False),
    "valid_leading_whitespace": raw(" \n\t" + ok, two),
    "valid_empty_header": raw("{}"),
    "valid_empty_tensor": raw(hdr({"a": entry("F32", [0, 3], 0, 0), "b": entry("F32", [2], 0, 8)}), two),
    "valid_scalar": raw(hdr({"a": entry("F32", [], 0, 4)}), two[:4]),
    "valid_metadata_null": raw(hdr({"__metadata__": None, "a": entry("F32", [2], 0, 8)}), two),
    "valid_extra_field": raw(hdr({"a": {**entry("F32", [2], 0, 8), "note": {"x": [1, 2.5, None, True]}}}), two),
    "valid_nested_100": raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + deep(100) + "}}", two),
    "valid_escaped_name": raw('{"\\u0061\\n\\ud83d\\ude00":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', two),
    # Which the reference accepts but we refuse: one of two entries would be dropped silently.
    "duplicate_tensor_same_entry": raw('{"a":' + hdr(entry("F32", [2], 0, 8)) + ',"a":' + hdr(entry("F32", [2], 0, 8)) + "}", two),
    "duplicate_metadata_key": raw('{"__metadata__":{"k":"1","k":"2"},"a":' + hdr(entry("F32", [2], 0, 8)) + "}", two),
    # Refused by the reference.
    "too_short": b"\x01\x02",
    "header_longer_than_file": raw(ok, two, length=1000),
    "header_length_absurd": struct.pack("<Q", 200_000_000) + b"{}",
    "header_length_all_ones": b"\xff" * 16,
    "header_length_one_short": struct.pack("<Q", ref_length - 1) + reference[8:],
    "header_length_one_long": struct.pack("<Q", ref_length + 1) + reference[8:],
    "byte_inserted_in_data": reference[:8 + ref_length + 3] + b"\x00" + reference[8 + ref_length + 3:],
    "byte_appended": reference + b"\x00",
    "byte_dropped": reference[:-1],
    "header_not_utf8": raw(b'{"a\xff":' + hdr(entry("F32", [2], 0, 8)).encode() + b"}", two),
    "header_not_json": raw("not json at all!", b""),
    "header_array": raw("[]"),
    "header_string": raw('"x"'),
    "header_nul_padding": raw(ok.encode() + b"\0" * (-len(ok) % 8 or 8), two, pad=False),
    "header_trailing_garbage": raw(ok + "x", two),
    "nested_200": raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":' + deep(200) + "}}", two),
    "entry_not_object": raw(hdr({"a": [1, 2]}), b""),
    "unknown_dtype": raw(hdr({"a": entry("Q7", [2], 0, 8)}), two),
    "lowercase_dtype": raw(hdr({"a": entry("f32", [2], 0, 8)}), two),
    "missing_dtype": raw(hdr({"a": {"shape": [2], "data_offsets": [0, 8]}}), two),
    "missing_shape": raw(hdr({"a": {"dtype": "F32", "data_offsets": [0, 8]}}), two),
    "missing_offsets": raw(hdr({"a": {"dtype": "F32", "shape": [2]}}), two),
    "huge_shape": raw(hdr({"a": entry("F32", [4611686018427387904, 4], 0, 8)}), two),
    "huge_shape_zero_size": raw(hdr({"a": entry("F32", [4611686018427387904], 0, 0)}), b""),
    "shape_too_large_for_64_bits": raw(hdr({"a": entry("F32", [18446744073709551616], 0, 8)}), two),
    "negative_dimension": raw(hdr({"a": entry("F32", [-2], 0, 8)}), two),
    "negative_dimensions_product_positive": raw(hdr({"a": entry("F32", [-1, -2], 0, 8)}), two),
    "fractional_dimension": raw(hdr({"a": entry("F32", [1.5], 0, 8)}), two),
    "float_dimension": raw(hdr({"a": entry("F32", [2.0], 0, 8)}), two),
    "exponent_dimension": raw('{"a":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}', two),
    "string_dimension": raw(hdr({"a": entry("F32", ["2"], 0, 8)}), two),
    "bool_dimension": raw(hdr({"a": entry("F32", [True, 2], 0, 8)}), two),
    "shape_not_array": raw(hdr({"a": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}}), two),
    "negative_offset": raw(hdr({"a": entry("F32", [2], -8, 0)}), two),
    "huge_offsets": raw(hdr({"a": entry("F32", [2], 9223372036854775800, 9223372036854775808)}), two),
    "offsets_beyond_64_bits": raw(hdr({"a": entry("F32", [2], 18446744073709551608, 18446744073709551616)}), two),
    "offsets_reversed": raw(hdr({"a": entry("F32", [2], 8, 0)}), two),
    "three_offsets": raw(hdr({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 8]}}), two),
    "span_does_not_match_shape": raw(hdr({"a": entry("F32", [3], 0, 8)}), two),
    "offsets_past_end": raw(hdr({"a": entry("F32", [2], 0, 8)}), two[:4]),
    "data_starts_late": raw(hdr({"a": entry("F32", [1], 4, 8)}), two),
    "gap_between_tensors": raw(hdr({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}), b"\0" * 12),
    "overlapping_tensors": raw(hdr({"a": entry("F32", [2], 0, 8), "b": entry("F32", [1], 4, 8)}), two),
    "same_range_twice": raw(hdr({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 0, 8)}), two),
    "duplicate_tensor_different_ranges": raw('{"a":' + hdr(entry("F32", [1], 0, 4)) + ',"a":' + hdr(entry("F32", [1], 4, 8)) + "}", two),
    "metadata_value_number": raw(hdr({"__metadata__": {"epoch": 3}, "a": entry("F32", [2], 0, 8)}), two),
    "metadata_value_null": raw(hdr({"__metadata__": {"epoch": None}, "a": entry("F32", [2], 0, 8)}), two),
    "metadata_not_object": raw(hdr({"__metadata__": "x", "a": entry("F32", [2], 0, 8)}), two),
}

manifest = {
    "about": f"scripts/safetensors_cases.py; verdicts of Python safetensors {safetensors.__version__}, numpy {np.__version__}",
    "cases": [],
}
for name, data in cases.items():
    assert len(data) <= 1024, name
    with open(os.path.join(folder, name + ".safetensors"), "wb") as f:
        f.write(data)
    record = {"name": name, "bytes": len(data)}
    try:
        tensors = load(data)
        record["python"] = "accepted"
        record["tensors"] = {k: {"dtype": str(v.dtype), "shape": list(v.shape), "values": v.astype(np.float64).ravel().tolist()}
                             for k, v in sorted(tensors.items())}
    except Exception as error:  # the reference raises SafetensorError (and a few others) for bad files
        record["python"] = "refused"
        record["message"] = str(error)
    manifest["cases"].append(record)
    print(f"{name:40s} {record['python']:8s} {record.get('message', '')[:90]}")

with open(os.path.join(here, "safetensors_cases.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")
