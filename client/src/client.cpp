#include "autodistill/client.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

#include "autodistill/wire/blob_transfer.hpp"
#include "connection.hpp"
#include "wire_convert.hpp"

namespace autodistill {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The reply as message T, or the Status of an Error reply / wrong type.
template <class T>
Result<T> expect(Result<wire::EnvelopeT> reply) {
  if (!reply) return reply.status();
  wire::EnvelopeT& envelope = reply.value();
  if (const wire::ErrorT* error = envelope.body.AsError()) return wire::from_wire(error);
  if (envelope.body.type != wire::MessageTraits<typename T::TableType>::enum_value) {
    return Status(Code::kMalformed,
                  std::string("unexpected reply ") + wire::message_name(envelope.body.type));
  }
  return std::move(*static_cast<T*>(envelope.body.value));
}

template <class T>
wire::MessageUnion message(T body) {
  wire::MessageUnion out;
  out.Set(std::move(body));
  return out;
}

std::string random_key() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> bits;
  char text[40];
  std::snprintf(text, sizeof text, "auto-%016llx%016llx",
                static_cast<unsigned long long>(bits(device)),
                static_cast<unsigned long long>(bits(device)));
  return text;
}

Status missing(const char* what) {
  return Status(Code::kMalformed, std::string("reply without ") + what);
}

// Clamps each option into its allowed range (see ClientOptions).
ClientOptions sanitized(ClientOptions options) {
  options.request_timeout_ms = std::max(1, options.request_timeout_ms);
  options.retries = std::max(0, options.retries);
  options.watch_silence_ms = std::max(1, options.watch_silence_ms);
  options.watch_give_up_ms = std::max(0, options.watch_give_up_ms);
  options.chunk_bytes = std::clamp<uint32_t>(options.chunk_bytes, 1, wire::kDefaultChunkBytes);
  return options;
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(ClientOptions options)
      : options(sanitized(std::move(options))), connection(make_connection(this->options)) {}

  static client_wire::Connection make_connection(const ClientOptions& o) {
    auto keys = wire::load_client_keys(o.server_key_file, o.key_file);
    if (!keys) return client_wire::Connection(o.endpoint, {}, keys.status());
    return client_wire::Connection(o.endpoint, keys.value());
  }

  Result<wire::EnvelopeT> round_trip(wire::MessageUnion request) {
    return connection.round_trip(request, milliseconds(options.request_timeout_ms),
                                 options.retries);
  }

  ClientOptions options;
  client_wire::Connection connection;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const ClientOptions& Client::options() const {
  return impl_->options;
}

Result<SubmitResult> Client::submit(const StudySpec& spec, const std::string& idempotency_key) {
  wire::SubmitT submit;
  submit.idempotency_key = idempotency_key.empty() ? random_key() : idempotency_key;
  submit.spec = std::make_unique<wire::StudySpecT>(client_wire::to_wire(spec));
  auto reply = expect<wire::StudyReplyT>(impl_->round_trip(message(std::move(submit))));
  if (!reply) return reply.status();
  if (!reply->study) return missing("study");
  return SubmitResult{client_wire::to_model(*reply->study), reply->created};
}

Result<StudyDetails> Client::get(uint64_t study_id, bool include_trials) {
  wire::GetStudyT get;
  get.study_id = study_id;
  get.include_trials = include_trials;
  auto reply = expect<wire::StudyReplyT>(impl_->round_trip(message(std::move(get))));
  if (!reply) return reply.status();
  if (!reply->study) return missing("study");
  StudyDetails details{client_wire::to_model(*reply->study), {}};
  for (const auto& trial : reply->trials) {
    if (trial) details.trials.push_back(client_wire::to_model(*trial));
  }
  return details;
}

Result<std::vector<StudyInfo>> Client::list(uint32_t limit) {
  wire::ListStudiesT list;
  list.limit = limit;
  auto reply = expect<wire::StudyListT>(impl_->round_trip(message(std::move(list))));
  if (!reply) return reply.status();
  std::vector<StudyInfo> studies;
  for (const auto& study : reply->studies) {
    if (study) studies.push_back(client_wire::to_model(*study));
  }
  return studies;
}

Status Client::watch(uint64_t study_id, uint64_t after_seq, const EventCallback& on_event) {
  client_wire::Connection& connection = impl_->connection;
  const milliseconds silence(impl_->options.watch_silence_ms);
  const milliseconds give_up(impl_->options.watch_give_up_ms);
  uint64_t last_seq = after_seq;
  Clock::time_point last_heard = Clock::now();
  for (;;) {
    wire::WatchT watch;
    watch.study_id = study_id;
    watch.after_seq = last_seq;
    auto request_id = connection.send(message(std::move(watch)));
    if (!request_id) return request_id.status();
    for (;;) {
      Clock::time_point deadline = Clock::now() + silence;
      if (give_up.count() > 0) deadline = std::min(deadline, last_heard + give_up);
      auto reply = connection.receive(*request_id, deadline);
      if (!reply && reply.status().code() == Code::kUnavailable) {
        connection.reset();
        if (give_up.count() > 0 && Clock::now() >= last_heard + give_up) {
          return Status(Code::kUnavailable,
                        "no message from autodistilld at " + connection.endpoint() + " for " +
                            std::to_string(give_up.count()) + " ms while watching study " +
                            std::to_string(study_id));
        }
        break;  // Silence: send Watch again from last_seq.
      }
      auto batch = expect<wire::EventBatchT>(std::move(reply));
      if (!batch) return batch.status();
      last_heard = Clock::now();
      for (const auto& event : batch->events) {
        if (!event) continue;
        // Progress is not durable: it carries the seq of the last durable
        // event, so it is delivered as it comes and never moves last_seq.
        const bool progress = event->kind == "trial_progress";
        if (!progress && event->seq <= last_seq) continue;
        if (!progress) last_seq = event->seq;
        if (!on_event(client_wire::to_model(*event))) {
          connection.reset();  // Drop the rest of the stream.
          return Status::ok();
        }
      }
      if (batch->end) return Status::ok();
    }
  }
}

Result<StudyInfo> Client::cancel(uint64_t study_id, const std::string& reason) {
  wire::CancelStudyT cancel;
  cancel.study_id = study_id;
  cancel.reason = reason;
  auto reply = expect<wire::StudyReplyT>(impl_->round_trip(message(std::move(cancel))));
  if (!reply) return reply.status();
  if (!reply->study) return missing("study");
  return client_wire::to_model(*reply->study);
}

Result<std::vector<WorkerInfo>> Client::workers() {
  auto reply = expect<wire::WorkerListT>(impl_->round_trip(message(wire::ListWorkersT{})));
  if (!reply) return reply.status();
  std::vector<WorkerInfo> workers;
  for (const auto& worker : reply->workers) {
    if (worker) workers.push_back(client_wire::to_model(*worker));
  }
  return workers;
}

Result<std::string> Client::upload(const std::string& path) {
  wire::RoundTrip round_trip = [this](wire::MessageUnion request) {
    return impl_->round_trip(std::move(request));
  };
  return wire::upload_file(round_trip, path, impl_->options.chunk_bytes);
}

Status Client::fetch_artifact(const std::string& digest, const std::string& dest_path) {
  wire::RoundTrip round_trip = [this](wire::MessageUnion request) {
    return impl_->round_trip(std::move(request));
  };
  return wire::download_blob(round_trip, digest, dest_path, impl_->options.chunk_bytes);
}

}  // namespace autodistill
