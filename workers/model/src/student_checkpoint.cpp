#include "autodistill/model/student_checkpoint.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autodistill/model/tensor_io.hpp"
#include "autodistill/wire/digest.hpp"

namespace autodistill::model {

namespace {

constexpr const char* kModelType = "autodistill-student";

Status write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return Status(Code::kInternal, path.string() + ": cannot write");
  return Status::ok();
}

Status with_path(const std::filesystem::path& path, const Status& s) {
  return Status(s.code(), path.string() + ": " + s.message(), s.field());
}

}  // namespace

std::string student_config_json(const StudentArch& a) {
  nlohmann::ordered_json json;
  json["model_type"] = kModelType;
  json["num_blocks"] = a.num_blocks;
  json["hidden_size"] = a.hidden_size;
  json["bottleneck_size"] = a.bottleneck_size;
  json["num_heads"] = a.num_heads;
  json["intermediate_size"] = a.intermediate_size;
  json["num_stacked_ffn"] = a.num_stacked_ffn;
  json["vocab_size"] = a.vocab_size;
  json["max_position_embeddings"] = a.max_positions;
  json["type_vocab_size"] = a.type_vocab_size;
  json["hidden_act"] = "gelu";
  json["layer_norm_eps"] = 1e-12;
  return json.dump(2) + "\n";
}

Result<StudentArch> parse_student_config(std::string_view json_text) {
  nlohmann::json json = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Status(Code::kMalformed, "config.json is not a JSON object");
  }
  if (json.value("model_type", std::string()) != kModelType) {
    return Status(Code::kInvalidArgument, std::string("model_type must be \"") + kModelType + "\"",
                  "model_type");
  }
  StudentArch a;
  for (auto [key, field] :
       {std::pair{"num_blocks", &a.num_blocks}, std::pair{"hidden_size", &a.hidden_size},
        std::pair{"bottleneck_size", &a.bottleneck_size}, std::pair{"num_heads", &a.num_heads},
        std::pair{"intermediate_size", &a.intermediate_size},
        std::pair{"num_stacked_ffn", &a.num_stacked_ffn}, std::pair{"vocab_size", &a.vocab_size},
        std::pair{"max_position_embeddings", &a.max_positions},
        std::pair{"type_vocab_size", &a.type_vocab_size}}) {
    auto it = json.find(key);
    if (it == json.end() || !it->is_number_integer()) {
      return Status(Code::kInvalidArgument, std::string(key) + " must be an integer", key);
    }
    *field = it->get<int64_t>();
  }
  if (Status s = validate(a); !s) return s;
  return a;
}

Status save_student(const Student& student, const std::filesystem::path& dir, const Vocab& vocab,
                    const std::string& manifest_json) {
  nlohmann::json manifest = nlohmann::json::parse(manifest_json, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    return Status(Code::kInvalidArgument, "the manifest must be a JSON object", "manifest");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::kInternal, dir.string() + ": cannot create: " + ec.message());
  if (Status s = save_tensors(dir / "model.safetensors", student.named_parameters(), DType::kF32,
                              {{"format", "pt"}});
      !s) {
    return s;
  }
  if (Status s = write_text(dir / "config.json", student_config_json(student.arch())); !s) {
    return s;
  }
  if (Status s = write_text(dir / "vocab.txt", vocab.to_text()); !s) return s;
  // What the daemon checks the delivered files against (docs/distillation.md).
  nlohmann::json files = nlohmann::json::object();
  for (const char* name : {"model.safetensors", "config.json", "vocab.txt"}) {
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

Result<Student> load_student(const std::filesystem::path& dir) {
  const std::filesystem::path config_path = dir / "config.json";
  std::ifstream in(config_path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, config_path.string() + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  auto arch = parse_student_config(text.str());
  if (!arch) return with_path(config_path, arch.status());
  const std::filesystem::path weights_path = dir / "model.safetensors";
  auto file = SafetensorsFile::open(weights_path);
  if (!file) return file.status();
  auto tensors = read_float_tensors(*file);
  if (!tensors) return with_path(weights_path, tensors.status());
  auto student = Student::create(*arch);
  if (!student) return with_path(config_path, student.status());
  if (Status s = student->load(*tensors); !s) return with_path(weights_path, s);
  return student;
}

}  // namespace autodistill::model
