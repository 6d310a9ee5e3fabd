#pragma once
// UTF-8 validation shared by the vocabulary and corpus readers.

#include <string_view>

namespace autodistill::model::detail {

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or
// code points above U+10FFFF).
bool is_utf8(std::string_view text);

}  // namespace autodistill::model::detail
