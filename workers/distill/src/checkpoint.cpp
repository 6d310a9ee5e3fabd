#include "autodistill/distill/checkpoint.hpp"

#include <ATen/ATen.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/model/safetensors.hpp"

namespace autodistill::distill {

namespace {

Status malformed(const std::string& why, const std::string& field = "checkpoint") {
  return Status(Code::kMalformed, "checkpoint: " + why, field);
}

at::Tensor contiguous_cpu(const at::Tensor& t) {
  return t.detach().to(at::kCPU).contiguous();
}

// Reads entry `name` as a tensor of `type` (F32, F64 or U8).
Result<at::Tensor> read_entry(const model::SafetensorsFile& file, const std::string& name,
                              at::ScalarType type) {
  const model::TensorEntry* entry = file.find(name);
  if (entry == nullptr) return malformed("lacks tensor \"" + name + "\"", name);
  const model::DType want = type == at::kFloat    ? model::DType::kF32
                            : type == at::kDouble ? model::DType::kF64
                                                  : model::DType::kU8;
  if (entry->dtype != want) {
    return malformed("tensor \"" + name + "\" has dtype " + model::dtype_name(entry->dtype) +
                         ", want " + model::dtype_name(want),
                     name);
  }
  at::Tensor out = at::empty(entry->shape, at::TensorOptions().dtype(type));
  std::memcpy(out.data_ptr(), file.bytes(*entry), entry->end - entry->begin);
  return out;
}

}  // namespace

Status write_checkpoint(const std::filesystem::path& path, const TrainingState& state) {
  std::vector<at::Tensor> keep;
  std::vector<model::TensorToWrite> writes;
  auto add = [&](std::string name, const at::Tensor& t, model::DType dtype) {
    keep.push_back(contiguous_cpu(t));
    model::TensorToWrite w;
    w.name = std::move(name);
    w.dtype = dtype;
    w.shape.assign(keep.back().sizes().begin(), keep.back().sizes().end());
    w.data = keep.back().data_ptr();
    writes.push_back(std::move(w));
  };
  nlohmann::json meta;
  meta["identity"] = state.identity;
  meta["phase"] = state.phase;
  meta["phase_step"] = state.phase_step;
  meta["done"] = state.done;
  meta["total"] = state.total;
  nlohmann::json finished = nlohmann::json::array();
  for (const PhaseReport& p : state.finished) {
    finished.push_back({{"phase", p.phase},
                        {"steps", p.steps},
                        {"first_loss", p.first_loss},
                        {"last_loss", p.last_loss}});
  }
  meta["finished"] = finished;
  meta["student"] = nlohmann::json::array();
  for (const auto& [name, t] : state.student) {
    meta["student"].push_back(name);
    add("student/" + name, t.to(at::kFloat), model::DType::kF32);
  }
  meta["projections"] = nlohmann::json::array();
  for (const auto& [name, t] : state.projections) {
    meta["projections"].push_back(name);
    add("projection/" + name, t.to(at::kFloat), model::DType::kF32);
  }
  meta["optimizer"] = nlohmann::json::array();
  for (const Lamb::Moments& m : state.optimizer) {
    meta["optimizer"].push_back({{"name", m.name}, {"step", m.step}});
    add("optimizer.m/" + m.name, m.m.to(at::kFloat), model::DType::kF32);
    add("optimizer.v/" + m.name, m.v.to(at::kFloat), model::DType::kF32);
  }
  add("losses",
      at::from_blob(const_cast<double*>(state.losses.data()),
                    {static_cast<int64_t>(state.losses.size())}, at::kDouble),
      model::DType::kF64);
  add("data_state",
      at::from_blob(const_cast<char*>(state.data_state.data()),
                    {static_cast<int64_t>(state.data_state.size())}, at::kByte),
      model::DType::kU8);
  return model::write_safetensors(path, writes,
                                  {{"format", kCheckpointFormat}, {"state", meta.dump()}});
}

Result<TrainingState> read_checkpoint(const std::filesystem::path& path) {
  auto file = model::SafetensorsFile::open(path);
  if (!file) {
    return file.status().code() == Code::kNotFound
               ? file.status()
               : malformed(file.status().message(), file.status().field());
  }
  const auto& metadata = file->metadata();
  auto format = metadata.find("format");
  if (format == metadata.end() || format->second != kCheckpointFormat) {
    return malformed(std::string("not an ") + kCheckpointFormat + " file (format \"" +
                     (format == metadata.end() ? "" : format->second) + "\")");
  }
  auto text = metadata.find("state");
  if (text == metadata.end()) return malformed("lacks the state metadata", "state");
  auto parsed = parse_json(text->second, "state");
  if (!parsed) return malformed(parsed.status().message(), "state");
  const nlohmann::json& meta = parsed.value();
  if (!meta.is_object()) return malformed("its state metadata is not a JSON object", "state");
  TrainingState state;
  try {
    state.identity = meta.at("identity").get<std::string>();
    state.phase = meta.at("phase").get<int64_t>();
    state.phase_step = meta.at("phase_step").get<int64_t>();
    state.done = meta.at("done").get<int64_t>();
    state.total = meta.at("total").get<int64_t>();
    for (const auto& p : meta.at("finished")) {
      state.finished.push_back({p.at("phase").get<std::string>(), p.at("steps").get<int64_t>(),
                                p.at("first_loss").get<double>(), p.at("last_loss").get<double>()});
    }
    for (const auto& name : meta.at("student")) {
      auto t = read_entry(*file, "student/" + name.get<std::string>(), at::kFloat);
      if (!t) return t.status();
      state.student.emplace_back(name.get<std::string>(), std::move(t.value()));
    }
    for (const auto& name : meta.at("projections")) {
      auto t = read_entry(*file, "projection/" + name.get<std::string>(), at::kFloat);
      if (!t) return t.status();
      state.projections.emplace_back(name.get<std::string>(), std::move(t.value()));
    }
    for (const auto& o : meta.at("optimizer")) {
      const std::string name = o.at("name").get<std::string>();
      auto m = read_entry(*file, "optimizer.m/" + name, at::kFloat);
      if (!m) return m.status();
      auto v = read_entry(*file, "optimizer.v/" + name, at::kFloat);
      if (!v) return v.status();
      state.optimizer.push_back(
          {name, std::move(m.value()), std::move(v.value()), o.at("step").get<int64_t>()});
    }
  } catch (const nlohmann::json::exception& e) {
    return malformed(std::string("its state metadata is incomplete: ") + e.what());
  }
  auto losses = read_entry(*file, "losses", at::kDouble);
  if (!losses) return losses.status();
  const double* l = losses->data_ptr<double>();
  state.losses.assign(l, l + losses->numel());
  auto data = read_entry(*file, "data_state", at::kByte);
  if (!data) return data.status();
  state.data_state.assign(reinterpret_cast<const char*>(data->data_ptr<uint8_t>()),
                          static_cast<size_t>(data->numel()));
  return state;
}

uint64_t fingerprint(const std::vector<at::Tensor>& tensors) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const void* data, size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) {
      h ^= p[i];
      h *= 0x100000001b3ull;
    }
  };
  for (const at::Tensor& t : tensors) {
    const at::Tensor c = contiguous_cpu(t);
    const int64_t dims = c.dim();
    mix(&dims, sizeof dims);
    for (int64_t d : c.sizes()) mix(&d, sizeof d);
    mix(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
  }
  return h;
}

}  // namespace autodistill::distill
