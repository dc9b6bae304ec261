// Fork-join over an index range: each index is processed by exactly one thread and its result
// stored at its index, so outputs never depend on the thread count or on which thread took which
// index. Indices are handed out one at a time from a shared counter (not in fixed slices), so a
// thread that the system leaves waiting (a shared machine) does not hold up the others' share.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace tracemark {

// Calls work(i) for every i in [0, count) on up to `threads` threads (0 or 1: the calling thread,
// in order). If any call throws, the exception of the smallest failing index is rethrown after all
// threads finish (every index is still processed), so the error reported does not depend on
// scheduling either.
template <typename Work>
void parallel_for(std::size_t count, unsigned threads, Work&& work) {
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(std::max<std::size_t>(count, 1))));
  std::vector<std::exception_ptr> errors(count);
  std::atomic<std::size_t> next{0};
  auto run = [&] {
    for (std::size_t i = next.fetch_add(1, std::memory_order_relaxed); i < count;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      try {
        work(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  if (threads == 1) {
    run();
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(run);
    run();  // the calling thread works too
  }  // jthreads join here
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace tracemark
