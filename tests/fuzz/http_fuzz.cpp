// libFuzzer target: the daemon's HTTP listener, from the bytes of a request
// head to the web view's answer. The input is what a client sends before
// the blank line; it goes through parse_request_head()
// (daemon/src/http_server.hpp) and, when it is a GET, through two web views
// (daemon/src/web/web_view.hpp) over a real SQLite store holding one study:
// one open (loopback, no token) and one that needs the token below.
//
// Properties checked beyond "no crash, no sanitizer report":
//   - a refused head is answered 400 or 405, with a body;
//   - a parsed request's path starts with '/' and holds no '?';
//   - the views answer every path of theirs (/, /ui, /api/...) with
//     200, 400, 401 or 404, never 500 (the store is healthy), and every
//     JSON answer parses;
//   - the token view answers 401 to a request that names no token, never
//     to one bearing the right one, and otherwise exactly as the open view.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "../daemon/spec_builder.hpp"
#include "autodistill/daemon/blob_store.hpp"
#include "autodistill/daemon/config.hpp"
#include "autodistill/daemon/controller.hpp"
#include "autodistill/daemon/store.hpp"
#include "autodistill/wire/codec.hpp"
#include "http_server.hpp"
#include "web/web_view.hpp"

using namespace autodistill;
using namespace autodistill::daemon;

namespace {

constexpr const char* kToken = "fuzz-token-0123456789abcdef";

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// A store with one External study, its first trials queued; built once.
struct World {
  Config config;
  std::unique_ptr<Store> store;
  std::unique_ptr<BlobStore> blobs;
  std::unique_ptr<Controller> controller;
  std::unique_ptr<web::WebView> open_view;
  std::unique_ptr<web::WebView> token_view;

  World() {
    char dir[] = "/tmp/autodistill-http-fuzz-XXXXXX";
    check(::mkdtemp(dir) != nullptr);
    config.data_dir = dir;
    store = std::move(Store::open(std::string(dir) + "/db").value());
    blobs =
        std::make_unique<BlobStore>(BlobStore::open(std::string(dir) + "/blobs", 1 << 20).value());
    controller = std::make_unique<Controller>(config, *store, *blobs, [] { return int64_t{1000}; });
    check(controller->recover().is_ok());

    wire::SubmitT submit;
    submit.spec = std::make_unique<wire::StudySpecT>(testing::external_spec(3, 1));
    const std::string bytes = wire::encode_message(1, std::move(submit));
    controller->on_message(Endpoint::kClient, "client", bytes.data(), bytes.size());
    (void)controller->commit();

    open_view = std::make_unique<web::WebView>(*store, *controller, [] { return int64_t{2000}; });
    open_view->set_access(web::Access::kOpen, "", "");
    token_view = std::make_unique<web::WebView>(*store, *controller, [] { return int64_t{2000}; });
    token_view->set_access(web::Access::kToken, kToken, "");
  }
};

bool bears_token(const HttpServer::Request& r) {
  return r.authorization == std::string("Bearer ") + kToken;
}

bool names_no_token(const HttpServer::Request& r) {
  return r.authorization.rfind("Bearer ", 0) != 0 && r.query.find("token=") == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size > 8192) return 0;  // the listener reads at most 8 KiB
  const std::string head(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_request_head(head);
  if (auto* refusal = std::get_if<HttpServer::Response>(&parsed)) {
    check(refusal->status == 400 || refusal->status == 405);
    check(!refusal->body.empty());
    return 0;
  }
  const auto& request = std::get<HttpServer::Request>(parsed);
  check(!request.path.empty() && request.path[0] == '/');
  check(request.path.find('?') == std::string::npos);

  auto open = world.open_view->serve(request);
  auto guarded = world.token_view->serve(request);
  check(open.has_value() == guarded.has_value());
  if (!open) return 0;
  for (const auto* r : {&*open, &*guarded}) {
    check(r->status == 200 || r->status == 400 || r->status == 401 || r->status == 404);
    if (r->content_type == "application/json") {
      check(!nlohmann::json::parse(r->body, nullptr, false).is_discarded());
    }
  }
  check(open->status != 401);
  // Past the token check the two views answer alike; the token gets past it.
  if (guarded->status != 401) {
    check(guarded->status == open->status && guarded->body == open->body);
  }
  if (bears_token(request)) check(guarded->status != 401);
  if (names_no_token(request)) check(guarded->status == 401);
  return 0;
}
