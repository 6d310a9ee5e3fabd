// fuzz_make_seeds: writes the seed corpora of the fuzz targets, one input
// per file, into <dir>/envelope/ and <dir>/study_spec/ (well-formed frames),
// <dir>/json/ (a limits byte, then JSON text), <dir>/safetensors/ (files
// written by the model library's own writer) and <dir>/wordpiece/ (an
// options byte, then text or a vocabulary and text).
// The committed seeds under tests/fuzz/corpus/ came from
//   fuzz_make_seeds tests/fuzz/corpus
// run it again when messages/autodistill.fbs changes.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "../daemon/spec_builder.hpp"
#include "autodistill/model/safetensors.hpp"
#include "autodistill/wire/codec.hpp"

using namespace autodistill;
namespace fs = std::filesystem;

namespace {

const std::string kDigest(64, 'a');

std::unique_ptr<wire::MetricT> metric(const std::string& name, double value) {
  auto m = std::make_unique<wire::MetricT>();
  m->name = name;
  m->value = value;
  return m;
}

std::unique_ptr<wire::ErrorT> error(wire::ErrorCode code, const std::string& field) {
  auto e = std::make_unique<wire::ErrorT>();
  e->code = code;
  e->message = "a message for people";
  e->field = field;
  return e;
}

wire::StudySpecT categorical_spec() {
  wire::StudySpecT s = testing::external_spec(8, 2);
  auto f = std::make_unique<wire::FactorT>();
  f->name = "optimizer";
  f->kind = wire::FactorKind::Categorical;
  f->categories = {"adam", "sgd", "lamb"};
  s.factors.push_back(std::move(f));
  auto i = std::make_unique<wire::FactorT>();
  i->name = "layers";
  i->kind = wire::FactorKind::Integer;
  i->low = 1;
  i->high = 12;
  s.factors.push_back(std::move(i));
  s.constraints.push_back(testing::constraint("f1", true, 4));
  s.settings_json = R"({"serving": {"batch": 1, "seq_len": 128}})";
  s.seed = 42;
  return s;
}

std::vector<std::pair<std::string, wire::StudySpecT>> specs() {
  std::vector<std::pair<std::string, wire::StudySpecT>> out;
  for (const char* algorithm : {"", "bo", "random", "firefly", "nsga2"}) {
    wire::StudySpecT s = testing::external_spec(12, 3);
    s.algorithm = algorithm;
    out.emplace_back(std::string("external-") + (*algorithm ? algorithm : "default"), std::move(s));
  }
  out.emplace_back("categorical-integer", categorical_spec());
  wire::StudySpecT distill =
      testing::distill_spec("0" + kDigest.substr(1), "1" + kDigest.substr(1));
  out.emplace_back("distill", distill);
  distill.constraints.push_back(testing::constraint("latency_ms", true, 5));
  distill.constraints.push_back(testing::constraint("params", false, 1e6));
  out.emplace_back("distill-constraints", distill);
  wire::StudySpecT missing = testing::distill_spec(kDigest, kDigest);  // 'a…': not uploaded
  out.emplace_back("distill-missing-teacher", std::move(missing));
  wire::StudySpecT duplicate = testing::external_spec(4, 1);
  duplicate.factors[1]->values = {64, 64};
  out.emplace_back("duplicate-value", std::move(duplicate));
  // Settings at the nesting limit (64, accepted) and one beyond it, so the
  // fuzzer explores the bound (issue #11, item 2).
  for (int depth : {64, 65}) {
    wire::StudySpecT nested = testing::external_spec(4, 1);
    nested.settings_json =
        "{\"a\":" + std::string(depth - 1, '[') + "1" + std::string(depth - 1, ']') + "}";
    out.emplace_back("settings-nested-" + std::to_string(depth), std::move(nested));
  }
  return out;
}

// Inputs that once broke the daemon; kept as seeds so every run tries them.
std::vector<std::pair<std::string, wire::StudySpecT>> regressions() {
  std::vector<std::pair<std::string, wire::StudySpecT>> out;
  // Issue #11, item 2: accepted, then every restart overflowed the stack
  // re-serializing the settings. The report had 100,000 levels; 1,800 keep
  // the seed under libFuzzer's default 4 KiB input length (a larger seed
  // raises it for the whole run), and anything beyond 64 is refused now.
  wire::StudySpecT deep = testing::external_spec(4, 1);
  deep.settings_json = "{\"a\":" + std::string(1800, '[') + std::string(1800, ']') + "}";
  out.emplace_back("regression-issue11-settings-1800-deep", std::move(deep));
  return out;
}

// Seeds of the bounded-JSON target: a limits byte (< 64: that max_depth;
// otherwise the default 64), then the text.
std::vector<std::pair<std::string, std::string>> json_seeds() {
  const std::string deflt(1, '\xff');
  return {
      {"object", deflt + R"({"serving": {"batch": 1, "seq_len": 128}, "tags": ["a", "b"]})"},
      {"strings-with-brackets", deflt + R"({"text": "[[[{{{\" ]]] \\", "u": "\u00e9"})"},
      {"depth-2-limit", std::string(1, '\x02') + "[[1, 2], {\"a\": 3}]"},
      {"nested-64", deflt + std::string(64, '[') + std::string(64, ']')},
      {"nested-65", deflt + std::string(65, '[') + std::string(65, ']')},
      {"overflow", deflt + "[1e999, -1e400, 1e308]"},
      {"not-utf8", deflt + "\"\xff\xfe\""},
      {"scalars", deflt + "[true, false, null, -0.0, 12345678901234567890, \"\"]"},
  };
}

void write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// Safetensors files in the formats the workers read; returns how many.
size_t write_safetensors_seeds(const fs::path& dir) {
  using model::DType;
  fs::create_directories(dir);
  const std::vector<float> f32 = {0.5f, -1.0f, 2.0f, 3.5f, 0.0f, -0.25f};
  const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x7c00, 0x0001};  // 1, -2, inf, subnormal
  const std::vector<uint16_t> bf16 = {0x3f80, 0xbf80, 0x7fc0, 0x0000};
  const std::vector<int64_t> i64 = {1, -1};
  const std::vector<uint8_t> flags = {1, 0, 1};
  const double f64 = 3.25;
  const std::vector<std::pair<std::string, std::vector<model::TensorToWrite>>> files = {
      {"f32",
       {{"bias", DType::kF32, {3}, f32.data()}, {"weight", DType::kF32, {2, 3}, f32.data()}}},
      {"mixed",
       {{"half", DType::kF16, {4}, f16.data()},
        {"brain", DType::kBF16, {2, 2}, bf16.data()},
        {"ids", DType::kI64, {2}, i64.data()},
        {"mask", DType::kBool, {3}, flags.data()},
        {"none", DType::kU8, {0}, flags.data()},
        {"scalar", DType::kF64, {}, &f64}}},
      {"metadata-only", {}},
  };
  for (const auto& [name, tensors] : files) {
    Status s = model::write_safetensors(dir / name, tensors, {{"format", "pt"}});
    if (!s) std::fprintf(stderr, "%s: %s\n", name.c_str(), s.to_string().c_str());
  }
  return files.size();
}

// WordPiece inputs: an options byte, then text (or, with 0x80, a vocabulary,
// a NUL and text).
size_t write_wordpiece_seeds(const fs::path& dir) {
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"ascii", std::string("\x07") + "Hello, world! The unaffable things."},
      {"accents", std::string("\x07") + "H\xc3\xa9llo na\xc3\xafve CAF\xc3\x89 \xc3\x9f"},
      {"cased", std::string("\x04") + "H\xc3\xa9llo \xc4\xb0stanbul CAF\xc3\x89"},
      {"cjk", std::string("\x07") + "\xe6\x88\x91\xe7\x88\xb1\xe5\x8c\x97\xe4\xba\xac!"},
      {"controls", std::string("\x01") + "tab\there\r\nnew\x01\x7f line\xef\xbf\xbd"},
      {"invalid-utf8", std::string("\x07") + "\xff\xfe caf\xc3 \xed\xa0\x80"},
      {"long-word", std::string("\x0f") + "supercalifragilisticexpialidocious unaffable"},
      {"own-vocab", std::string("\x87") + "[UNK]\nthe\n##s\nun\n##aff\n##able\nthing" +
                        std::string(1, '\0') + "the unaffable things"},
      {"crlf-vocab", std::string("\x83") + "[UNK]\r\nhello\r\n\r\nhello\r\n" +
                         std::string(1, '\0') + "hello HELLO"},
  };
  for (const auto& [name, bytes] : inputs) write(dir, name, bytes);
  return inputs.size();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds <corpus dir>\n");
    return 2;
  }
  const fs::path root = argv[1];
  const fs::path envelopes = root / "envelope";
  const fs::path studies = root / "study_spec";
  const size_t safetensors = write_safetensors_seeds(root / "safetensors");
  const size_t wordpiece = write_wordpiece_seeds(root / "wordpiece");

  auto all_specs = specs();
  for (auto& regression : regressions()) all_specs.push_back(std::move(regression));
  for (auto& [name, spec] : all_specs) {
    wire::SubmitT submit;
    submit.idempotency_key = "release-" + name;
    submit.spec = std::make_unique<wire::StudySpecT>(spec);
    write(studies, name, wire::encode_message(7, std::move(submit)));
  }
  const auto json = json_seeds();
  for (const auto& [name, bytes] : json) write(root / "json", name, bytes);

  std::vector<std::pair<std::string, std::function<std::string()>>> messages = {
      {"hello",
       [] {
         wire::HelloT h;
         h.worker_id = "host-a/gpu0";
         h.role = wire::Role::External;
         h.hardware = std::make_unique<wire::HardwareT>();
         h.hardware->tag = "cpu-test";
         h.hardware->cores = 8;
         h.hardware->fingerprint = "f00d";
         h.slots = 2;
         h.studies = {1, 2};
         auto ref = std::make_unique<wire::TrialRefT>();
         ref->trial_id = 3;
         ref->attempt = 1;
         h.running.push_back(std::move(ref));
         return wire::encode_message(1, std::move(h));
       }},
      {"welcome",
       [] {
         wire::WelcomeT w;
         w.heartbeat_interval_ms = 1000;
         w.liveness = 3;
         w.lease_ms = 15000;
         w.max_chunk_bytes = 1 << 20;
         w.daemon_version = "autodistilld";
         return wire::encode_message(1, std::move(w));
       }},
      {"reject",
       [] {
         wire::RejectT r;
         r.error = error(wire::ErrorCode::InvalidArgument, "slots");
         return wire::encode_message(1, std::move(r));
       }},
      {"pull",
       [] {
         wire::PullT p;
         p.credits = 4;
         return wire::encode_message(0, p);
       }},
      {"assign",
       [] {
         wire::AssignT a;
         a.trial_id = 9;
         a.attempt = 2;
         a.study_id = 1;
         a.kind = wire::TrialKind::Probe;
         a.lease_ms = 15000;
         auto p = std::make_unique<wire::ParamValueT>();
         p->name = "hidden_size";
         p->number = 256;
         a.params.push_back(std::move(p));
         a.objectives = {"latency_ms"};
         a.settings_json = "{}";
         a.teacher_digest = kDigest;
         a.hardware_tag = "cpu-test";
         return wire::encode_message(0, std::move(a));
       }},
      {"heartbeat",
       [] {
         wire::HeartbeatT hb;
         auto p = std::make_unique<wire::TrialProgressT>();
         p->trial_id = 9;
         p->attempt = 2;
         p->fraction = 0.5f;
         p->message = "step 100";
         p->metrics.push_back(metric("loss", 1.5));
         hb.progress.push_back(std::move(p));
         return wire::encode_message(0, std::move(hb));
       }},
      {"result",
       [] {
         wire::ResultT r;
         r.trial_id = 9;
         r.attempt = 2;
         r.objectives.push_back(metric("latency_ms", 3.25));
         r.metrics.push_back(metric("params", 4e6));
         auto art = std::make_unique<wire::ArtifactT>();
         art->name = "model.safetensors";
         art->digest = kDigest;
         art->size = 1024;
         r.artifacts.push_back(std::move(art));
         r.hardware_fingerprint = "f00d";
         r.elapsed_ms = 1234.5;
         return wire::encode_message(11, std::move(r));
       }},
      {"failure",
       [] {
         wire::FailureT f;
         f.trial_id = 9;
         f.attempt = 2;
         f.error = error(wire::ErrorCode::TrialError, "params");
         f.retryable = false;
         return wire::encode_message(12, std::move(f));
       }},
      {"ack",
       [] {
         wire::AckT a;
         a.trial_id = 9;
         a.attempt = 2;
         return wire::encode_message(11, a);
       }},
      {"cancel",
       [] {
         wire::CancelT c;
         c.trial_id = 9;
         c.attempt = 2;
         c.reason = "study cancelled";
         return wire::encode_message(0, std::move(c));
       }},
      {"bye",
       [] {
         wire::ByeT b;
         b.reason = "shutting down";
         return wire::encode_message(0, std::move(b));
       }},
      {"blob-get",
       [] {
         wire::BlobGetT g;
         g.digest = kDigest;
         g.offset = 1 << 20;
         g.length = 1 << 20;
         return wire::encode_message(5, std::move(g));
       }},
      {"blob-chunk",
       [] {
         wire::BlobChunkT c;
         c.digest = kDigest;
         c.total_size = 4;
         c.data = {1, 2, 3, 4};
         return wire::encode_message(5, std::move(c));
       }},
      {"blob-put",
       [] {
         wire::BlobPutT p;
         p.digest = kDigest;
         p.total_size = 8;
         p.data = {1, 2, 3, 4};
         return wire::encode_message(6, std::move(p));
       }},
      {"blob-stat",
       [] {
         wire::BlobStatT s;
         s.digest = kDigest;
         return wire::encode_message(6, std::move(s));
       }},
      {"blob-put-ack",
       [] {
         wire::BlobPutAckT a;
         a.digest = kDigest;
         a.next_offset = 4;
         return wire::encode_message(6, std::move(a));
       }},
      {"submit",
       [] {
         wire::SubmitT s;
         s.idempotency_key = "release-7";
         s.spec = std::make_unique<wire::StudySpecT>(categorical_spec());
         return wire::encode_message(7, std::move(s));
       }},
      {"get-study",
       [] {
         wire::GetStudyT g;
         g.study_id = 1;
         g.include_trials = false;
         return wire::encode_message(8, g);
       }},
      {"list-studies",
       [] {
         wire::ListStudiesT l;
         l.limit = 10;
         return wire::encode_message(8, l);
       }},
      {"watch",
       [] {
         wire::WatchT w;
         w.study_id = 1;
         w.after_seq = 17;
         return wire::encode_message(9, w);
       }},
      {"cancel-study",
       [] {
         wire::CancelStudyT c;
         c.study_id = 1;
         c.reason = "superseded";
         return wire::encode_message(9, std::move(c));
       }},
      {"list-workers", [] { return wire::encode_message(9, wire::ListWorkersT{}); }},
      {"study-reply",
       [] {
         wire::StudyReplyT r;
         r.study = std::make_unique<wire::StudyInfoT>();
         r.study->study_id = 1;
         r.study->spec = std::make_unique<wire::StudySpecT>(testing::external_spec(2, 1));
         r.study->state = wire::StudyState::Exploring;
         r.study->pareto = {4, 5};
         auto t = std::make_unique<wire::TrialInfoT>();
         t->trial_id = 4;
         t->state = wire::TrialState::Completed;
         t->objectives.push_back(metric("f1", 0.5));
         t->error = error(wire::ErrorCode::Ok, "");
         r.trials.push_back(std::move(t));
         r.created = true;
         return wire::encode_message(7, std::move(r));
       }},
      {"study-list",
       [] {
         wire::StudyListT l;
         auto info = std::make_unique<wire::StudyInfoT>();
         info->study_id = 2;
         info->idempotency_key = "k";
         l.studies.push_back(std::move(info));
         return wire::encode_message(8, std::move(l));
       }},
      {"event-batch",
       [] {
         wire::EventBatchT b;
         auto e = std::make_unique<wire::EventT>();
         e->study_id = 1;
         e->seq = 18;
         e->kind = "trial_completed";
         e->trial_id = 4;
         e->attempt = 1;
         b.events.push_back(std::move(e));
         b.end = true;
         return wire::encode_message(9, std::move(b));
       }},
      {"worker-list",
       [] {
         wire::WorkerListT l;
         auto w = std::make_unique<wire::WorkerInfoT>();
         w->worker_id = "host-a/gpu0";
         w->connected = true;
         w->studies = {1};
         l.workers.push_back(std::move(w));
         return wire::encode_message(9, std::move(l));
       }},
      {"error",
       [] { return wire::encode_message(9, *error(wire::ErrorCode::NotFound, "study_id")); }},
  };
  for (auto& [name, make] : messages) write(envelopes, name, make());
  std::printf(
      "wrote %zu envelope, %zu study_spec, %zu json, %zu safetensors and %zu wordpiece seeds "
      "under %s\n",
      messages.size(), all_specs.size(), json.size(), safetensors, wordpiece, root.c_str());
  return 0;
}
