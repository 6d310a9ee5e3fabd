#pragma once
// The read-only web view on the daemon's HTTP listener (http_listen): one
// self-contained page (page.hpp: inline CSS and JS, no external fetch) that
// polls a JSON API built from the store and the controller's snapshot.
//
//   GET /, /ui                 the page
//   GET /api/studies           {"studies": [study_summary()...], "now_ms"}: newest first, at most
//   200 GET /api/studies/<id>      study_detail() and "now_ms" GET /api/workers {"workers":
//   workers_json(), "now_ms"}
//
// Errors are JSON, {"error": {"code", "message", "field"}}: a study id that
// is not a number is 400 (field study_id), an unknown study 404 (study_id),
// any other path 404 (path). Nothing here writes: only GET reaches it.
//
// Access follows the client endpoint's rules (access_for()):
//   kToken  web_token_file is set: every request carries the token, as
//           "Authorization: Bearer TOKEN" or "?token=TOKEN"; it is compared
//           in constant time (sha256 of both sides); otherwise 401, field
//           token. The token shows every study (like an admin client key).
//   kOpen   no token, no CURVE, and http_listen on loopback (or
//           allow_insecure_bind = 1): open, as the client endpoint is then.
//   kOff    otherwise (CURVE without a token: the client endpoint needs a
//           key, so the view needs a secret too; a non-loopback listener
//           without either): 403, field web_token_file. /metrics and
//           /healthz are served in every case.
//
// It runs on the daemon's loop thread, so a poll must stay cheap: the JSON
// of a finished study (it no longer changes) is built once and kept, keyed
// by its updated_ms; a poll reads the trial rows of active studies only.
//
// Not thread-safe: called on the daemon's loop thread, like the controller.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "autodistill/daemon/config.hpp"
#include "autodistill/daemon/controller.hpp"
#include "autodistill/daemon/store.hpp"
#include "http_server.hpp"

namespace autodistill::daemon::web {

enum class Access { kOpen, kToken, kOff };

// The access the configuration gives; `why` gets the reason (for the log
// and the 403 answer).
Access access_for(const Config& config, bool has_token, std::string* why);

// Reads web_token_file: its first line, trimmed. The file must not be
// readable by group or others (like a CURVE secret key), and the token must
// be at least 16 characters of [A-Za-z0-9._~+/=-].
Result<std::string> read_web_token(const std::string& path);

class WebView {
 public:
  WebView(Store& store, Controller& controller, Clock clock = system_now_ms)
      : store_(store), controller_(controller), now_(std::move(clock)) {}

  // `token` is read_web_token()'s (kToken), `why` access_for()'s.
  void set_access(Access access, std::string token, std::string why);

  // The answer when the path is the view's (/, /ui, /api/...), nullopt
  // otherwise (the caller serves /metrics, /healthz or its own 404).
  std::optional<HttpServer::Response> serve(const HttpServer::Request& request);

 private:
  bool authorized(const HttpServer::Request& request) const;
  HttpServer::Response route(const std::string& path);

  // A finished study's JSON, and the updated_ms it was built at.
  struct Cached {
    int64_t updated_ms = 0;
    nlohmann::json json;
  };
  // The summary (list) or detail JSON of `row`: kept for finished studies.
  Result<nlohmann::json> summary(const StudyRow& row);
  Result<nlohmann::json> detail(const StudyRow& row);

  Store& store_;
  Controller& controller_;
  std::map<uint64_t, Cached> summaries_, details_;  // finished studies, by id
  Clock now_;
  Access access_ = Access::kOff;
  std::string token_digest_;  // sha256 hex of the token (kToken)
  std::string why_;
};

}  // namespace autodistill::daemon::web
