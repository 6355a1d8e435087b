// Result<T>: a T or a non-OK Status (the shape of absl::StatusOr).
//
// Construct from a T (success) or from a non-OK Status (failure). Accessing
// value() of a failed Result is a bug and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/status.h"

namespace luksfs {

template <typename T>
class Result {
 public:
  // Success.
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  // Failure. REQUIRES: !status.ok().
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) {
      std::fputs("BUG: Result constructed from an OK Status\n", stderr);
      std::abort();
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }

  // OK when ok(), else the failure.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }

  T* operator->() { return &Checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->Checked(); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return const_cast<Result*>(this)->Checked(); }

 private:
  T& Checked() {
    if (!ok()) {
      std::fprintf(stderr, "BUG: value() of a failed Result: %s\n",
                   std::get<Status>(v_).ToString().c_str());
      std::abort();
    }
    return std::get<T>(v_);
  }

  std::variant<T, Status> v_;
};

}  // namespace luksfs

#define LUKSFS_CONCAT_INNER_(a, b) a##b
#define LUKSFS_CONCAT_(a, b) LUKSFS_CONCAT_INNER_(a, b)

// LUKSFS_ASSIGN_OR_RETURN(auto x, Foo());  declares x from a Result's value,
// or returns its Status from the enclosing function.
#define LUKSFS_ASSIGN_OR_RETURN(lhs, expr) \
  LUKSFS_ASSIGN_OR_RETURN_IMPL_(LUKSFS_CONCAT_(luksfs_result_, __LINE__), lhs, expr)
#define LUKSFS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
