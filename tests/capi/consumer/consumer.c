/* A small C99 program built against the installed tracemark package (tests/capi/install_test.sh):
 * loads the golden key, biases logits and candidates, checks an error, generates a watermarked
 * sequence and detects it. Prints lines the test compares exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tracemark/tracemark.h>

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint32_t next_random(void) { /* xorshift64*: deterministic test input */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static int check(tm_status status, const char* what) {
  if (status != TM_OK) {
    fprintf(stderr, "%s failed: %s: %s\n", what, tm_status_name(status), tm_last_error());
    return 0;
  }
  return 1;
}

int main(int argc, char** argv) {
  tm_key* key = NULL;
  tm_key_info info;
  tm_processor* processor = NULL;
  float* logits;
  const uint32_t prompt_a[2] = {0, 0};
  const uint32_t prompt_b[2] = {1, 2};
  const uint32_t probe[5] = {0, 1, 2, 1000, 50256};
  tm_candidate candidates[40];
  uint32_t tokens[300];
  tm_detection detection;
  tm_status status;
  size_t i, step;

  if (argc != 2) {
    fprintf(stderr, "usage: consumer KEY_FILE\n");
    return 2;
  }
  printf("abi %d version %s\n", TM_ABI_VERSION, tm_version());
  if (!check(tm_key_load(argv[1], &key), "tm_key_load")) return 1;
  info.size = sizeof info;
  if (!check(tm_key_get_info(key, &info), "tm_key_get_info")) return 1;
  printf("key %s vocab %u h %u gamma %.2f\n", info.key_id, info.vocab_size, info.context_width, info.gamma);

  if (!check(tm_processor_create(key, NULL, &processor), "tm_processor_create")) return 1;
  logits = calloc(info.vocab_size, sizeof *logits);
  if (logits == NULL) return 1;
  if (!check(tm_processor_reset(processor, prompt_a, 2), "tm_processor_reset")) return 1;
  if (!check(tm_processor_apply(processor, logits, info.vocab_size), "tm_processor_apply")) return 1;
  printf("full [0,0]:");
  for (i = 0; i < 5; ++i) printf(" %g", (double)logits[probe[i]]);
  printf("\n");

  if (!check(tm_processor_reset(processor, prompt_b, 2), "tm_processor_reset")) return 1;
  for (i = 0; i < 5; ++i) {
    candidates[i].id = probe[i];
    candidates[i].logit = 0.0f;
  }
  if (!check(tm_processor_apply_candidates(processor, candidates, 5), "tm_processor_apply_candidates")) return 1;
  printf("candidates [1,2]:");
  for (i = 0; i < 5; ++i) printf(" %g", (double)candidates[i].logit);
  printf("\n");

  status = tm_processor_apply(processor, logits, 10);
  printf("short logits: %s\n", tm_status_name(status));

  /* Watermarked generation over random top-40 candidates: argmax after the bias. */
  tm_processor_reset(processor, NULL, 0);
  for (step = 0; step < 300; ++step) {
    size_t best = 0;
    for (i = 0; i < 40; ++i) {
      candidates[i].id = next_random() % info.vocab_size;
      candidates[i].logit = (float)(next_random() % 3000) / 1000.0f;
    }
    if (!check(tm_processor_apply_candidates(processor, candidates, 40), "tm_processor_apply_candidates")) return 1;
    for (i = 1; i < 40; ++i) {
      if (candidates[i].logit > candidates[best].logit) best = i;
    }
    tokens[step] = candidates[best].id;
    if (!check(tm_processor_accept(processor, tokens[step]), "tm_processor_accept")) return 1;
  }
  if (!check(tm_detect(key, tokens, 300, &detection), "tm_detect")) return 1;
  printf("watermarked: tokens %llu, p below 1e-10: %s\n", (unsigned long long)detection.tokens,
         detection.log10_p < -10.0 ? "yes" : "no");
  for (step = 0; step < 300; ++step) tokens[step] = next_random() % info.vocab_size;
  if (!check(tm_detect(key, tokens, 300, &detection), "tm_detect")) return 1;
  printf("random: tokens %llu, p above 1e-3: %s\n", (unsigned long long)detection.tokens,
         detection.p_value > 1e-3 ? "yes" : "no");

  tm_processor_free(processor);
  tm_key_free(key);
  tm_processor_free(NULL);
  tm_key_free(NULL);
  free(logits);
  return 0;
}
