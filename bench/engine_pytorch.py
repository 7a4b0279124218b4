"""PyTorch reference for `npm run bench -- engine`: trains the same GPT as bench/engine.bench.ts.

Configuration (must match the TypeScript benchmark): vocabulary 2048, width 192, 4 layers, 4 heads,
context 64, batch 16, pre-norm blocks (LayerNorm -> causal multi-head attention with a fused qkv Linear
and an output projection; LayerNorm -> MLP 4x with GELU), learned positional embedding, final LayerNorm,
untied LM head without bias, no dropout, AdamW (lr 3e-4, weight decay 0.1), random tokens from a fixed
seed, two threads by default. Prints one JSON line: trainTokensPerSecond, forwardTokensPerSecond (no_grad
forward), and the phase times of the timed training steps. With --serve it warms up, prints a ready line
and then times blocks of steps on request, so that the TypeScript benchmark can interleave the two
engines' measurements (a shared machine's load then hits both alike).

Usage: /usr/bin/python3 bench/engine_pytorch.py [--warmup 3] [--steps 10] [--seed 0] [--threads 2] [--serve]
"""

import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d_model, n_heads, context):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        mask = torch.triu(torch.ones(context, context, dtype=torch.bool), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        b, t, c = x.shape
        h = self.n_heads
        q, k, v = self.qkv(x).split(c, dim=2)
        q = q.view(b, t, h, c // h).transpose(1, 2)
        k = k.view(b, t, h, c // h).transpose(1, 2)
        v = v.view(b, t, h, c // h).transpose(1, 2)
        # torch 1.13 (Debian's) has no scaled_dot_product_attention: the explicit form.
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // h))
        att = att.masked_fill(self.mask[:t, :t], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, c)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, d_model, n_heads, context):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, n_heads, context)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.out = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, d_model, n_layers, n_heads, context):
        super().__init__()
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList([Block(d_model, n_heads, context) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--serve",
        action="store_true",
        help="after warm-up, answer 'train K' / 'forward K' / 'quit' lines on stdin with one JSON line each",
    )
    args = parser.parse_args()

    vocab, d_model, n_layers, n_heads, context, batch = 2048, 192, 4, 4, 64, 16
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = GPT(vocab, d_model, n_layers, n_heads, context)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    batches = [torch.randint(0, vocab, (batch, context + 1), generator=gen) for _ in range(4)]
    counter = {"step": 0}

    def train(k):
        """k timed training steps: per-step milliseconds, phase totals and the last loss."""
        phases = {"forwardMs": 0.0, "backwardMs": 0.0, "optimizerMs": 0.0}
        step_ms = []
        loss_value = float("nan")
        model.train()
        cpu0 = time.process_time()
        for _ in range(k):
            tokens = batches[counter["step"] % len(batches)]
            counter["step"] += 1
            t0 = time.perf_counter()
            logits = model(tokens[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
            t1 = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            t2 = time.perf_counter()
            optimizer.step()
            t3 = time.perf_counter()
            phases["forwardMs"] += (t1 - t0) * 1000
            phases["backwardMs"] += (t2 - t1) * 1000
            phases["optimizerMs"] += (t3 - t2) * 1000
            step_ms.append((t3 - t0) * 1000)
            loss_value = loss.item()
        # CPU time of all the process's threads: with one thread, a measure of work that other
        # processes on the machine barely change.
        cpu_ms = (time.process_time() - cpu0) * 1000
        return {"stepMs": step_ms, "cpuMs": cpu_ms, "phasesMs": phases, "loss": loss_value}

    def forward(k):
        """k timed no-grad forwards in eval mode: per-step milliseconds."""
        model.eval()
        step_ms = []
        with torch.no_grad():
            for i in range(k):
                t0 = time.perf_counter()
                model(batches[i % len(batches)][:, :-1])
                step_ms.append((time.perf_counter() - t0) * 1000)
        model.train()
        return {"stepMs": step_ms}

    train(args.warmup)
    forward(args.warmup)
    info = {
        "torchVersion": torch.__version__,
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
    }

    if args.serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        idle_from = time.process_time()
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            # CPU this process used while it waited for the request (the other engine's block ran
            # then): spinning OpenMP workers show up here.
            idle_ms = (time.process_time() - idle_from) * 1000
            k = int(words[1])
            result = train(k) if words[0] == "train" else forward(k)
            result["idleCpuMs"] = idle_ms
            print(json.dumps(result), flush=True)
            idle_from = time.process_time()
        return

    tokens_per_step = batch * context
    trained = train(args.steps)
    forwards = forward(args.steps)
    step_ms = trained["stepMs"]
    print(
        json.dumps(
            {
                "trainTokensPerSecond": tokens_per_step * 1000 * args.steps / sum(step_ms),
                # The median step is less sensitive than the mean to other processes on a shared machine.
                "trainTokensPerSecondMedian": tokens_per_step * 1000 / sorted(step_ms)[len(step_ms) // 2],
                "forwardTokensPerSecond": tokens_per_step * 1000 * args.steps / sum(forwards["stepMs"]),
                "finalLoss": trained["loss"],
                "phasesMsPerStep": {k: v / args.steps for k, v in trained["phasesMs"].items()},
                **info,
            }
        )
    )


if __name__ == "__main__":
    main()
