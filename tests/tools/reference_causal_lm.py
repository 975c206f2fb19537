#!/usr/bin/env python3
"""Independent reference forward pass of the causal LMs ladle implements, for its tests.

Written from the equations of transformers' modeling_llama.py (LlamaModel: RMSNorm, rotate_half rotary
embeddings, grouped-query attention with repeat_kv, SwiGLU MLP) and modeling_gpt2.py (LayerNorm, Conv1D as
x @ W + b, gelu_new, learned positions), in plain PyTorch and float64, with no code shared with ladle. Reads the
Hugging Face folder ladle saved (config.json + safetensors, parsed here with struct/json) and writes logits and
hidden states as a safetensors file.

Usage: reference_causal_lm.py MODEL_DIR INPUT_JSON OUTPUT_SAFETENSORS
  INPUT_JSON: {"cases": [{"input_ids": [[...], ...], "attention_mask": [[...], ...] (optional)}, ...]}
  OUTPUT: per case i, "case{i}.logits" [batch, seq, vocab] and "case{i}.hidden_states.{j}" [batch, seq, hidden]
  (j = 0 .. layers: embeddings, each layer's output, the last after the final norm), all float32.
Position ids follow transformers' generate(): cumsum(attention_mask) - 1, with padding positions set to 1.
"""
import json
import math
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_size])
    base = 8 + header_size
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        raw = bytearray(data[base + start : base + end])
        tensor = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]) if raw else torch.empty(0)
        tensors[name] = tensor.reshape(entry["shape"]).to(torch.float64)
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        blob = tensor.to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    weights = {}
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        for shard in shards:
            weights.update(read_safetensors(os.path.join(folder, shard)))
    else:
        weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    return config, weights


def activation(name):
    if name in ("silu", "swish"):
        return lambda x: x * torch.sigmoid(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "gelu":
        return lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    raise ValueError("unknown activation " + name)


def positions_and_mask(attention_mask):
    """Position ids as generate() derives them, and an additive causal + padding mask [batch, 1, seq, seq]."""
    batch, seq = attention_mask.shape
    position_ids = (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
    causal = torch.tril(torch.ones(seq, seq, dtype=torch.bool))
    visible = causal[None, None, :, :] & (attention_mask[:, None, None, :] == 1)
    additive = torch.zeros(batch, 1, seq, seq, dtype=torch.float64)
    additive = additive.masked_fill(~visible, torch.finfo(torch.float64).min)
    return position_ids, additive


def attention_probs(scores, additive_mask):
    return torch.softmax(scores + additive_mask, dim=-1)


def linear(x, weights, prefix):
    """nn.Linear: x @ W^T + b (weights [out, in])."""
    y = x @ weights[prefix + ".weight"].T
    if prefix + ".bias" in weights:
        y = y + weights[prefix + ".bias"]
    return y


def llama_forward(config, w, input_ids, attention_mask):
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    eps = config["rms_norm_eps"]
    theta = config.get("rope_theta", 10000.0)
    act = activation(config.get("hidden_act", "silu"))
    batch, seq = input_ids.shape

    def rms_norm(x, weight):
        variance = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(variance + eps))

    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)

    position_ids, mask = positions_and_mask(attention_mask)
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    freqs = position_ids[..., None].to(torch.float64) * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :, :], emb.sin()[:, None, :, :]

    h = w["model.embed_tokens.weight"][input_ids]
    states = [h]
    layers = config["num_hidden_layers"]
    for i in range(layers):
        p = f"model.layers.{i}."
        x = rms_norm(h, w[p + "input_layernorm.weight"])
        q = linear(x, w, p + "self_attn.q_proj").view(batch, seq, heads, head_dim).transpose(1, 2)
        k = linear(x, w, p + "self_attn.k_proj").view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        v = linear(x, w, p + "self_attn.v_proj").view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        n_rep = heads // kv_heads
        k = k[:, :, None].expand(batch, kv_heads, n_rep, seq, head_dim).reshape(batch, heads, seq, head_dim)
        v = v[:, :, None].expand(batch, kv_heads, n_rep, seq, head_dim).reshape(batch, heads, seq, head_dim)
        probs = attention_probs(q @ k.transpose(2, 3) / math.sqrt(head_dim), mask)
        out = (probs @ v).transpose(1, 2).reshape(batch, seq, heads * head_dim)
        h = h + linear(out, w, p + "self_attn.o_proj")
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"])
        gated = act(linear(x, w, p + "mlp.gate_proj")) * linear(x, w, p + "mlp.up_proj")
        h = h + linear(gated, w, p + "mlp.down_proj")
        states.append(h)
    h = rms_norm(h, w["model.norm.weight"])
    states[-1] = h
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return h @ head.T, states


def gpt2_forward(config, w, input_ids, attention_mask):
    hidden = config["n_embd"]
    heads = config["n_head"]
    head_dim = hidden // heads
    eps = config["layer_norm_epsilon"]
    act = activation(config.get("activation_function", "gelu_new"))
    batch, seq = input_ids.shape

    def layer_norm(x, prefix):
        mean = x.mean(-1, keepdim=True)
        variance = (x - mean).pow(2).mean(-1, keepdim=True)
        return (x - mean) / torch.sqrt(variance + eps) * w[prefix + ".weight"] + w[prefix + ".bias"]

    def conv1d(x, prefix):
        """transformers' Conv1D: x @ W + b with W stored [in, out]."""
        return x @ w[prefix + ".weight"] + w[prefix + ".bias"]

    position_ids, mask = positions_and_mask(attention_mask)
    h = w["transformer.wte.weight"][input_ids] + w["transformer.wpe.weight"][position_ids]
    states = [h]
    for i in range(config["n_layer"]):
        p = f"transformer.h.{i}."
        x = layer_norm(h, p + "ln_1")
        q, k, v = conv1d(x, p + "attn.c_attn").split(hidden, dim=2)
        q, k, v = (t.view(batch, seq, heads, head_dim).permute(0, 2, 1, 3) for t in (q, k, v))
        probs = attention_probs(q @ k.transpose(-1, -2) / math.sqrt(head_dim), mask)
        out = (probs @ v).permute(0, 2, 1, 3).reshape(batch, seq, hidden)
        h = h + conv1d(out, p + "attn.c_proj")
        x = layer_norm(h, p + "ln_2")
        h = h + conv1d(act(conv1d(x, p + "mlp.c_fc")), p + "mlp.c_proj")
        states.append(h)
    h = layer_norm(h, "transformer.ln_f")
    states[-1] = h
    head = w.get("lm_head.weight", w["transformer.wte.weight"])
    return h @ head.T, states


def main():
    model_dir, input_path, output_path = sys.argv[1:4]
    config, weights = read_model(model_dir)
    with open(input_path) as f:
        cases = json.load(f)["cases"]
    forward = gpt2_forward if config["model_type"] == "gpt2" else llama_forward
    outputs = {}
    with torch.no_grad():
        for i, case in enumerate(cases):
            input_ids = torch.tensor(case["input_ids"], dtype=torch.int64)
            mask = case.get("attention_mask")
            mask = torch.ones_like(input_ids) if mask is None else torch.tensor(mask, dtype=torch.int64)
            logits, states = forward(config, weights, input_ids, mask)
            outputs[f"case{i}.logits"] = logits
            for j, state in enumerate(states):
                outputs[f"case{i}.hidden_states.{j}"] = state
    write_safetensors(output_path, outputs)


if __name__ == "__main__":
    main()
