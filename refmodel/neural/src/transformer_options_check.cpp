// Range checks of the transformer's options, compiled into tracemark and into the plug-in (both
// check: the command line before loading libtorch, the plug-in before training).
#include <string>

#include "tracemark/error.hpp"
#include "tracemark/refmodel/transformer_model.hpp"

namespace tracemark {
namespace {

void require_range(const char* option, double value, double low, double high) {
  if (!(value >= low && value <= high)) {
    throw Error(ErrorCode::invalid_argument, std::string(option) + " " + std::to_string(value) +
                                                 " is out of range; use " + std::to_string(low) + " to " +
                                                 std::to_string(high));
  }
}

}  // namespace

void TransformerShape::validate() const {
  require_range("--layers", layers, 1, 48);
  require_range("--heads", heads, 1, 64);
  require_range("--width", width, 8, 4096);
  require_range("--context-length", context_length, 2, 4096);
  if (width % heads != 0) {
    throw Error(ErrorCode::invalid_argument, "--width " + std::to_string(width) + " is not a multiple of --heads " +
                                                 std::to_string(heads) + "; each head gets width / heads dimensions");
  }
}

void TransformerTraining::validate() const {
  require_range("--steps", steps, 1, 10'000'000);
  require_range("--batch-size", batch_size, 1, 65'536);
  if (!(learning_rate > 0 && learning_rate <= 10)) {
    throw Error(ErrorCode::invalid_argument, "--learning-rate " + std::to_string(learning_rate) +
                                                 " is out of range; use a value in (0, 10] (the default is 0.002)");
  }
  require_range("--warmup-steps", warmup_steps, 0, 10'000'000);
  require_range("--weight-decay", weight_decay, 0, 1);
}

}  // namespace tracemark
