#pragma once
// Hardware tags route probe trials (Hardware.tag must equal a study's
// hardware_tag) and label metrics (/metrics, `autodistill workers`), so they
// are names, not free text: at most kMaxHardwareTag characters of
// [A-Za-z0-9._:-]; empty means "no tag". The daemon refuses any other tag at
// Hello and at submit, the worker at its --tag flag (issue #11, item 8).

#include <cstddef>
#include <string>
#include <string_view>

#include "autodistill/status.hpp"

namespace autodistill::wire {

inline constexpr size_t kMaxHardwareTag = 128;

// Ok, or kInvalidArgument naming `field` and the first character at fault.
Status check_hardware_tag(std::string_view tag, const std::string& field);

}  // namespace autodistill::wire
