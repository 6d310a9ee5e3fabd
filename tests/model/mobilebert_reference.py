#!/usr/bin/env python3
"""An independent MobileBertForPreTraining in PyTorch, written for the tests
after the module tree and math of Hugging Face transformers' MobileBERT
(models/mobilebert/modeling_mobilebert.py: MobileBertEmbeddings,
MobileBertLayer with Bottleneck / MobileBertAttention / FFNLayer /
MobileBertIntermediate / MobileBertOutput + OutputBottleneck,
MobileBertPooler, MobileBertPreTrainingHeads), used to check the C++
student and its export.

usage: mobilebert_reference.py STUDENT_DIR INPUTS.safetensors OUTPUTS.safetensors [...]
(one triple per directory, to pay the interpreter's start-up once)

Builds the model from STUDENT_DIR/config.json (a MobileBertConfig), loads
model.safetensors with a strict load_state_dict (every name transformers
would load, and no other: the tied decoder weight is the word embeddings,
its bias cls.predictions.bias, as transformers saves them), runs the inputs
(input_ids, token_type_ids, attention_mask: I64 [N, S]) in eval mode and
writes hidden_states.<l>, attentions.<l>, mlm_logits and nsp_logits as F32.
"""
import json
import math
import struct
import sys

import torch
from torch import nn

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64}


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
        dtype = DTYPES[entry["dtype"]]
        if begin == end:  # a zero-sized tensor (cls.predictions.dense when E == H)
            out[name] = torch.zeros(entry["shape"], dtype=dtype)
            continue
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype)
        out[name] = t.reshape(entry["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class Config:
    """MobileBertConfig's fields with transformers' defaults."""
    DEFAULTS = dict(vocab_size=30522, hidden_size=512, num_hidden_layers=24,
                    num_attention_heads=4, intermediate_size=512, hidden_act="relu",
                    max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12,
                    pad_token_id=0, embedding_size=128, trigram_input=True, use_bottleneck=True,
                    intra_bottleneck_size=128, use_bottleneck_attention=False,
                    key_query_shared_bottleneck=True, num_feedforward_networks=4,
                    normalization_type="no_norm", classifier_activation=True)

    def __init__(self, values):
        for key, default in self.DEFAULTS.items():
            setattr(self, key, values.get(key, default))
        self.true_hidden_size = (self.intra_bottleneck_size if self.use_bottleneck
                                 else self.hidden_size)


ACTIVATIONS = {"gelu": lambda x: nn.functional.gelu(x), "relu": torch.relu,
               "gelu_new": lambda x: nn.functional.gelu(x, approximate="tanh")}


class NoNorm(nn.Module):
    def __init__(self, width, eps=None):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, x):
        return x * self.weight + self.bias


def norm(config, width, eps=None):
    """NORM2FN[normalization_type]; without eps, nn.LayerNorm's default (1e-5)."""
    if config.normalization_type == "no_norm":
        return NoNorm(width)
    return nn.LayerNorm(width) if eps is None else nn.LayerNorm(width, eps=eps)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.word_embeddings = nn.Embedding(c.vocab_size, c.embedding_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        width = c.embedding_size * (3 if c.trigram_input else 1)
        self.embedding_transformation = nn.Linear(width, c.hidden_size)
        self.LayerNorm = norm(c, c.hidden_size)

    def forward(self, ids, types):
        e = self.word_embeddings(ids)
        if self.c.trigram_input:
            after = nn.functional.pad(e[:, 1:], [0, 0, 0, 1, 0, 0], value=0.0)
            before = nn.functional.pad(e[:, :-1], [0, 0, 1, 0, 0, 0], value=0.0)
            e = torch.cat([after, e, before], dim=2)
        if self.c.trigram_input or self.c.embedding_size != self.c.hidden_size:
            e = self.embedding_transformation(e)
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        e = e + self.position_embeddings(positions) + self.token_type_embeddings(types)
        return self.LayerNorm(e)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c.num_attention_heads
        self.d = c.true_hidden_size // c.num_attention_heads
        b = c.true_hidden_size
        self.query = nn.Linear(b, b)
        self.key = nn.Linear(b, b)
        self.value = nn.Linear(b if c.use_bottleneck_attention else c.hidden_size, b)

    def split(self, t):
        n, s, _ = t.shape
        return t.view(n, s, self.heads, self.d).permute(0, 2, 1, 3)

    def forward(self, q, k, v, mask):
        scores = self.split(self.query(q)) @ self.split(self.key(k)).transpose(-1, -2)
        probs = torch.softmax(scores / math.sqrt(self.d) + mask, dim=-1)
        context = (probs @ self.split(self.value(v))).permute(0, 2, 1, 3).contiguous()
        return context.view(context.shape[0], context.shape[1], -1), probs


class DenseNorm(nn.Module):
    """dense then norm(x + residual): SelfOutput, FFNOutput, OutputBottleneck."""
    def __init__(self, c, width_in, width_out, eps):
        super().__init__()
        self.dense = nn.Linear(width_in, width_out)
        self.LayerNorm = norm(c, width_out, eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseNorm(c, c.true_hidden_size, c.true_hidden_size, c.layer_norm_eps)

    def forward(self, q, k, v, layer_input, mask):
        context, probs = self.self(q, k, v, mask)
        return self.output(context, layer_input), probs


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.true_hidden_size, c.intermediate_size)
        self.act = ACTIVATIONS[c.hidden_act]

    def forward(self, x):
        return self.act(self.dense(x))


class FFNLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.intermediate = Intermediate(c)
        self.output = DenseNorm(c, c.intermediate_size, c.true_hidden_size, c.layer_norm_eps)

    def forward(self, x):
        return self.output(self.intermediate(x), x)


class Output(nn.Module):
    """MobileBertOutput (its norm without eps) and, with use_bottleneck, the bottleneck."""
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.true_hidden_size)
        self.LayerNorm = norm(c, c.true_hidden_size)
        self.bottleneck = DenseNorm(c, c.true_hidden_size, c.hidden_size, c.layer_norm_eps)

    def forward(self, intermediate, attention_output, layer_input):
        x = self.LayerNorm(self.dense(intermediate) + attention_output)
        return self.bottleneck(x, layer_input)


class BottleneckLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intra_bottleneck_size)
        self.LayerNorm = norm(c, c.intra_bottleneck_size, c.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(self.dense(x))


class Bottleneck(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.input = BottleneckLayer(c)
        if c.key_query_shared_bottleneck:
            self.attention = BottleneckLayer(c)

    def forward(self, x):
        b = self.input(x)
        if self.c.use_bottleneck_attention:
            return b, b, b, b
        if self.c.key_query_shared_bottleneck:
            shared = self.attention(x)
            return shared, shared, x, b
        return x, x, x, b


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        assert c.use_bottleneck, "the reference covers use_bottleneck true only"
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = Output(c)
        self.bottleneck = Bottleneck(c)
        if c.num_feedforward_networks > 1:
            self.ffn = nn.ModuleList(FFNLayer(c) for _ in range(c.num_feedforward_networks - 1))

    def forward(self, x, mask):
        q, k, v, layer_input = self.bottleneck(x)
        a, probs = self.attention(q, k, v, layer_input, mask)
        for ffn in getattr(self, "ffn", []):
            a = ffn(a)
        return self.output(self.intermediate(a), a, x), probs


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.pooler = nn.Module()
        self.pooler.dense = nn.Linear(c.hidden_size, c.hidden_size)


class Predictions(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transform = nn.Module()
        self.transform.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.transform.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.act = ACTIVATIONS[c.hidden_act]
        # The rows of the output projection past the E tied embedding columns.
        self.dense = nn.Linear(c.vocab_size, c.hidden_size - c.embedding_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))

    def forward(self, h, word_embeddings):
        t = self.transform.LayerNorm(self.act(self.transform.dense(h)))
        return t @ torch.cat([word_embeddings.t(), self.dense.weight], dim=0) + self.bias


class MobileBertForPreTraining(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.mobilebert = Model(c)
        self.cls = nn.Module()
        self.cls.predictions = Predictions(c)
        self.cls.seq_relationship = nn.Linear(c.hidden_size, 2)

    def forward(self, ids, types, attention_mask):
        m = self.mobilebert
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        hidden = [m.embeddings(ids, types)]
        attentions = []
        for layer in m.encoder.layer:
            h, probs = layer(hidden[-1], mask)
            hidden.append(h)
            attentions.append(probs)
        mlm = self.cls.predictions(hidden[-1], m.embeddings.word_embeddings.weight)
        nsp = self.cls.seq_relationship(torch.tanh(m.pooler.dense(hidden[-1][:, 0])))
        return hidden, attentions, mlm, nsp


def load(directory):
    with open(directory + "/config.json") as f:
        values = json.load(f)
    assert values["model_type"] == "mobilebert", values["model_type"]
    model = MobileBertForPreTraining(Config(values))
    model.load_state_dict(read_safetensors(directory + "/model.safetensors"), strict=True)
    return model.eval()


def main(args):
    for directory, inputs_path, outputs_path in zip(args[0::3], args[1::3], args[2::3]):
        inputs = read_safetensors(inputs_path)
        with torch.no_grad():
            hidden, attentions, mlm, nsp = load(directory)(
                inputs["input_ids"], inputs["token_type_ids"], inputs["attention_mask"])
        out = {f"hidden_states.{i}": h for i, h in enumerate(hidden)}
        out.update({f"attentions.{i}": a for i, a in enumerate(attentions)})
        out["mlm_logits"], out["nsp_logits"] = mlm, nsp
        write_safetensors(outputs_path, out)


if __name__ == "__main__":
    main(sys.argv[1:])
