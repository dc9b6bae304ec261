#include "tracemark/verify/tuple_set.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "tracemark/refmodel/synthetic_model.hpp"
#include "test_support.hpp"

namespace tracemark {
namespace {

TEST(TupleSet, AgreesWithStdSetAndStaysWithin16BytesPerTuple) {
  SplitMix64 rng(testing::announce_seed(77));
  TupleSet set;
  std::set<std::uint64_t> reference;
  std::vector<std::uint64_t> drawn;
  for (int i = 0; i < 300000; ++i) {
    // Half the draws repeat an earlier draw (chosen by index, so never past the end of anything),
    // so both outcomes of insert are exercised.
    const std::uint64_t value = (i % 2 == 0 && !drawn.empty()) ? drawn[rng.next() % drawn.size()] : rng.next();
    drawn.push_back(value);
    const std::uint64_t stored = value == 0 ? 1 : value;
    ASSERT_EQ(set.insert(value), reference.insert(stored).second) << "draw " << i;
    if (set.size() > 1000) {
      ASSERT_LE(set.memory_bytes(), 16 * set.size()) << "at " << set.size() << " tuples";
    }
  }
  EXPECT_EQ(set.size(), reference.size());
}

TEST(TupleSet, ZeroIsStoredAsOne) {
  TupleSet set;
  EXPECT_TRUE(set.insert(0));
  EXPECT_FALSE(set.insert(1));
  EXPECT_FALSE(set.insert(0));
  EXPECT_EQ(set.size(), 1u);
}

}  // namespace
}  // namespace tracemark
