#pragma once
// Makes every probe of a process see the same C allocator behaviour.
//
// glibc raises its mmap threshold (and with it the heap trim threshold) the
// first time a large mmap()ed block is freed. Before that, the tensors of a
// forward pass above 128 KiB are mmap()ed and unmapped on every run and the
// heap is trimmed and regrown, page faults included: the first student a
// process runs measured about 10 % slower than every later one on the same
// host (docs/probe.md). Fixing the thresholds at the values glibc settles on
// after the first large free (32 MiB, trim 64 MiB) puts the first probe in the
// state of a long-running server from the start. No-op without glibc.
//
// Call before the first model is built; thread-safe (mallopt), idempotent.

namespace autodistill::probe {

void use_steady_malloc_thresholds();

}  // namespace autodistill::probe
