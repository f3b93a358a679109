/* The C ABI's contract from C, for every function of bitgguf.h (scripts/test.sh checks that
 * every function the header declares is called here; tests/ffi_contract.rs is the Rust twin):
 *
 *   - NULL in each pointer argument, one at a time, the others valid: BG_STATUS_NULL_PARAMETER
 *     (or NULL / 0 for functions without a status), and no output written (sentinels);
 *   - wrong values of the right type: out-of-range indices (SIZE_MAX), unknown enum values,
 *     too-small buffers; outputs untouched;
 *   - *_free(NULL) is a no-op; retain/free reference counting;
 *   - concurrent queries and dequantization on one model from 8 threads, each result compared
 *     with the single-threaded one, each thread with its own last error message.
 *
 * Built and run by ctest, also under ASan+UBSan (scripts/test.sh step 5) and valgrind with
 * --error-exitcode (step 6), so a stray read or write through any argument fails CI. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitgguf.h"
#include "test_util.h"

#define NP BG_STATUS_NULL_PARAMETER

/* ---- a minimal GGUF v3 writer (little-endian) --------------------------------------------- */

static uint8_t g_file[4096];
static size_t g_len;

static void w_le(uint64_t v, int n) {
  int i;
  for (i = 0; i < n; ++i) g_file[g_len++] = (uint8_t)(v >> (8 * i));
}
static void w_str(const char *s) {
  size_t n = strlen(s);
  w_le(n, 8);
  memcpy(g_file + g_len, s, n);
  g_len += n;
}
static void w_pad(void) {
  while (g_len % 32) g_file[g_len++] = 0;
}

/* Two KVs of interest (a u32, a string array, an f32 array, a string) and two tensors:
 * "a" f32[8] = 0..7 and "q" q8_0[32] with d = 1.0 (f16 0x3c00) and qs = -16..15. */
static void build_model(void) {
  int i;
  g_len = 0;
  memcpy(g_file, "GGUF", 4);
  g_len = 4;
  w_le(3, 4);
  w_le(2, 8); /* tensors */
  w_le(4, 8); /* kvs */
  w_str("general.architecture");
  w_le(8, 4);
  w_str("llama");
  w_str("llama.block_count");
  w_le(4, 4);
  w_le(2, 4);
  w_str("tokenizer.ggml.tokens");
  w_le(9, 4);
  w_le(8, 4);
  w_le(2, 8);
  w_str("<s>");
  w_str("hello");
  w_str("scores");
  w_le(9, 4);
  w_le(6, 4);
  w_le(2, 8);
  w_le(0x3f800000u, 4); /* 1.0f */
  w_le(0xc0000000u, 4); /* -2.0f */
  w_str("a");
  w_le(1, 4);
  w_le(8, 8);
  w_le(0, 4); /* f32 */
  w_le(0, 8);
  w_str("q");
  w_le(1, 4);
  w_le(32, 8);
  w_le(8, 4); /* q8_0 */
  w_le(32, 8);
  w_pad();
  for (i = 0; i < 8; ++i) {
    float f = (float)i;
    uint32_t u;
    memcpy(&u, &f, 4);
    w_le(u, 4);
  }
  w_le(0x3c00, 2);
  for (i = 0; i < 32; ++i) g_file[g_len++] = (uint8_t)(int8_t)(i - 16);
  w_pad();
}

static bg_model *load(void) {
  bg_model *m = NULL;
  CHECK_OK(bg_load_from_memory(g_file, g_len, NULL, &m));
  return m;
}

static size_t find_kv(const bg_model *m, const char *key) {
  size_t i = (size_t)-1;
  CHECK_OK(bg_meta_find(m, key, &i));
  return i;
}

/* ---- NULL for every pointer argument ----------------------------------------------------- */

/* Fill an output with 0xA5 bytes; SAME checks it still holds them. */
#define SENTINEL(x) memset(&(x), 0xA5, sizeof(x))
static int all_a5(const void *p, size_t n) {
  const unsigned char *c = (const unsigned char *)p;
  size_t i;
  for (i = 0; i < n; ++i)
    if (c[i] != 0xA5) return 0;
  return 1;
}
#define UNTOUCHED(x) CHECK_MSG(all_a5(&(x), sizeof(x)), "%s was written", #x)

static void test_nulls(void) {
  bg_model *m = load();
  bg_model *mo;
  bg_load_options *o;
  size_t ix, len, pi, tok, sc, sz, written;
  uint64_t u64v;
  uint32_t u32v;
  const char *sp;
  const uint8_t *dp;
  bg_meta_desc md;
  bg_tensor_desc td;
  bg_crossval_report rep;
  bg_crossval_summary sum;
  bg_cuda_device_desc cuda_info;
  unsigned char buf[256];
  uint8_t src[34];
  float f[32];
  int i;

  pi = find_kv(m, "llama.block_count");
  tok = find_kv(m, "tokenizer.ggml.tokens");
  sc = find_kv(m, "scores");

  /* status, version, types */
  CHECK(bg_status_str(0xFFFFFFFFu) != NULL);
  CHECK(bg_version() != NULL);
  CHECK(bg_abi_version() == BG_ABI_VERSION);
  CHECK(bg_type_name(0xFFFFFFFFu) == NULL);
  SENTINEL(u32v);
  CHECK_STATUS(bg_type_from_name(NULL, &u32v), NP);
  CHECK_STATUS(bg_type_from_name("q8_0", NULL), NP);
  CHECK_STATUS(bg_type_from_name("no_such_type", &u32v), BG_STATUS_NOT_FOUND);
  UNTOUCHED(u32v);
  CHECK_STATUS(bg_last_error_message(NULL, 0, NULL), NP);
  SENTINEL(buf);
  CHECK_STATUS(bg_last_error_message((char *)buf, 0, &len), BG_STATUS_INSUFFICIENT_SIZE);
  UNTOUCHED(buf);

  /* options */
  o = bg_load_options_new();
  CHECK(o != NULL);
  CHECK_STATUS(bg_load_options_set_type_policy(NULL, BG_TYPE_POLICY_AUTO), NP);
  CHECK_STATUS(bg_load_options_set_type_policy(o, 99), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_use_mmap(NULL, false), NP);
  CHECK_STATUS(bg_load_options_set_limit(NULL, BG_LIMIT_MAX_KV, 1), NP);
  CHECK_STATUS(bg_load_options_set_limit(o, 99, 1), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_limit(o, BG_LIMIT_MAX_KV, 0), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_tl_config(NULL, 32, 64, 32), NP);
  CHECK_STATUS(bg_load_options_set_tl_config(o, 32, 0, 32), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_tl_preset(NULL, "bitnet-3b"), NP);
  CHECK_STATUS(bg_load_options_set_tl_preset(o, "no-such-model"), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_tl_preset(o, NULL), BG_STATUS_OK);
  CHECK_STATUS(bg_load_options_set_i2s_layout(NULL, BG_I2S_LAYOUT_GROUP_64), NP);
  CHECK_STATUS(bg_load_options_set_i2s_layout(o, 7), BG_STATUS_INVALID_PARAMETER);
  bg_load_options_free(NULL);

  /* loading */
  SENTINEL(mo);
  CHECK_STATUS(bg_load(NULL, o, &mo), NP);
  CHECK_STATUS(bg_load("/nonexistent/model.gguf", o, NULL), NP);
  CHECK_STATUS(bg_load("/nonexistent/model.gguf", o, &mo), BG_STATUS_IO);
  CHECK_STATUS(bg_load_from_memory(NULL, 10, o, &mo), NP);
  CHECK_STATUS(bg_load_from_memory(g_file, g_len, o, NULL), NP);
  CHECK_STATUS(bg_load_from_memory(g_file, 23, o, &mo), BG_STATUS_TRUNCATED);
  UNTOUCHED(mo);
  CHECK(bg_model_retain(NULL) == NULL);
  bg_free(NULL);
  bg_load_options_free(o);

  /* metadata */
  CHECK(bg_meta_count(NULL) == 0);
  SENTINEL(ix);
  CHECK_STATUS(bg_meta_find(NULL, "scores", &ix), NP);
  CHECK_STATUS(bg_meta_find(m, NULL, &ix), NP);
  CHECK_STATUS(bg_meta_find(m, "scores", NULL), NP);
  CHECK_STATUS(bg_meta_find(m, "missing", &ix), BG_STATUS_NOT_FOUND);
  UNTOUCHED(ix);
  SENTINEL(md);
  CHECK_STATUS(bg_meta_info(NULL, 0, &md), NP);
  CHECK_STATUS(bg_meta_info(m, 0, NULL), NP);
  CHECK_STATUS(bg_meta_info(m, (size_t)-1, &md), BG_STATUS_INDEX_OUT_OF_RANGE);
  UNTOUCHED(md);
#define SCALAR(fn, T)                                                   \
  do {                                                                  \
    T v_;                                                               \
    SENTINEL(v_);                                                       \
    CHECK_STATUS(fn(NULL, pi, &v_), NP);                                \
    CHECK_STATUS(fn(m, pi, NULL), NP);                                  \
    CHECK_STATUS(fn(m, (size_t)-1, &v_), BG_STATUS_INDEX_OUT_OF_RANGE); \
    CHECK_STATUS(fn(m, tok, &v_), BG_STATUS_TYPE_MISMATCH);             \
    UNTOUCHED(v_);                                                      \
  } while (0)
  SCALAR(bg_meta_get_u8, uint8_t);
  SCALAR(bg_meta_get_i8, int8_t);
  SCALAR(bg_meta_get_u16, uint16_t);
  SCALAR(bg_meta_get_i16, int16_t);
  SCALAR(bg_meta_get_u32, uint32_t);
  SCALAR(bg_meta_get_i32, int32_t);
  SCALAR(bg_meta_get_f32, float);
  SCALAR(bg_meta_get_bool, bool);
  SCALAR(bg_meta_get_u64, uint64_t);
  SCALAR(bg_meta_get_i64, int64_t);
  SCALAR(bg_meta_get_f64, double);
  SENTINEL(u64v);
  CHECK_STATUS(bg_meta_get_uint(NULL, pi, 10, &u64v), NP);
  CHECK_STATUS(bg_meta_get_uint(m, pi, 10, NULL), NP);
  CHECK_STATUS(bg_meta_get_uint(m, pi, 1, &u64v), BG_STATUS_INVALID_PARAMETER);
  UNTOUCHED(u64v);
  SENTINEL(sp);
  SENTINEL(len);
  CHECK_STATUS(bg_meta_get_str(NULL, 0, &sp, &len), NP);
  CHECK_STATUS(bg_meta_get_str(m, 0, NULL, &len), NP);
  CHECK_STATUS(bg_meta_get_str(m, 0, &sp, NULL), NP);
  CHECK_STATUS(bg_meta_get_str(m, pi, &sp, &len), BG_STATUS_TYPE_MISMATCH);
  CHECK_STATUS(bg_meta_get_arr_str(NULL, tok, 0, &sp, &len), NP);
  CHECK_STATUS(bg_meta_get_arr_str(m, tok, 0, NULL, &len), NP);
  CHECK_STATUS(bg_meta_get_arr_str(m, tok, 0, &sp, NULL), NP);
  CHECK_STATUS(bg_meta_get_arr_str(m, tok, 2, &sp, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(bg_meta_get_arr_str(m, tok, UINT64_MAX, &sp, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  UNTOUCHED(sp);
  UNTOUCHED(len);
  SENTINEL(dp);
  CHECK_STATUS(bg_meta_get_arr_data(NULL, sc, BG_META_F32, &dp, &len), NP);
  CHECK_STATUS(bg_meta_get_arr_data(m, sc, BG_META_F32, NULL, &len), NP);
  CHECK_STATUS(bg_meta_get_arr_data(m, sc, BG_META_F32, &dp, NULL), NP);
  CHECK_STATUS(bg_meta_get_arr_data(m, sc, BG_META_U8, &dp, &len), BG_STATUS_TYPE_MISMATCH);
  CHECK_STATUS(bg_meta_get_arr_data(m, sc, 0xFFFFFFFFu, &dp, &len), BG_STATUS_INVALID_PARAMETER);
  UNTOUCHED(dp);
  UNTOUCHED(len);

  /* tensors */
  CHECK(bg_tensor_count(NULL) == 0);
  CHECK_STATUS(bg_tensor_find(NULL, "a", &ix), NP);
  CHECK_STATUS(bg_tensor_find(m, NULL, &ix), NP);
  CHECK_STATUS(bg_tensor_find(m, "a", NULL), NP);
  CHECK_STATUS(bg_tensor_find(m, "scores", &ix), BG_STATUS_NOT_FOUND);
  UNTOUCHED(ix);
  SENTINEL(td);
  CHECK_STATUS(bg_tensor_info(NULL, 0, &td), NP);
  CHECK_STATUS(bg_tensor_info(m, 0, NULL), NP);
  CHECK_STATUS(bg_tensor_info(m, (size_t)-1, &td), BG_STATUS_INDEX_OUT_OF_RANGE);
  UNTOUCHED(td);
  CHECK_STATUS(bg_tensor_data(NULL, 0, &dp, &len), NP);
  CHECK_STATUS(bg_tensor_data(m, 0, NULL, &len), NP);
  CHECK_STATUS(bg_tensor_data(m, 0, &dp, NULL), NP);
  CHECK_STATUS(bg_tensor_data(m, 2, &dp, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  UNTOUCHED(dp);
  UNTOUCHED(len);

  /* dequantization and quantization */
  SENTINEL(sz);
  CHECK_STATUS(bg_tensor_dequantized_size(NULL, 0, BG_TYPE_F32, &sz), NP);
  CHECK_STATUS(bg_tensor_dequantized_size(m, 0, BG_TYPE_F32, NULL), NP);
  CHECK_STATUS(bg_tensor_dequantized_size(m, 0, BG_TYPE_Q8_0, &sz), BG_STATUS_INVALID_PARAMETER);
  UNTOUCHED(sz);
  SENTINEL(buf);
  CHECK_STATUS(bg_tensor_dequantize(NULL, 0, BG_TYPE_F32, buf, sizeof buf), NP);
  CHECK_STATUS(bg_tensor_dequantize(m, 0, BG_TYPE_F32, NULL, sizeof buf), NP);
  CHECK_STATUS(bg_tensor_dequantize(m, 0, BG_TYPE_F32, buf, 31), BG_STATUS_INSUFFICIENT_SIZE);
  CHECK_STATUS(bg_tensor_dequantize(m, (size_t)-1, BG_TYPE_F32, buf, sizeof buf), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(bg_tensor_dequantize_rows(NULL, 0, 0, 1, BG_TYPE_F32, buf, sizeof buf), NP);
  CHECK_STATUS(bg_tensor_dequantize_rows(m, 0, 0, 1, BG_TYPE_F32, NULL, sizeof buf), NP);
  CHECK_STATUS(bg_tensor_dequantize_rows(m, 0, UINT64_MAX, 2, BG_TYPE_F32, buf, sizeof buf),
               BG_STATUS_INDEX_OUT_OF_RANGE);
  memset(src, 0, sizeof src);
  CHECK_STATUS(bg_dequantize(BG_TYPE_Q8_0, NULL, 34, 32, BG_TYPE_F32, buf, sizeof buf), NP);
  CHECK_STATUS(bg_dequantize(BG_TYPE_Q8_0, src, 34, 32, BG_TYPE_F32, NULL, sizeof buf), NP);
  CHECK_STATUS(bg_dequantize(BG_TYPE_Q8_0, src, 34, 32, BG_TYPE_F32, buf, 127), BG_STATUS_INSUFFICIENT_SIZE);
  CHECK_STATUS(bg_dequantize(BG_TYPE_Q8_0, src, 33, 32, BG_TYPE_F32, buf, sizeof buf), BG_STATUS_INVALID_PARAMETER);
  for (i = 0; i < 32; ++i) f[i] = 0.5f;
  SENTINEL(written);
  CHECK_STATUS(bg_quantize(BG_TYPE_Q8_0, NULL, 32, 32, buf, sizeof buf, &written), NP);
  CHECK_STATUS(bg_quantize(BG_TYPE_Q8_0, f, 32, 32, NULL, sizeof buf, &written), NP);
  CHECK_STATUS(bg_quantize(BG_TYPE_Q8_0, f, 32, 32, buf, sizeof buf, NULL), NP);
  CHECK_STATUS(bg_quantize(BG_TYPE_Q8_0, f, 32, 31, buf, sizeof buf, &written), BG_STATUS_INVALID_PARAMETER);
  UNTOUCHED(written);
  UNTOUCHED(buf);

  /* cross-validation (BG_STATUS_NOT_COMPILED without the feature; NULLs are checked first) */
  SENTINEL(rep);
  SENTINEL(sum);
  CHECK_STATUS(bg_crossval_tensor(NULL, 0, &rep), NP);
  CHECK_STATUS(bg_crossval_tensor(m, 0, NULL), NP);
  CHECK_STATUS(bg_crossval_model(NULL, &sum), NP);
  CHECK_STATUS(bg_crossval_model(m, NULL), NP);
  UNTOUCHED(rep);
  UNTOUCHED(sum);

  /* CUDA queries (BG_STATUS_NOT_COMPILED without the feature gpu; NULLs are checked first) */
  SENTINEL(cuda_info);
  CHECK_STATUS(bg_cuda_device_count(NULL), NP);
  CHECK_STATUS(bg_cuda_device_info(0, NULL), NP);
  UNTOUCHED(cuda_info);

  bg_free(m);
}

/* ---- reference counting ------------------------------------------------------------------ */

static void test_refcount(void) {
  bg_model *m = load();
  bg_model *r = bg_model_retain(m);
  const uint8_t *d = NULL;
  size_t n = 0;
  CHECK(r == m);
  bg_free(m); /* one reference left: the data stays valid */
  CHECK_OK(bg_tensor_data(r, 1, &d, &n));
  CHECK(n == 34 && d != NULL && d[2] == (uint8_t)(int8_t)-16);
  bg_free(r);
}

/* ---- concurrency --------------------------------------------------------------------------- */

#define N_THREADS 8
#define N_ITERS 500

typedef struct {
  bg_model *model;
  int id;
  float want_a[8], want_q[32];
  int failures;
} worker;

static void *work(void *arg) {
  worker *w = (worker *)arg;
  bg_model *m = bg_model_retain(w->model);
  int k;
  for (k = 0; k < N_ITERS; ++k) {
    float got[32];
    size_t ix = 0, len = 0;
    const char *s = NULL;
    uint32_t bc = 0;
    uint8_t v = 0;
    char msg[256];
    if (bg_tensor_find(m, "q", &ix) != BG_STATUS_OK || ix != 1) ++w->failures;
    if (bg_meta_find(m, "tokenizer.ggml.tokens", &ix) != BG_STATUS_OK) ++w->failures;
    if (bg_meta_get_arr_str(m, ix, 1, &s, &len) != BG_STATUS_OK || len != 5 || memcmp(s, "hello", 5) != 0)
      ++w->failures;
    if (bg_meta_find(m, "llama.block_count", &ix) != BG_STATUS_OK || bg_meta_get_u32(m, ix, &bc) != BG_STATUS_OK ||
        bc != 2)
      ++w->failures;
    if ((k + w->id) % 2 == 0) {
      if (bg_tensor_dequantize(m, 0, BG_TYPE_F32, got, 8 * sizeof(float)) != BG_STATUS_OK ||
          memcmp(got, w->want_a, sizeof w->want_a) != 0)
        ++w->failures;
    } else {
      if (bg_tensor_dequantize(m, 1, BG_TYPE_F32, got, sizeof got) != BG_STATUS_OK ||
          memcmp(got, w->want_q, sizeof w->want_q) != 0)
        ++w->failures;
    }
    /* A per-thread last error naming this thread's own index. */
    if (bg_meta_get_u8(m, 1000 + (size_t)w->id, &v) != BG_STATUS_INDEX_OUT_OF_RANGE) ++w->failures;
    if (bg_last_error_message(msg, sizeof msg, &len) != BG_STATUS_OK) {
      ++w->failures;
    } else {
      char needle[32];
      snprintf(needle, sizeof needle, "index %d", 1000 + w->id);
      if (strstr(msg, needle) == NULL) ++w->failures;
    }
  }
  bg_free(m);
  return NULL;
}

static void test_concurrency(void) {
  bg_model *m = load();
  worker w[N_THREADS];
  pthread_t th[N_THREADS];
  float a[8], q[32];
  int i;
  CHECK_OK(bg_tensor_dequantize(m, 0, BG_TYPE_F32, a, sizeof a));
  CHECK_OK(bg_tensor_dequantize(m, 1, BG_TYPE_F32, q, sizeof q));
  CHECK(a[7] == 7.0f && q[0] == -16.0f && q[31] == 15.0f);
  for (i = 0; i < N_THREADS; ++i) {
    w[i].model = m;
    w[i].id = i;
    w[i].failures = 0;
    memcpy(w[i].want_a, a, sizeof a);
    memcpy(w[i].want_q, q, sizeof q);
    CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
  }
  for (i = 0; i < N_THREADS; ++i) {
    CHECK(pthread_join(th[i], NULL) == 0);
    CHECK_MSG(w[i].failures == 0, "thread %d: %d failed checks", i, w[i].failures);
  }
  bg_free(m);
}

/* ---- placement and progressive loading (ffi/placement.rs, ffi/progress.rs) ------------------ */

static bool progress_ok(const bg_progress *p, void *user) {
  (void)p;
  (void)user;
  return true;
}

static void test_placement_nulls(void) {
  bg_model *m = load();
  bg_load_options *o = bg_load_options_new();
  bg_plan *plan;
  bg_tensor_placement tp;
  bg_device_usage du;
  bg_fallback_info fi;
  bg_device_memory dm;
  bg_device_id did;
  uint64_t ptr, n64;
  const uint8_t *dp;
  size_t len;
  uint32_t ty;
  double split[1] = {1.0};

  memset(&dm, 0, sizeof dm);
  CHECK_STATUS(bg_load_options_set_strategy(NULL, BG_STRATEGY_GPU), NP);
  CHECK_STATUS(bg_load_options_set_output_type(NULL, BG_ROLE_ALL, BG_TYPE_F32), NP);
  CHECK_STATUS(bg_load_options_add_device(NULL, &dm), NP);
  CHECK_STATUS(bg_load_options_add_device(o, NULL), NP);
  CHECK_STATUS(bg_load_options_clear_devices(NULL), NP);
  CHECK_STATUS(bg_load_options_set_gpu_budget_fraction(NULL, 0.5), NP);
  CHECK_STATUS(bg_load_options_set_tensor_split(NULL, split, 1), NP);
  CHECK_STATUS(bg_load_options_set_tensor_split(o, NULL, 1), NP);
  CHECK_STATUS(bg_load_options_set_n_gpu_layers(NULL, 1), NP);
  CHECK_STATUS(bg_load_options_set_staging_budget(NULL, 1), NP);
  CHECK_STATUS(bg_load_options_set_read_mode(NULL, BG_READ_MODE_PREAD), NP);
  CHECK_STATUS(bg_load_options_set_populate(NULL, true), NP);
  CHECK_STATUS(bg_load_options_set_progress(NULL, progress_ok, NULL), NP);
  CHECK_OK(bg_load_options_set_progress(o, NULL, NULL));

  SENTINEL(plan);
  CHECK_STATUS(bg_model_plan(NULL, &plan), NP);
  CHECK_STATUS(bg_model_plan(m, NULL), NP);
  UNTOUCHED(plan);
  CHECK(bg_plan_strategy(NULL) == BG_STRATEGY_CPU);
  CHECK(bg_plan_tensor_count(NULL) == 0);
  CHECK(bg_plan_device_count(NULL) == 0);
  CHECK(bg_plan_fallback_count(NULL) == 0);
  SENTINEL(tp);
  SENTINEL(du);
  SENTINEL(fi);
  CHECK_STATUS(bg_plan_tensor(NULL, 0, &tp), NP);
  CHECK_STATUS(bg_plan_device(NULL, 0, &du), NP);
  CHECK_STATUS(bg_plan_fallback(NULL, 0, &fi), NP);
  CHECK_OK(bg_model_plan(m, &plan));
  CHECK_STATUS(bg_plan_tensor(plan, 0, NULL), NP);
  CHECK_STATUS(bg_plan_device(plan, 0, NULL), NP);
  CHECK_STATUS(bg_plan_fallback(plan, 0, NULL), NP);
  CHECK_STATUS(bg_plan_fallback(plan, 0, &fi), BG_STATUS_INDEX_OUT_OF_RANGE);
  UNTOUCHED(tp);
  UNTOUCHED(du);
  UNTOUCHED(fi);
  bg_plan_free(plan);
  bg_plan_free(NULL);

  SENTINEL(did);
  SENTINEL(ptr);
  SENTINEL(n64);
  CHECK_STATUS(bg_tensor_device_ptr(NULL, 0, &did, &ptr, &n64), NP);
  CHECK_STATUS(bg_tensor_device_ptr(m, 0, NULL, &ptr, &n64), NP);
  CHECK_STATUS(bg_tensor_device_ptr(m, 0, &did, NULL, &n64), NP);
  CHECK_STATUS(bg_tensor_device_ptr(m, 0, &did, &ptr, NULL), NP);
  CHECK_STATUS(bg_tensor_device_ptr(m, 0, &did, &ptr, &n64), BG_STATUS_WRONG_DEVICE);
  UNTOUCHED(did);
  UNTOUCHED(ptr);
  UNTOUCHED(n64);
  SENTINEL(dp);
  SENTINEL(len);
  SENTINEL(ty);
  CHECK_STATUS(bg_tensor_resident_data(NULL, 0, &dp, &len, &ty), NP);
  CHECK_STATUS(bg_tensor_resident_data(m, 0, NULL, &len, &ty), NP);
  CHECK_STATUS(bg_tensor_resident_data(m, 0, &dp, NULL, &ty), NP);
  CHECK_STATUS(bg_tensor_resident_data(m, 0, &dp, &len, NULL), NP);
  CHECK_STATUS(bg_tensor_resident_data(m, (size_t)-1, &dp, &len, &ty), BG_STATUS_INDEX_OUT_OF_RANGE);
  UNTOUCHED(dp);
  UNTOUCHED(len);
  UNTOUCHED(ty);
  bg_load_options_free(o);
  bg_free(m);
}

int main(void) {
  build_model();
  test_nulls();
  test_placement_nulls();
  test_refcount();
  test_concurrency();
  return t_finish("ffi_contract");
}
