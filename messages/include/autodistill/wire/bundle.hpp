#pragma once
// A directory as one file, so a checkpoint directory (a teacher:
// config.json, model.safetensors, vocab.txt) travels as a single
// content-addressed blob: the client packs it, the distillation worker
// unpacks it. The format is POSIX ustar (readable by any tar):
//
//  - pack_directory() writes the regular files under a directory, sorted by
//    path, with fixed metadata (mode 0644, uid/gid 0, mtime 0), so the same
//    content always gives the same bytes and hence the same digest;
//  - unpack_bundle() reads ustar and GNU tar archives (as `tar cf` writes
//    them: "./" prefixes, GNU long names, pax path/size records), bounds-
//    checking every header against the file before it writes anything
//    outside the target directory; links, devices, absolute paths and ".."
//    are refused.
//
// Thread-safety: free functions; concurrent calls need distinct paths.

#include <filesystem>
#include <string>

#include "autodistill/status.hpp"

namespace autodistill::wire {

// Packs the regular files under `dir` (recursively; empty directories are
// not kept) into `archive`, written through a temporary file renamed into
// place. kNotFound when `dir` is not a directory; kInvalidArgument for a
// symlink or special file inside it or a path longer than ustar allows
// (255 bytes, at most 100 in the last component); kInternal on I/O errors.
Status pack_directory(const std::filesystem::path& dir, const std::filesystem::path& archive);

// True when the file starts with a tar header (ustar or GNU magic).
bool is_bundle(const std::filesystem::path& file);

// Unpacks `archive` into `dir` (created if missing). kNotFound when the
// archive cannot be opened; kMalformed (field: the entry's name, when known)
// for a bad checksum, a truncated archive, an unsafe path or an unsupported
// entry type; kInternal when a file cannot be written.
Status unpack_bundle(const std::filesystem::path& archive, const std::filesystem::path& dir);

}  // namespace autodistill::wire
