// The green-mass score of a suspect that reports log-probabilities (an API's top_logprobs): for
// each scored window j the suspect's probabilities w_jv of a few next tokens v (its top k), and
//
//   S = sum_j sum_v w_jv (B_jv - gamma),   B_jv = 1 when v is green after window j.
//
// A student that inherited a green-list watermark puts slightly more mass on green tokens at every
// step, and S sees that shift in every query, where a greedy token shows it only when the shift
// flips the argmax. Null: given everything before window j (the reading-mode order, whose rule
// never looks at the key), each B_jv is Bernoulli(gamma), independently across the tokens of the
// window (version 2+ keys give every token id its own secret value). The weights may depend on
// everything before, so S is a martingale, not a sum of independent terms, and a Chernoff bound
// optimised after seeing the data would not be a valid p-value. The p-value therefore comes from
// the method of mixtures: for each lambda of a fixed grid,
//
//   M_lambda = exp( lambda S - sum_jv psi(lambda w_jv) ),  psi(x) = ln(1 - gamma + gamma e^x) - gamma x,
//
// is a non-negative martingale with mean 1 under the null, so is their average M over the grid,
// and by Ville's inequality P(M >= 1/alpha) <= alpha at any number of windows: p = min(1, 1/M) is
// valid whatever the weights and however many queries were asked. The price against the best
// single lambda is at most ln(grid size) (1.4 in log10) plus the grid's spacing (sqrt 2 between
// points: at most 1 - (1 - 2^(1/4))^2, so within 4% of the optimal exponent).
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace tracemark {

struct GreenMassTest {
  std::uint64_t windows = 0;    // windows scored
  std::uint64_t tokens = 0;     // (window, token) weights scored
  double mass = 0;              // sum of the weights (the listed probability mass)
  double green_mass = 0;        // sum of the green tokens' weights
  double green_share = 0;       // green_mass / mass (gamma expected under the null)
  double log_p = 0;             // natural log of min(1, 1 / M)
  double log10_p = 0;
  double p_value = 1;
};

class GreenMassAccumulator {
 public:
  // lambda grid 2^(-7), 2^(-6.5), ..., 2^6: 27 points.
  static constexpr int kLambdas = 27;

  // Error(invalid_argument) unless 0 < gamma < 1.
  explicit GreenMassAccumulator(double gamma);

  // One scored window: the probabilities of its listed tokens (each in [0, 1], summing to at most
  // 1 + 1e-3) and which of them are green. Error(invalid_argument) for other weights or lengths.
  void add_window(std::span<const double> weights, std::span<const std::uint8_t> green);

  GreenMassTest result() const;

 private:
  double gamma_;
  std::array<double, kLambdas> lambdas_{};
  std::array<double, kLambdas> log_mgf_{};  // sum over weights of psi(lambda w)
  double score_ = 0;                        // S
  GreenMassTest counts_;
};

// psi(x) = ln(1 - gamma + gamma e^x) - gamma x, stable for large x (exposed for the tests).
double green_mass_log_mgf(double x, double gamma);

}  // namespace tracemark
