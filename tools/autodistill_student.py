#!/usr/bin/env python3
"""Load an autodistill student directory in PyTorch, without transformers.

A student delivered by autodistill is a Hugging Face MobileBERT checkpoint
(config.json model_type "mobilebert"): with transformers installed, use
    transformers.AutoModelForMaskedLM.from_pretrained(path)   # or MobileBertForPreTraining
This module is for machines with only torch (it parses the safetensors file
itself), for the ONNX exporter (autodistill_export_onnx.py), and for
students of the earlier format (model_type "autodistill-student"):

    import autodistill_student
    model = autodistill_student.load("path/to/student")   # an nn.Module, eval mode
    hidden, mlm_logits, nsp_logits = model(input_ids, token_type_ids, attention_mask)

Both modules load their checkpoint with a strict load_state_dict.

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
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        if begin == end:
            out[name] = torch.zeros(entry["shape"], dtype=_DTYPES[entry["dtype"]])
        else:
            t = torch.frombuffer(bytearray(body[begin:end]), dtype=_DTYPES[entry["dtype"]])
            out[name] = t.reshape(entry["shape"]).clone()
    return out


# --- MobileBERT (transformers' MobileBertForPreTraining, use_bottleneck) ---

def _norm(c, width, eps):
    """normalization_type: LayerNorm, or NoNorm (x * weight + bias)."""
    if c["normalization_type"] == "no_norm":
        return _NoNorm(width)
    return nn.LayerNorm(width, eps=eps)


class _NoNorm(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, x):
        return x * self.weight + self.bias


def _module(**children):
    m = nn.Module()
    for name, child in children.items():
        setattr(m, name, child)
    return m


def _dense_norm(c, n_in, n_out, eps):
    return _module(dense=nn.Linear(n_in, n_out), LayerNorm=_norm(c, n_out, eps))


def _apply(m, x, residual):
    return m.LayerNorm(m.dense(x) + residual)


class MobileBertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, b, i, eps = c["hidden_size"], c["intra_bottleneck_size"], c["intermediate_size"], \
            c["layer_norm_eps"]
        self.c = c
        self.attention = _module(
            self=_module(query=nn.Linear(b, b), key=nn.Linear(b, b),
                         value=nn.Linear(b if c["use_bottleneck_attention"] else h, b)),
            output=_dense_norm(c, b, b, eps))
        self.intermediate = _module(dense=nn.Linear(b, i))
        self.output = _dense_norm(c, i, b, 1e-5)  # transformers builds this norm without eps
        self.output.bottleneck = _dense_norm(c, b, h, eps)
        self.bottleneck = _module(input=_dense_norm(c, h, b, eps))
        if c["key_query_shared_bottleneck"]:
            self.bottleneck.attention = _dense_norm(c, h, b, eps)
        if c["num_feedforward_networks"] > 1:
            self.ffn = nn.ModuleList(
                _module(intermediate=_module(dense=nn.Linear(b, i)), output=_dense_norm(c, i, b, eps))
                for _ in range(c["num_feedforward_networks"] - 1))

    def forward(self, x, mask):
        c, bn = self.c, self.bottleneck
        b = bn.input.LayerNorm(bn.input.dense(x))
        if c["use_bottleneck_attention"]:
            qk, v = b, b
        else:
            qk, v = bn.attention.LayerNorm(bn.attention.dense(x)), x
        s = self.attention.self
        n, length, _ = b.shape
        width, heads = c["intra_bottleneck_size"], c["num_attention_heads"]
        split = lambda t: t.view(n, length, heads, width // heads).transpose(1, 2)
        scores = split(s.query(qk)) @ split(s.key(qk)).transpose(-1, -2)
        probs = torch.softmax(scores / math.sqrt(width // heads) + mask, dim=-1)
        context = (probs @ split(s.value(v))).transpose(1, 2).reshape(n, length, width)
        a = _apply(self.attention.output, context, b)
        for ffn in getattr(self, "ffn", []):
            a = _apply(ffn.output, nn.functional.gelu(ffn.intermediate.dense(a)), a)
        a = _apply(self.output, nn.functional.gelu(self.intermediate.dense(a)), a)
        return _apply(self.output.bottleneck, a, x)


class MobileBertStudent(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, e, v = c["hidden_size"], c["embedding_size"], c["vocab_size"]
        self.c = c
        self.mobilebert = _module(
            embeddings=_module(
                word_embeddings=nn.Embedding(v, e),
                position_embeddings=nn.Embedding(c["max_position_embeddings"], h),
                token_type_embeddings=nn.Embedding(c["type_vocab_size"], h),
                embedding_transformation=nn.Linear(e * (3 if c["trigram_input"] else 1), h),
                LayerNorm=_norm(c, h, 1e-5)),  # transformers builds this norm without eps
            encoder=_module(layer=nn.ModuleList(
                MobileBertLayer(c) for _ in range(c["num_hidden_layers"]))),
            pooler=_module(dense=nn.Linear(h, h)))
        self.cls = _module(
            predictions=_module(
                transform=_module(dense=nn.Linear(h, h),
                                  LayerNorm=nn.LayerNorm(h, eps=c["layer_norm_eps"])),
                dense=nn.Linear(v, h - e, bias=False),
                bias=nn.Parameter(torch.zeros(v))),
            seq_relationship=nn.Linear(h, 2))

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        c, emb = self.c, self.mobilebert.embeddings
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        x = emb.word_embeddings(input_ids)
        if c["trigram_input"]:
            x = torch.cat([nn.functional.pad(x[:, 1:], [0, 0, 0, 1]), x,
                           nn.functional.pad(x[:, :-1], [0, 0, 1, 0])], dim=2)
        if c["trigram_input"] or c["embedding_size"] != c["hidden_size"]:
            x = emb.embedding_transformation(x)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = emb.LayerNorm(x + emb.position_embeddings(positions)
                          + emb.token_type_embeddings(token_type_ids))
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.mobilebert.encoder.layer:
            x = layer(x, mask)
        p = self.cls.predictions
        t = p.transform.LayerNorm(nn.functional.gelu(p.transform.dense(x)))
        decoder = torch.cat([emb.word_embeddings.weight.t(), p.dense.weight], dim=0)
        mlm = t @ decoder + p.bias  # the decoder is tied to the word embeddings
        nsp = self.cls.seq_relationship(torch.tanh(self.mobilebert.pooler.dense(x[:, 0])))
        return x, mlm, nsp


# --- the earlier format (model_type "autodistill-student") ---


class Attention(nn.Module):
    def __init__(self, width, heads, eps):
        super().__init__()
        self.heads = heads
        self.query, self.key = nn.Linear(width, width), nn.Linear(width, width)
        self.value, self.output = nn.Linear(width, width), nn.Linear(width, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)

    def forward(self, x, mask):
        n, s, w = x.shape
        d = self.query.out_features // self.heads  # static, so an ONNX trace keeps it constant
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
    """The student in `directory` as an nn.Module in eval mode: a
    MobileBertStudent, or a Student of the earlier format."""
    with open(directory + "/config.json") as f:
        config = json.load(f)
    kind = config.get("model_type")
    if kind == "mobilebert":
        for key in ("use_bottleneck", "classifier_activation", "tie_word_embeddings"):
            if not config.get(key, True):
                raise ValueError(f"{directory}/config.json: {key} must be true")
        if config.get("hidden_act") != "gelu":
            raise ValueError(f"{directory}/config.json: hidden_act must be gelu")
        model = MobileBertStudent(config)
    elif kind == "autodistill-student":
        model = Student(config)
    else:
        raise ValueError(f"{directory}/config.json: model_type {kind!r} is not a student")
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
