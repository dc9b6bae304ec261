// Fork-join over an index range with a fixed, static partition: each index is processed by exactly
// one thread and its result stored at its index, so outputs never depend on the thread count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace tracemark {

// Calls work(i) for every i in [0, count) on up to `threads` threads (0 or 1: the calling thread).
// If any call throws, the exception of the smallest failing index is rethrown after all threads
// finish, so the error reported does not depend on scheduling either.
template <typename Work>
void parallel_for(std::size_t count, unsigned threads, Work&& work) {
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(std::max<std::size_t>(count, 1))));
  std::vector<std::exception_ptr> errors(count);
  auto run_range = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      try {
        work(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  if (threads == 1) {
    run_range(0, count);
  } else {
    std::vector<std::jthread> pool;
    const std::size_t chunk = (count + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
      const std::size_t begin = std::min(count, t * chunk), end = std::min(count, begin + chunk);
      if (begin < end) pool.emplace_back(run_range, begin, end);
    }
  }  // jthreads join here
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace tracemark
