/* bg_crossval_tensor / bg_crossval_model from C, against a library built with the feature
 * `crossval` (CMake option BITGGUF_CROSSVAL=ON; scripts/test.sh step 4b).
 *
 * A GGUF file is written byte by byte in memory: Q8_0, F32, IQ4_NL and a TL1 tensor (the
 * hand-checked vector of reference/bitnet-formats.md §9.4) with its tile key
 * `bitgguf.tl.<name>` = UINT32 [BM, BK, bm]. Every tensor must match the C++ reference bit for
 * bit; the reports' fields, the summary, the contract (NULLs, index out of range, outputs
 * untouched on error) and a TL1 tensor without its key (an ERROR verdict, never a match) are
 * checked. With BG_GEMMA_PATH naming the Gemma 3 270M Q4_K_M file, all 236 tensors must match
 * too (otherwise that part prints SKIPPED and the rest still runs). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* ---- a tiny byte writer ------------------------------------------------------------------- */
typedef struct {
  uint8_t *p;
  size_t len, cap;
} buf;

static void put(buf *b, const void *src, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    uint8_t *q = (uint8_t *)realloc(b->p, cap);
    if (!q) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
    b->p = q;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, src, n);
  b->len += n;
}
static void put_le(buf *b, uint64_t v, int n) {
  uint8_t t[8];
  for (int i = 0; i < n; i++) t[i] = (uint8_t)(v >> (8 * i));
  put(b, t, (size_t)n);
}
static void put_str(buf *b, const char *s) {
  put_le(b, strlen(s), 8);
  put(b, s, strlen(s));
}
static void pad(buf *b, size_t a) {
  static const uint8_t z[64] = {0};
  while (b->len % a) put(b, z, 1);
}

typedef struct {
  const char *name;
  uint32_t disk_type;
  uint64_t ne0, ne1;
  const uint8_t *data;
  size_t n;
} tensor;

/* GGUF v3: the given tensors, alignment 32, and (when tile != NULL) the key bitgguf.tl.<tl_name>. */
static void write_gguf(buf *b, const tensor *t, int nt, const char *tl_name, const uint32_t *tile) {
  put(b, "GGUF", 4);
  put_le(b, 3, 4);
  put_le(b, (uint64_t)nt, 8);
  put_le(b, tile ? 1 : 0, 8);
  if (tile) {
    char key[128];
    snprintf(key, sizeof key, "bitgguf.tl.%s", tl_name);
    put_str(b, key);
    put_le(b, 9, 4); /* ARRAY */
    put_le(b, 4, 4); /* of UINT32 */
    put_le(b, 3, 8);
    for (int j = 0; j < 3; j++) put_le(b, tile[j], 4);
  }
  uint64_t off = 0;
  for (int i = 0; i < nt; i++) {
    put_str(b, t[i].name);
    put_le(b, 2, 4);
    put_le(b, t[i].ne0, 8);
    put_le(b, t[i].ne1, 8);
    put_le(b, t[i].disk_type, 4);
    put_le(b, off, 8);
    off += (t[i].n + 31) / 32 * 32;
  }
  pad(b, 32);
  for (int i = 0; i < nt; i++) {
    put(b, t[i].data, t[i].n);
    pad(b, 32);
  }
}

static const bg_crossval_report UNTOUCHED = {77, 77, 77, 77, 77, 77, 77, 77, 77.0, 77, 77.0f, 77.0f, 77, 77};

static int same_report(const bg_crossval_report *a, const bg_crossval_report *b) {
  return memcmp(a, b, sizeof *a) == 0;
}

/* The §9.4 TL1 vector: M = 32, K = 16, BM = 32, BK = 16, bm = 32; t[m][k] = ((m+k) mod 3) - 1.
 * Payload rows of 16 bytes cycle through three patterns. */
static void tl1_vector(uint8_t out[160], float scale) {
  static const uint8_t row_a[3] = {0x16, 0x51, 0x65}; /* 16 51 65 16 51 65 ... */
  static const int start[8] = {0, 1, 1, 2, 2, 0, 0, 1}; /* phase of each 16-byte line */
  for (int line = 0; line < 8; line++) {
    for (int j = 0; j < 16; j++) out[16 * line + j] = row_a[(start[line] + j) % 3];
  }
  memcpy(out + 128, &scale, 4); /* little-endian hosts only (checked in main) */
  memset(out + 132, 0, 28);
}

static void check_report_match(bg_model *m, size_t i, uint64_t n_elements, uint32_t type) {
  bg_crossval_report r = UNTOUCHED;
  CHECK_OK(bg_crossval_tensor(m, i, &r));
  CHECK_MSG(r.verdict == BG_CROSSVAL_MATCH, "tensor %zu: verdict %u, diff_mask %u, unsupported %u", i,
            r.verdict, r.diff_mask, r.unsupported_mask);
  CHECK(r.diff_mask == 0 && r.unsupported_mask == 0);
  CHECK(r.type_id == type);
  CHECK(r.n_elements == n_elements && r.n_compared == n_elements && r.n_mismatched == 0);
  CHECK(r.max_ulp == 0 && r.max_abs_diff == 0.0);
  CHECK(r.first_diff_index == BG_CROSSVAL_NO_INDEX);
  CHECK(r.hash_rust == r.hash_reference && r.hash_rust != 0);
}

int main(void) {
  const uint16_t one = 1;
  if (*(const uint8_t *)&one != 1) {
    printf("SKIPPED: the test writes little-endian floats with memcpy\n");
    return T_SKIP;
  }
  /* Q8_0 [64, 2]: d = 1.0, small integers. */
  uint8_t q8[4 * 34];
  for (int blk = 0; blk < 4; blk++) {
    q8[34 * blk] = 0x00;
    q8[34 * blk + 1] = 0x3c;
    for (int j = 0; j < 32; j++) q8[34 * blk + 2 + j] = (uint8_t)((j * 7 + blk) % 200);
  }
  float f32v[5] = {1.0f, -2.5f, 0.0f, 3.25f, -0.0f};
  uint8_t f32b[20];
  memcpy(f32b, f32v, sizeof f32b);
  /* IQ4_NL [64]: two blocks, d = 0.5 and 2.0, every nibble. */
  uint8_t iq[36];
  iq[0] = 0x00, iq[1] = 0x38, iq[18] = 0x00, iq[19] = 0x40;
  for (int j = 0; j < 16; j++) iq[2 + j] = (uint8_t)(j | (15 - j) << 4), iq[20 + j] = (uint8_t)(j * 17);
  uint8_t tl1[160];
  tl1_vector(tl1, 0.75f);

  const tensor ts[4] = {
      {"w.q8_0", 8, 64, 2, q8, sizeof q8},
      {"w.f32", 0, 5, 1, f32b, sizeof f32b},
      {"w.iq4_nl", 20, 64, 1, iq, sizeof iq},
      {"w.tl1", 38, 16, 32, tl1, sizeof tl1},
  };
  const uint32_t tile[3] = {32, 16, 32};
  buf file = {0};
  write_gguf(&file, ts, 4, "w.tl1", tile);

  bg_model *m = NULL;
  CHECK_OK(bg_load_from_memory(file.p, file.len, NULL, &m));
  if (!m) return t_finish("crossval");
  check_report_match(m, 0, 128, BG_TYPE_Q8_0);
  check_report_match(m, 1, 5, BG_TYPE_F32);
  check_report_match(m, 2, 64, BG_TYPE_IQ4_NL);
  check_report_match(m, 3, 512, BG_TYPE_TL1);

  bg_crossval_summary s;
  memset(&s, 0x55, sizeof s);
  CHECK_OK(bg_crossval_model(m, &s));
  CHECK(s.n_tensors == 4 && s.n_matched == 4);
  CHECK(s.n_mismatched == 0 && s.n_skipped == 0 && s.n_errors == 0 && s.n_file_failures == 0);
  CHECK(s.first_failure_index == BG_CROSSVAL_NO_INDEX);

  /* Contract: errors leave the outputs untouched. */
  bg_crossval_report r = UNTOUCHED;
  CHECK_STATUS(bg_crossval_tensor(m, 4, &r), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK(same_report(&r, &UNTOUCHED));
  CHECK_STATUS(bg_crossval_tensor(NULL, 0, &r), BG_STATUS_NULL_PARAMETER);
  CHECK_STATUS(bg_crossval_tensor(m, 0, NULL), BG_STATUS_NULL_PARAMETER);
  CHECK_STATUS(bg_crossval_model(NULL, &s), BG_STATUS_NULL_PARAMETER);
  CHECK_STATUS(bg_crossval_model(m, NULL), BG_STATUS_NULL_PARAMETER);
  CHECK(same_report(&r, &UNTOUCHED));
  bg_free(m);

  /* The same TL1 tensor without its tile key: not comparable, an ERROR (never a match). */
  buf nokey = {0};
  write_gguf(&nokey, ts + 3, 1, NULL, NULL);
  m = NULL;
  CHECK_OK(bg_load_from_memory(nokey.p, nokey.len, NULL, &m));
  if (m) {
    r = UNTOUCHED;
    CHECK_OK(bg_crossval_tensor(m, 0, &r));
    CHECK(r.verdict == BG_CROSSVAL_ERROR && r.n_compared == 0);
    CHECK_OK(bg_crossval_model(m, &s));
    CHECK(s.n_tensors == 1 && s.n_matched == 0 && s.n_errors == 1 && s.first_failure_index == 0);
    bg_free(m);
  }
  free(nokey.p);
  free(file.p);

  /* The real model, when there. */
  const char *gemma = getenv("BG_GEMMA_PATH");
  FILE *probe = gemma ? fopen(gemma, "rb") : NULL;
  if (!probe) {
    printf("SKIPPED: crossval of Gemma 3 270M: BG_GEMMA_PATH %s\n", gemma ? "does not exist" : "is not set");
  } else {
    fclose(probe);
    m = NULL;
    CHECK_OK(bg_load(gemma, NULL, &m));
    if (m) {
      CHECK_OK(bg_crossval_model(m, &s));
      CHECK_MSG(s.n_tensors == 236 && s.n_matched == 236 && s.n_file_failures == 0,
                "gemma: %llu tensors, %llu matched, first failure %llu", (unsigned long long)s.n_tensors,
                (unsigned long long)s.n_matched, (unsigned long long)s.first_failure_index);
      printf("gemma: %llu/%llu tensors match the C++ reference%s\n", (unsigned long long)s.n_matched,
             (unsigned long long)s.n_tensors, getenv("BG_GGML_LIB") ? " and real ggml" : "");
      bg_free(m);
    }
  }
  return t_finish("crossval");
}
