#pragma once
// The typed values the store's rows hold, and their JSON text: one encoder
// and one decoder per concept, used by the store (the on-disk columns) and by
// whatever needs the same JSON (the web view, the probe cache keys).
//
// The decoders read stored text strictly: text that does not parse within
// the bounded-JSON limits, or has the wrong shape, is an error naming
// `field` (the store names the table, column and row), never a silent empty
// value. Thread-safety: pure functions.

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

// One candidate: a value per factor, in the spec's factor order.
using Params = std::vector<wire::ParamValueT>;

// Named numbers: a trial's objectives or metrics, an event's values.
using Values = std::map<std::string, double>;

// A content-addressed blob a trial delivered or a checkpoint holds.
struct BlobRef {
  std::string name;    // e.g. "model.safetensors"
  std::string digest;  // lower-case hex sha256
  uint64_t size = 0;
  bool operator==(const BlobRef& o) const {
    return name == o.name && digest == o.digest && size == o.size;
  }
};
using BlobRefs = std::vector<BlobRef>;

// Params <-> [{"name":..,"number":..} | {"name":..,"category":..}].
std::string params_to_json(const Params& params);
Result<Params> params_from_json(const std::string& json, const std::string& field);
// {"name": number | "category"}, keys sorted: the architecture of a
// candidate (the probe cache key, the web view's candidate params).
nlohmann::json params_object(const Params& params);

// Values <-> {"name": value}. A value that is not finite is written as null
// and reads back absent.
std::string values_to_json(const Values& values);
Result<Values> values_from_json(const std::string& json, const std::string& field);

// BlobRefs <-> [{"name","digest","size"}].
std::string blob_refs_to_json(const BlobRefs& blobs);
Result<BlobRefs> blob_refs_from_json(const std::string& json, const std::string& field);

// Study ids <-> [1, 2].
std::string ids_to_json(const std::vector<uint64_t>& ids);
Result<std::vector<uint64_t>> ids_from_json(const std::string& json, const std::string& field);

// `values` without its non-finite entries: what a row keeps of a report
// (the JSON text could not hold them).
Values finite_values(Values values);

// Wire conversions of the same concepts.
std::vector<std::unique_ptr<wire::MetricT>> wire_metrics(const Values& values);
Values values_of(const std::vector<std::unique_ptr<wire::MetricT>>& metrics);
std::vector<std::unique_ptr<wire::ArtifactT>> wire_artifacts(const BlobRefs& blobs);
BlobRefs blob_refs_of(const std::vector<std::unique_ptr<wire::ArtifactT>>& artifacts);

}  // namespace autodistill::daemon
