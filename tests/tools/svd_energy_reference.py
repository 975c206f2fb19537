"""Independent reference for `ladle extract-lora`'s table: the singular-value energy of one weight's update.

usage: svd_energy_reference.py BASE_DIR FINETUNED_DIR TENSOR RANK
Reads TENSOR from both Hugging Face folders (safetensors parsed here with json + numpy, no ladle or torch code),
takes numpy's SVD of finetuned - base in float64 and prints "TOTAL KEPT": the sum of all squared singular values
and of the RANK largest.
"""
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read_tensor(folder, name):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            file = os.path.join(folder, json.load(f)["weight_map"][name])
    else:
        file = os.path.join(folder, "model.safetensors")
    with open(file, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        entry = header[name]
        begin, end = entry["data_offsets"]
        f.seek(8 + length + begin)
        data = np.frombuffer(f.read(end - begin), dtype=DTYPES[entry["dtype"]])
    return data.reshape(entry["shape"]).astype(np.float64)


def main():
    base, finetuned, name, rank = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    delta = read_tensor(finetuned, name) - read_tensor(base, name)
    squares = np.linalg.svd(delta, compute_uv=False) ** 2
    print(repr(float(squares.sum())), repr(float(squares[:rank].sum())))


if __name__ == "__main__":
    main()
