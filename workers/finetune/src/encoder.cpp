#include "autodistill/finetune/encoder.hpp"

#include <ATen/ATen.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <tuple>
#include <utility>

#include "autodistill/bounded_json.hpp"
#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/tokenizer_files.hpp"

namespace autodistill::finetune {

namespace fs = std::filesystem;

struct Encoder::Impl {
  std::string model_type;
  std::optional<model::Teacher> teacher;
  std::optional<model::Student> student;
  model::WordPieceTokenizer tokenizer;
  at::Tensor pooler_weight, pooler_bias;  // undefined without a pooler
};

namespace {

Result<nlohmann::json> read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, path.string() + ": cannot be read", path.filename());
  std::stringstream text;
  text << in.rdbuf();
  auto json = parse_json(text.str(), path.filename());
  if (!json)
    return Status(Code::kMalformed, path.string() + ": " + json.status().message(),
                  path.filename());
  if (!json->is_object()) {
    return Status(Code::kMalformed, path.string() + " is not a JSON object", path.filename());
  }
  return json;
}

bool ends_with(const std::string& name, const std::string& suffix) {
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Makes every parameter trainable and finds the pooler's weight and bias
// (undefined when the checkpoint has none).
std::pair<at::Tensor, at::Tensor> train_and_find_pooler(
    const std::vector<model::NamedTensor>& params) {
  std::pair<at::Tensor, at::Tensor> pooler;
  for (const auto& [name, t] : params) {
    t.requires_grad_(true);
    if (ends_with(name, "pooler.dense.weight")) pooler.first = t;
    if (ends_with(name, "pooler.dense.bias")) pooler.second = t;
  }
  return pooler;
}

}  // namespace

Result<Encoder> Encoder::load(const fs::path& dir) {
  auto config = read_json(dir / "config.json");
  if (!config) return config.status();
  std::string type = "bert";
  if (auto it = config->find("model_type"); it != config->end() && it->is_string()) {
    type = it->get<std::string>();
  }
  std::optional<model::Teacher> teacher;
  std::optional<model::Student> student;
  std::optional<model::WordPieceTokenizer> tokenizer;
  if (type == "bert") {
    auto loaded = model::Teacher::load(dir);
    if (!loaded) return loaded.status();
    auto words = model::read_tokenizer(dir);
    if (!words) return words.status();
    if (words->vocab().size() > loaded->config().vocab_size) {
      return Status(Code::kInvalidArgument,
                    "vocab.txt has " + std::to_string(words->vocab().size()) +
                        " tokens, more than the model's vocab_size " +
                        std::to_string(loaded->config().vocab_size),
                    "vocab.txt");
    }
    teacher.emplace(std::move(loaded.value()));
    tokenizer.emplace(std::move(words.value()));
  } else if (type == "mobilebert" || type == "autodistill-student") {
    // A delivered student, in transformers' MobileBERT layout or the earlier one.
    auto loaded = model::load_student_directory(dir);
    if (!loaded) return loaded.status();
    student.emplace(std::move(loaded->model));
    tokenizer.emplace(std::move(loaded->tokenizer));
  } else {
    return Status(Code::kInvalidArgument,
                  (dir / "config.json").string() + ": model_type \"" + type +
                      "\" is neither a BERT teacher (\"bert\") nor a student "
                      "(\"mobilebert\", or the earlier \"autodistill-student\")",
                  "config.json.model_type");
  }
  auto impl = std::unique_ptr<Impl>(
      new Impl{type, std::move(teacher), std::move(student), std::move(*tokenizer), {}, {}});
  Encoder encoder(std::move(impl));
  std::tie(encoder.impl_->pooler_weight, encoder.impl_->pooler_bias) =
      train_and_find_pooler(encoder.named_parameters());
  return encoder;
}

Encoder::Encoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Encoder::Encoder(Encoder&&) noexcept = default;
Encoder& Encoder::operator=(Encoder&&) noexcept = default;
Encoder::~Encoder() = default;

const std::string& Encoder::model_type() const {
  return impl_->model_type;
}
const model::WordPieceTokenizer& Encoder::tokenizer() const {
  return impl_->tokenizer;
}

int64_t Encoder::hidden_size() const {
  return impl_->teacher ? impl_->teacher->config().hidden_size : impl_->student->arch().hidden_size;
}

int64_t Encoder::max_positions() const {
  return impl_->teacher ? impl_->teacher->config().max_position_embeddings
                        : impl_->student->arch().max_positions;
}

int64_t Encoder::type_vocab_size() const {
  return impl_->teacher ? impl_->teacher->config().type_vocab_size
                        : impl_->student->arch().type_vocab_size;
}

at::Tensor Encoder::sequence_output(const model::ModelInputs& inputs) const {
  model::ForwardOptions options;
  options.attentions = false;
  options.heads = false;
  model::ModelOutputs out = impl_->teacher ? impl_->teacher->forward(inputs, options)
                                           : impl_->student->forward(inputs, options);
  return out.hidden_states.back();
}

at::Tensor Encoder::pooled_output(const at::Tensor& sequence_output) const {
  const at::Tensor cls = sequence_output.select(1, 0);
  if (!impl_->pooler_weight.defined()) return cls;
  return at::tanh(at::linear(cls, impl_->pooler_weight, impl_->pooler_bias));
}

std::vector<model::NamedTensor> Encoder::named_parameters() const {
  return impl_->teacher ? impl_->teacher->named_parameters() : impl_->student->named_parameters();
}

int64_t Encoder::parameter_count() const {
  return impl_->teacher ? impl_->teacher->parameter_count() : impl_->student->parameter_count();
}

at::Device Encoder::device() const {
  return impl_->teacher ? impl_->teacher->device() : impl_->student->device();
}

void Encoder::to(const at::Device& device) {
  if (impl_->teacher) {
    impl_->teacher->to(device);
  } else {
    impl_->student->to(device);
  }
  std::tie(impl_->pooler_weight, impl_->pooler_bias) = train_and_find_pooler(named_parameters());
}

}  // namespace autodistill::finetune
