#pragma once
// The web view's page (index.html beside this file, embedded in the binary
// at build time): inline CSS and JS, no external fetch.

#include <string_view>

namespace autodistill::daemon::web {

std::string_view page_html();

}  // namespace autodistill::daemon::web
