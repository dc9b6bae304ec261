#include "tracemark/verify/zeroed_slots.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include <sys/mman.h>

namespace tracemark {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kPage = 4096;

// `bytes` (a multiple of kPage) of zeroed memory starting on a huge-page boundary: maps one huge
// page more than needed, then returns the unaligned head and the tail past `bytes` to the kernel.
void* map_aligned(std::size_t bytes) {
  void* raw = ::mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const std::uintptr_t end = start + bytes + kHugePage;
  if (end > aligned + bytes) ::munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
#ifdef MADV_HUGEPAGE
  // Advice only: where huge pages are off, the table works the same with small pages.
  ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
  // A table is filled across its whole length (rehash writes every page of it), so fault it in with
  // one call instead of one trap per page (Linux 5.14 and later; an older kernel refuses the advice
  // and the pages fault in as they are touched).
  ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_POPULATE_WRITE);
#endif
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

ZeroedSlots::ZeroedSlots(std::size_t count) : count_(count) {
  if (count == 0) return;
  if (count > (std::size_t{1} << 60)) throw std::bad_alloc();
  const std::size_t bytes = count * sizeof(std::uint64_t);
  if (bytes >= kHugePage) {
    mapped_bytes_ = (bytes + kPage - 1) & ~(kPage - 1);
    data_ = static_cast<std::uint64_t*>(map_aligned(mapped_bytes_));
  } else {
    data_ = static_cast<std::uint64_t*>(std::calloc(count, sizeof(std::uint64_t)));
    if (!data_) throw std::bad_alloc();
  }
}

ZeroedSlots::~ZeroedSlots() { release(); }

ZeroedSlots::ZeroedSlots(const ZeroedSlots& other) : ZeroedSlots(other.count_) {
  if (count_) std::memcpy(data_, other.data_, count_ * sizeof(std::uint64_t));
}

ZeroedSlots& ZeroedSlots::operator=(const ZeroedSlots& other) {
  if (this != &other) *this = ZeroedSlots(other);
  return *this;
}

ZeroedSlots::ZeroedSlots(ZeroedSlots&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      count_(std::exchange(other.count_, 0)),
      mapped_bytes_(std::exchange(other.mapped_bytes_, 0)) {}

ZeroedSlots& ZeroedSlots::operator=(ZeroedSlots&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    count_ = std::exchange(other.count_, 0);
    mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
  }
  return *this;
}

void ZeroedSlots::release() noexcept {
  if (!data_) return;
  if (mapped_bytes_) {
    ::munmap(data_, mapped_bytes_);
  } else {
    std::free(data_);
  }
  data_ = nullptr;
  count_ = 0;
  mapped_bytes_ = 0;
}

}  // namespace tracemark
