// Links the exported C++ libraries (tracemark::verify brings tracemark::embed): an exact binomial
// test and a key from the golden file.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/binomial.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::ifstream file(argv[1]);
  std::stringstream text;
  text << file.rdbuf();
  const tracemark::WatermarkKey key = tracemark::WatermarkKey::parse(text.str(), argv[1]);
  const tracemark::BinomialTest test = tracemark::binomial_test(30, 40, 0.25);
  std::printf("c++ key %s, binomial p %s\n", key.key_id().c_str(), tracemark::format_p_value(test.log10_p).c_str());
  return 0;
}
