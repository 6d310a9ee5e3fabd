#include "autodistill/model/wordpiece.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "utf8.hpp"

namespace autodistill::model {

namespace {

// Decodes UTF-8 into code points; invalid sequences become U+FFFD.
std::vector<UChar32> decode(std::string_view text) {
  std::vector<UChar32> out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t length = static_cast<int32_t>(text.size());
  int32_t i = 0;
  while (i < length) {
    UChar32 c;
    U8_NEXT(s, i, length, c);
    out.push_back(c < 0 ? 0xFFFD : c);
  }
  return out;
}

void append_utf8(UChar32 c, std::string& out) {
  uint8_t buffer[4];
  int32_t n = 0;
  UBool error = false;
  U8_APPEND(buffer, n, 4, c, error);
  if (!error) out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

bool is_control(UChar32 c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (u_charType(c)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_SURROGATE:
    case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED:
      return true;
    default:
      return false;
  }
}

bool is_whitespace(UChar32 c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || u_charType(c) == U_SPACE_SEPARATOR;
}

// What Python's str.split() also splits on after cleaning: the line and
// paragraph separators.
bool is_split_space(UChar32 c) {
  return is_whitespace(c) || c == 0x2028 || c == 0x2029;
}

bool is_punctuation(UChar32 c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  switch (u_charType(c)) {
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

bool is_cjk(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

// NFC or NFD of a UTF-8 string (the input is valid UTF-8 by construction).
icu::UnicodeString normalize(const icu::UnicodeString& s, bool decompose) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* n =
      decompose ? icu::Normalizer2::getNFDInstance(error) : icu::Normalizer2::getNFCInstance(error);
  if (U_FAILURE(error)) return s;
  icu::UnicodeString out = n->normalize(s, error);
  return U_FAILURE(error) ? s : out;
}

std::vector<std::string> split_words(const std::vector<UChar32>& chars) {
  std::vector<std::string> words;
  std::string current;
  for (UChar32 c : chars) {
    if (is_split_space(c)) {
      if (!current.empty()) words.push_back(std::move(current));
      current.clear();
    } else {
      append_utf8(c, current);
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

}  // namespace

namespace detail {

bool is_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const int64_t length = static_cast<int64_t>(text.size());
  int64_t i = 0;
  while (i < length) {
    UChar32 c;
    U8_NEXT(s, i, length, c);
    if (c < 0) return false;
  }
  return true;
}

}  // namespace detail

Result<Vocab> Vocab::parse(std::string_view text) {
  std::vector<std::string> tokens;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!detail::is_utf8(line)) {
      return Status(Code::kInvalidArgument,
                    "vocabulary line " + std::to_string(tokens.size() + 1) + " is not UTF-8",
                    "line " + std::to_string(tokens.size() + 1));
    }
    tokens.emplace_back(line);
    start = end + 1;
  }
  return from_tokens(std::move(tokens));
}

Result<Vocab> Vocab::read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, path.string() + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parse(text.str());
  if (!parsed) {
    return Status(parsed.status().code(), path.string() + ": " + parsed.status().message(),
                  parsed.status().field());
  }
  return parsed;
}

Result<Vocab> Vocab::from_tokens(std::vector<std::string> tokens) {
  if (tokens.empty()) return Status(Code::kInvalidArgument, "the vocabulary is empty");
  Vocab v;
  v.tokens_ = std::move(tokens);
  for (size_t i = 0; i < v.tokens_.size(); ++i) v.ids_[v.tokens_[i]] = static_cast<int64_t>(i);
  return v;
}

int64_t Vocab::id(std::string_view token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

std::string Vocab::to_text() const {
  std::string out;
  for (const auto& t : tokens_) {
    out += t;
    out += '\n';
  }
  return out;
}

WordPieceTokenizer::WordPieceTokenizer(Vocab vocab, TokenizerOptions options, int64_t unk_id)
    : vocab_(std::move(vocab)), options_(std::move(options)), unk_id_(unk_id) {}

Result<WordPieceTokenizer> WordPieceTokenizer::create(Vocab vocab, TokenizerOptions options) {
  const int64_t unk = vocab.id(options.unk_token);
  if (unk < 0) {
    return Status(Code::kInvalidArgument,
                  "the vocabulary lacks the unknown token \"" + options.unk_token + "\"",
                  "unk_token");
  }
  return WordPieceTokenizer(std::move(vocab), std::move(options), unk);
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(std::string_view text) const {
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return static_cast<uint8_t>(c) < 0x80; })) {
    return basic_tokenize_ascii(text);
  }
  // 1. Clean; 2. isolate CJK ideographs.
  icu::UnicodeString cleaned;
  for (UChar32 c : decode(text)) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      cleaned.append(static_cast<UChar32>(' '));
    } else if (options_.split_cjk && is_cjk(c)) {
      cleaned.append(static_cast<UChar32>(' ')).append(c).append(static_cast<UChar32>(' '));
    } else {
      cleaned.append(c);
    }
  }
  const std::string normalized = to_utf8(normalize(cleaned, /*decompose=*/false));

  // 3. Words: case, accents, punctuation.
  std::vector<std::string> out;
  for (const std::string& word : split_words(decode(normalized))) {
    icu::UnicodeString w = icu::UnicodeString::fromUTF8(word);
    if (options_.lower_case) w.toLower(icu::Locale::getRoot());
    if (options_.strip_accents) {
      icu::UnicodeString decomposed = normalize(w, /*decompose=*/true);
      icu::UnicodeString kept;
      for (int32_t i = 0; i < decomposed.length();) {
        const UChar32 c = decomposed.char32At(i);
        if (u_charType(c) != U_NON_SPACING_MARK) kept.append(c);
        i += U16_LENGTH(c);
      }
      w = kept;
    }
    std::string piece;
    for (UChar32 c : decode(to_utf8(w))) {
      if (is_punctuation(c)) {
        if (!piece.empty()) out.push_back(std::move(piece));
        piece.clear();
        std::string mark;
        append_utf8(c, mark);
        out.push_back(std::move(mark));
      } else if (is_split_space(c)) {
        if (!piece.empty()) out.push_back(std::move(piece));
        piece.clear();
      } else {
        append_utf8(c, piece);
      }
    }
    if (!piece.empty()) out.push_back(std::move(piece));
  }
  return out;
}

// The same steps for ASCII text, without ICU: NFC, accent stripping and
// CJK splitting do nothing there, and lower-casing is tolower.
std::vector<std::string> WordPieceTokenizer::basic_tokenize_ascii(std::string_view text) const {
  std::vector<std::string> out;
  std::string piece;
  auto flush = [&] {
    if (!piece.empty()) out.push_back(std::move(piece));
    piece.clear();
  };
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      flush();
    } else if (c < 32 || c == 127) {
      continue;  // control characters (NUL included) vanish
    } else if (is_punctuation(static_cast<UChar32>(c))) {
      flush();
      out.emplace_back(1, c);
    } else {
      piece.push_back(options_.lower_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
    }
  }
  flush();
  return out;
}

void WordPieceTokenizer::wordpiece(const std::string& word, std::vector<std::string>& out) const {
  // Byte offsets of each code point, plus the end.
  std::vector<size_t> bounds;
  const auto* s = reinterpret_cast<const uint8_t*>(word.data());
  const int32_t length = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < length;) {
    bounds.push_back(static_cast<size_t>(i));
    U8_FWD_1(s, i, length);
  }
  bounds.push_back(word.size());
  const size_t chars = bounds.size() - 1;
  if (chars > options_.max_chars_per_word) {
    out.push_back(options_.unk_token);
    return;
  }
  std::vector<std::string> pieces;
  std::string candidate;
  size_t start = 0;
  while (start < chars) {
    size_t end = chars;
    bool found = false;
    while (start < end) {
      candidate.assign(start > 0 ? "##" : "");
      candidate.append(word, bounds[start], bounds[end] - bounds[start]);
      if (vocab_.id(candidate) >= 0) {
        found = true;
        break;
      }
      --end;
    }
    if (!found) {
      out.push_back(options_.unk_token);
      return;
    }
    pieces.push_back(candidate);
    start = end;
  }
  for (auto& p : pieces) out.push_back(std::move(p));
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (const std::string& word : basic_tokenize(text)) wordpiece(word, out);
  return out;
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  for (const std::string& token : tokenize(text)) {
    const int64_t id = vocab_.id(token);
    ids.push_back(static_cast<int32_t>(id >= 0 ? id : unk_id_));
  }
  return ids;
}

}  // namespace autodistill::model
