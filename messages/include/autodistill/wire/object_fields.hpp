#pragma once
// Copying between plain structs and the FlatBuffers object API (the
// generated ...T tables) whose fields have the same names. Each concept
// lists its fields once, in a function object that copies either way
// (plain -> wire and wire -> plain), so a field added to a concept is added
// in one place for both directions; copy_list() maps one over a list (a
// wire list holds unique_ptrs; a null entry of one is skipped). Enums of
// the two sides are numerically identical: enum_cast() converts them.
// Header-only, no I/O; the client (client_wire) and the workers
// (trial_context) use it.

#include <memory>
#include <type_traits>
#include <vector>

namespace autodistill::wire {

// An enum to the other side's enum of the same values.
template <class To, class From>
To enum_cast(From value) {
  return static_cast<To>(static_cast<std::underlying_type_t<From>>(value));
}

// Plain values -> wire tables, one per value.
template <class Value, class Table, class Fields>
void copy_list(const std::vector<Value>& in, std::vector<std::unique_ptr<Table>>& out,
               Fields fields) {
  for (const Value& value : in) {
    auto table = std::make_unique<Table>();
    fields(value, *table);
    out.push_back(std::move(table));
  }
}

// Wire tables -> plain values; null entries are skipped.
template <class Table, class Value, class Fields>
void copy_list(const std::vector<std::unique_ptr<Table>>& in, std::vector<Value>& out,
               Fields fields) {
  for (const auto& table : in) {
    if (!table) continue;
    Value value;
    fields(*table, value);
    out.push_back(std::move(value));
  }
}

// wire.Artifact <-> a blob reference {name, digest, size}.
struct ArtifactFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.name = in.name;
    out.digest = in.digest;
    out.size = in.size;
  }
};

// wire.ParamValue <-> {name, number, category}.
struct ParamFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.name = in.name;
    out.number = in.number;
    out.category = in.category;
  }
};

// wire.Metric <-> {name, value}.
struct MetricFields {
  template <class From, class To>
  void operator()(const From& in, To& out) const {
    out.name = in.name;
    out.value = in.value;
  }
};

}  // namespace autodistill::wire
