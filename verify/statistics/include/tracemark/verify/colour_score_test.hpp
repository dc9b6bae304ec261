// A weighted colour score and its p-value: for each scored window j, weights a_jv for a few next
// tokens v (fixed before the window's colours are known: functions of a suspect's log-probabilities
// there), and
//
//   S = sum_j sum_v a_jv (B_jv - gamma),   B_jv = 1 when v is green after window j.
//
// Reading mode (verify/reading_mode.hpp) uses two weightings of a suspect's top log-probabilities:
// the green mass (a = p) and the green tilt (a = log p minus its mean over the listed tokens, which
// is what a small learned logit bias on green tokens shifts, token by token). Null: given everything
// before window j, each B_jv is Bernoulli(gamma), independently across the tokens of the window
// (version 2+ keys give every token id its own secret value). The weights may depend on everything
// before, so S is a martingale, not a sum of independent terms, and a Chernoff bound optimised after
// seeing the data would not be a valid p-value. The p-value therefore comes from the method of
// mixtures: for each lambda of a fixed grid,
//
//   M_lambda = exp( lambda S - sum_jv psi(lambda a_jv) ),  psi(x) = ln(1 - gamma + gamma e^x) - gamma x,
//
// is a non-negative martingale with mean 1 under the null (psi is the log moment generating
// function of B - gamma, for weights of either sign), so is their average M over the grid, and by
// Ville's inequality P(M >= 1/alpha) <= alpha at any number of windows: p = min(1, 1/M) is valid
// whatever the weights and however many queries were asked. The price against the best single
// lambda is at most ln(grid size) (1.4 in log10) plus the grid's spacing (sqrt 2 between points:
// within 4% of the optimal exponent).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace tracemark {

struct ColourScoreTest {
  std::uint64_t windows = 0;  // windows scored
  std::uint64_t tokens = 0;   // (window, token) weights scored
  std::uint64_t green_tokens = 0;  // of which green
  double weight = 0;          // sum of the weights
  double green_weight = 0;    // sum of the green tokens' weights
  double score = 0;           // S
  double log_p = 0;           // natural log of min(1, 1 / M)
  double log10_p = 0;
  double p_value = 1;
};

class ColourScoreAccumulator {
 public:
  // lambda grid 2^(-7), 2^(-6.5), ..., 2^6: 27 points.
  static constexpr int kLambdas = 27;
  // The largest |weight| accepted (log-probability differences are clipped to this by callers).
  static constexpr double kMaxWeight = 64.0;

  // Error(invalid_argument) unless 0 < gamma < 1.
  explicit ColourScoreAccumulator(double gamma);

  // One scored window: its tokens' weights (finite, |a| <= kMaxWeight) and which of them are green.
  // Error(invalid_argument) for another weight, Error(internal) for lengths that differ; nothing of
  // the window is added then.
  void add_window(std::span<const double> weights, std::span<const std::uint8_t> green);

  ColourScoreTest result() const;

 private:
  double gamma_;
  std::array<double, kLambdas> lambdas_{};
  std::array<double, kLambdas> log_mgf_{};  // sum over weights of psi(lambda a)
  ColourScoreTest counts_;
};

// psi(x) = ln(1 - gamma + gamma e^x) - gamma x, stable for large |x| (exposed for the tests).
double colour_log_mgf(double x, double gamma);

}  // namespace tracemark
