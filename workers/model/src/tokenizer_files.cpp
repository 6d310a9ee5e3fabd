#include "autodistill/model/tokenizer_files.hpp"

#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/model/pretraining_examples.hpp"
#include "text_file.hpp"

namespace autodistill::model {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr const char* kSpecials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

ordered_json special_token(const std::string& token, int64_t id, const char* type) {
  ordered_json t;
  t[type] = {{"id", token}, {"type_id", id}};
  return t;
}

}  // namespace

Result<std::string> tokenizer_json(const WordPieceTokenizer& tokenizer) {
  const Vocab& vocab = tokenizer.vocab();
  const TokenizerOptions& o = tokenizer.options();
  auto special = special_tokens(vocab);
  if (!special) return special.status();
  if (vocab.id(o.unk_token) < 0) {
    return Status(Code::kInvalidArgument, "the vocabulary lacks " + o.unk_token, o.unk_token);
  }

  ordered_json json;
  json["version"] = "1.0";
  json["truncation"] = nullptr;
  json["padding"] = nullptr;
  ordered_json added = ordered_json::array();
  for (const char* token : kSpecials) {
    added.push_back({{"id", vocab.id(token)},
                     {"content", token},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  json["added_tokens"] = added;
  ordered_json bert_normalizer = {{"type", "BertNormalizer"},
                                  {"clean_text", true},
                                  {"handle_chinese_chars", o.split_cjk},
                                  {"strip_accents", o.strip_accents},
                                  {"lowercase", o.lower_case}};
  if (o.strip_accents) {
    // Stripping decomposes anyway: composing first changes nothing.
    json["normalizer"] = bert_normalizer;
  } else {
    json["normalizer"] = {
        {"type", "Sequence"},
        {"normalizers", ordered_json::array({{{"type", "NFC"}}, bert_normalizer})}};
  }
  json["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  const std::string cls = "[CLS]", sep = "[SEP]";
  json["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", ordered_json::array({special_token(cls, 0, "SpecialToken"),
                                      special_token("A", 0, "Sequence"),
                                      special_token(sep, 0, "SpecialToken")})},
      {"pair", ordered_json::array(
                   {special_token(cls, 0, "SpecialToken"), special_token("A", 0, "Sequence"),
                    special_token(sep, 0, "SpecialToken"), special_token("B", 1, "Sequence"),
                    special_token(sep, 1, "SpecialToken")})},
      {"special_tokens",
       {{cls, {{"id", cls}, {"ids", {special->cls}}, {"tokens", {cls}}}},
        {sep, {{"id", sep}, {"ids", {special->sep}}, {"tokens", {sep}}}}}}};
  json["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  // A token listed twice maps to its last line, as in Vocab.
  ordered_json ids = ordered_json::object();
  for (int64_t id = 0; id < vocab.size(); ++id) {
    const std::string& token = vocab.token(id);
    if (vocab.id(token) == id) ids[token] = id;
  }
  json["model"] = {{"type", "WordPiece"},
                   {"unk_token", o.unk_token},
                   {"continuing_subword_prefix", "##"},
                   {"max_input_chars_per_word", o.max_chars_per_word},
                   {"vocab", ids}};
  return json.dump(2) + "\n";
}

Status save_tokenizer_files(const std::filesystem::path& dir, const WordPieceTokenizer& tokenizer,
                            int64_t model_max_length) {
  auto json = tokenizer_json(tokenizer);
  if (!json) return json.status();
  const TokenizerOptions& o = tokenizer.options();
  ordered_json config;
  config["tokenizer_class"] = "BertTokenizer";
  config["do_lower_case"] = o.lower_case;
  config["strip_accents"] = o.strip_accents;
  config["tokenize_chinese_chars"] = o.split_cjk;
  config["model_max_length"] = model_max_length;
  config["clean_up_tokenization_spaces"] = true;
  ordered_json map;
  for (auto [key, token] : {std::pair{"unk_token", o.unk_token.c_str()},
                            std::pair{"sep_token", "[SEP]"}, std::pair{"pad_token", "[PAD]"},
                            std::pair{"cls_token", "[CLS]"}, std::pair{"mask_token", "[MASK]"}}) {
    config[key] = token;
    map[key] = token;
  }
  if (Status s = write_text(dir / "vocab.txt", tokenizer.vocab().to_text()); !s) return s;
  if (Status s = write_text(dir / "tokenizer.json", *json); !s) return s;
  if (Status s = write_text(dir / "tokenizer_config.json", config.dump(2) + "\n"); !s) return s;
  return write_text(dir / "special_tokens_map.json", map.dump(2) + "\n");
}

TokenizerOptions read_tokenizer_options(const std::filesystem::path& dir) {
  TokenizerOptions options;
  const Result<std::string> text = read_text(dir / "tokenizer_config.json");
  if (!text) return options;
  // Unreadable (bounded JSON, issue #11) or not an object: the defaults.
  const auto parsed = parse_json(text.value(), "tokenizer_config.json");
  if (!parsed || !parsed->is_object()) return options;
  const nlohmann::json& json = parsed.value();
  if (auto it = json.find("do_lower_case"); it != json.end() && it->is_boolean()) {
    options.lower_case = it->get<bool>();
    options.strip_accents = options.lower_case;
  }
  if (auto it = json.find("strip_accents"); it != json.end() && it->is_boolean()) {
    options.strip_accents = it->get<bool>();
  }
  if (auto it = json.find("tokenize_chinese_chars"); it != json.end() && it->is_boolean()) {
    options.split_cjk = it->get<bool>();
  }
  return options;
}

Result<WordPieceTokenizer> read_tokenizer(const std::filesystem::path& dir) {
  auto vocab = Vocab::read(dir / "vocab.txt");
  if (!vocab) return vocab.status();
  return WordPieceTokenizer::create(std::move(vocab.value()), read_tokenizer_options(dir));
}

}  // namespace autodistill::model
