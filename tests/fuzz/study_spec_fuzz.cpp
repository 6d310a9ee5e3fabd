// libFuzzer target: study-spec validation at submit. The input is a whole
// client frame: wire::decode(), then, for a Submit with a spec, the daemon's
// validate_spec() (daemon/include/autodistill/daemon/study_spec.hpp) with
// the default configuration. Blobs whose digest starts with '0'..'7' count
// as uploaded, so the NotFound paths are reached as well as the others.
//
// Properties checked beyond "no crash, no sanitizer report":
//   - a refusal names its field under "spec." and carries a message, with
//     code InvalidArgument, NotFound or ResourceExhausted;
//   - an accepted spec survives the store's round trip (pack_spec, then
//     unpack_spec) and is accepted again;
//   - an accepted spec gets a proposer (make_proposer, what the daemon builds
//     right after storing the study), and its first proposal is a candidate
//     with one value per factor;
//   - is_valid_candidate() is total on the spec's own values;
//   - an accepted spec's settings parse within the bounded-JSON limits and
//     re-serialize (the daemon does both after a restart; 100k-deep
//     settings used to crash every start, issue #11), and the spec passes
//     validate_stored_spec() (recovery's check); any spec, accepted or
//     not, is checked by validate_stored_spec() without a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "autodistill/bounded_json.hpp"
#include "autodistill/daemon/config.hpp"
#include "autodistill/daemon/proposer.hpp"
#include "autodistill/daemon/study_spec.hpp"
#include "autodistill/wire/codec.hpp"

using namespace autodistill;

namespace {

bool has_blob(const std::string& digest) {
  return !digest.empty() && digest[0] >= '0' && digest[0] <= '7';
}

bool is_documented_refusal(const Status& s) {
  const bool code_ok = s.code() == Code::kInvalidArgument || s.code() == Code::kNotFound ||
                       s.code() == Code::kResourceExhausted;
  return code_ok && !s.message().empty() && s.field().rfind("spec.", 0) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = wire::decode(data, size);
  if (!decoded) return 0;
  const wire::SubmitT* submit = decoded.value().body.AsSubmit();
  if (submit == nullptr || submit->spec == nullptr) return 0;
  static const daemon::Config config;
  const wire::StudySpecT& spec = *submit->spec;
  const Status status = daemon::validate_spec(spec, config, has_blob);
  const Status stored_status = daemon::validate_stored_spec(spec, config);
  if (!status) {
    if (!is_documented_refusal(status)) __builtin_trap();
    return 0;
  }
  if (!stored_status) __builtin_trap();
  if (!spec.settings_json.empty()) {
    auto settings = parse_json(spec.settings_json, "spec.settings_json");
    if (!settings) __builtin_trap();
    (void)settings.value().dump();
  }
  auto stored = daemon::unpack_spec(daemon::pack_spec(spec));
  if (!stored) __builtin_trap();
  if (!daemon::validate_spec(stored.value(), config, has_blob)) __builtin_trap();
  auto proposer = daemon::make_proposer(spec, 1);
  if (proposer == nullptr) __builtin_trap();
  for (const daemon::Params& candidate : proposer->propose(1)) {
    if (candidate.size() != spec.factors.size()) __builtin_trap();
  }
  daemon::Params params;
  for (const auto& f : spec.factors) {
    wire::ParamValueT p;
    p.name = f->name;
    if (!f->values.empty())
      p.number = f->values.front();
    else if (!f->categories.empty())
      p.category = f->categories.front();
    else
      p.number = f->low;
    params.push_back(std::move(p));
  }
  (void)daemon::is_valid_candidate(spec, params);
  return 0;
}
