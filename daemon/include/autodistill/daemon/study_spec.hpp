#pragma once
// Study specs: validation at submit, and the vocabulary of Distill studies.
//
// validate_spec() checks everything before anything is stored and names the
// first bad field as a dotted path ("spec.factors[0].values[2]").

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autodistill/daemon/row_codec.hpp"
#include "autodistill/distill_metrics.hpp"
#include "autodistill/status.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

struct Config;

// The most ranks a gang may have (StudySpec.regular_ranks).
inline constexpr uint32_t kMaxRegularRanks = 64;

// The factors of the student design space (paper Table 1, plus blocks).
const std::vector<std::string>& distill_factor_names();
// The objectives and metrics a Distill study can name, with the trial kind
// that measures them: distill_probe_metrics(), distill_accuracy_metrics()
// (autodistill/distill_metrics.hpp, shared with the client).

// True when the blob store holds `digest`.
using HasBlob = std::function<bool(const std::string& digest)>;

// The spec of study `id` when it exists and the submitter may see it
// (ownership), nullopt otherwise; an error when the store fails.
using FindStudy = std::function<Result<std::optional<wire::StudySpecT>>(uint64_t id)>;

// `find_study` resolves spec.warm_start_study; without it a warm start is
// refused as NOT_FOUND.
Status validate_spec(const wire::StudySpecT& spec, const Config& config, const HasBlob& has_blob,
                     const FindStudy& find_study = {});

// The checks of validate_spec() that do not depend on the store or on the
// operator's budgets, for a spec read back at recovery: a study that no
// submission could create today (written by an older daemon, or by hand) is
// then failed with this error instead of crashing recovery (issue #11).
Status validate_stored_spec(const wire::StudySpecT& spec, const Config& config);

// True when the study measures metrics of both probe and flash trials.
bool study_uses_probe_and_flash(const wire::StudySpecT& spec);

// Distill validity rule: num_heads divides bottleneck_size (when both set),
// every size positive. Other studies: always valid.
bool is_valid_candidate(const wire::StudySpecT& spec, const Params& params);

// Canonical FlatBuffer bytes of a spec (storage, idempotency comparison),
// and back (verified).
std::string pack_spec(const wire::StudySpecT& spec);
Result<wire::StudySpecT> unpack_spec(const std::string& bytes);

}  // namespace autodistill::daemon
