#include "commands.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autodistill/landscape.hpp"
#include "autodistill/study_json.hpp"
#include "autodistill/wire/curve.hpp"
#include "autodistill/wire/digest.hpp"
#include "distill_commands.hpp"
#include "exit_codes.hpp"
#include "progress.hpp"
#include "render.hpp"

namespace autodistill::cli {

namespace {

bool g_json_errors = false;
constexpr std::streamoff kMaxInputFile = 16 << 20;

void json_error(const char* code, const std::string& message, const std::string& field,
                int exit_code) {
  if (!g_json_errors) return;
  nlohmann::json error{{"code", code}, {"message", message}, {"field", field}};
  std::cout << json_line(nlohmann::json{{"error", error}, {"exit_code", exit_code}}) << std::endl;
}

}  // namespace

void set_json_errors(bool on) {
  g_json_errors = on;
}

int fail(const Status& status) {
  std::cerr << "autodistill: " << status.to_string() << "\n";
  const int code = exit_code_for(status);
  json_error(code_name(status.code()), status.message(), status.field(), code);
  return code;
}

int usage_error(const std::string& message, const std::string& field) {
  std::cerr << "autodistill: " << message << "\nrun 'autodistill --help' for usage\n";
  json_error("USAGE", message, field, kExitUsage);
  return kExitUsage;
}

int usage_error(const Status& status) {
  return usage_error(status.message(), status.field());
}

int unexpected(const std::exception& e) {
  return fail(Status(Code::kInternal, std::string("unexpected error: ") + e.what()));
}

Result<std::string> read_text(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "cannot read " + path, flag);
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size > kMaxInputFile) {
    return Status(Code::kInvalidArgument,
                  path + " is " + std::to_string(size) + " bytes; at most " +
                      std::to_string(kMaxInputFile) + " are read",
                  flag);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

// A regular file to upload as one blob.
Status check_upload_path(const std::string& path, const std::string& flag) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return Status(Code::kNotFound, "no such file: " + path, flag);
  }
  if (!std::filesystem::is_regular_file(status)) {
    return Status(Code::kInvalidArgument,
                  path + " is not a regular file (pack a directory into one file first)", flag);
  }
  return Status::ok();
}

// The idempotency key `submit` uses without --key: a hash of the complete
// spec (uploaded digests included), so re-running the same step returns
// the same study instead of starting another.
std::string default_key(const StudySpec& spec) {
  return "spec-" + wire::sha256_hex(study_spec_to_json(spec, -1)).substr(0, 32);
}

// Follows the study until it ends; the exit code reflects how it ended.
int watch_until_end(Client& client, const StudyInfo& study, bool json) {
  using Mode = ProgressPrinter::Mode;
  const Mode mode = json ? Mode::kJson : isatty(STDOUT_FILENO) ? Mode::kBar : Mode::kLines;
  ProgressPrinter printer(std::cout, mode, study);
  Status watched = client.watch(study.study_id, 0, [&](const Event& event) {
    printer.on_event(event);
    return true;
  });
  printer.finish();
  if (!watched) return fail(watched);
  auto final = client.get(study.study_id, false);
  if (!final) return fail(final.status());
  const StudyInfo& s = final->study;
  if (json) {
    std::cout << "{\"study\":" << to_json(s) << "}\n";
  } else {
    std::cout << "study " << s.study_id << " " << to_string(s.state)
              << (s.message.empty() ? "" : ": " + s.message) << " (" << s.trials_completed
              << " trials completed, " << s.trials_failed << " failed)\n";
  }
  if (!is_terminal(s.state)) {
    std::cerr << "autodistill: the watch ended while study " << s.study_id << " is "
              << to_string(s.state) << "\n";
  }
  return exit_code_for(s.state);
}

Result<uint64_t> study_id_arg(const Invocation& inv) {
  return parse_number(inv.positionals[0], "ID");
}

int cmd_submit(const Invocation& inv, Client& client) {
  const bool json = inv.global.json;
  auto spec_path = inv.value("--spec");
  if (!spec_path) return usage_error("submit needs --spec FILE", "--spec");
  auto text = read_text(*spec_path, "--spec");
  if (!text) return fail(text.status());
  auto spec = parse_study_spec(*text);
  if (!spec) {
    const Status& s = spec.status();
    return fail(Status(s.code(), *spec_path + ": " + s.message(), s.field()));
  }
  for (const char* flag : {"--teacher", "--corpus"}) {
    auto path = inv.value(flag);
    if (!path) continue;
    if (Status s = check_upload_path(*path, flag); !s) return fail(s);
    auto digest = client.upload(*path);
    if (!digest) return fail(digest.status());
    (flag == std::string("--teacher") ? spec->teacher_digest : spec->corpus_digest) = *digest;
    if (!json) std::cout << "uploaded " << *path << "  " << *digest << "\n";
  }
  const std::string key = inv.value("--key").value_or(default_key(*spec));
  auto submitted = client.submit(*spec, key);
  if (!submitted) return fail(submitted.status());
  const StudyInfo& study = submitted->study;
  if (json) {
    std::cout << "{\"study\":" << to_json(study)
              << ",\"created\":" << (submitted->created ? "true" : "false") << "}\n";
  } else if (submitted->created) {
    std::cout << "study " << study.study_id << " created (key " << study.idempotency_key << ")\n";
  } else {
    std::cout << "study " << study.study_id << " already exists for key " << study.idempotency_key
              << " (" << to_string(study.state) << "); pass --key to start a new one\n";
  }
  std::cout << std::flush;
  if (!inv.has("--wait")) return kExitOk;
  return watch_until_end(client, study, json);
}

int cmd_get(const Invocation& inv, Client& client) {
  auto id = study_id_arg(inv);
  if (!id) return usage_error(id.status());
  const bool trials = inv.has("--trials");
  auto details = client.get(*id, trials);
  if (!details) return fail(details.status());
  if (inv.global.json) {
    std::cout << to_json(details->study, details->trials) << "\n";
    return kExitOk;
  }
  print_study(std::cout, details->study);
  if (trials) {
    std::cout << "\n";
    print_trials(std::cout, details->trials);
  }
  return kExitOk;
}

int cmd_list(const Invocation& inv, Client& client) {
  uint64_t limit = 0;
  if (auto text = inv.value("--limit")) {
    auto parsed = parse_number(*text, "--limit");
    if (!parsed) return usage_error(parsed.status());
    if (*parsed > std::numeric_limits<uint32_t>::max())
      return usage_error("--limit is too large", "--limit");
    limit = *parsed;
  }
  auto studies = client.list(static_cast<uint32_t>(limit));
  if (!studies) return fail(studies.status());
  if (inv.global.json) {
    std::cout << "[";
    for (size_t i = 0; i < studies->size(); ++i) {
      std::cout << (i > 0 ? "," : "") << to_json((*studies)[i]);
    }
    std::cout << "]\n";
  } else {
    print_studies(std::cout, *studies);
  }
  return kExitOk;
}

int cmd_watch(const Invocation& inv, Client& client) {
  auto id = study_id_arg(inv);
  if (!id) return usage_error(id.status());
  auto details = client.get(*id, false);
  if (!details) return fail(details.status());
  return watch_until_end(client, details->study, inv.global.json);
}

int cmd_cancel(const Invocation& inv, Client& client) {
  auto id = study_id_arg(inv);
  if (!id) return usage_error(id.status());
  auto study = client.cancel(*id, inv.value("--reason").value_or("cancelled with the CLI"));
  if (!study) return fail(study.status());
  if (inv.global.json) {
    std::cout << to_json(*study) << "\n";
  } else {
    std::cout << "study " << study->study_id << " " << to_string(study->state) << "\n";
  }
  return kExitOk;
}

int cmd_upload(const Invocation& inv, Client& client) {
  const std::string& path = inv.positionals[0];
  if (Status s = check_upload_path(path, "PATH"); !s) return fail(s);
  auto digest = client.upload(path);
  if (!digest) return fail(digest.status());
  if (inv.global.json) {
    std::cout << json_line(nlohmann::json{{"path", path}, {"digest", *digest}}) << "\n";
  } else {
    std::cout << *digest << "\n";
  }
  return kExitOk;
}

int cmd_fetch(const Invocation& inv, Client& client) {
  const std::string& digest = inv.positionals[0];
  auto out = inv.value("--out");
  if (!out) return usage_error("fetch needs --out PATH", "--out");
  if (Status s = client.fetch_artifact(digest, *out); !s) return fail(s);
  if (inv.global.json) {
    std::cout << json_line(nlohmann::json{{"digest", digest}, {"path", *out}}) << "\n";
  } else {
    std::cout << *out << "\n";
  }
  return kExitOk;
}

int cmd_workers(const Invocation& inv, Client& client) {
  auto workers = client.workers();
  if (!workers) return fail(workers.status());
  if (inv.global.json) {
    std::cout << "[";
    for (size_t i = 0; i < workers->size(); ++i) {
      std::cout << (i > 0 ? "," : "") << to_json((*workers)[i]);
    }
    std::cout << "]\n";
  } else {
    print_workers(std::cout, *workers);
  }
  return kExitOk;
}

int cmd_keygen(const Invocation& inv) {
  auto out = inv.value("--out");
  auto name = inv.value("--name");
  if (!out || !name) {
    return usage_error("keygen needs --out DIR and --name NAME", out ? "--name" : "--out");
  }
  auto keys = wire::generate_curve_keypair();
  if (!keys) return fail(keys.status());
  if (Status s = wire::write_curve_key_files(*out, *name, keys.value()); !s) return fail(s);
  if (inv.global.json) {
    std::cout << json_line(nlohmann::json{{"public_key", keys->public_key},
                                          {"public_key_file", *out + "/" + *name + ".key"},
                                          {"secret_key_file", *out + "/" + *name + ".secret"}})
              << "\n";
  } else {
    std::cout << keys->public_key << "\n";
  }
  return kExitOk;
}

int cmd_landscape(const Invocation& inv, Client& client) {
  auto id = study_id_arg(inv);
  if (!id) return usage_error(id.status());
  auto details = client.get(*id, true);
  if (!details) return fail(details.status());
  const std::string csv = landscape_csv(details->trials);
  if (auto out = inv.value("--out")) {
    std::ofstream file(*out, std::ios::binary | std::ios::trunc);
    file << csv;
    if (!file) return fail(Status(Code::kInternal, "cannot write " + *out, "--out"));
    std::cout << *out << "\n";
  } else {
    std::cout << csv;
  }
  return kExitOk;
}

}  // namespace

int run_command(const Invocation& inv, Client& client) {
  set_json_errors(inv.global.json);
  const std::string& c = inv.command;
  if (c == "submit") return cmd_submit(inv, client);
  if (c == "distill") return cmd_distill(inv, client);
  if (c == "report") return cmd_report(inv, client);
  if (c == "get") return cmd_get(inv, client);
  if (c == "list") return cmd_list(inv, client);
  if (c == "watch") return cmd_watch(inv, client);
  if (c == "cancel") return cmd_cancel(inv, client);
  if (c == "upload") return cmd_upload(inv, client);
  if (c == "fetch") return cmd_fetch(inv, client);
  if (c == "workers") return cmd_workers(inv, client);
  if (c == "landscape") return cmd_landscape(inv, client);
  if (c == "keygen") return cmd_keygen(inv);
  return usage_error("unknown command \"" + c + "\"");
}

}  // namespace autodistill::cli
