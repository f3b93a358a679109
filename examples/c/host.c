/* A C host program for bitgguf: load a GGUF model with a progress callback, list its tensors,
 * dequantize one to f32 and print statistics.
 *
 *   host MODEL.gguf [TENSOR]
 *
 * TENSOR defaults to the first tensor that is not f32/f16. The last line is machine-readable:
 *   stats name=NAME type=TYPE n=N min=<f32 bits> max=<f32 bits> mean=<f64 bits>
 * (hexadecimal bit patterns, so that scripts/test.sh can compare it exactly with the C++ and
 * Rust examples' lines; the mean is summed in double, in index order). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitgguf.h"

/* Print a failed call's status and this thread's detailed message. */
static int fail(const char *call, bg_status s) {
  char msg[1024];
  size_t len = 0;
  if (bg_last_error_message(msg, sizeof msg, &len) != BG_STATUS_OK) msg[0] = '\0';
  fprintf(stderr, "%s failed: %u (%s): %s\n", call, (unsigned)s, bg_status_str(s), msg);
  return 1;
}

typedef struct {
  unsigned reports;
  bg_progress last;
} load_progress;

/* Called by bg_load at each phase and after each tensor; returning false would cancel. */
static bool on_progress(const bg_progress *p, void *user_data) {
  load_progress *lp = (load_progress *)user_data;
  ++lp->reports;
  lp->last = *p; /* *p is valid only during the call */
  return true;
}

int main(int argc, char **argv) {
  bg_load_options *opts;
  bg_model *model = NULL;
  bg_tensor_desc t;
  bg_status s;
  load_progress lp;
  size_t i, n, pick = (size_t)-1, bytes = 0;
  float *values;
  double sum = 0.0, mean;
  float mn, mx;
  uint32_t fmin, fmax;
  uint64_t dmean;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s MODEL.gguf [TENSOR]\n", argv[0]);
    return 2;
  }
  printf("bitgguf %s (ABI %u)\n", bg_version(), bg_abi_version());
  if (bg_abi_version() != BG_ABI_VERSION) {
    fprintf(stderr, "ABI mismatch: compiled against %u\n", (unsigned)BG_ABI_VERSION);
    return 1;
  }

  memset(&lp, 0, sizeof lp);
  opts = bg_load_options_new();
  if (!opts) return fail("bg_load_options_new", BG_STATUS_PANIC);
  s = bg_load_options_set_progress(opts, on_progress, &lp);
  if (s == BG_STATUS_OK) s = bg_load(argv[1], opts, &model);
  bg_load_options_free(opts); /* the model does not need the options */
  if (s != BG_STATUS_OK) return fail("bg_load", s);
  printf("loaded %zu/%zu tensors, %" PRIu64 " bytes (%u progress reports)\n", lp.last.tensors_done,
         lp.last.tensors_total, lp.last.bytes_done, lp.reports);

  n = bg_tensor_count(model);
  printf("%zu tensors:\n", n);
  for (i = 0; i < n; ++i) {
    s = bg_tensor_info(model, i, &t);
    if (s != BG_STATUS_OK) {
      bg_free(model);
      return fail("bg_tensor_info", s);
    }
    printf("  %-32s %-6s [%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 "] %" PRIu64 " bytes\n", t.name,
           bg_type_name(t.type_id), t.ne[0], t.ne[1], t.ne[2], t.ne[3], t.n_bytes);
    if (pick == (size_t)-1 && argc == 2 && t.type_id != BG_TYPE_F32 && t.type_id != BG_TYPE_F16) pick = i;
  }
  if (argc == 3) {
    s = bg_tensor_find(model, argv[2], &pick);
    if (s != BG_STATUS_OK) {
      bg_free(model);
      return fail("bg_tensor_find", s);
    }
  }
  if (pick == (size_t)-1) pick = 0;

  s = bg_tensor_info(model, pick, &t);
  if (s == BG_STATUS_OK) s = bg_tensor_dequantized_size(model, pick, BG_TYPE_F32, &bytes);
  if (s != BG_STATUS_OK || bytes == 0) {
    bg_free(model);
    return fail("bg_tensor_dequantized_size", s);
  }
  values = (float *)malloc(bytes);
  if (!values) {
    bg_free(model);
    return 1;
  }
  s = bg_tensor_dequantize(model, pick, BG_TYPE_F32, values, bytes);
  if (s != BG_STATUS_OK) {
    free(values);
    bg_free(model);
    return fail("bg_tensor_dequantize", s);
  }
  n = bytes / sizeof(float);
  mn = mx = values[0];
  for (i = 0; i < n; ++i) {
    sum += values[i];
    if (values[i] < mn) mn = values[i];
    if (values[i] > mx) mx = values[i];
  }
  mean = sum / (double)n;
  printf("%s (%s): %zu values, min %.6g, max %.6g, mean %.6g\n", t.name, bg_type_name(t.type_id), n, mn, mx, mean);
  memcpy(&fmin, &mn, 4);
  memcpy(&fmax, &mx, 4);
  memcpy(&dmean, &mean, 8);
  printf("stats name=%s type=%s n=%zu min=%08" PRIx32 " max=%08" PRIx32 " mean=%016" PRIx64 "\n", t.name,
         bg_type_name(t.type_id), n, fmin, fmax, dmean);
  free(values);
  bg_free(model); /* t.name pointed into the model: not used after this */
  return 0;
}
