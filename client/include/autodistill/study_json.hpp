#pragma once
// JSON forms of the client data model (autodistill/study.hpp).
//
// A study spec file (docs/study-spec.md) parses into a StudySpec; the parser
// checks shape and types only and reports the first problem as
// kInvalidArgument with the JSON path of the offending value as the field
// ("factors[1].kind", "constraints[0]"). Unknown keys are errors, so a typo
// does not silently fall back to a default. What the values mean (an empty
// design space, duplicate values, an unknown objective) is the daemon's to
// judge at submit.
//
// The render functions produce the `--json` output of the CLI: one JSON
// object, keys named as in messages/autodistill.fbs, enums as the lower-case
// words of autodistill/study.hpp, `params` / `objectives` / `metrics` as
// objects keyed by name, and a nested spec in the study-spec file format (so
// `autodistill get ID --json | jq .study.spec` can be submitted again).
//
// Thread-safety: pure functions, thread-safe.

#include <string>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill/study.hpp"

namespace autodistill {

// Parses the text of a study spec file.
Result<StudySpec> parse_study_spec(const std::string& json_text);

// The study spec file form of `spec`; parse_study_spec() of it gives `spec`
// back. `indent` < 0 renders one line, otherwise pretty-prints.
std::string study_spec_to_json(const StudySpec& spec, int indent = 2);

// One-line JSON objects.
std::string to_json(const StudyInfo& study);
std::string to_json(const TrialInfo& trial);
std::string to_json(const Event& event);
std::string to_json(const WorkerInfo& worker);
// {"study": {...}, "trials": [...]}: the answer of `get`.
std::string to_json(const StudyInfo& study, const std::vector<TrialInfo>& trials);

}  // namespace autodistill
