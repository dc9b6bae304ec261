#include "tracemark/refmodel/ngram_model.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

namespace fmt = ngram_format;

struct HashStateDeleter {
  void operator()(XXH3_state_t* state) const noexcept { XXH3_freeState(state); }
};

std::string field_string(const char* field, std::size_t size) { return std::string(field, strnlen(field, size)); }

[[noreturn]] void damaged(const std::string& name, const std::string& what) {
  throw Error(ErrorCode::invalid_input,
              name + " is damaged (" + what + "); make the model again with `tracemark train`");
}

// The child of a node with a given token, or nullptr (children are sorted by token).
const fmt::Node* find_child(std::span<const fmt::Node> level, const fmt::Node& parent, std::uint32_t token) {
  const auto children = level.subspan(parent.children_begin, parent.children_count);
  const auto it = std::lower_bound(children.begin(), children.end(), token,
                                   [](const fmt::Node& node, std::uint32_t t) { return node.token < t; });
  return it != children.end() && it->token == token ? &*it : nullptr;
}

}  // namespace

NgramModel NgramModel::load(const std::filesystem::path& path) {
  const std::string name = path.string();
  NgramModel model;
  model.file_ = MappedFile(path);
  const std::span<const std::byte> bytes = model.file_.bytes();
  if (bytes.size() < 12 || std::memcmp(bytes.data(), fmt::kMagic, sizeof fmt::kMagic) != 0) {
    throw Error(ErrorCode::invalid_input,
                name + " is not a tracemark reference model (no TMNGRAM signature); make one with `tracemark train`");
  }
  std::uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, sizeof version);
  if (version != fmt::kFormatVersion) {
    throw Error(ErrorCode::unsupported, name + ": reference model format version " + std::to_string(version) +
                                            " is not supported by this build (it reads version " +
                                            std::to_string(fmt::kFormatVersion) +
                                            "); train the model again with this build's `tracemark train`");
  }
  if (bytes.size() < sizeof(fmt::Header)) damaged(name, "truncated header");
  // The mapping is page-aligned, so the header and the 8-byte aligned sections are aligned too.
  const auto* header = reinterpret_cast<const fmt::Header*>(bytes.data());
  model.header_ = header;
  if (header->header_bytes != sizeof(fmt::Header)) damaged(name, "unexpected header size");
  if (header->order < fmt::kMinOrder || header->order > fmt::kMaxOrder) damaged(name, "order out of range");
  if (header->vocab_size == 0 || header->vocab_size > (1U << 31)) damaged(name, "vocabulary size out of range");
  if (header->file_bytes != bytes.size()) {
    damaged(name, "file is " + std::to_string(bytes.size()) + " bytes, header says " + std::to_string(header->file_bytes));
  }
  for (std::uint32_t k = 0; k < header->order; ++k) {
    const double d = header->discounts[k];
    if (!(d > 0.0 && d <= 1.0)) damaged(name, "discount of order " + std::to_string(k + 1) + " outside (0, 1]");
  }
  auto section = [&](const fmt::Section& s, std::size_t element, std::uint32_t depth) {
    const bool used = depth < header->order;
    if (!used && s.count != 0) damaged(name, "table beyond the model's order");
    if (!used) return;
    if (s.offset % 8 != 0 || s.offset < sizeof(fmt::Header) || s.offset > bytes.size() ||
        s.count > (bytes.size() - s.offset) / element) {
      damaged(name, "table of depth " + std::to_string(depth) + " outside the file");
    }
  };
  for (std::uint32_t depth = 0; depth < fmt::kMaxOrder; ++depth) {
    section(header->nodes[depth], sizeof(fmt::Node), depth);
    section(header->followers[depth], sizeof(fmt::Follower), depth);
  }
  section(header->unpredictable, sizeof(std::uint32_t), 0);
  fmt::Header unsigned_header;
  std::memcpy(&unsigned_header, header, sizeof unsigned_header);
  unsigned_header.checksum_xxh3 = 0;
  const std::unique_ptr<XXH3_state_t, HashStateDeleter> state(XXH3_createState());
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) throw Error(ErrorCode::internal, "xxHash state allocation failed");
  XXH3_64bits_update(state.get(), &unsigned_header, sizeof unsigned_header);
  XXH3_64bits_update(state.get(), bytes.data() + sizeof(fmt::Header), bytes.size() - sizeof(fmt::Header));
  const std::uint64_t checksum = XXH3_64bits_digest(state.get());
  if (checksum != header->checksum_xxh3) damaged(name, "checksum mismatch");

  model.tokenizer_.name = field_string(header->tokenizer_name, sizeof header->tokenizer_name);
  model.tokenizer_.spec = field_string(header->tokenizer_spec, sizeof header->tokenizer_spec);
  model.tokenizer_.vocab_sha256 = field_string(header->vocab_sha256, sizeof header->vocab_sha256);
  for (std::uint32_t depth = 0; depth < header->order; ++depth) {
    model.nodes_[depth] = {reinterpret_cast<const fmt::Node*>(bytes.data() + header->nodes[depth].offset),
                           header->nodes[depth].count};
    model.followers_[depth] = {reinterpret_cast<const fmt::Follower*>(bytes.data() + header->followers[depth].offset),
                               header->followers[depth].count};
  }
  model.unpredictable_ = {reinterpret_cast<const std::uint32_t*>(bytes.data() + header->unpredictable.offset),
                          header->unpredictable.count};
  for (std::size_t i = 0; i < model.unpredictable_.size(); ++i) {
    if (model.unpredictable_[i] >= header->vocab_size || (i > 0 && model.unpredictable_[i] <= model.unpredictable_[i - 1])) {
      damaged(name, "unpredictable id list");
    }
  }
  if (model.unpredictable_.size() >= header->vocab_size) damaged(name, "no predictable id");
  model.check_structure(name);

  // The unigram level (order 1) interpolated with the uniform distribution: the base vector every
  // query starts from, computed once.
  const std::uint32_t vocab = header->vocab_size;
  const fmt::Node& root = model.nodes_[0][0];
  const double d1 = header->discounts[0];
  const double total = root.total;
  const double uniform = d1 * root.followers_count / total / static_cast<double>(vocab - model.unpredictable_.size());
  model.unigram_.assign(vocab, uniform);
  for (std::uint32_t w : model.unpredictable_) model.unigram_[w] = 0.0;
  for (const fmt::Follower& f : model.followers_[0].subspan(root.followers_begin, root.followers_count)) {
    model.unigram_[f.token] += std::max(f.count - d1, 0.0) / total;
  }
  model.log_unigram_.resize(vocab);
  for (std::uint32_t w = 0; w < vocab; ++w) model.log_unigram_[w] = static_cast<float>(std::log(model.unigram_[w]));  // -inf for 0
  for (std::uint32_t w = 0; w < vocab; ++w) {
    if (model.unigram_[w] > 0.0) model.unigram_plogp_ += model.unigram_[w] * std::log(model.unigram_[w]);
  }
  model.by_unigram_.resize(vocab);
  for (std::uint32_t w = 0; w < vocab; ++w) model.by_unigram_[w] = w;
  std::stable_sort(model.by_unigram_.begin(), model.by_unigram_.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return model.unigram_[a] > model.unigram_[b]; });
  return model;
}

// Every index the queries follow is checked here once, so queries need no bounds checks.
void NgramModel::check_structure(const std::string& name) const {
  const std::uint32_t vocab = header_->vocab_size;
  if (nodes_[0].size() != 1) damaged(name, "the root context is missing");
  for (std::uint32_t depth = 0; depth < header_->order; ++depth) {
    const std::string where = "context depth " + std::to_string(depth);
    std::uint64_t next_follower = 0, next_child = 0;
    for (const fmt::Node& node : nodes_[depth]) {
      if (depth > 0 && node.token > vocab) damaged(name, where + ": context token out of range");
      if (node.followers_count == 0 || node.followers_begin != next_follower ||
          node.followers_count > followers_[depth].size() - next_follower) {
        damaged(name, where + ": follower range");
      }
      next_follower += node.followers_count;
      std::uint64_t total = 0;
      std::uint32_t previous = 0;
      bool first = true;
      for (const fmt::Follower& f : followers_[depth].subspan(node.followers_begin, node.followers_count)) {
        if (f.token >= vocab || f.count == 0 || (!first && f.token <= previous)) damaged(name, where + ": follower entry");
        previous = f.token;
        first = false;
        total += f.count;
      }
      if (total != node.total) damaged(name, where + ": count total");
      if (node.children_count == 0) continue;
      if (depth + 1 >= header_->order || node.children_begin != next_child ||
          node.children_count > nodes_[depth + 1].size() - next_child) {
        damaged(name, where + ": child range");
      }
      next_child += node.children_count;
      const auto children = nodes_[depth + 1].subspan(node.children_begin, node.children_count);
      for (std::size_t i = 1; i < children.size(); ++i) {
        if (children[i].token <= children[i - 1].token) damaged(name, where + ": children not sorted");
      }
    }
    if (next_follower != followers_[depth].size()) damaged(name, where + ": unused followers");
    if (depth + 1 < header_->order && next_child != nodes_[depth + 1].size()) damaged(name, where + ": orphan contexts");
  }
}

std::uint32_t NgramModel::match_context(std::span<const std::uint32_t> history, const fmt::Node** path) const {
  const std::uint32_t vocab = header_->vocab_size;
  path[0] = &nodes_[0][0];
  std::uint32_t depth = 0;
  for (std::uint32_t j = 1; j < header_->order; ++j) {
    std::uint32_t token = vocab;  // begin-of-document before the history's start
    if (j <= history.size()) {
      token = history[history.size() - j];
      if (token >= vocab) {
        throw Error(ErrorCode::invalid_argument, "token id " + std::to_string(token) +
                                                     " in the context is outside the model's vocabulary (size " +
                                                     std::to_string(vocab) + ")");
      }
    }
    const fmt::Node* child = find_child(nodes_[j], *path[j - 1], token);
    if (child == nullptr) break;
    path[j] = child;
    depth = j;
  }
  return depth;
}

void NgramModel::interpolation_weights(const fmt::Node* const* path, std::uint32_t depth, double* weight) const {
  weight[depth] = 1.0;
  for (std::uint32_t j = depth; j > 0; --j) {
    const fmt::Node& node = *path[j];
    const double backoff = header_->discounts[j] * node.followers_count / static_cast<double>(node.total);
    weight[j - 1] = weight[j] * backoff;
  }
}

// Unrolled recursion: P(w) = weight[0] P_1(w) + sum_j weight[j] max(c_j(w) - D_j, 0) / total_j.
// The second term is non-zero only for tokens seen after a matched context; it is gathered into
// the scratch's sparse correction vector.
void NgramModel::collect_corrections(std::span<const std::uint32_t> history, NgramScratch& scratch,
                                     double& unigram_weight) const {
  const fmt::Node* path[fmt::kMaxOrder];
  double weight[fmt::kMaxOrder];
  const std::uint32_t depth = match_context(history, path);
  interpolation_weights(path, depth, weight);
  unigram_weight = weight[0];
  if (scratch.correction_.size() != header_->vocab_size) {
    scratch.correction_.assign(header_->vocab_size, 0.0);
    scratch.is_touched_.assign(header_->vocab_size, 0);
    scratch.touched_.clear();
  }
  for (std::uint32_t j = 1; j <= depth; ++j) {
    const fmt::Node& node = *path[j];
    const double d = header_->discounts[j];
    const double scale = weight[j] / node.total;
    for (const fmt::Follower& f : followers_[j].subspan(node.followers_begin, node.followers_count)) {
      if (!scratch.is_touched_[f.token]) {
        scratch.is_touched_[f.token] = 1;
        scratch.touched_.push_back(f.token);
      }
      scratch.correction_[f.token] += scale * std::max(f.count - d, 0.0);
    }
  }
}

void NgramModel::log_probabilities(std::span<const std::uint32_t> history, std::span<float> out,
                                   NgramScratch& scratch) const {
  if (out.size() != header_->vocab_size) {
    throw Error(ErrorCode::invalid_argument, "log_probabilities: output size " + std::to_string(out.size()) +
                                                 " differs from the vocabulary size " + std::to_string(header_->vocab_size));
  }
  double unigram_weight = 1.0;
  collect_corrections(history, scratch, unigram_weight);
  const auto log_weight = static_cast<float>(std::log(unigram_weight));
  const float* base = log_unigram_.data();
  float* target = out.data();
  for (std::size_t w = 0; w < out.size(); ++w) target[w] = base[w] + log_weight;  // vectorised
  for (std::uint32_t w : scratch.touched_) {
    out[w] = static_cast<float>(std::log(unigram_weight * unigram_[w] + scratch.correction_[w]));
    scratch.correction_[w] = 0.0;
    scratch.is_touched_[w] = 0;
  }
  scratch.touched_.clear();
}

void NgramModel::top_candidates(std::span<const std::uint32_t> history, std::size_t k, std::vector<Candidate>& out,
                                NgramScratch& scratch) const {
  double unigram_weight = 1.0;
  collect_corrections(history, scratch, unigram_weight);
  k = std::min<std::size_t>(k, header_->vocab_size);
  auto& ranked = scratch.ranked_;
  ranked.clear();
  for (std::uint32_t w : scratch.touched_) ranked.emplace_back(unigram_weight * unigram_[w] + scratch.correction_[w], w);
  // Untouched tokens keep the unigram order, so the first k of them are the only ones that can rank.
  std::size_t taken = 0;
  for (std::size_t i = 0; i < by_unigram_.size() && taken < k; ++i) {
    const std::uint32_t w = by_unigram_[i];
    if (unigram_[w] == 0.0) break;  // the rest have probability 0 (unpredictable ids sort last)
    if (scratch.is_touched_[w]) continue;
    ranked.emplace_back(unigram_weight * unigram_[w], w);
    ++taken;
  }
  for (std::uint32_t w : scratch.touched_) {
    scratch.correction_[w] = 0.0;
    scratch.is_touched_[w] = 0;
  }
  scratch.touched_.clear();
  const auto by_probability = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  const std::size_t keep = std::min(k, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep), ranked.end(), by_probability);
  out.resize(keep);
  for (std::size_t i = 0; i < keep; ++i) out[i] = {ranked[i].second, static_cast<float>(std::log(ranked[i].first))};
}

double NgramModel::entropy(std::span<const std::uint32_t> history, NgramScratch& scratch) const {
  double lambda = 1.0;
  collect_corrections(history, scratch, lambda);
  // P(w) = lambda P_1(w) + C(w), C non-zero only on touched tokens. Over all w:
  //   sum P ln P = lambda S + lambda ln(lambda) - sum_touched lambda P_1 ln(lambda P_1) + sum_touched P ln P
  // with S = sum P_1 ln P_1 (and sum P_1 = 1).
  const double log_lambda = std::log(lambda);
  double sum = lambda * unigram_plogp_ + lambda * log_lambda;
  for (std::uint32_t w : scratch.touched_) {
    const double base = lambda * unigram_[w];
    const double p = base + scratch.correction_[w];
    if (base > 0.0) sum -= base * (log_lambda + std::log(unigram_[w]));
    if (p > 0.0) sum += p * std::log(p);
    scratch.correction_[w] = 0.0;
    scratch.is_touched_[w] = 0;
  }
  scratch.touched_.clear();
  return sum < 0.0 ? -sum : 0.0;
}

double NgramModel::probability(std::span<const std::uint32_t> history, std::uint32_t token) const {
  if (token >= header_->vocab_size) {
    throw Error(ErrorCode::invalid_argument, "token id " + std::to_string(token) +
                                                 " is outside the model's vocabulary (size " +
                                                 std::to_string(header_->vocab_size) + ")");
  }
  const fmt::Node* path[fmt::kMaxOrder];
  const std::uint32_t depth = match_context(history, path);
  double p = unigram_[token];
  for (std::uint32_t j = 1; j <= depth; ++j) {
    const fmt::Node& node = *path[j];
    const auto followers = followers_[j].subspan(node.followers_begin, node.followers_count);
    const auto it = std::lower_bound(followers.begin(), followers.end(), token,
                                     [](const fmt::Follower& f, std::uint32_t t) { return f.token < t; });
    const double count = it != followers.end() && it->token == token ? it->count : 0.0;
    const double d = header_->discounts[j];
    const double total = node.total;
    p = std::max(count - d, 0.0) / total + d * node.followers_count / total * p;
  }
  return p;
}

void require_model_tokenizer(const NgramModel& model, const std::string& model_name,
                             const ModelTokenizerRecord& expected) {
  require_model_tokenizer(model.tokenizer(), model_name, expected);
}

void require_model_tokenizer(const ModelTokenizerRecord& actual, const std::string& model_name,
                             const ModelTokenizerRecord& expected) {
  if (actual.name == expected.name && actual.vocab_sha256 == expected.vocab_sha256) return;
  auto describe = [](const ModelTokenizerRecord& t) {
    return t.name.empty() ? std::string("raw token ids (no tokenizer)")
                          : "tokenizer " + t.name + " (vocabulary sha256 " + t.vocab_sha256.substr(0, 16) + "...)";
  };
  throw Error(ErrorCode::invalid_input, model_name + " was trained with " + describe(actual) + ", not " +
                                            describe(expected) + "; use the tokenizer the model was trained with, "
                                            "or train a model for this tokenizer");
}

double sequence_nats(const NgramModel& model, std::span<const std::uint32_t> context, std::span<const std::uint32_t> tokens) {
  std::vector<std::uint32_t> history(context.begin(), context.end());
  history.reserve(context.size() + tokens.size());
  double nats = 0;
  for (std::uint32_t token : tokens) {
    nats -= std::log(model.probability(history, token));
    history.push_back(token);
  }
  return nats;
}

}  // namespace tracemark
