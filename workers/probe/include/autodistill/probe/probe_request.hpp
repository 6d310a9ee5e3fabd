#pragma once
// What one probe measures: a student architecture at a serving setting,
// read from a trial's factor values and the study's settings_json.
//
// settings_json (every key optional), read through the one settings codec
// (autodistill/study_settings.hpp; docs/probe.md), so the probe refuses
// exactly what the daemon refuses at submit:
//
//   {"student": {"vocab_size": 30522, "max_positions": 512, "type_vocab_size": 2,
//                <architecture factors the design space leaves out, e.g. "num_blocks": 4>},
//    "serving": {"batch_size": 1, "seq_len": 128, "threads": 1, "device": "cpu",
//                "throughput_batch_sizes": [8, 32]}}
//
// Pure functions; thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill/student_arch.hpp"

namespace autodistill::probe {

// The study's serving setting: how the student runs in production.
struct ServingSetting {
  // Sequences per forward pass (the paper measures batch size 1).
  int64_t batch_size = 1;
  // Tokens per sequence; at most the student's max_positions.
  int64_t seq_len = 128;
  // Intra-op threads of the forward pass (LibTorch set_num_threads); at most
  // the CPUs the probe worker is pinned to.
  int threads = 1;
  // "cpu", "cuda" or "cuda:N".
  std::string device = "cpu";
  // Batch sizes whose throughput (sequences per second) is measured and
  // reported besides batch_size's, ascending without duplicates.
  std::vector<int64_t> throughput_batch_sizes;
};

struct ProbeRequest {
  StudentArch arch;
  ServingSetting serving;
};

// The architecture factor names (student_from_factors): num_blocks,
// hidden_size, bottleneck_size, num_heads, intermediate_size, num_stacked_ffn.
const std::vector<std::string>& architecture_factor_names();

// Builds the request from the trial's factor values and the study settings
// ("" = none), and validates it. kInvalidArgument with the field at fault:
//   "params.<factor>"         an unknown factor, a value that is not a whole
//                             positive number, or an architecture that fails
//                             validate() (e.g. "params.num_heads" when the heads
//                             do not divide the bottleneck)
//   "params"                  an architecture factor neither in params nor in
//                             settings.student
//   "settings_json"           settings text that is not a bounded JSON object
//   "settings.<section>.<key>" a key the codec refuses (unknown, mistyped, out
//                             of range: student sizes are integers 1..2^31,
//                             serving sizes integers), or seq_len above
//                             max_positions
Result<ProbeRequest> parse_probe_request(const std::map<std::string, double>& factors,
                                         const std::string& settings_json);

}  // namespace autodistill::probe
