#include "autodistill/daemon/row_codec.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"

namespace autodistill::daemon {

namespace {

Status shape_error(const std::string& field, const std::string& what) {
  return Status(Code::kInternal, "stored " + field + " is not " + what, field);
}

Result<nlohmann::json> parse_stored(const std::string& json, const std::string& field) {
  auto parsed = parse_json(json, field);
  if (!parsed) {
    return Status(Code::kInternal, "stored " + field + ": " + parsed.status().message(), field);
  }
  return parsed;
}

}  // namespace

std::string params_to_json(const Params& params) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : params) {
    if (!p.category.empty())
      out.push_back({{"name", p.name}, {"category", p.category}});
    else
      out.push_back({{"name", p.name}, {"number", p.number}});
  }
  return out.dump();
}

Result<Params> params_from_json(const std::string& json, const std::string& field) {
  auto parsed = parse_stored(json, field);
  if (!parsed) return parsed.status();
  if (!parsed->is_array()) return shape_error(field, "a JSON array of parameters");
  Params params;
  for (const auto& item : parsed.value()) {
    auto name = item.is_object() ? item.find("name") : item.end();
    if (!item.is_object() || name == item.end() || !name->is_string()) {
      return shape_error(field, "an array of {\"name\", \"number\"|\"category\"} objects");
    }
    wire::ParamValueT p;
    p.name = name->get<std::string>();
    if (auto category = item.find("category"); category != item.end()) {
      if (!category->is_string()) return shape_error(field, "a parameter with a string category");
      p.category = category->get<std::string>();
    } else if (auto number = item.find("number"); number != item.end() && number->is_number()) {
      p.number = number->get<double>();
    } else {
      return shape_error(field, "a parameter with a number or a category");
    }
    params.push_back(std::move(p));
  }
  return params;
}

nlohmann::json params_object(const Params& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& p : params) {
    if (p.category.empty())
      out[p.name] = p.number;
    else
      out[p.name] = p.category;
  }
  return out;
}

std::string values_to_json(const Values& values) {
  return nlohmann::json(values).dump();
}

Result<Values> values_from_json(const std::string& json, const std::string& field) {
  auto parsed = parse_stored(json, field);
  if (!parsed) return parsed.status();
  if (!parsed->is_object()) return shape_error(field, "a JSON object of numbers");
  Values out;
  for (auto it = parsed->begin(); it != parsed->end(); ++it) {
    // A value that was not finite was written as null: it reads back absent.
    if (it.value().is_null()) continue;
    if (!it.value().is_number()) {
      return shape_error(field, "a JSON object of numbers (\"" + it.key() + "\")");
    }
    out[it.key()] = it.value().get<double>();
  }
  return out;
}

std::string blob_refs_to_json(const BlobRefs& blobs) {
  nlohmann::json out = nlohmann::json::array();
  for (const BlobRef& b : blobs) {
    out.push_back({{"name", b.name}, {"digest", b.digest}, {"size", b.size}});
  }
  return out.dump();
}

Result<BlobRefs> blob_refs_from_json(const std::string& json, const std::string& field) {
  auto parsed = parse_stored(json, field);
  if (!parsed) return parsed.status();
  if (!parsed->is_array()) return shape_error(field, "a JSON array of blobs");
  BlobRefs out;
  for (const auto& b : parsed.value()) {
    if (!b.is_object() || !b.contains("name") || !b["name"].is_string() || !b.contains("digest") ||
        !b["digest"].is_string() || !b.contains("size") || !b["size"].is_number_unsigned()) {
      return shape_error(field, "an array of {\"name\", \"digest\", \"size\"} objects");
    }
    out.push_back(
        {b["name"].get<std::string>(), b["digest"].get<std::string>(), b["size"].get<uint64_t>()});
  }
  return out;
}

std::string ids_to_json(const std::vector<uint64_t>& ids) {
  return nlohmann::json(ids).dump();
}

Result<std::vector<uint64_t>> ids_from_json(const std::string& json, const std::string& field) {
  auto parsed = parse_stored(json, field);
  if (!parsed) return parsed.status();
  if (!parsed->is_array()) return shape_error(field, "a JSON array of ids");
  std::vector<uint64_t> out;
  for (const auto& id : parsed.value()) {
    if (!id.is_number_unsigned()) return shape_error(field, "a JSON array of unsigned ids");
    out.push_back(id.get<uint64_t>());
  }
  return out;
}

Values finite_values(Values values) {
  for (auto it = values.begin(); it != values.end();) {
    it = std::isfinite(it->second) ? std::next(it) : values.erase(it);
  }
  return values;
}

std::vector<std::unique_ptr<wire::MetricT>> wire_metrics(const Values& values) {
  std::vector<std::unique_ptr<wire::MetricT>> out;
  for (const auto& [name, value] : values) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = value;
    out.push_back(std::move(m));
  }
  return out;
}

Values values_of(const std::vector<std::unique_ptr<wire::MetricT>>& metrics) {
  Values out;
  for (const auto& m : metrics) {
    if (m) out[m->name] = m->value;
  }
  return out;
}

std::vector<std::unique_ptr<wire::ArtifactT>> wire_artifacts(const BlobRefs& blobs) {
  std::vector<std::unique_ptr<wire::ArtifactT>> out;
  for (const BlobRef& b : blobs) {
    auto a = std::make_unique<wire::ArtifactT>();
    a->name = b.name;
    a->digest = b.digest;
    a->size = b.size;
    out.push_back(std::move(a));
  }
  return out;
}

BlobRefs blob_refs_of(const std::vector<std::unique_ptr<wire::ArtifactT>>& artifacts) {
  BlobRefs out;
  for (const auto& a : artifacts) {
    if (a) out.push_back({a->name, a->digest, a->size});
  }
  return out;
}

}  // namespace autodistill::daemon
