/* The progressive loader from C: progress reports (monotonic, complete, phases in order),
 * cancellation at every report (BG_STATUS_CANCELLED, outputs untouched, nothing leaked: this
 * test runs under ASan and valgrind too), output types per role against bg_tensor_dequantize,
 * the read mode, plans and their getters, explicit device budgets, the no-GPU fallback and the
 * fallback chain when a planned GPU cannot allocate, and the argument checks. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ---- a small llama-shaped GGUF file, written byte by byte ---------------------------------- */

typedef struct {
  uint8_t *p;
  size_t len, cap;
} buf;

static void put(buf *b, const void *src, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    b->p = (uint8_t *)realloc(b->p, b->cap);
    if (!b->p) exit(2);
  }
  memcpy(b->p + b->len, src, n);
  b->len += n;
}
static void put_le(buf *b, uint64_t v, int n) {
  uint8_t t[8];
  int i;
  for (i = 0; i < n; ++i) t[i] = (uint8_t)(v >> (8 * i));
  put(b, t, (size_t)n);
}
static void put_str(buf *b, const char *s) {
  put_le(b, strlen(s), 8);
  put(b, s, strlen(s));
}

#define N_EMBD 32
#define N_VOCAB 4
#define N_TENSORS 10

typedef struct {
  const char *name;
  uint32_t type; /* 0 = f32, 1 = f16 */
  uint64_t ne0, ne1;
} spec;

static const spec SPECS[N_TENSORS] = {
    {"token_embd.weight", 0, N_EMBD, N_VOCAB},   {"blk.0.attn_norm.weight", 0, N_EMBD, 1},
    {"blk.0.attn_q.weight", 1, N_EMBD, N_EMBD},  {"blk.0.ffn_down.weight", 0, N_EMBD, N_EMBD},
    {"blk.1.attn_norm.weight", 0, N_EMBD, 1},    {"blk.1.attn_q.weight", 1, N_EMBD, N_EMBD},
    {"blk.1.ffn_down.weight", 0, N_EMBD, N_EMBD}, {"output_norm.weight", 0, N_EMBD, 1},
    {"rope_freqs.weight", 0, N_EMBD / 2, 1},     {"output.weight", 0, N_EMBD, N_VOCAB},
};

static uint64_t nbytes(const spec *s) { return s->ne0 * s->ne1 * (s->type == 0 ? 4 : 2); }

static void write_model(buf *b) {
  uint64_t off = 0;
  int i;
  uint64_t k;
  put(b, "GGUF", 4);
  put_le(b, 3, 4);
  put_le(b, N_TENSORS, 8);
  put_le(b, 1, 8);
  put_str(b, "general.architecture");
  put_le(b, 8, 4); /* string */
  put_str(b, "llama");
  for (i = 0; i < N_TENSORS; ++i) {
    put_str(b, SPECS[i].name);
    put_le(b, 2, 4);
    put_le(b, SPECS[i].ne0, 8);
    put_le(b, SPECS[i].ne1, 8);
    put_le(b, SPECS[i].type, 4);
    put_le(b, off, 8);
    off += (nbytes(&SPECS[i]) + 31) / 32 * 32;
  }
  while (b->len % 32) put_le(b, 0, 1);
  for (i = 0; i < N_TENSORS; ++i) {
    uint64_t n = SPECS[i].ne0 * SPECS[i].ne1;
    for (k = 0; k < n; ++k) {
      /* values with bits below f16 precision, so decoding to f16 really rounds */
      float f = (float)((int)((k * 7 + (uint64_t)i * 13) % 97) - 48) / 37.0f + 1e-4f * (float)i;
      if (SPECS[i].type == 0) {
        uint32_t u;
        memcpy(&u, &f, 4);
        put_le(b, u, 4);
      } else {
        put_le(b, 0x3C00u + (uint16_t)(k % 512), 2); /* f16 values in [1, 1.5) */
      }
    }
    while (b->len % 32) put_le(b, 0, 1);
  }
}

static char path[PATH_MAX];

/* ---- progress callbacks ------------------------------------------------------------------ */

typedef struct {
  int calls;
  int cancel_at; /* cancel at this call (0-based); -1: never */
  int bad;       /* a report that broke monotonicity or bounds */
  bg_progress last;
  uint32_t phases_seen; /* bit per phase */
} recorder;

static bool on_progress(const bg_progress *p, void *user) {
  recorder *r = (recorder *)user;
  if (r->calls > 0) {
    if (p->phase < r->last.phase || p->tensors_done < r->last.tensors_done || p->bytes_done < r->last.bytes_done)
      r->bad = 1;
  }
  if (p->tensors_done > p->tensors_total || p->bytes_done > p->bytes_total) r->bad = 1;
  if (p->phase < BG_PHASE_CRITICAL || p->phase > BG_PHASE_REST) r->bad = 1;
  r->phases_seen |= 1u << p->phase;
  r->last = *p;
  return r->calls++ != r->cancel_at;
}

static bg_load_options *opts_with(recorder *r, uint32_t out_type, uint32_t read_mode) {
  bg_load_options *o = bg_load_options_new();
  CHECK(o != NULL);
  if (r) CHECK_OK(bg_load_options_set_progress(o, on_progress, r));
  CHECK_OK(bg_load_options_set_output_type(o, BG_ROLE_ALL, out_type));
  CHECK_OK(bg_load_options_set_read_mode(o, read_mode));
  return o;
}

static void check_progress_and_cancel(uint32_t read_mode) {
  recorder r;
  bg_model *m = NULL;
  bg_load_options *o;
  int total_calls, k;
  uint64_t total_bytes = 0;
  int i;
  for (i = 0; i < N_TENSORS; ++i) total_bytes += nbytes(&SPECS[i]);

  memset(&r, 0, sizeof r);
  r.cancel_at = -1;
  o = opts_with(&r, BG_TYPE_F16, read_mode);
  CHECK_OK(bg_load(path, o, &m));
  CHECK(m != NULL);
  CHECK(!r.bad);
  CHECK_MSG(r.last.tensors_done == N_TENSORS && r.last.tensors_total == N_TENSORS, "%lu of %lu",
            (unsigned long)r.last.tensors_done, (unsigned long)r.last.tensors_total);
  CHECK(r.last.bytes_done == total_bytes && r.last.bytes_total == total_bytes);
  CHECK(r.phases_seen == ((1u << BG_PHASE_CRITICAL) | (1u << BG_PHASE_LAYERS) | (1u << BG_PHASE_REST)));
  /* one report per phase start plus one per tensor */
  CHECK_MSG(r.calls == 3 + N_TENSORS, "%d calls", r.calls);
  total_calls = r.calls;
  bg_free(m);

  for (k = 0; k < total_calls; ++k) {
    bg_model *sentinel = (bg_model *)&r;
    memset(&r, 0, sizeof r);
    r.cancel_at = k;
    m = sentinel;
    CHECK_STATUS(bg_load(path, o, &m), BG_STATUS_CANCELLED);
    CHECK(m == sentinel); /* outputs untouched on error */
    CHECK(r.calls == k + 1);
    CHECK(strstr(t_last_error(), "cancelled") != NULL);
  }
  bg_load_options_free(o);
}

static void check_outputs(uint32_t read_mode) {
  static const uint32_t outs[4] = {BG_OUTPUT_PACKED, BG_TYPE_F32, BG_TYPE_F16, BG_TYPE_BF16};
  int oi, i;
  for (oi = 0; oi < 4; ++oi) {
    bg_model *m = NULL;
    bg_plan *plan = NULL;
    bg_load_options *o = opts_with(NULL, outs[oi], read_mode);
    uint64_t sum = 0;
    bg_device_usage cpu;
    CHECK_OK(bg_load(path, o, &m));
    CHECK_OK(bg_model_plan(m, &plan));
    CHECK(bg_plan_strategy(plan) == BG_STRATEGY_CPU);
    CHECK(bg_plan_tensor_count(plan) == N_TENSORS);
    CHECK(bg_plan_fallback_count(plan) == 0);
    for (i = 0; i < N_TENSORS; ++i) {
      const uint8_t *data = NULL;
      size_t len = 0, want_len = 0;
      uint32_t ty = 12345;
      bg_tensor_placement tp;
      bg_device_id dev;
      uint64_t ptr, dlen;
      CHECK_OK(bg_tensor_resident_data(m, (size_t)i, &data, &len, &ty));
      CHECK_OK(bg_plan_tensor(plan, (size_t)i, &tp));
      CHECK(tp.device.kind == BG_DEVICE_CPU);
      CHECK(tp.output_type == outs[oi]);
      CHECK(tp.bytes == len);
      CHECK(tp.zero_copy == (outs[oi] == BG_OUTPUT_PACKED && read_mode == BG_READ_MODE_MMAP));
      sum += tp.bytes;
      CHECK_STATUS(bg_tensor_device_ptr(m, (size_t)i, &dev, &ptr, &dlen), BG_STATUS_WRONG_DEVICE);
      if (outs[oi] == BG_OUTPUT_PACKED) {
        const uint8_t *packed = NULL;
        size_t plen = 0;
        CHECK(ty == BG_OUTPUT_PACKED);
        CHECK_OK(bg_tensor_data(m, (size_t)i, &packed, &plen));
        CHECK(packed == data && plen == len && len == nbytes(&SPECS[i]));
      } else {
        /* The load decoded it: the same bytes bg_tensor_dequantize gives. */
        uint8_t *want;
        CHECK(ty == outs[oi]);
        CHECK_OK(bg_tensor_dequantized_size(m, (size_t)i, outs[oi], &want_len));
        CHECK(want_len == len);
        want = (uint8_t *)malloc(want_len);
        CHECK_OK(bg_tensor_dequantize(m, (size_t)i, outs[oi], want, want_len));
        CHECK_MSG(memcmp(want, data, len) == 0, "tensor %d as type %u", i, (unsigned)outs[oi]);
        free(want);
      }
    }
    CHECK(bg_plan_device_count(plan) == 1);
    CHECK_OK(bg_plan_device(plan, 0, &cpu));
    CHECK(cpu.device.kind == BG_DEVICE_CPU && cpu.tensors == N_TENSORS);
    CHECK(cpu.used + cpu.mapped == sum);
    CHECK_STATUS(bg_plan_device(plan, 1, &cpu), BG_STATUS_INDEX_OUT_OF_RANGE);
    bg_plan_free(plan);
    bg_free(m);
    bg_load_options_free(o);
  }
}

static void check_gpu_fallbacks(void) {
  bg_model *m = NULL;
  bg_plan *plan = NULL;
  bg_fallback_info f;
  bg_device_memory gpu;
  size_t i, n;
  int saw_alloc = 0, saw_exhausted = 0;
  bg_load_options *o = bg_load_options_new();

  /* GPU strategy, no GPU backend in this build and no device: all on the CPU, one fallback. */
  CHECK_OK(bg_load_options_set_strategy(o, BG_STRATEGY_GPU));
  CHECK_OK(bg_load(path, o, &m));
  CHECK_OK(bg_model_plan(m, &plan));
  CHECK(bg_plan_strategy(plan) == BG_STRATEGY_GPU);
  CHECK(bg_plan_fallback_count(plan) == 1);
  CHECK_OK(bg_plan_fallback(plan, 0, &f));
  CHECK(f.reason == BG_FALLBACK_NO_DEVICE && f.tensor == BG_PLAN_ALL_TENSORS);
  CHECK(f.to.kind == BG_DEVICE_CPU);
  CHECK(f.message != NULL && f.message_len == strlen(f.message));
  bg_plan_free(plan);
  bg_free(m);

  /* A GPU given explicitly, but nothing can allocate on it: the first tensor fails and moves
   * to the CPU (ALLOCATION_FAILED), the rest skip the exhausted GPU (DEVICE_EXHAUSTED). */
  memset(&gpu, 0, sizeof gpu);
  gpu.device.kind = BG_DEVICE_CUDA;
  gpu.total = gpu.free = 1u << 30;
  gpu.budget_fraction = 0.8;
  CHECK_OK(bg_load_options_add_device(o, &gpu));
  CHECK_STATUS(bg_load_options_add_device(o, &gpu), BG_STATUS_INVALID_PARAMETER); /* twice */
  CHECK_OK(bg_load(path, o, &m));
  CHECK_OK(bg_model_plan(m, &plan));
  n = bg_plan_fallback_count(plan);
  CHECK(n == N_TENSORS);
  for (i = 0; i < n; ++i) {
    CHECK_OK(bg_plan_fallback(plan, i, &f));
    CHECK(f.from.kind == BG_DEVICE_CUDA && f.to.kind == BG_DEVICE_CPU && f.tensor < N_TENSORS);
    saw_alloc += f.reason == BG_FALLBACK_ALLOCATION_FAILED;
    saw_exhausted += f.reason == BG_FALLBACK_DEVICE_EXHAUSTED;
  }
  CHECK(saw_alloc == 1 && saw_exhausted == N_TENSORS - 1);
  for (i = 0; i < N_TENSORS; ++i) {
    const uint8_t *d;
    size_t len;
    CHECK_OK(bg_tensor_data(m, i, &d, &len));
  }
  bg_plan_free(plan);
  bg_free(m);

  /* Budgets too small for a decoded tensor: a clear status, nothing loaded. */
  CHECK_OK(bg_load_options_clear_devices(o));
  CHECK_OK(bg_load_options_set_strategy(o, BG_STRATEGY_CPU));
  CHECK_OK(bg_load_options_set_output_type(o, BG_ROLE_ALL, BG_TYPE_F32));
  memset(&gpu, 0, sizeof gpu);
  gpu.device.kind = BG_DEVICE_CPU;
  gpu.total = gpu.free = 1000;
  gpu.budget_fraction = 1.0;
  CHECK_OK(bg_load_options_add_device(o, &gpu));
  m = NULL;
  CHECK_STATUS(bg_load(path, o, &m), BG_STATUS_TENSOR_TOO_LARGE);
  CHECK(m == NULL);
  CHECK_MSG(strstr(t_last_error(), "blk.0.attn_q.weight") != NULL && strstr(t_last_error(), "4096") != NULL, "%s", t_last_error());
  bg_load_options_free(o);
}

static void check_arguments(void) {
  bg_load_options *o = bg_load_options_new();
  bg_device_memory d;
  double split[2] = {1.0, -1.0};
  bg_plan *plan = NULL;
  CHECK_STATUS(bg_load_options_set_strategy(NULL, BG_STRATEGY_GPU), BG_STATUS_NULL_PARAMETER);
  CHECK_STATUS(bg_load_options_set_strategy(o, 7), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_output_type(o, 6, BG_TYPE_F32), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_output_type(o, BG_ROLE_NORM, 8), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_read_mode(o, 2), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_staging_budget(o, 0), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_gpu_budget_fraction(o, 1.5), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_tensor_split(o, split, 2), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_tensor_split(o, NULL, 2), BG_STATUS_NULL_PARAMETER);
  CHECK_OK(bg_load_options_set_tensor_split(o, NULL, 0));
  CHECK_STATUS(bg_load_options_add_device(o, NULL), BG_STATUS_NULL_PARAMETER);
  memset(&d, 0, sizeof d);
  d.device.kind = 9;
  CHECK_STATUS(bg_load_options_add_device(o, &d), BG_STATUS_INVALID_PARAMETER);
  d.device.kind = BG_DEVICE_CUDA;
  d.total = 10;
  d.free = 20;
  CHECK_STATUS(bg_load_options_add_device(o, &d), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_model_plan(NULL, &plan), BG_STATUS_NULL_PARAMETER);
  CHECK(plan == NULL);
  CHECK(bg_plan_tensor_count(NULL) == 0 && bg_plan_device_count(NULL) == 0 && bg_plan_fallback_count(NULL) == 0);
  bg_plan_free(NULL);
  CHECK(bg_status_str(BG_STATUS_WRONG_DEVICE) != NULL);
  bg_load_options_free(o);
}

/* A model loaded without placement options: its plan is "all on the CPU, zero-copy". */
static void check_unplaced(void) {
  bg_model *m = NULL;
  bg_plan *plan = NULL;
  bg_tensor_placement tp;
  CHECK_OK(bg_load(path, NULL, &m));
  CHECK_OK(bg_model_plan(m, &plan));
  CHECK(bg_plan_tensor_count(plan) == N_TENSORS);
  CHECK_OK(bg_plan_tensor(plan, 0, &tp));
  CHECK(tp.device.kind == BG_DEVICE_CPU && tp.zero_copy && tp.output_type == BG_OUTPUT_PACKED);
  CHECK_STATUS(bg_plan_tensor(plan, N_TENSORS, &tp), BG_STATUS_INDEX_OUT_OF_RANGE);
  bg_free(m); /* the plan is a snapshot: it outlives the model */
  CHECK(bg_plan_tensor_count(plan) == N_TENSORS);
  bg_plan_free(plan);
}

int main(void) {
  buf b = {NULL, 0, 0};
  FILE *f;
  const char *tmp = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/bitgguf_progress_%ld.gguf", tmp && *tmp ? tmp : "/tmp", (long)getpid());
  write_model(&b);
  f = fopen(path, "wb");
  if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    return 2;
  }
  free(b.p);

  check_progress_and_cancel(BG_READ_MODE_MMAP);
  check_progress_and_cancel(BG_READ_MODE_PREAD);
  check_outputs(BG_READ_MODE_MMAP);
  check_outputs(BG_READ_MODE_PREAD);
  check_gpu_fallbacks();
  check_arguments();
  check_unplaced();

  unlink(path);
  return t_finish("progress");
}
