#!/usr/bin/python3
"""Writes a randomly initialised Hugging Face model folder with a real model's exact config.json and tensor shapes,
and a real tokenizer folder beside the weights, for runs at real size on machines without pretrained weights.

  make-shaped-checkpoint.py CONFIG_JSON TOKENIZER_DIR OUT_DIR [--layers N] [--seed 0] [--dtype bfloat16|float32]

CONFIG_JSON is a transformers config.json of the Llama family (LlamaForCausalLM, Qwen3ForCausalLM, ...; the
published ones are in scripts/model-configs/); TOKENIZER_DIR a tokenizer folder (data/tokenizers/NAME from
scripts/fetch-hf-tokenizers.sh), whose files are copied. --layers keeps only the first N decoder layers (for small
examples; the config's num_hidden_layers and per-layer lists say so). The weights follow transformers'
_init_weights for these models: every Linear and Embedding weight ~ N(0, initializer_range²), biases 0, RMSNorm
weights 1. They are drawn per tensor from a torch generator seeded with (seed, tensor index) and streamed to
OUT_DIR/model.safetensors (https://github.com/huggingface/safetensors, "Format"), so the peak memory is one
tensor. Tied embeddings (tie_word_embeddings) store no lm_head.weight, as transformers saves them.
Needs Debian's python3-torch (any 1.x or 2.x).
"""

import argparse
import json
import shutil
import struct
import sys
from pathlib import Path

import torch

DTYPES = {"bfloat16": (torch.bfloat16, "BF16"), "float32": (torch.float32, "F32")}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                   "chat_template.jinja", "generation_config.json")
# Per-layer lists of a config that must shrink with num_hidden_layers.
PER_LAYER_KEYS = ("layer_types",)


def head_dim(config):
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


def tensor_shapes(config):
    """(name, shape, kind) of every stored tensor; kind is 'normal', 'zeros' or 'ones' (transformers' init)."""
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads") or config["num_attention_heads"]
    dim = head_dim(config)
    qkv_bias = config.get("attention_bias", False) or config.get("model_type") == "qwen2"
    out_bias = config.get("attention_bias", False) and config.get("model_type") != "qwen2"
    mlp_bias = config.get("mlp_bias", False)
    qk_norm = config.get("model_type") == "qwen3"
    shapes = [("model.embed_tokens.weight", (config["vocab_size"], hidden), "normal")]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        projections = [("self_attn.q_proj", heads * dim, hidden, qkv_bias), ("self_attn.k_proj", kv_heads * dim, hidden, qkv_bias),
                       ("self_attn.v_proj", kv_heads * dim, hidden, qkv_bias), ("self_attn.o_proj", hidden, heads * dim, out_bias),
                       ("mlp.gate_proj", inner, hidden, mlp_bias), ("mlp.up_proj", inner, hidden, mlp_bias),
                       ("mlp.down_proj", hidden, inner, mlp_bias)]
        for name, rows, cols, bias in projections:
            shapes.append((p + name + ".weight", (rows, cols), "normal"))
            if bias:
                shapes.append((p + name + ".bias", (rows,), "zeros"))
        if qk_norm:
            shapes.append((p + "self_attn.q_norm.weight", (dim,), "ones"))
            shapes.append((p + "self_attn.k_norm.weight", (dim,), "ones"))
        shapes.append((p + "input_layernorm.weight", (hidden,), "ones"))
        shapes.append((p + "post_attention_layernorm.weight", (hidden,), "ones"))
    shapes.append(("model.norm.weight", (hidden,), "ones"))
    if not config.get("tie_word_embeddings", False):
        shapes.append(("lm_head.weight", (config["vocab_size"], hidden), "normal"))
    return shapes


def initial_tensor(shape, kind, std, generator, dtype):
    if kind == "ones":
        return torch.ones(shape, dtype=dtype)
    if kind == "zeros":
        return torch.zeros(shape, dtype=dtype)
    return torch.empty(shape, dtype=torch.float32).normal_(0.0, std, generator=generator).to(dtype)


def write_safetensors(path, shapes, config, seed, dtype_name):
    dtype, code = DTYPES[dtype_name]
    element = torch.tensor([], dtype=dtype).element_size()
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in shapes:
        size = element
        for extent in shape:
            size *= extent
        header[name] = {"dtype": code, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format lets the header be padded with spaces; 8 keeps tensors aligned
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for index, (name, shape, kind) in enumerate(shapes):
            generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
            tensor = initial_tensor(shape, kind, config.get("initializer_range", 0.02), generator, dtype)
            # Raw little-endian bytes; bf16 through int16 since numpy has no bfloat16.
            raw = tensor.contiguous().view(torch.int16 if dtype == torch.bfloat16 else dtype).numpy().tobytes()
            out.write(raw)
    partial.replace(path)
    return offset


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("tokenizer", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--layers", type=int, default=0, help="keep the first N decoder layers (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16")
    args = parser.parse_args()

    config = json.loads(args.config.read_text())
    if not (args.tokenizer / "tokenizer.json").exists() and not (args.tokenizer / "vocab.json").exists():
        sys.exit(f"make-shaped-checkpoint.py: {args.tokenizer} has no tokenizer.json or vocab.json "
                 "(run scripts/fetch-hf-tokenizers.sh)")
    if args.layers:
        if not 0 < args.layers <= config["num_hidden_layers"]:
            sys.exit(f"make-shaped-checkpoint.py: --layers {args.layers}: expected 1..{config['num_hidden_layers']}")
        config["num_hidden_layers"] = args.layers
        for key in PER_LAYER_KEYS:
            if isinstance(config.get(key), list):
                config[key] = config[key][: args.layers]
        if "max_window_layers" in config:
            config["max_window_layers"] = min(config["max_window_layers"], args.layers)
    config["torch_dtype"] = args.dtype

    args.out.mkdir(parents=True, exist_ok=True)
    shapes = tensor_shapes(config)
    size = write_safetensors(args.out / "model.safetensors", shapes, config, args.seed, args.dtype)
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for name in TOKENIZER_FILES:
        if (args.tokenizer / name).exists():
            shutil.copyfile(args.tokenizer / name, args.out / name)
    parameters = size // torch.tensor([], dtype=DTYPES[args.dtype][0]).element_size()
    print(f"{args.out}: {config['architectures'][0]}, {config['num_hidden_layers']} layers, "
          f"{parameters / 1e6:.1f}M parameters, {size / 2**30:.2f} GiB {args.dtype}")


if __name__ == "__main__":
    main()
