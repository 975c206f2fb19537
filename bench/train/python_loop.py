#!/usr/bin/env python3
"""The Python side of the training-throughput benchmark: an idiomatic PyTorch training loop (Debian python3-torch).

A Llama written as transformers' modeling_llama.py computes it (nn.Linear layers without bias, RMSNorm in fp32,
rotary embeddings with Llama 3's rope_scaling, grouped-query eager attention with a causal mask, SwiGLU MLP, tied
embeddings when the config ties them; Qwen3's per-head q/k RMSNorm as modeling_qwen3.py adds it), loaded from the
Hugging Face folder train_bench wrote, trained on random token batches of the same shape with torch.optim.AdamW (weight decay on matrices and
embeddings, none on norms, as ladle), clip_grad_norm_, and an EMA of the weights kept by
torch.optim.swa_utils.AveragedModel with an EMA avg_fn, updated after every optimizer step.

Usage: python_loop.py MODEL_DIR --batch B --seq S --warmup W --steps N --threads T --ema-decay D [--bf16]
Prints one JSON line: {"side": "python", "tokens_per_second": ..., "seconds_per_step": ...}.
"""
import argparse
import json
import math
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def read_safetensors(path):
    """Every tensor of a safetensors file as fp32 (https://github.com/huggingface/safetensors, "Format")."""
    tensors = {}
    with open(path, "rb") as f:
        (header_size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_size))
        base = 8 + header_size
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            start, end = entry["data_offsets"]
            f.seek(base + start)
            raw = bytearray(f.read(end - start))
            tensors[name] = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"]).float()
    return tensors


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def inverse_frequencies(config, head_dim):
    theta = config.get("rope_theta", 10000.0)
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
    scaling = config.get("rope_scaling")
    if not scaling:
        return inv_freq
    # transformers' _compute_llama3_parameters
    factor, low, high = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"]
    old = scaling["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > old / low, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < old / high) * ~(wavelen > old / low)
    return torch.where(medium, smoothed, scaled)


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        hidden = config["hidden_size"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads") or self.heads
        self.head_dim = config.get("head_dim") or hidden // self.heads
        self.q_proj = nn.Linear(hidden, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, hidden, bias=False)
        self.qk_norm = config.get("model_type") == "qwen3"
        if self.qk_norm:
            self.q_norm = RMSNorm(self.head_dim, config["rms_norm_eps"])
            self.k_norm = RMSNorm(self.head_dim, config["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        batch, seq, _ = x.shape
        q = self.q_proj(x).view(batch, seq, self.heads, self.head_dim)
        k = self.k_proj(x).view(batch, seq, self.kv_heads, self.head_dim)
        v = self.v_proj(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        groups = self.heads // self.kv_heads
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim) + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        return self.o_proj((probs @ v).transpose(1, 2).reshape(batch, seq, -1))


class Mlp(nn.Module):
    def __init__(self, hidden, inner):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inner, bias=False)
        self.up_proj = nn.Linear(hidden, inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        hidden, eps = config["hidden_size"], config["rms_norm_eps"]
        self.self_attn = Attention(config)
        self.mlp = Mlp(hidden, config["intermediate_size"])
        self.input_layernorm = RMSNorm(hidden, eps)
        self.post_attention_layernorm = RMSNorm(hidden, eps)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class DecoderModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed_tokens = nn.Embedding(config["vocab_size"], config["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config["num_hidden_layers"]))
        self.norm = RMSNorm(config["hidden_size"], config["rms_norm_eps"])


class LlamaForCausalLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.model = DecoderModel(config)
        self.lm_head = nn.Linear(config["hidden_size"], config["vocab_size"], bias=False)
        if config.get("tie_word_embeddings"):
            self.lm_head.weight = self.model.embed_tokens.weight
        head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
        self.register_buffer("inv_freq", inverse_frequencies(config, head_dim), False)

    def forward(self, input_ids):
        seq = input_ids.shape[1]
        h = self.model.embed_tokens(input_ids)
        freqs = torch.arange(seq, dtype=torch.float32)[:, None] * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(h.dtype), emb.sin().to(h.dtype)
        mask = torch.full((seq, seq), torch.finfo(h.dtype).min).triu(1)
        for layer in self.model.layers:
            h = layer(h, cos, sin, mask)
        return self.lm_head(self.model.norm(h)).float()


def timing_arguments(batch, seq, warmup, steps):
    """The options every timed loop takes (this one and bench/real-size/python_lora_loop.py), with its defaults."""
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--seq", type=int, default=seq)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    return parser


def main():
    parser = timing_arguments(batch=16, seq=128, warmup=3, steps=20)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with open(os.path.join(args.model_dir, "config.json")) as f:
        config = json.load(f)
    model = LlamaForCausalLM(config)
    model.load_state_dict(read_safetensors(os.path.join(args.model_dir, "model.safetensors")), strict=True)
    model.train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4
    )
    ema = AveragedModel(model, avg_fn=lambda avg, p, n: args.ema_decay * avg + (1 - args.ema_decay) * p)
    vocab = config["vocab_size"]
    batches = [torch.randint(4, vocab, (args.batch, args.seq)) for _ in range(args.warmup + args.steps)]

    start = None
    for step, ids in enumerate(batches):
        if step == args.warmup:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), ids[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema.update_parameters(model)
    seconds = time.perf_counter() - start
    tokens = args.steps * args.batch * args.seq
    print(json.dumps({"side": "python", "tokens_per_second": tokens / seconds, "seconds_per_step": seconds / args.steps,
                      "final_loss": loss.item(), "threads": torch.get_num_threads(), "bf16": args.bf16}))


if __name__ == "__main__":
    main()
