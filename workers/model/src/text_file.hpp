#pragma once
// Whole-file text I/O of the checkpoint and tokenizer files (config.json,
// manifest.json, vocab.txt, ...): one place for the open/read/write checks
// and their messages, which name the path.

#include <filesystem>
#include <string>

#include "autodistill/status.hpp"

namespace autodistill::model {

// The file's bytes; kNotFound "PATH: cannot open" when it cannot be opened.
Result<std::string> read_text(const std::filesystem::path& path);

// Replaces the file with `text`; kInternal "PATH: cannot write" on failure.
Status write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace autodistill::model
