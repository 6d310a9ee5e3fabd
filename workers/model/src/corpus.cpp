#include "autodistill/model/corpus.hpp"

#include <cstring>
#include <fstream>

#include "rng.hpp"
#include "utf8.hpp"

namespace autodistill::model {

namespace {

bool blank(const std::string& line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string::npos;
}

}  // namespace

Result<Corpus> Corpus::open(const std::filesystem::path& path, const CorpusOptions& options) {
  if (!(options.eval_fraction >= 0.0 && options.eval_fraction < 1.0)) {
    return Status(Code::kInvalidArgument, "eval_fraction must be in [0, 1)", "eval_fraction");
  }
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  if (!std::filesystem::is_regular_file(path, ec) || !in) {
    return Status(Code::kNotFound, path.string() + ": cannot open the corpus file");
  }
  Corpus corpus;
  corpus.path_ = path;

  auto bad_line = [&](uint64_t number, const std::string& why) {
    return Status(Code::kInvalidArgument,
                  path.string() + ": line " + std::to_string(number) + " " + why +
                      " (the corpus must be UTF-8 text: one sentence per line, a blank line "
                      "between documents)",
                  "line " + std::to_string(number));
  };
  uint64_t number = 0;
  bool in_document = false;
  Span current{0, 0};
  // Handles one line that spans [begin, end) in the file (end past its '\n').
  auto take_line = [&](const std::string& line, uint64_t begin, uint64_t end) -> Status {
    ++number;
    if (line.find('\0') != std::string::npos) return bad_line(number, "contains a NUL byte");
    if (!detail::is_utf8(line)) return bad_line(number, "is not valid UTF-8");
    if (blank(line)) {
      if (in_document) corpus.documents_.push_back(current);
      in_document = false;
    } else {
      if (!in_document) current.begin = begin;
      current.end = end;
      in_document = true;
    }
    return Status::ok();
  };
  std::vector<char> buffer(1 << 20);
  std::string line;
  uint64_t position = 0, line_begin = 0;
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    const size_t n = static_cast<size_t>(in.gcount());
    size_t i = 0;
    while (i < n) {
      const char* newline = static_cast<const char*>(std::memchr(buffer.data() + i, '\n', n - i));
      const size_t stop = newline != nullptr ? static_cast<size_t>(newline - buffer.data()) : n;
      if (line.size() + (stop - i) > options.max_line_bytes) {
        return bad_line(number + 1,
                        "is longer than " + std::to_string(options.max_line_bytes) + " bytes");
      }
      line.append(buffer.data() + i, stop - i);
      if (newline == nullptr) break;
      const uint64_t line_end = position + stop + 1;
      if (Status s = take_line(line, line_begin, line_end); !s) return s;
      line.clear();
      line_begin = line_end;
      i = stop + 1;
    }
    position += n;
  }
  if (!line.empty()) {
    if (Status s = take_line(line, line_begin, position); !s) return s;
  }
  if (in_document) corpus.documents_.push_back(current);
  if (corpus.documents_.size() < 2) {
    return Status(Code::kInvalidArgument,
                  path.string() + ": the corpus has " + std::to_string(corpus.documents_.size()) +
                      " document(s); at least 2 are needed (separate documents with a blank line)");
  }
  for (int64_t d = 0; d < corpus.num_documents(); ++d) {
    const double u =
        static_cast<double>(
            detail::mix64(options.split_seed * 0x100000001B3ull + static_cast<uint64_t>(d)) >> 11) *
        0x1.0p-53;
    (u < options.eval_fraction ? corpus.eval_ : corpus.train_).push_back(d);
  }
  if (corpus.eval_.empty()) {
    corpus.eval_.push_back(corpus.train_.back());
    corpus.train_.pop_back();
  } else if (corpus.train_.empty()) {
    corpus.train_.push_back(corpus.eval_.front());
    corpus.eval_.erase(corpus.eval_.begin());
  }
  return corpus;
}

Result<std::vector<std::string>> Corpus::read_document(int64_t index) const {
  if (index < 0 || index >= num_documents()) {
    return Status(Code::kInvalidArgument, "no document " + std::to_string(index));
  }
  const Span& span = documents_[static_cast<size_t>(index)];
  std::ifstream in(path_, std::ios::binary);
  std::string text(span.end - span.begin, '\0');
  in.seekg(static_cast<std::streamoff>(span.begin));
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!in) {
    return Status(Code::kUnavailable, path_.string() + ": cannot read document " +
                                          std::to_string(index) +
                                          " (the file changed after indexing?)");
  }
  std::vector<std::string> sentences;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string sentence = text.substr(start, end - start);
    if (!sentence.empty() && sentence.back() == '\r') sentence.pop_back();
    if (!blank(sentence)) sentences.push_back(std::move(sentence));
    start = end + 1;
  }
  return sentences;
}

}  // namespace autodistill::model
