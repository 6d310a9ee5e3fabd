#pragma once
// The version every binary prints for --version, fixed when CMake configures
// the build (messages/src/version.cpp.in).

#include <string>

namespace autodistill {

// The project version, "0.1.0", followed by the source's `git describe`
// when it had one at configure time: "0.1.0 (git v0.1.0-12-gabcdef0)".
const char* version_string();

// "PROGRAM VERSION\n": what `PROGRAM --version` prints.
std::string version_line(const std::string& program);

}  // namespace autodistill
