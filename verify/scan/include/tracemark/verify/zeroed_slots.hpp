// The slot array of a TupleSet: `count` 64-bit words, all zero, owned.
//
// Why not a std::vector: a scan's deduplication table is hundreds of MB probed at random (one probe
// per suspect token). With 4 kB pages every probe of a table past a few MB also misses the TLB, and a
// vector's assign() writes every byte once more before the first probe. So an array of 2 MB or more
// is mapped from the kernel directly (anonymous memory is zero already: no memset), starting on a
// 2 MB boundary and advised MADV_HUGEPAGE, so that transparent huge pages back it where the system
// allows them ("madvise" mode, Debian's default), and populated at once (MADV_POPULATE_WRITE: one
// call, not one page fault per page; a rehash writes across the whole table anyway). The alignment
// reserves address space, not memory. Smaller arrays come from calloc. If the kernel
// refuses a mapping, std::bad_alloc is thrown, as for any allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tracemark {

class ZeroedSlots {
 public:
  ZeroedSlots() noexcept = default;
  explicit ZeroedSlots(std::size_t count);
  ~ZeroedSlots();
  ZeroedSlots(const ZeroedSlots& other);
  ZeroedSlots& operator=(const ZeroedSlots& other);
  ZeroedSlots(ZeroedSlots&& other) noexcept;
  ZeroedSlots& operator=(ZeroedSlots&& other) noexcept;

  std::uint64_t* data() noexcept { return data_; }
  const std::uint64_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  std::uint64_t& operator[](std::size_t i) noexcept { return data_[i]; }
  std::uint64_t operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  void release() noexcept;
  std::uint64_t* data_ = nullptr;
  std::size_t count_ = 0;
  std::size_t mapped_bytes_ = 0;  // 0: from calloc
};

}  // namespace tracemark
