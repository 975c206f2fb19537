#!/usr/bin/env python3
"""An independent safetensors writer and checker for ladle's tests (Python standard library only).

It follows the format description at https://github.com/huggingface/safetensors ("Format"), not ladle's code:
8-byte little-endian header size N, N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]},
"__metadata__": {str: str}}, then the data section, which the tensors index completely.

Both commands take a JSON description of the tensors:
  {"metadata": {"k": "v"},                       (optional)
   "header_alignment": 8,                        (optional, write only: pad the header with spaces to a multiple;
                                                  1 leaves it unpadded so tensors may be unaligned)
   "tensors": [{"name": "w", "dtype": "F32", "shape": [2, 3],
                "values": "arange", "start": 0, "step": 1}]}   (or "values": [explicit numbers])
"arange" means element i (row-major) is start + step * i (for BOOL: that value is odd). Every value must be
exactly representable in the dtype; encodings are done here from the IEEE/OCP definitions.

  write_safetensors.py write SPEC.json OUT.safetensors   writes the tensors in the order listed
  write_safetensors.py check FILE.safetensors SPEC.json  validates FILE against the format and the values
                                                         (and, when PyTorch imports, with torch.frombuffer),
                                                         plus ladle's promise that the data section and
                                                         every tensor are aligned to the element size
"""

import json
import math
import struct
import sys

DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
}
STRUCT_FORMATS = {
    "BOOL": "?", "U8": "B", "I8": "b", "I16": "h", "U16": "H", "I32": "i", "U32": "I", "I64": "q", "U64": "Q",
    "F16": "e", "F32": "f", "F64": "d",
}


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def values_of(tensor):
    spec = tensor["values"]
    count = numel(tensor["shape"])
    if isinstance(spec, list):
        if len(spec) != count:
            raise ValueError(f"{tensor['name']}: {len(spec)} values for shape {tensor['shape']}")
        return spec
    if spec != "arange":
        raise ValueError(f"{tensor['name']}: unknown values kind {spec!r}")
    start, step = tensor.get("start", 0), tensor.get("step", 1)
    values = [start + step * i for i in range(count)]
    if tensor["dtype"] == "BOOL":
        values = [int(v) % 2 == 1 for v in values]
    return values


def encode_bf16(value):
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    if bits & 0xFFFF or struct.unpack("<f", struct.pack("<f", value))[0] != value:
        raise ValueError(f"{value} is not exactly representable in bfloat16")
    return struct.pack("<H", bits >> 16)


def encode_f8_e5m2(value):
    # E5M2 is the upper byte of IEEE binary16 (same exponent width and bias 15).
    bits = struct.unpack("<H", struct.pack("<e", value))[0]
    if bits & 0xFF or struct.unpack("<e", struct.pack("<e", value))[0] != value:
        raise ValueError(f"{value} is not exactly representable in F8_E5M2")
    return bytes([bits >> 8])


def encode_f8_e4m3(value):
    # OCP FP8 E4M3 ("fn"): 1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no infinities, max 448.
    sign = 0x80 if math.copysign(1.0, value) < 0 else 0
    magnitude = abs(value)
    if magnitude == 0:
        return bytes([sign])
    if magnitude > 448:
        raise ValueError(f"{value} is out of range for F8_E4M3")
    exponent = math.floor(math.log2(magnitude))
    if exponent < -6:  # subnormal: magnitude = m * 2^-9 with m in 1..7
        mantissa = magnitude / 2.0 ** -9
        if mantissa != int(mantissa):
            raise ValueError(f"{value} is not exactly representable in F8_E4M3")
        return bytes([sign | int(mantissa)])
    fraction = (magnitude / 2.0 ** exponent - 1.0) * 8
    if fraction != int(fraction):
        raise ValueError(f"{value} is not exactly representable in F8_E4M3")
    return bytes([sign | (exponent + 7) << 3 | int(fraction)])


def encode(dtype, values):
    if dtype in STRUCT_FORMATS:
        data = struct.pack("<" + STRUCT_FORMATS[dtype] * len(values), *values)
        decoded = struct.unpack("<" + STRUCT_FORMATS[dtype] * len(values), data)
        if list(decoded) != list(values):
            raise ValueError(f"values not exactly representable in {dtype}")
        return data
    encoder = {"BF16": encode_bf16, "F8_E5M2": encode_f8_e5m2, "F8_E4M3": encode_f8_e4m3}[dtype]
    return b"".join(encoder(v) for v in values)


def write(spec_path, out_path):
    with open(spec_path) as f:
        spec = json.load(f)
    header = {}
    if "metadata" in spec:
        header["__metadata__"] = spec["metadata"]
    data = bytearray()
    for tensor in spec["tensors"]:
        encoded = encode(tensor["dtype"], values_of(tensor))
        header[tensor["name"]] = {"dtype": tensor["dtype"], "shape": tensor["shape"],
                                  "data_offsets": [len(data), len(data) + len(encoded)]}
        data += encoded
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    alignment = spec.get("header_alignment", 8)
    text += b" " * (-len(text) % alignment)
    with open(out_path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(data))


def fail(message):
    print(f"check failed: {message}", file=sys.stderr)
    sys.exit(1)


def check(file_path, spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    with open(file_path, "rb") as f:
        blob = f.read()
    (header_size,) = struct.unpack("<Q", blob[:8])
    text = blob[8:8 + header_size]
    if not text.startswith(b"{"):
        fail("header does not start with '{'")
    if (8 + header_size) % 8:
        fail(f"data section starts at {8 + header_size}, not a multiple of 8")

    def reject_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            fail(f"duplicate keys in {keys}")
        return dict(pairs)

    header = json.loads(text.decode("utf-8"), object_pairs_hook=reject_duplicates)
    data = blob[8 + header_size:]
    if header.pop("__metadata__", {}) != spec.get("metadata", {}):
        fail("metadata differs")
    ranges = []
    for name, entry in header.items():
        if set(entry) != {"dtype", "shape", "data_offsets"}:
            fail(f"{name}: keys {sorted(entry)}")
        begin, end = entry["data_offsets"]
        if end - begin != numel(entry["shape"]) * DTYPE_SIZES[entry["dtype"]]:
            fail(f"{name}: byte range does not match shape and dtype")
        if begin % DTYPE_SIZES[entry["dtype"]]:
            fail(f"{name}: offset {begin} is not aligned to its element size")
        ranges.append((begin, end))
    position = 0
    for begin, end in sorted(ranges):
        if begin != position:
            fail(f"data ranges do not tile the data section at {position}")
        position = end
    if position != len(data):
        fail(f"tensors index {position} bytes, data section has {len(data)}")

    expected_names = {t["name"] for t in spec["tensors"]}
    if set(header) != expected_names:
        fail(f"tensor names {sorted(header)} != {sorted(expected_names)}")
    for tensor in spec["tensors"]:
        entry = header[tensor["name"]]
        if entry["dtype"] != tensor["dtype"] or entry["shape"] != tensor["shape"]:
            fail(f"{tensor['name']}: {entry['dtype']}{entry['shape']} != {tensor['dtype']}{tensor['shape']}")
        begin, end = entry["data_offsets"]
        if data[begin:end] != encode(tensor["dtype"], values_of(tensor)):
            fail(f"{tensor['name']}: stored bytes differ from the expected values")

    try:
        import torch
    except ImportError:
        print(f"ok: {len(spec['tensors'])} tensors checked (torch not importable)")
        return
    torch_dtypes = {"BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16,
                    "I32": torch.int32, "I64": torch.int64, "F16": torch.float16, "BF16": torch.bfloat16,
                    "F32": torch.float32, "F64": torch.float64}
    for tensor in spec["tensors"]:
        if tensor["dtype"] not in torch_dtypes:
            continue
        entry = header[tensor["name"]]
        begin, end = entry["data_offsets"]
        dtype = torch_dtypes[tensor["dtype"]]
        if end == begin:
            loaded = torch.empty(0, dtype=dtype)
        else:
            loaded = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype)
        loaded = loaded.reshape(tensor["shape"])
        expected = torch.tensor(values_of(tensor), dtype=dtype).reshape(tensor["shape"])
        if not torch.equal(loaded, expected):
            fail(f"{tensor['name']}: torch.frombuffer gives {loaded}, expected {expected}")
    print(f"ok: {len(spec['tensors'])} tensors checked (and with torch {torch.__version__})")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("write", "check"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        check(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
