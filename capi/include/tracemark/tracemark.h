/* tracemark C ABI: serving-time watermarking (keys, per-sequence logits processors) and detection
 * over token ids, for serving engines and language bindings. C99; no C++ exception crosses this
 * boundary: every failure is a tm_status, with a message from tm_last_error().
 *
 * Conventions (docs/DESIGN.md, "C ABI"):
 * - Handles are opaque. Each tm_*_create / tm_*_load has one tm_*_free; every free accepts NULL.
 * - Out-parameters are written only on TM_OK.
 * - A message never contains secret material (the key's secret or its sub-keys).
 * - Token ids are 0 .. vocab_size - 1 of the key; logits are IEEE-754 binary32.
 * - Extensible structs (tm_key_info, tm_processor_params) start with uint32_t size, the sizeof of
 *   the caller's struct (from the header the caller was compiled with). The library reads and
 *   writes only the first `size` bytes, so a program built against an older header keeps working
 *   with a newer library; a newer header's struct given to an older library is accepted when its
 *   bytes beyond what that library knows are all zero, and refused (TM_UNSUPPORTED) otherwise (an
 *   option the library does not know was asked for), as Linux's openat2 and clone3 do. Fields are
 *   only ever added at the end, each one making sizeof grow, and zero always means the behaviour
 *   from before the field existed. Smaller than the first version of a struct is TM_INVALID_ARGUMENT.
 * Only symbols starting with tm_ are exported by libtracemark.so.0 (version node TRACEMARK_0). */
#ifndef TRACEMARK_TRACEMARK_H
#define TRACEMARK_TRACEMARK_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define TM_API __attribute__((visibility("default")))
#else
#define TM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ABI major version: the SONAME is libtracemark.so.TM_ABI_VERSION. */
#define TM_ABI_VERSION 0

/* Fixed error enum; values never change meaning (new ones may be added at the end). */
typedef enum tm_status {
  TM_OK = 0,
  TM_INVALID_ARGUMENT = 1, /* a parameter out of its documented range: the caller's mistake */
  TM_INVALID_INPUT = 2,    /* malformed or inconsistent data (a key file, token ids) */
  TM_IO = 3,               /* a file could not be read */
  TM_PERMISSION = 4,       /* a key file readable or writable by group or others */
  TM_UNSUPPORTED = 5,      /* a key file or scheme version this build does not know */
  TM_OUT_OF_MEMORY = 6,
  TM_INTERNAL = 7          /* a bug in tracemark; please report it with the message */
} tm_status;

/* "TM_OK", "TM_INVALID_ARGUMENT", ...; "TM_UNKNOWN_STATUS" for any other value. A static string:
 * never free it. Thread-safe. */
TM_API const char* tm_status_name(tm_status status);

/* The library version, "MAJOR.MINOR.PATCH" (static string; thread-safe). */
TM_API const char* tm_version(void);

/* The message of the last call on this thread that did not return TM_OK ("" if none): what went
 * wrong, where, and what to do. Thread-local; owned by the library and valid until the next tm_
 * call on the same thread. Never contains secret material. */
TM_API const char* tm_last_error(void);

/* ---- Keys ------------------------------------------------------------------------------------ */

/* A watermark key: secret plus scheme parameters. Immutable once loaded: one key may be shared by
 * any number of threads and processors. Processors keep what they need, so a key may be freed
 * while processors made from it are still in use. */
typedef struct tm_key tm_key;

/* Loads a key file made by `tracemark keygen`. Refuses files readable or writable by group or
 * others (TM_PERMISSION), unknown versions (TM_UNSUPPORTED) and edited files (TM_INVALID_INPUT).
 * On TM_OK *out is a new key the caller owns (free with tm_key_free). Thread-safe. */
TM_API tm_status tm_key_load(const char* path, tm_key** out);

/* The same from the bytes of a key file held in memory (size bytes at data, not NUL-terminated;
 * the caller keeps ownership of data and should wipe it). No permission check. Thread-safe. */
TM_API tm_status tm_key_load_memory(const char* data, size_t size, tm_key** out);

/* Frees a key (NULL is allowed) and wipes its secret. Not concurrently with other uses of it. */
TM_API void tm_key_free(tm_key* key);

/* The watermarking schemes (docs/METHOD.md, "Which scheme to use when"). */
typedef enum tm_scheme_kind {
  TM_SCHEME_GREEN_LIST = 0, /* kgw-green-list: biases logits (tm_processor_apply) */
  TM_SCHEME_GUMBEL_MAX = 1, /* gumbel-max: chooses the token (tm_processor_choose) */
  TM_SCHEME_TOURNAMENT = 2  /* synthid-tournament: chooses the token (tm_processor_choose) */
} tm_scheme_kind;

/* Public facts about a key (nothing secret). An extensible struct: set size = sizeof(tm_key_info)
 * before tm_key_get_info, which sets it to the number of bytes it filled (zeroing the caller's
 * bytes after those). */
typedef struct tm_key_info {
  uint32_t size;           /* the caller's sizeof(tm_key_info); at least 72 */
  uint32_t vocab_size;     /* token ids are 0 .. vocab_size - 1 */
  uint32_t context_width;  /* h: previous tokens that seed the green list (0 = one fixed list) */
  uint32_t scheme_version; /* version of the kgw-green-list scheme */
  double gamma;            /* green fraction chosen at keygen */
  double null_green_probability; /* the exact null probability detection uses (0 for a gumbel-max key) */
  double delta;            /* logit bias added to green tokens */
  char key_id[32];         /* "tmk_" + 16 hex digits, NUL-terminated */
  /* Since issue 18 (a caller's struct of 72 bytes does not receive them): */
  uint32_t scheme;            /* a tm_scheme_kind: which scheme the key serves and detects with */
  uint32_t tournament_layers; /* TM_SCHEME_TOURNAMENT: m, the g-values per token; else 0 */
} tm_key_info;

/* Fills *out. Thread-safe. */
TM_API tm_status tm_key_get_info(const tm_key* key, tm_key_info* out);

/* The key's entropy threshold in nats (0: every step is biased and scored). With a threshold, a
 * processor biases only steps whose logits' softmax (before any bias; over the candidates for
 * tm_processor_apply_candidates) has at least this entropy, and detection needs the per-step
 * entropy (tm_detect_with_entropy). Thread-safe. */
TM_API tm_status tm_key_get_entropy_threshold(const tm_key* key, double* out);

/* ---- Processors (embedding) ------------------------------------------------------------------ */

/* Options of a processor, an extensible struct. Always start from tm_processor_params_init. */
typedef struct tm_processor_params {
  uint32_t size;  /* the caller's sizeof(tm_processor_params), set by tm_processor_params_init; at least 8 */
  /* Logits arrays may be wider than the key's vocabulary (engines pad the output layer, for
   * example to a multiple of 64): entries at ids >= vocab_size are then left unchanged. When 0, an
   * array of any other length than vocab_size is TM_INVALID_ARGUMENT. Default 1. */
  int32_t allow_padded_logits;
} tm_processor_params;

/* Sets the first `size` bytes of *params to the defaults documented at each field (zero beyond the
 * fields this library knows) and params->size to size. Call it as
 * tm_processor_params_init(&params, sizeof params). Thread-safe. */
TM_API tm_status tm_processor_params_init(tm_processor_params* params, size_t size);

/* Watermarking state for one sequence (one response):
 *   tm_processor_reset(p, prompt ids);  loop { tm_processor_apply(p, logits); sample; tm_processor_accept(p, token); }
 * Not thread-safe: one processor per sequence, used by one thread at a time. Different processors
 * may be used concurrently. */
typedef struct tm_processor tm_processor;

/* A new processor for key (params may be NULL: defaults; else made by tm_processor_params_init). The processor does not borrow key: it may
 * outlive it. On TM_OK *out is owned by the caller (free with tm_processor_free). It starts as
 * after tm_processor_reset with an empty prompt. */
TM_API tm_status tm_processor_create(const tm_key* key, const tm_processor_params* params, tm_processor** out);

/* Frees a processor; NULL is allowed. */
TM_API void tm_processor_free(tm_processor* processor);

/* An independent copy (for a sequence that forks: beam search, n > 1). *out is owned by the caller. */
TM_API tm_status tm_processor_clone(const tm_processor* processor, tm_processor** out);

/* Starts a new response. The last h ids of the prompt seed the first contexts (prompt may be NULL
 * when prompt_length is 0). Ids are not checked against the vocabulary. */
TM_API tm_status tm_processor_reset(tm_processor* processor, const uint32_t* prompt, size_t prompt_length);

/* Adds delta to the green logits of the current step, in place. logits[i] is the logit of token id
 * i; n_logits must be vocab_size (or more with allow_padded_logits). The caller keeps ownership. */
TM_API tm_status tm_processor_apply(tm_processor* processor, float* logits, size_t n_logits);

/* One entry of a candidate array (after top-k, for example): any order, any subset of ids. */
typedef struct tm_candidate {
  uint32_t id;
  float logit;
} tm_candidate;

/* Adds delta to the green candidates, in place. An id >= vocab_size is TM_INVALID_ARGUMENT and
 * then no candidate is changed. */
TM_API tm_status tm_processor_apply_candidates(tm_processor* processor, tm_candidate* candidates, size_t count);

/* Records the sampled token and moves to the next step. */
TM_API tm_status tm_processor_accept(tm_processor* processor, uint32_t token);

/* Sampling schemes (gumbel-max keys). Such a processor does not bias (tm_processor_apply only checks
 * the length and leaves the logits as they are): it picks the token itself, an exact draw from the
 * softmax of the logits given, with the key's randomness at keyed steps:
 *   tm_processor_reset(p, prompt);  loop { tm_processor_choose(p, final logits, n, &token); tm_processor_accept(p, token); }
 * Give the logits after temperature, top-k, top-p and penalties (entries of -INFINITY are never
 * chosen). tm_processor_chooses_token says which kind a processor is (1: call tm_processor_choose).
 * The choose functions on a green-list processor are TM_INVALID_ARGUMENT. */
TM_API int tm_processor_chooses_token(const tm_processor* processor);
/* *token is the chosen id (< vocab_size; padding columns with allow_padded_logits are never chosen). */
TM_API tm_status tm_processor_choose(tm_processor* processor, const float* logits, size_t n_logits, uint32_t* token);
/* The choice among candidates (any order, any subset); an id >= vocab_size is TM_INVALID_ARGUMENT. */
TM_API tm_status tm_processor_choose_candidates(tm_processor* processor, const tm_candidate* candidates, size_t count,
                                                uint32_t* token);

/* 1 if the context allows a bias at the current step, 0 if not (context not yet full, or a
 * context already used in this response: those are left unbiased and the detector skips them).
 * With an entropy threshold, tm_processor_apply may still leave the step alone (see below). */
TM_API int tm_processor_will_bias(const tm_processor* processor);

/* After tm_processor_apply or tm_processor_apply_candidates: *biased (if not NULL) is 1 when that
 * step was biased; *entropy (if not NULL) is the entropy in nats the processor measured there, or
 * -1 when it measured none (no threshold, or the context allowed no bias). A serving engine that
 * records it per token lets detection select the same steps without a reference model. */
TM_API tm_status tm_processor_last_step(const tm_processor* processor, int* biased, double* entropy);

/* Batch helpers over a row-major [batch x row_stride] float matrix: row b (n_logits entries at
 * logits + b * row_stride) belongs to processors[b]. A NULL processor leaves its row unchanged.
 * The processors must be distinct. On an error no later row is touched and the message names the
 * row. */
TM_API tm_status tm_processor_apply_batch(tm_processor* const* processors, size_t batch, float* logits,
                                          size_t row_stride, size_t n_logits);
/* tokens[b] is accepted by processors[b] (NULL processors are skipped). */
TM_API tm_status tm_processor_accept_batch(tm_processor* const* processors, size_t batch, const uint32_t* tokens);

/* ---- Keyrings (per-request keys) ------------------------------------------------------------- */
/* A keyring (`tracemark keyring new`): one master secret and one subkey per label (model:VERSION,
 * cohort:NAME, epoch:YYYY-MM, global:NAME). A serving engine picks a label per request (for example
 * by the account's cohort) and watermarks the request with that label's subkey. Subkeys are derived
 * once per label and kept in the ring (thread-safe), so asking for a label per request is cheap.
 * Freeing the ring does not invalidate keys or processors made from it. */
typedef struct tm_keyring tm_keyring;
/* Loads a keyring file. The same refusals as tm_key_load (TM_PERMISSION for a file readable or
 * writable by group or others; TM_UNSUPPORTED; TM_INVALID_INPUT for an edited file). On TM_OK *out
 * is a new ring the caller owns (free with tm_keyring_free). Thread-safe. */
TM_API tm_status tm_keyring_load(const char* path, tm_keyring** out);
/* Frees a ring (NULL is allowed) and wipes its master secret and cached subkeys. Not concurrently
 * with other uses of it. */
TM_API void tm_keyring_free(tm_keyring* ring);
/* The number of labels in the ring, and label `index` (0 .. count - 1, sorted bytewise) as a
 * NUL-terminated string owned by the ring (valid until tm_keyring_free). Thread-safe. */
TM_API tm_status tm_keyring_label_count(const tm_keyring* ring, size_t* out);
TM_API tm_status tm_keyring_label(const tm_keyring* ring, size_t index, const char** out);
/* The subkey of `label` as an ordinary key (tm_key_get_info gives its key_id, the id audit logs
 * record). A label not in the ring is TM_INVALID_ARGUMENT (the message lists the ring's labels):
 * nothing is watermarked under a key the ring's published root does not commit to. *out is owned
 * by the caller (free with tm_key_free). Thread-safe. */
TM_API tm_status tm_keyring_derive(const tm_keyring* ring, const char* label, tm_key** out);
/* A processor for one request watermarked with the subkey of `label`: the same as tm_keyring_derive
 * then tm_processor_create, without deriving again (params may be NULL). Errors as
 * tm_keyring_derive. *out is owned by the caller (free with tm_processor_free). Thread-safe. */
TM_API tm_status tm_processor_create_for_label(const tm_keyring* ring, const char* label, const tm_processor_params* params,
                                               tm_processor** out);
/* ---- Device-resident bias (docs/DESIGN.md, "Device path") ------------------------------------ */
/* A serving engine that keeps the logits on an accelerator computes the bias there: the key's
 * per-token table lives on the device once per key, and each step the host computes only the
 * per-row context seeds (tm_processor_seeds_batch); the device then evaluates the green list's rule
 * for the whole batch (green_list_scheme.hpp states it). bindings/python/tracemark/device.py is the
 * implementation for torch tensors. */

/* Writes the key's per-token values R[0 .. vocab_size) (the green list's version 2 rule: token t is
 * green in a context of seed s when ((R[t] * (low32(s) | 1)) mod 2^32) XOR high32(s) < threshold,
 * threshold = round(gamma * 2^32) = tm_key_info.null_green_probability * 2^32 exactly) into out[0 .. count). count must be the key's vocab_size.
 * The values are key material: whoever holds them can tell green tokens in any context whose seed
 * they know, so keep them in process memory (or device memory) only, never log or store them, and
 * wipe the caller's copy when done. A key whose scheme has no per-token table (kgw-green-list
 * version 1) is TM_UNSUPPORTED. Thread-safe. */
TM_API tm_status tm_key_export_token_values(const tm_key* key, uint32_t* out, size_t count);

/* Outputs of tm_processor_seeds_batch, an extensible struct (see the conventions above): the
 * library writes through the pointers it knows; a NULL pointer leaves that output unwritten. */
typedef struct tm_batch_seeds {
  uint32_t size;       /* the caller's sizeof(tm_batch_seeds); at least 24 */
  uint64_t* seeds;     /* batch entries: the context seed of row b's current step (0 where will_bias is 0) */
  uint8_t* will_bias;  /* batch entries: tm_processor_will_bias of row b (0 for a NULL processor) */
} tm_batch_seeds;

/* For row b of a batch, processors[b]'s current seed and whether its context allows a bias (full
 * and not repeated in this response). The entropy threshold is not applied here: it needs the
 * step's logits, and the device path measures it there. A NULL processor gives will_bias 0. Reads
 * the processors only (no state changes). */
TM_API tm_status tm_processor_seeds_batch(tm_processor* const* processors, size_t batch, tm_batch_seeds* out);

/* ---- Detection ------------------------------------------------------------------------------- */

/* The test "more green tokens than chance" over one token sequence. Each distinct (context, token)
 * tuple is scored once; tuples whose context repeats an earlier context of the sequence and the
 * first h tokens are skipped, exactly as the processor leaves them unbiased. */
typedef struct tm_detection {
  uint64_t tokens;  /* ids read */
  uint64_t scored;  /* distinct tuples scored */
  uint64_t green;   /* of which green */
  double gamma;     /* null probability of green per scored tuple */
  double z;         /* (green - gamma scored) / sqrt(scored gamma (1 - gamma)); descriptive only */
  double p_value;   /* exact binomial upper tail P(X >= green); underflows to 0 below ~1e-308 */
  double log10_p;   /* log10 of the p-value, exact far below the smallest double: report this */
} tm_detection;

/* Scores tokens[0 .. count) (a response, without its prompt) against key. An id >= vocab_size is
 * TM_INVALID_INPUT naming its position. Thread-safe (key is only read). */
TM_API tm_status tm_detect(const tm_key* key, const uint32_t* tokens, size_t count, tm_detection* out);
/* A key with an entropy threshold makes tm_detect return TM_INVALID_ARGUMENT (saying what to give):
 * only steps whose entropy reached the threshold may be scored. Give entropy[0 .. count): the
 * protected model's entropy (nats) before each token, as serving measured it; steps below the
 * threshold are skipped. For a key without a threshold the entropy is ignored. Thread-safe. */
TM_API tm_status tm_detect_with_entropy(const tm_key* key, const uint32_t* tokens, const float* entropy, size_t count,
                                        tm_detection* out);

/* Detection with a key of any scheme (issue 18), each with its own exact test. An extensible
 * struct: set size = sizeof(tm_scheme_detection) before the call, which sets it to the bytes it
 * filled. Same dedup and skipping rules as tm_detect. */
typedef struct tm_scheme_detection {
  uint32_t size;     /* the caller's sizeof(tm_scheme_detection); at least 56 */
  uint32_t scheme;   /* the key's tm_scheme_kind */
  uint64_t tokens;   /* ids read */
  uint64_t scored;   /* distinct tuples scored */
  /* The test's statistic: green tuples (green list; null Binomial(scored, gamma)); the sum of
   * -ln(1 - r) (gumbel-max; null Gamma(scored, 1)); g-values equal to 1 (tournament; null
   * Binomial(scored m, 1/2)). */
  double statistic;
  double null_mean;  /* the statistic's mean under the null: gamma scored, scored, or scored m / 2 */
  double p_value;    /* exact upper tail; underflows to 0 below ~1e-308 */
  double log10_p;    /* log10 of the p-value, exact far below the smallest double: report this */
} tm_scheme_detection;

/* Scores tokens[0 .. count) (a response, without its prompt) with the key's own scheme and test. An
 * id >= vocab_size is TM_INVALID_INPUT naming its position; a green-list key with an entropy
 * threshold is TM_INVALID_ARGUMENT (use tm_detect_with_entropy). Thread-safe (key is only read). */
TM_API tm_status tm_detect_scheme(const tm_key* key, const uint32_t* tokens, size_t count, tm_scheme_detection* out);

#ifdef __cplusplus
}
#endif

#endif /* TRACEMARK_TRACEMARK_H */
