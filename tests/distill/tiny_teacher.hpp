#pragma once
// The tiny teacher the distillation tests share: a 2-layer BERT pre-trained
// for a few hundred steps on a generated corpus, written once as a Hugging
// Face checkpoint directory (config.json, model.safetensors, vocab.txt) plus
// corpus.txt. The ctest fixture distill_tiny_teacher builds it before the
// tests; a test binary run by hand builds it on first use.

#include <filesystem>

namespace autodistill::testing {

// The directory, built if missing (atomically: concurrent callers are safe).
std::filesystem::path tiny_teacher_dir();

}  // namespace autodistill::testing
