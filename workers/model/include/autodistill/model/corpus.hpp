#pragma once
// A plain-text pre-training corpus in BERT's convention: one sentence per
// line, documents separated by blank lines. The file is indexed once (byte
// offsets of every document, a few bytes each) and documents are read on
// demand, so corpora larger than memory work. A fixed, seeded fraction of
// the documents is held out for evaluation; the split depends only on the
// corpus and the split seed, so every trial of a study evaluates on the
// same documents.
//
// Thread-safety: a Corpus is immutable after open(); read_document() opens
// its own stream, so any number of threads may read at once.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::model {

struct CorpusOptions {
  // Fraction of documents held out for evaluation (at least one is). Default 0.05.
  double eval_fraction = 0.05;
  // Chooses which documents are held out. Default 0.
  uint64_t split_seed = 0;
  // A longer line is an error (a binary file, not text). Default 1 MiB.
  size_t max_line_bytes = 1 << 20;
};

enum class Split { kTrain, kEval };

class Corpus {
 public:
  // Indexes `path`. kNotFound when it cannot be read; kInvalidArgument with
  // field "line N" for a line that is not UTF-8, contains a NUL byte or is
  // too long, and for a corpus with fewer than two documents (NSP needs a
  // second document to draw random sentences from); kInvalidArgument for an
  // eval_fraction outside [0, 1).
  static Result<Corpus> open(const std::filesystem::path& path, const CorpusOptions& options = {});

  const std::filesystem::path& path() const { return path_; }
  int64_t num_documents() const { return static_cast<int64_t>(documents_.size()); }
  // Document indices of a split, ascending; both are non-empty.
  const std::vector<int64_t>& documents(Split split) const {
    return split == Split::kTrain ? train_ : eval_;
  }
  // The sentences (lines, "\r" stripped) of document `index`.
  Result<std::vector<std::string>> read_document(int64_t index) const;

 private:
  struct Span {
    uint64_t begin;
    uint64_t end;
  };
  std::filesystem::path path_;
  std::vector<Span> documents_;
  std::vector<int64_t> train_;
  std::vector<int64_t> eval_;
};

}  // namespace autodistill::model
