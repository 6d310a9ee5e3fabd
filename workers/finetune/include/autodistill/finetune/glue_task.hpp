#pragma once
// A sequence-classification task in GLUE's TSV format: a directory with
// train.tsv and dev.tsv (tab-separated, a header line, no quoting), and
// optionally task.json (as autodistill-make-tasks writes it) naming the
// text and label columns and the label order:
//   {"name": "kjv-testament", "text_columns": ["sentence"], "label_column": "label",
//    "labels": ["0", "1"]}
// Without task.json the columns are found by GLUE's header names: the label
// in "label", "Quality", "gold_label" or "is_duplicate"; the text in
// "sentence1"+"sentence2" (RTE, WNLI, MNLI), "#1 String"+"#2 String" (MRPC),
// "question"+"sentence" (QNLI), "question1"+"question2" (QQP) or "sentence"
// (SST-2); the labels are the training set's, sorted.
//
// For two labels, the second (index 1: "1", "entailment" as ordered in
// task.json) is the positive class of the binary F1.
//
// Thread-safety: plain values and a pure function.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::finetune {

struct GlueExample {
  std::string text_a;
  std::string text_b;  // empty for a single-sentence task
  int64_t label = 0;   // index into GlueTask::labels
};

struct GlueTask {
  std::string name;                 // task.json's "name", else the directory's name
  std::vector<std::string> labels;  // label index -> the label as written in the TSV
  bool pair = false;                // two text columns
  std::vector<GlueExample> train;
  std::vector<GlueExample> dev;
};

// Reads `dir`. kNotFound names a missing train.tsv/dev.tsv; kMalformed a
// task.json that is not a JSON object; kInvalidArgument names the file and
// line ("dev.tsv:17") of a row with too few fields or an unknown label, or
// the header without the needed columns, or a split without examples, or
// fewer than two labels.
Result<GlueTask> read_glue_task(const std::filesystem::path& dir);

}  // namespace autodistill::finetune
