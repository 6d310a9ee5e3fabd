#!/usr/bin/env python3
"""Load an autodistill student (model.safetensors + config.json) in PyTorch.

    import autodistill_student
    model = autodistill_student.load("path/to/student")   # an nn.Module, eval mode
    hidden, mlm_logits, nsp_logits = model(input_ids, token_type_ids, attention_mask)

The module mirrors the C++ student template (workers/model/.../student.hpp)
parameter for parameter, so load_state_dict is strict. Needs only torch
(the safetensors file is parsed here; no other package).

As a script it checks itself against outputs the C++ side wrote:
    autodistill_student.py STUDENT_DIR INPUTS.safetensors OUTPUTS.safetensors
writes hidden_states.last, mlm_logits and nsp_logits for the inputs.
"""
import json
import math
import struct
import sys

import torch
from torch import nn

_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, entry in header.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            t = torch.frombuffer(bytearray(body[begin:end]), dtype=_DTYPES[entry["dtype"]])
            out[name] = t.reshape(entry["shape"]).clone()
    return out


class Attention(nn.Module):
    def __init__(self, width, heads, eps):
        super().__init__()
        self.heads = heads
        self.query, self.key = nn.Linear(width, width), nn.Linear(width, width)
        self.value, self.output = nn.Linear(width, width), nn.Linear(width, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)

    def forward(self, x, mask):
        n, s, w = x.shape
        d = w // self.heads
        split = lambda t: t.view(n, s, self.heads, d).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + mask, dim=-1)
        context = (probs @ v).transpose(1, 2).reshape(n, s, w)
        return self.LayerNorm(x + self.output(context))


class FeedForward(nn.Module):
    def __init__(self, width, inner, eps):
        super().__init__()
        self.intermediate, self.output = nn.Linear(width, inner), nn.Linear(inner, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)

    def forward(self, x):
        return self.LayerNorm(x + self.output(nn.functional.gelu(self.intermediate(x))))


class Block(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        h, b = c["hidden_size"], c["bottleneck_size"]
        self.bottleneck_in = nn.Linear(h, b)
        self.attention = Attention(b, c["num_heads"], eps)
        self.ffn = nn.ModuleList(FeedForward(b, c["intermediate_size"], eps)
                                 for _ in range(c["num_stacked_ffn"]))
        self.bottleneck_out = nn.Linear(b, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)

    def forward(self, x, mask):
        b = self.attention(self.bottleneck_in(x), mask)
        for ffn in self.ffn:
            b = ffn(b)
        return self.LayerNorm(x + self.bottleneck_out(b))


class Student(nn.Module):
    def __init__(self, c):
        super().__init__()
        eps, h = c.get("layer_norm_eps", 1e-12), c["hidden_size"]
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(c["vocab_size"], h)
        self.embeddings.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        self.embeddings.token_type_embeddings = nn.Embedding(c["type_vocab_size"], h)
        self.embeddings.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.encoder = nn.Module()
        self.encoder.block = nn.ModuleList(Block(c, eps) for _ in range(c["num_blocks"]))
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(h, h)
        self.cls = nn.Module()
        self.cls.predictions = nn.Module()
        self.cls.predictions.transform = nn.Module()
        self.cls.predictions.transform.dense = nn.Linear(h, h)
        self.cls.predictions.transform.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.cls.predictions.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.cls.seq_relationship = nn.Linear(h, 2)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        e = self.embeddings
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = e.LayerNorm(e.word_embeddings(input_ids) + e.position_embeddings(positions)
                        + e.token_type_embeddings(token_type_ids))
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for block in self.encoder.block:
            x = block(x, mask)
        p = self.cls.predictions
        t = p.transform.LayerNorm(nn.functional.gelu(p.transform.dense(x)))
        mlm = t @ e.word_embeddings.weight.t() + p.bias  # decoder tied to the word embeddings
        nsp = self.cls.seq_relationship(torch.tanh(self.pooler.dense(x[:, 0])))
        return x, mlm, nsp


def load(directory):
    with open(directory + "/config.json") as f:
        config = json.load(f)
    model = Student(config)
    model.load_state_dict(read_safetensors(directory + "/model.safetensors"), strict=True)
    return model.eval()


def _write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().float().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    student_dir, inputs_path, outputs_path = sys.argv[1:4]
    inputs = read_safetensors(inputs_path)
    with torch.no_grad():
        hidden, mlm, nsp = load(student_dir)(inputs["input_ids"], inputs["token_type_ids"],
                                             inputs["attention_mask"])
    _write_safetensors(outputs_path, {"hidden_states.last": hidden, "mlm_logits": mlm,
                                      "nsp_logits": nsp})
