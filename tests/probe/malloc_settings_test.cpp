// use_steady_malloc_thresholds: blocks below 32 MiB come from the heap at
// once (not mmap()ed and unmapped on every forward pass), larger ones are
// still mmap()ed.

#include <malloc.h>

#include <cstdlib>

#include <catch2/catch.hpp>

#include "autodistill/probe/malloc_settings.hpp"

namespace {
// Escapes the pointers, so the compiler cannot drop the malloc/free pairs.
void* volatile sink;
}  // namespace

TEST_CASE("steady malloc thresholds keep forward-pass sized blocks on the heap",
          "[probe][malloc]") {
  autodistill::probe::use_steady_malloc_thresholds();
  const size_t mapped_before = mallinfo2().hblkhd;
  void* activation = std::malloc(4 << 20);  // 4 MiB: above glibc's 128 KiB default
  sink = activation;
  CHECK(mallinfo2().hblkhd == mapped_before);
  void* table = std::malloc(48 << 20);  // 48 MiB: above the 32 MiB threshold
  sink = table;
  CHECK(mallinfo2().hblkhd >= mapped_before + (48 << 20));
  std::free(table);
  std::free(activation);
}
