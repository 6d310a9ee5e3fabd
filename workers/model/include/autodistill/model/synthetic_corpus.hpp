#pragma once
// A generated pre-training corpus with learnable structure, for tests, the
// demo and benchmarks (nothing can be downloaded here). Each document has a
// topic (farm, kitchen, city, sea, school, music: the nouns, verbs,
// adjectives and places it draws from, with 10 % noise from other topics),
// a protagonist with a gender and a tense. Sentences come from a small
// probabilistic grammar with
//  - agreement: determiner-noun number ("a dog", "these dog ##s"),
//    subject-verb number and tense ("the dog chases", "the dogs chase",
//    "yesterday ... chased"), be-verbs ("is"/"are", "was"/"were");
//  - long-range dependencies: the head noun of a relative clause decides the
//    verb after it ("the cats that tom feeds are hungry"); pronouns and
//    possessives follow the protagonist's gender across the document; the
//    document's tense holds unless a time marker overrides it; a sentence's
//    object often becomes the next sentence's subject;
//  - document topics, so next-sentence prediction is learnable too.
// Plural nouns are written noun+"s" and the vocabulary lacks them, so they
// tokenize into "noun ##s". A unigram guesser scores far below a model that
// learned the grammar, so MLM accuracy separates good students from poor ones.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::model {

struct SyntheticCorpusOptions {
  // Number of documents. Default 2000.
  int64_t documents = 2000;
  // Sentences per document, drawn uniformly in [min, max]. Defaults 4 and 10.
  int64_t min_sentences = 4;
  int64_t max_sentences = 10;
  // The same seed gives the same corpus. Default 1.
  uint64_t seed = 1;
};

// The corpus text: one sentence per line, a blank line between documents.
std::string synthetic_corpus_text(const SyntheticCorpusOptions& options);
// Writes synthetic_corpus_text() to `path`. kInvalidArgument for bad
// options, kInternal when the file cannot be written.
Status write_synthetic_corpus(const std::filesystem::path& path,
                              const SyntheticCorpusOptions& options);

// A vocabulary covering every word the grammar produces: [PAD], [UNK],
// [CLS], [SEP], [MASK], punctuation, "##s", then the words, sorted.
std::vector<std::string> synthetic_vocab();

}  // namespace autodistill::model
