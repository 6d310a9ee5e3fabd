#include "autodistill/model/student_checkpoint.hpp"

#include <map>
#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/model/tensor_io.hpp"
#include "autodistill/wire/digest.hpp"
#include "text_file.hpp"

namespace autodistill::model {

namespace {

constexpr const char* kModelType = "mobilebert";
constexpr const char* kLegacyModelType = "autodistill-student";
constexpr double kLayerNormEps = 1e-12;

Status with_path(const std::filesystem::path& path, const Status& s) {
  return Status(s.code(), path.string() + ": " + s.message(), s.field());
}

Status bad_key(const std::string& key, const std::string& why) {
  return Status(Code::kInvalidArgument, key + " " + why, key);
}

// Integer `key` into *out: required, or defaulted when absent.
Status read_size(const nlohmann::json& json, const char* key, int64_t* out, bool required) {
  auto it = json.find(key);
  if (it == json.end()) return required ? bad_key(key, "is missing") : Status::ok();
  if (!it->is_number_integer()) return bad_key(key, "must be an integer");
  *out = it->get<int64_t>();
  return Status::ok();
}

Status read_bool(const nlohmann::json& json, const char* key, bool* out) {
  auto it = json.find(key);
  if (it == json.end()) return Status::ok();
  if (!it->is_boolean()) return bad_key(key, "must be true or false");
  *out = it->get<bool>();
  return Status::ok();
}

Result<StudentConfig> parse_legacy(const nlohmann::json& json) {
  StudentConfig c;
  c.layout = StudentLayout::kLegacy;
  StudentArch& a = c.arch;
  for (auto [key, field] :
       {std::pair{"num_blocks", &a.num_blocks}, std::pair{"hidden_size", &a.hidden_size},
        std::pair{"bottleneck_size", &a.bottleneck_size}, std::pair{"num_heads", &a.num_heads},
        std::pair{"intermediate_size", &a.intermediate_size},
        std::pair{"num_stacked_ffn", &a.num_stacked_ffn}, std::pair{"vocab_size", &a.vocab_size},
        std::pair{"max_position_embeddings", &a.max_positions},
        std::pair{"type_vocab_size", &a.type_vocab_size}}) {
    if (Status s = read_size(json, key, field, true); !s) return s;
  }
  if (Status s = validate(a); !s) return s;
  return c;
}

}  // namespace

std::string student_config_json(const StudentArch& a, int64_t pad_token_id) {
  nlohmann::ordered_json json;
  json["model_type"] = kModelType;
  json["architectures"] = {"MobileBertForPreTraining"};
  json["vocab_size"] = a.vocab_size;
  json["hidden_size"] = a.hidden_size;
  json["embedding_size"] = embedding_width(a);
  json["intra_bottleneck_size"] = a.bottleneck_size;
  json["true_hidden_size"] = a.bottleneck_size;
  json["num_hidden_layers"] = a.num_blocks;
  json["num_attention_heads"] = a.num_heads;
  json["intermediate_size"] = a.intermediate_size;
  json["num_feedforward_networks"] = a.num_stacked_ffn;
  json["trigram_input"] = a.trigram_input;
  json["use_bottleneck"] = true;
  json["use_bottleneck_attention"] = a.use_bottleneck_attention;
  json["key_query_shared_bottleneck"] = a.key_query_shared_bottleneck;
  json["normalization_type"] = normalization_name(a.normalization);
  json["hidden_act"] = "gelu";
  json["classifier_activation"] = true;
  json["max_position_embeddings"] = a.max_positions;
  json["type_vocab_size"] = a.type_vocab_size;
  json["layer_norm_eps"] = kLayerNormEps;
  json["initializer_range"] = 0.02;
  json["hidden_dropout_prob"] = 0.0;
  json["attention_probs_dropout_prob"] = 0.1;
  json["pad_token_id"] = pad_token_id;
  json["tie_word_embeddings"] = true;
  json["torch_dtype"] = "float32";
  return json.dump(2) + "\n";
}

Result<StudentConfig> parse_student_config(std::string_view json_text) {
  auto parsed = parse_json(json_text, "config.json");
  if (!parsed) return Status(Code::kMalformed, "config.json: " + parsed.status().message());
  const nlohmann::json& json = parsed.value();
  if (!json.is_object()) return Status(Code::kMalformed, "config.json is not a JSON object");
  auto type = json.find("model_type");
  if (type != json.end() && *type == kLegacyModelType) return parse_legacy(json);
  if (type == json.end() || *type != kModelType) {
    return bad_key("model_type", std::string("must be \"") + kModelType + "\" (or the earlier \"" +
                                     kLegacyModelType + "\")");
  }
  StudentConfig c;
  StudentArch& a = c.arch;
  for (auto [key, field] :
       {std::pair{"num_hidden_layers", &a.num_blocks}, std::pair{"hidden_size", &a.hidden_size},
        std::pair{"intra_bottleneck_size", &a.bottleneck_size},
        std::pair{"num_attention_heads", &a.num_heads},
        std::pair{"intermediate_size", &a.intermediate_size},
        std::pair{"num_feedforward_networks", &a.num_stacked_ffn}}) {
    if (Status s = read_size(json, key, field, true); !s) return s;
  }
  // transformers' MobileBertConfig defaults for the rest.
  a.vocab_size = 30522;
  a.max_positions = 512;
  a.type_vocab_size = 2;
  a.embedding_size = 128;
  a.trigram_input = true;
  a.use_bottleneck_attention = false;
  a.key_query_shared_bottleneck = true;
  for (auto [key, field] : {std::pair{"vocab_size", &a.vocab_size},
                            std::pair{"max_position_embeddings", &a.max_positions},
                            std::pair{"type_vocab_size", &a.type_vocab_size},
                            std::pair{"embedding_size", &a.embedding_size},
                            std::pair{"pad_token_id", &c.pad_token_id}}) {
    if (Status s = read_size(json, key, field, false); !s) return s;
  }
  for (auto [key, field] :
       {std::pair{"trigram_input", &a.trigram_input},
        std::pair{"use_bottleneck_attention", &a.use_bottleneck_attention},
        std::pair{"key_query_shared_bottleneck", &a.key_query_shared_bottleneck}}) {
    if (Status s = read_bool(json, key, field); !s) return s;
  }
  if (a.embedding_size == 0) return bad_key("embedding_size", "must be positive");
  bool use_bottleneck = true, classifier_activation = true, tie = true;
  for (auto [key, field] : {std::pair{"use_bottleneck", &use_bottleneck},
                            std::pair{"classifier_activation", &classifier_activation},
                            std::pair{"tie_word_embeddings", &tie}}) {
    if (Status s = read_bool(json, key, field); !s) return s;
    if (!*field) return bad_key(key, "must be true (the student template needs it)");
  }
  const std::string norm = json.value("normalization_type", std::string("no_norm"));
  if (norm == "layer_norm") {
    a.normalization = Normalization::kLayerNorm;
  } else if (norm == "no_norm") {
    a.normalization = Normalization::kNoNorm;
  } else {
    return bad_key("normalization_type", "must be \"layer_norm\" or \"no_norm\"");
  }
  if (auto act = json.find("hidden_act"); act == json.end() || *act != "gelu") {
    return bad_key("hidden_act", "must be \"gelu\" (the student template's activation)");
  }
  if (auto eps = json.find("layer_norm_eps"); eps != json.end()) {
    if (!eps->is_number() || eps->get<double>() != kLayerNormEps) {
      return bad_key("layer_norm_eps", "must be 1e-12 (the student template's)");
    }
  }
  if (auto it = json.find("true_hidden_size");
      it != json.end() && (!it->is_number_integer() || it->get<int64_t>() != a.bottleneck_size)) {
    return bad_key("true_hidden_size", "must equal intra_bottleneck_size (use_bottleneck)");
  }
  if (Status s = validate(a); !s) {
    // The factor names of student_arch.hpp, as config keys.
    const std::map<std::string, std::string> keys = {
        {"num_blocks", "num_hidden_layers"},
        {"bottleneck_size", "intra_bottleneck_size"},
        {"num_heads", "num_attention_heads"},
        {"num_stacked_ffn", "num_feedforward_networks"},
        {"max_positions", "max_position_embeddings"}};
    auto it = keys.find(s.field());
    return Status(s.code(), s.message(), it == keys.end() ? s.field() : it->second);
  }
  if (c.pad_token_id < 0 || c.pad_token_id >= a.vocab_size) {
    return bad_key("pad_token_id", "must be an id of the vocabulary");
  }
  return c;
}

std::string legacy_parameter_name(const std::string& name, int64_t num_stacked_ffn) {
  auto starts = [&](const std::string& prefix) { return name.rfind(prefix, 0) == 0; };
  if (starts("embeddings.") || starts("pooler.")) return "mobilebert." + name;
  const std::string block = "encoder.block.";
  if (!starts(block)) return name;
  const size_t dot = name.find('.', block.size());
  if (dot == std::string::npos) return name;
  const std::string k = name.substr(block.size(), dot - block.size());
  const std::string rest = name.substr(dot + 1);
  const std::string p = "mobilebert.encoder.layer." + k + ".";
  const std::string last_dot = rest.substr(rest.rfind('.'));  // ".weight" / ".bias"
  const std::string module = rest.substr(0, rest.rfind('.'));
  if (module == "bottleneck_in") return p + "bottleneck.input.dense" + last_dot;
  if (module == "bottleneck_out") return p + "output.bottleneck.dense" + last_dot;
  if (module == "LayerNorm") return p + "output.bottleneck.LayerNorm" + last_dot;
  if (module == "attention.query" || module == "attention.key" || module == "attention.value") {
    return p + "attention.self." + module.substr(10) + last_dot;
  }
  if (module == "attention.output") return p + "attention.output.dense" + last_dot;
  if (module == "attention.LayerNorm") return p + "attention.output.LayerNorm" + last_dot;
  if (module.rfind("ffn.", 0) == 0) {
    const size_t f_end = module.find('.', 4);
    if (f_end == std::string::npos) return name;
    const std::string f = module.substr(4, f_end - 4);
    const std::string part = module.substr(f_end + 1);
    const bool last = f == std::to_string(num_stacked_ffn - 1);
    const std::string q = last ? p : p + "ffn." + f + ".";
    if (part == "intermediate") return q + "intermediate.dense" + last_dot;
    if (part == "output") return q + "output.dense" + last_dot;
    if (part == "LayerNorm") return q + "output.LayerNorm" + last_dot;
  }
  return name;
}

std::vector<std::string> student_files() {
  std::vector<std::string> files = {"model.safetensors", "config.json"};
  for (const char* f : kTokenizerFiles) files.emplace_back(f);
  return files;
}

Status save_student(const Student& student, const std::filesystem::path& dir,
                    const WordPieceTokenizer& tokenizer, const std::string& manifest_json) {
  auto parsed = parse_json<nlohmann::ordered_json>(manifest_json, "manifest");
  if (!parsed) return parsed.status();
  nlohmann::ordered_json& manifest = parsed.value();
  if (!manifest.is_object()) {
    return Status(Code::kInvalidArgument, "the manifest must be a JSON object", "manifest");
  }
  if (student.layout() == StudentLayout::kLegacy) {
    return Status(Code::kInvalidArgument,
                  "a student of the earlier layout cannot be saved in the MobileBERT format",
                  "layout");
  }
  const int64_t pad = tokenizer.vocab().id("[PAD]");
  if (pad < 0 || pad >= student.arch().vocab_size) {
    return Status(Code::kInvalidArgument, "the vocabulary has no [PAD] within the model's ids",
                  "[PAD]");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, dir.string() + ": cannot create: " + ec.message());
  if (Status s = save_tokenizer_files(dir, tokenizer, student.arch().max_positions); !s) return s;
  if (Status s = save_tensors(dir / "model.safetensors", student.named_parameters(), DType::kF32,
                              {{"format", "pt"}});
      !s) {
    return s;
  }
  if (Status s = write_text(dir / "config.json", student_config_json(student.arch(), pad)); !s) {
    return s;
  }
  // What the daemon checks the delivered files against (docs/distillation.md).
  nlohmann::ordered_json files = nlohmann::ordered_json::object();
  for (const std::string& name : student_files()) {
    auto digest = wire::sha256_file((dir / name).string());
    if (!digest) return with_path(dir / name, digest.status());
    std::error_code ec;
    const auto size = std::filesystem::file_size(dir / name, ec);
    if (ec) return Status(Code::kInternal, (dir / name).string() + ": " + ec.message());
    files[name] = {{"sha256", digest.value()}, {"size", static_cast<uint64_t>(size)}};
  }
  manifest["files"] = std::move(files);
  return write_text(dir / "manifest.json", manifest.dump(2) + "\n");
}

namespace {

// DIR/config.json, parsed; errors name the file.
Result<StudentConfig> read_student_config(const std::filesystem::path& dir) {
  const std::filesystem::path config_path = dir / "config.json";
  const Result<std::string> text = read_text(config_path);
  if (!text) return text.status();
  auto config = parse_student_config(text.value());
  if (!config) return with_path(config_path, config.status());
  return config;
}

// The student of `config` with the weights of DIR/model.safetensors.
Result<Student> load_student(const std::filesystem::path& dir, const StudentConfig& config) {
  const std::filesystem::path config_path = dir / "config.json";
  const std::filesystem::path weights_path = dir / "model.safetensors";
  auto file = SafetensorsFile::open(weights_path);
  if (!file) return file.status();
  auto tensors = read_float_tensors(*file);
  if (!tensors) return with_path(weights_path, tensors.status());
  if (config.layout == StudentLayout::kLegacy) {
    std::map<std::string, at::Tensor> renamed;
    for (auto& [name, t] : *tensors) {
      renamed[legacy_parameter_name(name, config.arch.num_stacked_ffn)] = t;
    }
    *tensors = std::move(renamed);
  }
  auto student = Student::create(config.arch, 0, config.layout);
  if (!student) return with_path(config_path, student.status());
  if (Status s = student->load(*tensors); !s) return with_path(weights_path, s);
  return student;
}

}  // namespace

Result<Student> load_student(const std::filesystem::path& dir) {
  auto config = read_student_config(dir);
  if (!config) return config.status();
  return load_student(dir, *config);
}

Result<LoadedStudent> load_student_directory(const std::filesystem::path& dir) {
  auto config = read_student_config(dir);
  if (!config) return config.status();
  auto student = load_student(dir, *config);
  if (!student) return student.status();
  auto tokenizer = read_tokenizer(dir);
  if (!tokenizer) return with_path(dir / "vocab.txt", tokenizer.status());
  if (tokenizer->vocab().size() > config->arch.vocab_size) {
    return Status(Code::kInvalidArgument,
                  (dir / "vocab.txt").string() + ": " + std::to_string(tokenizer->vocab().size()) +
                      " tokens, more than the model's vocab_size " +
                      std::to_string(config->arch.vocab_size),
                  "vocab.txt");
  }
  return LoadedStudent{std::move(student.value()), *config, std::move(tokenizer.value())};
}

}  // namespace autodistill::model
