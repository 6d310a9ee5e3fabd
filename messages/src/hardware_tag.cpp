#include "autodistill/wire/hardware_tag.hpp"

#include <cstdio>

namespace autodistill::wire {

namespace {

bool tag_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

}  // namespace

Status check_hardware_tag(std::string_view tag, const std::string& field) {
  if (tag.size() > kMaxHardwareTag) {
    return Status(Code::kInvalidArgument,
                  "a hardware tag has at most " + std::to_string(kMaxHardwareTag) +
                      " characters, this one " + std::to_string(tag.size()),
                  field);
  }
  for (size_t i = 0; i < tag.size(); ++i) {
    if (tag_char(tag[i])) continue;
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(tag[i]));
    return Status(Code::kInvalidArgument,
                  std::string("a hardware tag is made of A-Z a-z 0-9 . _ : - only (byte ") + byte +
                      " at " + std::to_string(i) + ")",
                  field);
  }
  return Status::ok();
}

}  // namespace autodistill::wire
