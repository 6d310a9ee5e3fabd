#!/usr/bin/env python3
"""Export an autodistill student directory to ONNX.

usage: autodistill-export-onnx STUDENT_DIR [--out PATH] [--opset N]

Writes STUDENT_DIR/onnx/model.onnx (the layout transformers.js and
Hugging Face Optimum use) with PyTorch's exporter (torch.onnx; Debian's
python3-torch is enough):

  inputs   input_ids, attention_mask, token_type_ids   int64 [batch, sequence]
  outputs  logits                   float32 [batch, sequence, vocab_size]  (MLM head)
           seq_relationship_logits  float32 [batch, 2]                     (NSP head)
           last_hidden_state        float32 [batch, sequence, hidden_size]

batch and sequence are dynamic (sequence up to max_position_embeddings).
The model is autodistill_student.load(STUDENT_DIR): a MobileBERT student,
or one of the earlier format. Exit 0 on success, 1 with a message on
stderr otherwise; the file is written whole or not at all.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import autodistill_student  # noqa: E402


class _Exported(nn.Module):
    """The student with transformers.js's input order and output names."""

    def __init__(self, student):
        super().__init__()
        self.student = student

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden, mlm, nsp = self.student(input_ids, token_type_ids, attention_mask)
        return mlm, nsp, hidden


def export(student_dir, out_path, opset=14):
    student = autodistill_student.load(student_dir)
    with open(os.path.join(student_dir, "config.json")) as f:
        config = json.load(f)
    vocab = config["vocab_size"]
    length = min(8, config["max_position_embeddings"])
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(vocab, (2, length), generator=generator)
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    partial = out_path + ".partial"
    sequence = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            _Exported(student), (ids, mask, types), partial,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits", "seq_relationship_logits", "last_hidden_state"],
            dynamic_axes={"input_ids": sequence, "attention_mask": sequence,
                          "token_type_ids": sequence, "logits": sequence,
                          "seq_relationship_logits": {0: "batch"},
                          "last_hidden_state": sequence},
            opset_version=opset, do_constant_folding=True)
    os.replace(partial, out_path)
    return out_path


def main(argv):
    parser = argparse.ArgumentParser(prog="autodistill-export-onnx",
                                     description="Export a student directory to ONNX.")
    parser.add_argument("student_dir")
    parser.add_argument("--out", help="default: STUDENT_DIR/onnx/model.onnx")
    parser.add_argument("--opset", type=int, default=14, help="ONNX opset (default 14)")
    args = parser.parse_args(argv)
    out = args.out or os.path.join(args.student_dir, "onnx", "model.onnx")
    try:
        print(export(args.student_dir, out, args.opset))
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        print(f"autodistill-export-onnx: {args.student_dir}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
