#!/usr/bin/env python3
"""Independent reference forward pass of the causal LMs ladle implements, for its tests.

Written from the equations of transformers' modeling code, in plain PyTorch and float64, with no code shared with
ladle:
- modeling_llama.py (LlamaModel: RMSNorm, rotate_half rotary embeddings, grouped-query attention with repeat_kv,
  SwiGLU MLP), with modeling_rope_utils.py's _compute_llama3_parameters for rope_scaling {"rope_type": "llama3"}
  and modeling_qwen3.py's per-head q_norm / k_norm before the rotation;
- modeling_gemma3.py (Gemma3ForCausalLM: embeddings times sqrt(hidden_size), Gemma3RMSNorm x * (1 + w), four
  norms per layer, q/k norms, scaling query_pre_attn_scalar ** -0.5, attn_logit_softcapping, sliding layers
  with rope_local_base_freq and masking_utils' sliding_window_overlay (kv_idx > q_idx - sliding_window), global
  layers with rope_theta, GeGLU MLP, final_logit_softcapping);
- modeling_gpt2.py (LayerNorm, Conv1D as x @ W + b, gelu_new, learned positions).
Reads the Hugging Face folder ladle saved (config.json + safetensors, parsed here with struct/json) and, when
given, a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors), whose update
(lora_alpha / r) * x A^T B^T is added to each adapted layer's output as peft's LoraLayer.forward does. Writes
logits and hidden states as a safetensors file.

Usage: reference_causal_lm.py MODEL_DIR INPUT_JSON OUTPUT_SAFETENSORS [ADAPTER_DIR]
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


def read_adapter(folder, weights):
    """Adds the adapter's A and B under the module names ("<module>.lora_A.weight") and returns alpha / r."""
    with open(os.path.join(folder, "adapter_config.json")) as f:
        adapter = json.load(f)
    prefix = "base_model.model."
    for name, tensor in read_safetensors(os.path.join(folder, "adapter_model.safetensors")).items():
        weights[name[len(prefix) :]] = tensor
    return adapter["lora_alpha"] / adapter["r"]


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
    """nn.Linear: x @ W^T + b (weights [out, in]), plus a LoRA update (alpha / r) * x A^T B^T where one is loaded."""
    y = x @ weights[prefix + ".weight"].T
    if prefix + ".bias" in weights:
        y = y + weights[prefix + ".bias"]
    if prefix + ".lora_A.weight" in weights:
        down, up = weights[prefix + ".lora_A.weight"], weights[prefix + ".lora_B.weight"]
        y = y + weights["lora_scaling"] * (x @ down.T) @ up.T
    return y


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def inverse_frequencies(head_dim, theta, rope_scaling):
    """_compute_default_rope_parameters, and _compute_llama3_parameters for rope_type "llama3"."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    if rope_scaling is None:
        return inv_freq
    rope_type = rope_scaling.get("rope_type", rope_scaling.get("type"))
    if rope_type != "llama3":
        raise ValueError("rope type " + str(rope_type))
    factor = rope_scaling["factor"]
    low_freq_factor = rope_scaling["low_freq_factor"]
    high_freq_factor = rope_scaling["high_freq_factor"]
    old_context_len = rope_scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def rotary_cos_sin(position_ids, inv_freq):
    freqs = position_ids[..., None].to(torch.float64) * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[:, None, :, :], emb.sin()[:, None, :, :]


def repeat_kv(x, n_rep):
    batch, kv_heads, seq, head_dim = x.shape
    return x[:, :, None].expand(batch, kv_heads, n_rep, seq, head_dim).reshape(batch, kv_heads * n_rep, seq, head_dim)


def llama_forward(config, w, input_ids, attention_mask):
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    head_dim = config.get("head_dim") or hidden // heads
    eps = config["rms_norm_eps"]
    act = activation(config.get("hidden_act", "silu"))
    batch, seq = input_ids.shape

    def rms_norm(x, weight):
        variance = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(variance + eps))

    position_ids, mask = positions_and_mask(attention_mask)
    inv_freq = inverse_frequencies(head_dim, config.get("rope_theta", 10000.0), config.get("rope_scaling"))
    cos, sin = rotary_cos_sin(position_ids, inv_freq)

    h = w["model.embed_tokens.weight"][input_ids]
    states = [h]
    layers = config["num_hidden_layers"]
    for i in range(layers):
        p = f"model.layers.{i}."
        x = rms_norm(h, w[p + "input_layernorm.weight"])
        q = linear(x, w, p + "self_attn.q_proj").view(batch, seq, heads, head_dim)
        k = linear(x, w, p + "self_attn.k_proj").view(batch, seq, kv_heads, head_dim)
        v = linear(x, w, p + "self_attn.v_proj").view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        if config["model_type"] == "qwen3":  # Qwen3Attention: q_norm / k_norm over head_dim, before the rotation
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"])
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"])
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, heads // kv_heads), repeat_kv(v, heads // kv_heads)
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


def gemma3_layer_types(config):
    """Gemma3TextConfig: layer_types, else every sliding_window_pattern-th layer (1-based) full attention."""
    if config.get("layer_types"):
        return config["layer_types"]
    pattern = config.get("sliding_window_pattern", 6)
    return [
        "sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(config["num_hidden_layers"])
    ]


def gemma3_forward(config, w, input_ids, attention_mask):
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    kv_heads = config["num_key_value_heads"]
    head_dim = config["head_dim"]
    eps = config["rms_norm_eps"]
    scaling = config["query_pre_attn_scalar"] ** -0.5
    attn_softcap = config.get("attn_logit_softcapping")
    final_softcap = config.get("final_logit_softcapping")
    window = config["sliding_window"]
    act = activation(config.get("hidden_activation", "gelu_pytorch_tanh"))
    batch, seq = input_ids.shape

    def norm(x, weight):  # Gemma3RMSNorm
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * (1.0 + weight)

    def softcap(x, cap):
        return x if cap is None else torch.tanh(x / cap) * cap

    position_ids, full_mask = positions_and_mask(attention_mask)
    # create_sliding_window_causal_mask: causal and kv_idx > q_idx - sliding_window (indices over the padded batch).
    q_idx = torch.arange(seq)[:, None]
    kv_idx = torch.arange(seq)[None, :]
    outside = (kv_idx <= q_idx - window)[None, None]
    sliding_mask = full_mask.masked_fill(outside, torch.finfo(torch.float64).min)
    rotary = {
        "full_attention": rotary_cos_sin(
            position_ids, inverse_frequencies(head_dim, config.get("rope_theta", 1000000.0), config.get("rope_scaling"))
        ),
        "sliding_attention": rotary_cos_sin(
            position_ids, inverse_frequencies(head_dim, config.get("rope_local_base_freq", 10000.0), None)
        ),
    }
    masks = {"full_attention": full_mask, "sliding_attention": sliding_mask}

    h = w["model.embed_tokens.weight"][input_ids] * hidden**0.5
    states = [h]
    for i, layer_type in enumerate(gemma3_layer_types(config)):
        p = f"model.layers.{i}."
        cos, sin = rotary[layer_type]
        x = norm(h, w[p + "input_layernorm.weight"])
        q = linear(x, w, p + "self_attn.q_proj").view(batch, seq, heads, head_dim).transpose(1, 2)
        k = linear(x, w, p + "self_attn.k_proj").view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        v = linear(x, w, p + "self_attn.v_proj").view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        q = norm(q, w[p + "self_attn.q_norm.weight"])
        k = norm(k, w[p + "self_attn.k_norm.weight"])
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, heads // kv_heads), repeat_kv(v, heads // kv_heads)
        scores = softcap((q @ k.transpose(2, 3)) * scaling, attn_softcap)
        probs = attention_probs(scores, masks[layer_type])
        out = (probs @ v).transpose(1, 2).reshape(batch, seq, heads * head_dim)
        h = h + norm(linear(out, w, p + "self_attn.o_proj"), w[p + "post_attention_layernorm.weight"])
        x = norm(h, w[p + "pre_feedforward_layernorm.weight"])
        gated = act(linear(x, w, p + "mlp.gate_proj")) * linear(x, w, p + "mlp.up_proj")
        h = h + norm(linear(gated, w, p + "mlp.down_proj"), w[p + "post_feedforward_layernorm.weight"])
        states.append(h)
    h = norm(h, w["model.norm.weight"])
    states[-1] = h
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return softcap(h @ head.T, final_softcap), states


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
    if len(sys.argv) > 4:
        weights["lora_scaling"] = read_adapter(sys.argv[4], weights)
    with open(input_path) as f:
        cases = json.load(f)["cases"]
    forwards = {"gpt2": gpt2_forward, "gemma3_text": gemma3_forward}
    forward = forwards.get(config["model_type"], llama_forward)
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
