#!/usr/bin/python3
"""The Python side of the real-size LoRA benchmark: an idiomatic PyTorch LoRA fine-tuning loop (Debian
python3-torch) on the model folder scripts/make-shaped-checkpoint.py wrote (Qwen3 or Llama 3.x).

The model is bench/train/python_loop.py's, written as transformers' modeling_llama.py / modeling_qwen3.py compute
it (grouped-query eager attention, Llama 3's rope_scaling, Qwen3's per-head q/k RMSNorm, tied embeddings). The
stored bf16 weights are loaded as fp32 parameters and frozen, as ladle loads them. LoRA as peft's LoraLayer computes
it, x·Aᵀ·Bᵀ·(alpha/r) added to the frozen projection (A Kaiming-uniform, B zero), on the target modules;
torch.optim.AdamW over the adapters only, clip_grad_norm_, bf16 autocast around the forward. Batches are [batch, seq] token blocks (every
token a target), as ladle's plain-text blocks.

Usage: python_lora_loop.py MODEL_DIR --batch B --seq S --warmup W --steps N --threads T [--r 16 --alpha 32]
       [--targets q_proj,k_proj,v_proj,o_proj] [--no-bf16]
Prints one JSON line: {"side": "python", "tokens_per_second": ..., "seconds_per_step": ..., "saved_activation_bytes":
...} (the bytes autograd saved for the first step's backward, counted once per storage).
"""
import contextlib
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from python_loop import LlamaForCausalLM, read_safetensors, timing_arguments  # noqa: E402  (the small benchmark's model, shared)


class LoraLinear(nn.Module):
    """A frozen nn.Linear plus peft's low-rank update: y = W x + (alpha / r) · B A x."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


def saved_tensors_counted(saved, enabled, parameters):
    """While active, the bytes of every distinct storage autograd saves for the backward pass go into `saved`
    (storage pointer -> bytes): what one step holds besides the parameters (activations, and the bf16 copies of
    the weights autocast makes and the products keep), the parameters' own storages excluded."""
    if not enabled:
        return contextlib.nullcontext()
    parameter_storages = {p.storage().data_ptr() for p in parameters}

    def pack(tensor):
        storage = tensor.storage()
        if storage.data_ptr() not in parameter_storages:
            saved[storage.data_ptr()] = storage.size() * tensor.element_size()
        return tensor

    return torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor)


def add_lora(model, targets, r, alpha):
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if name in targets and isinstance(child, nn.Linear):
                setattr(module, name, LoraLinear(child, r, alpha))


def main():
    parser = timing_arguments(batch=2, seq=256, warmup=2, steps=4)
    parser.add_argument("--r", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=32)
    parser.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj")
    parser.add_argument("--no-bf16", dest="bf16", action="store_false")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with open(os.path.join(args.model_dir, "config.json")) as f:
        config = json.load(f)
    model = LlamaForCausalLM(config)
    model.load_state_dict(read_safetensors(os.path.join(args.model_dir, "model.safetensors")),
                          strict=not config.get("tie_word_embeddings"))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    add_lora(model, set(args.targets.split(",")), args.r, args.alpha)
    model.train()
    adapters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(adapters, lr=2e-4, weight_decay=0.0)
    vocab = config["vocab_size"]
    batches = [torch.randint(0, vocab, (args.batch, args.seq)) for _ in range(args.warmup + args.steps)]

    start = None
    saved = {}
    for step, ids in enumerate(batches):
        if step == args.warmup:
            start = time.perf_counter()
        counting = saved_tensors_counted(saved, step == 0, model.parameters())
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16), counting:
            logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), ids[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(adapters, 1.0)
        optimizer.step()
    seconds = time.perf_counter() - start
    tokens = args.steps * args.batch * args.seq
    print(json.dumps({"side": "python", "tokens_per_second": tokens / seconds, "seconds_per_step": seconds / args.steps,
                      "final_loss": loss.item(), "threads": torch.get_num_threads(), "bf16": args.bf16,
                      "adapter_parameters": sum(p.numel() for p in adapters),
                      "saved_activation_bytes": sum(saved.values())}))


if __name__ == "__main__":
    main()
