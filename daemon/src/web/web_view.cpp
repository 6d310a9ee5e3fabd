#include "web/web_view.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autodistill/daemon/study_spec.hpp"
#include "autodistill/wire/digest.hpp"
#include "web/page.hpp"
#include "web/study_json.hpp"

namespace autodistill::daemon::web {

namespace {

constexpr uint32_t kListLimit = 200;
// Finished studies whose JSON is kept (beyond: the cache starts over).
constexpr size_t kMaxCachedSummaries = 4 * kListLimit;
constexpr size_t kMaxCachedDetails = 16;

// Invalid UTF-8 in a stored name or message is replaced, never thrown on.
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

const std::vector<std::pair<std::string, std::string>>& common_headers() {
  static const std::vector<std::pair<std::string, std::string>> headers = {
      {"Cache-Control", "no-store"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"}};
  return headers;
}

HttpServer::Response json(int status, const nlohmann::json& body) {
  return {status, "application/json", dump(body), common_headers()};
}

HttpServer::Response error(int status, Code code, const std::string& message,
                           const std::string& field) {
  return json(status,
              {{"error", {{"code", code_name(code)}, {"message", message}, {"field", field}}}});
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned value = 0;
      auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16);
      if (ec == std::errc() && end == s.data() + i + 3) {
        out += static_cast<char>(value);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

// The value of `name` in a query string ("a=1&token=x"), decoded.
std::optional<std::string> query_value(const std::string& query, const std::string& name) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (eq != std::string::npos && pair.substr(0, eq) == name) {
      return percent_decode(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Equal digests, in time independent of where they differ.
bool same_digest(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._~+/=-", c) != nullptr;
}

}  // namespace

Access access_for(const Config& config, bool has_token, std::string* why) {
  if (has_token) {
    *why = "web_token_file is set: requests carry its token";
    return Access::kToken;
  }
  if (!config.curve_secret_key_file.empty()) {
    *why = "the client endpoint runs CURVE, so the web view needs a secret too: set web_token_file";
    return Access::kOff;
  }
  if (!is_loopback_listen(config.http_listen) && config.allow_insecure_bind == 0) {
    *why = "http_listen " + config.http_listen +
           " is not a loopback address: set web_token_file, or allow_insecure_bind = 1 on a "
           "trusted network";
    return Access::kOff;
  }
  *why = "open without authentication, like the client endpoint";
  return Access::kOpen;
}

Result<std::string> read_web_token(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status(Code::kNotFound, "no token file " + path, "web_token_file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status(Code::kFailedPrecondition,
                  "token file " + path + " must not be readable by group or others (chmod 600)",
                  "web_token_file");
  }
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  const size_t begin = token.find_first_not_of(" \t\r");
  const size_t end = token.find_last_not_of(" \t\r");
  token = begin == std::string::npos ? "" : token.substr(begin, end - begin + 1);
  if (token.size() < 16 || !std::all_of(token.begin(), token.end(), token_char)) {
    return Status(Code::kInvalidArgument,
                  "token file " + path +
                      " must hold a token of at least 16 characters of [A-Za-z0-9._~+/=-] "
                      "(e.g. `openssl rand -hex 32`)",
                  "web_token_file");
  }
  return token;
}

void WebView::set_access(Access access, std::string token, std::string why) {
  access_ = access;
  token_digest_ = access == Access::kToken ? wire::sha256_hex(token) : "";
  why_ = std::move(why);
}

bool WebView::authorized(const HttpServer::Request& request) const {
  std::optional<std::string> given;
  const std::string bearer = "Bearer ";
  if (request.authorization.rfind(bearer, 0) == 0) {
    given = request.authorization.substr(bearer.size());
  } else {
    given = query_value(request.query, "token");
  }
  // Hash even when nothing was given: the time does not say whether a token came.
  return same_digest(wire::sha256_hex(given.value_or("")), token_digest_) && given.has_value();
}

std::optional<HttpServer::Response> WebView::serve(const HttpServer::Request& request) {
  const std::string& path = request.path;
  if (path != "/" && path != "/ui" && path.rfind("/api/", 0) != 0) return std::nullopt;
  if (access_ == Access::kOff) {
    return error(403, Code::kPermissionDenied, "the web view is off: " + why_, "web_token_file");
  }
  if (access_ == Access::kToken && !authorized(request)) {
    return error(401, Code::kPermissionDenied,
                 "the web view needs its token: \"Authorization: Bearer TOKEN\" or ?token=TOKEN",
                 "token");
  }
  return route(path);
}

HttpServer::Response WebView::route(const std::string& path) {
  if (path == "/" || path == "/ui") {
    auto headers = common_headers();
    headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src "
                         "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "
                         "form-action 'none'; frame-ancestors 'none'");
    return {200, "text/html; charset=utf-8", std::string(page_html()), std::move(headers)};
  }
  if (path == "/api/workers") {
    auto known = store_.list_workers();
    if (!known) return error(500, known.status().code(), known.status().message(), "store");
    return json(200, {{"workers", workers_json(controller_.snapshot().workers, known.value())},
                      {"now_ms", now_()}});
  }
  if (path == "/api/studies") {
    auto rows = store_.list_studies(kListLimit);
    if (!rows) return error(500, rows.status().code(), rows.status().message(), "store");
    nlohmann::json studies = nlohmann::json::array();
    for (const StudyRow& row : rows.value()) {
      auto one = summary(row);
      if (!one) return error(500, one.status().code(), one.status().message(), "store");
      studies.push_back(std::move(one.value()));
    }
    return json(200, {{"studies", std::move(studies)}, {"now_ms", now_()}});
  }
  const std::string prefix = "/api/studies/";
  if (path.rfind(prefix, 0) == 0) {
    const std::string text = path.substr(prefix.size());
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      return error(400, Code::kInvalidArgument, "\"" + text + "\" is not a study id", "study_id");
    }
    auto row = store_.get_study(id);
    if (!row) return error(500, row.status().code(), row.status().message(), "store");
    if (!row.value()) {
      return error(404, Code::kNotFound, "no study " + std::to_string(id), "study_id");
    }
    auto built = detail(*row.value());
    if (!built) return error(500, built.status().code(), built.status().message(), "store");
    nlohmann::json body = std::move(built.value());
    body["now_ms"] = now_();
    return json(200, body);
  }
  return error(404, Code::kNotFound, "no such page: try / or /api/studies", "path");
}

namespace {

bool finished(const StudyRow& row) {
  return row.state >= wire::StudyState::Succeeded;
}

// A stored spec that does not verify belongs to a study recovery failed:
// it is shown with an empty spec.
wire::StudySpecT spec_of(const StudyRow& row) {
  auto spec = unpack_spec(row.spec);
  return spec ? std::move(spec.value()) : wire::StudySpecT();
}

}  // namespace

Result<nlohmann::json> WebView::summary(const StudyRow& row) {
  if (auto it = summaries_.find(row.id);
      it != summaries_.end() && it->second.updated_ms == row.updated_ms) {
    return it->second.json;
  }
  // A study whose trials cannot be read is still listed, saying so.
  auto trials = store_.trials_of_study(row.id);
  nlohmann::json out =
      study_summary(row, spec_of(row), trials ? trials.value() : std::vector<TrialRow>{});
  if (!trials) {
    const std::string message = row.message.empty() ? "" : row.message + "; ";
    out["message"] = message + "its trials cannot be read: " + trials.status().to_string();
    return out;  // not cached
  }
  if (finished(row)) {
    if (summaries_.size() >= kMaxCachedSummaries) summaries_.clear();
    summaries_[row.id] = {row.updated_ms, out};
  }
  return out;
}

Result<nlohmann::json> WebView::detail(const StudyRow& row) {
  if (auto it = details_.find(row.id);
      it != details_.end() && it->second.updated_ms == row.updated_ms) {
    return it->second.json;
  }
  auto trials = store_.trials_of_study(row.id);
  if (!trials) return trials.status();
  nlohmann::json out =
      study_detail(row, spec_of(row), trials.value(), controller_.snapshot().progress);
  if (finished(row)) {
    if (details_.size() >= kMaxCachedDetails) details_.clear();
    details_[row.id] = {row.updated_ms, out};
  }
  return out;
}

}  // namespace autodistill::daemon::web
