#!/usr/bin/python3
"""Writes synthetic Llama-shaped Hugging Face folders for the merge benchmark (numpy only, no torch).

Each folder holds config.json, a tokenizer stand-in and the tensors of transformers' LlamaForCausalLM in
safetensors shards (https://github.com/huggingface/safetensors, "Format"): model-0000i-of-0000n.safetensors plus
model.safetensors.index.json. Model k is base + 0.01 * noise_k, like fine-tunes of one base, so TIES and DARE see
realistic task vectors. The default shape is about 1 GiB of fp32 per model (268M parameters; the largest tensor,
embed_tokens, is 32000 x 1536).

  make_checkpoints.py OUT_DIR [--models 4] [--dtype F32|BF16] [--hidden 1536] [--intermediate 4096]
                      [--layers 6] [--vocab 32000] [--shard-bytes 2147483648]
Folders are OUT_DIR/m0 .. OUT_DIR/m{models-1}; an existing folder with a matching config.json is kept.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np


def tensor_shapes(args):
    shapes = [("model.embed_tokens.weight", (args.vocab, args.hidden))]
    for layer in range(args.layers):
        prefix = f"model.layers.{layer}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes.append((prefix + f"self_attn.{name}.weight", (args.hidden, args.hidden)))
        shapes.append((prefix + "mlp.gate_proj.weight", (args.intermediate, args.hidden)))
        shapes.append((prefix + "mlp.up_proj.weight", (args.intermediate, args.hidden)))
        shapes.append((prefix + "mlp.down_proj.weight", (args.hidden, args.intermediate)))
        shapes.append((prefix + "input_layernorm.weight", (args.hidden,)))
        shapes.append((prefix + "post_attention_layernorm.weight", (args.hidden,)))
    shapes.append(("model.norm.weight", (args.hidden,)))
    shapes.append(("lm_head.weight", (args.vocab, args.hidden)))
    return shapes


def config_json(args):
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": args.hidden,
        "intermediate_size": args.intermediate,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.hidden // 128,
        "num_key_value_heads": args.hidden // 128,
        "vocab_size": args.vocab,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16" if args.dtype == "BF16" else "float32",
    }


def encode(values, dtype):
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    # bf16: round to nearest even from the fp32 bit pattern.
    bits = values.astype("<f4").view("<u4")
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2").tobytes()


def write_shard(path, entries, dtype):
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, data in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for _, _, data in entries:
            out.write(data)


def write_model(folder, args, index, base_seed):
    os.makedirs(folder, exist_ok=True)
    element = 4 if args.dtype == "F32" else 2
    shards, current, current_bytes = [], [], 0
    for tensor_index, (name, shape) in enumerate(tensor_shapes(args)):
        count = int(np.prod(shape))
        base = np.random.default_rng([base_seed, tensor_index]).standard_normal(count, dtype=np.float32)
        if index > 0:
            noise = np.random.default_rng([base_seed, tensor_index, index]).standard_normal(count, dtype=np.float32)
            base += np.float32(0.01) * noise
        data = encode(base * np.float32(0.02), args.dtype)
        if current and current_bytes + count * element > args.shard_bytes:
            shards.append(current)
            current, current_bytes = [], 0
        current.append((name, shape, data))
        current_bytes += count * element
    shards.append(current)
    weight_map, total = {}, 0
    for i, entries in enumerate(shards):
        file_name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_shard(os.path.join(folder, file_name), entries, args.dtype)
        for name, _, data in entries:
            weight_map[name] = file_name
            total += len(data)
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as out:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, out, indent=2)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as out:
        json.dump({"model_max_length": 2048}, out)
    with open(os.path.join(folder, "tokenizer.json"), "w") as out:
        json.dump({"version": "1.0", "model": {"type": "BPE", "vocab": {}}}, out)
    # config.json last: its presence marks a complete folder.
    with open(os.path.join(folder, "config.json"), "w") as out:
        json.dump(config_json(args), out, indent=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--dtype", choices=["F32", "BF16"], default="F32")
    parser.add_argument("--hidden", type=int, default=1536)
    parser.add_argument("--intermediate", type=int, default=4096)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--shard-bytes", type=int, default=2 << 30)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    for index in range(args.models):
        folder = os.path.join(args.out, f"m{index}")
        config_path = os.path.join(folder, "config.json")
        if os.path.exists(config_path):
            with open(config_path) as existing:
                if json.load(existing) == config_json(args):
                    continue
        print(f"writing {folder}", file=sys.stderr)
        write_model(folder, args, index, args.seed)


if __name__ == "__main__":
    main()
