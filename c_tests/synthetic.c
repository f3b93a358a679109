/* The C API against small GGUF files that this test writes itself, byte by byte, with a tiny
 * writer that shares nothing with the Rust one (GGUF v3: header, key/value pairs of every
 * scalar type plus string, string-array, f32-array, i32-array and empty arrays, an explicit
 * general.alignment, and f32 / f16 / q8_0 tensors with known bytes at padded offsets).
 *
 * Each file is loaded three ways (mmap, read into memory, from memory) and every query is
 * checked against what was written. Then the contract: NULL arguments (status
 * BG_STATUS_NULL_PARAMETER, outputs untouched), out-of-range indices, not-found names, type
 * mismatches, the last error message (size query, copy, content, per thread), references
 * (retain, free twice), load options and limits, the BitNet type policy, malformed files
 * (bad magic, versions, every truncation, every single-byte corruption) and type names. */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bitgguf.h"
#include "test_util.h"

/* ==== A tiny GGUF writer ===================================================================== */

/* GGUF value type ids (gguf.h's enum gguf_type), spelled out here rather than taken from
 * BG_META_* so the test checks that the library reports them correctly. */
enum {
  GT_U8 = 0, GT_I8 = 1, GT_U16 = 2, GT_I16 = 3, GT_U32 = 4, GT_I32 = 5, GT_F32 = 6,
  GT_BOOL = 7, GT_STRING = 8, GT_ARRAY = 9, GT_U64 = 10, GT_I64 = 11, GT_F64 = 12
};
/* ggml type ids and block sizes (ggml.h). */
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q8_0 = 8, DISK_I2_S = 36 };

typedef struct {
  uint8_t *p;
  size_t len, cap;
} gbuf;

static void gb_bytes(gbuf *b, const void *src, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) cap *= 2;
    b->p = (uint8_t *)realloc(b->p, cap);
    if (b->p == NULL) {
      fprintf(stderr, "out of memory\n");
      exit(2);
    }
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, src, n);
  b->len += n;
}

static void gb_u8(gbuf *b, uint8_t v) { gb_bytes(b, &v, 1); }

/* Little-endian, whatever the host. */
static void gb_le(gbuf *b, uint64_t v, int n) {
  int i;
  for (i = 0; i < n; ++i) gb_u8(b, (uint8_t)(v >> (8 * i)));
}
static void gb_u16(gbuf *b, uint16_t v) { gb_le(b, v, 2); }
static void gb_u32(gbuf *b, uint32_t v) { gb_le(b, v, 4); }
static void gb_u64(gbuf *b, uint64_t v) { gb_le(b, v, 8); }
static void gb_f32(gbuf *b, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  gb_u32(b, u);
}
static void gb_f64(gbuf *b, double f) {
  uint64_t u;
  memcpy(&u, &f, 8);
  gb_u64(b, u);
}
static void gb_str(gbuf *b, const char *s) {
  gb_u64(b, strlen(s));
  gb_bytes(b, s, strlen(s));
}
static void gb_key(gbuf *b, const char *key, uint32_t type) {
  gb_str(b, key);
  gb_u32(b, type);
}
static void gb_pad(gbuf *b, size_t align) {
  while (b->len % align) gb_u8(b, 0);
}

/* Patch a little-endian u32 / u64 in place. */
static void put_le(uint8_t *p, uint64_t v, int n) {
  int i;
  for (i = 0; i < n; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

/* ==== The synthetic model ==================================================================== */

#define N_TENSORS 3
#define MAX_TENSORS 4

typedef struct {
  const char *name;
  uint32_t type;
  uint32_t n_dims;
  uint64_t ne[4];
  uint8_t data[256];
  size_t n_bytes;
  /* Filled in by write_model. */
  uint64_t offset;       /* relative to the data section */
  size_t offset_field;   /* absolute position of the tensor info's offset field */
} ttensor;

typedef struct {
  uint32_t alignment;      /* 0: no general.alignment key (the default, 32, applies) */
  const char *arch;        /* general.architecture */
  int n_tensors;
  ttensor t[MAX_TENSORS];
  size_t n_kv;
  /* Filled in by write_model. */
  size_t data_start;       /* absolute offset of the data section */
  size_t data_end;         /* end of the last tensor's bytes (before end padding) */
  size_t kv_start;         /* absolute offset of the first key */
} tmodel;

/* Values written into the metadata (checked against the getters). */
#define V_U8 200u
#define V_I8 (-100)
#define V_U16 60000u
#define V_I16 (-30000)
#define V_U32 4000000000u
#define V_I32 (-2000000000)
#define V_F32 1.5f
#define V_U64 0x1234567890ABCDEFull
#define V_I64 (-5000000000ll)
#define V_F64 (-0.125)
#define V_STR "hello, gguf"
static const char *const ARR_STR[3] = {"alpha", "", "gamma \xce\xb3"};
static const float ARR_F32[3] = {1.5f, -2.25f, 3.0f};
static const int32_t ARR_I32[2] = {7, -8};

static uint16_t f16_bits[8] = {0x3C00, 0xC000, 0x3800, 0x0000, 0x8000, 0x7BFF, 0x0001, 0x7E00};

/* The three standard tensors: f32 [4,3], f16 [8], q8_0 [32,2,2] (4 blocks of 34 bytes). */
static void standard_tensors(tmodel *m) {
  ttensor *t;
  int i, k, j;
  m->n_tensors = N_TENSORS;

  t = &m->t[0];
  t->name = "t.f32";
  t->type = GGML_F32;
  t->n_dims = 2;
  t->ne[0] = 4, t->ne[1] = 3, t->ne[2] = 1, t->ne[3] = 1;
  t->n_bytes = 12 * 4;
  for (i = 0; i < 12; ++i) {
    float f = (float)(i - 5) * 0.25f;
    uint32_t u;
    memcpy(&u, &f, 4);
    put_le(t->data + 4 * i, u, 4);
  }

  t = &m->t[1];
  t->name = "t.f16";
  t->type = GGML_F16;
  t->n_dims = 1;
  t->ne[0] = 8, t->ne[1] = 1, t->ne[2] = 1, t->ne[3] = 1;
  t->n_bytes = 8 * 2;
  for (i = 0; i < 8; ++i) put_le(t->data + 2 * i, f16_bits[i], 2);

  t = &m->t[2];
  t->name = "blk.0.ffn_down.weight"; /* a realistic name */
  t->type = GGML_Q8_0;
  t->n_dims = 3;
  t->ne[0] = 32, t->ne[1] = 2, t->ne[2] = 2, t->ne[3] = 1;
  t->n_bytes = 4 * 34;
  for (k = 0; k < 4; ++k) {
    uint8_t *blk = t->data + 34 * k;
    put_le(blk, (uint16_t)(0x3800 + k), 2); /* d: f16 0.5 and neighbours */
    for (j = 0; j < 32; ++j) blk[2 + j] = (uint8_t)(int8_t)(j * 3 - 40 + k);
  }
}

/* Write `m` as GGUF v3 into `b`. pad_end: pad the file after the last tensor (as gguf-py and
 * llama.cpp do). */
static void write_model(gbuf *b, tmodel *m, int pad_end) {
  size_t align = m->alignment ? m->alignment : 32;
  uint64_t off = 0;
  int i;
  b->len = 0;

  gb_bytes(b, "GGUF", 4);
  gb_u32(b, 3);
  gb_u64(b, (uint64_t)m->n_tensors);
  m->n_kv = 18 + (m->alignment ? 1 : 0);
  gb_u64(b, m->n_kv);
  m->kv_start = b->len;

  gb_key(b, "general.architecture", GT_STRING);
  gb_str(b, m->arch);
  if (m->alignment) {
    gb_key(b, "general.alignment", GT_U32);
    gb_u32(b, m->alignment);
  }
  gb_key(b, "test.u8", GT_U8), gb_u8(b, V_U8);
  gb_key(b, "test.i8", GT_I8), gb_u8(b, (uint8_t)(int8_t)V_I8);
  gb_key(b, "test.u16", GT_U16), gb_u16(b, V_U16);
  gb_key(b, "test.i16", GT_I16), gb_u16(b, (uint16_t)(int16_t)V_I16);
  gb_key(b, "test.u32", GT_U32), gb_u32(b, V_U32);
  gb_key(b, "test.i32", GT_I32), gb_u32(b, (uint32_t)(int32_t)V_I32);
  gb_key(b, "test.f32", GT_F32), gb_f32(b, V_F32);
  gb_key(b, "test.bool", GT_BOOL), gb_u8(b, 1);
  gb_key(b, "test.bool2", GT_BOOL), gb_u8(b, 2); /* any non-zero byte is true (gguf.cpp) */
  gb_key(b, "test.u64", GT_U64), gb_u64(b, V_U64);
  gb_key(b, "test.i64", GT_I64), gb_u64(b, (uint64_t)(int64_t)V_I64);
  gb_key(b, "test.f64", GT_F64), gb_f64(b, V_F64);
  gb_key(b, "test.str", GT_STRING), gb_str(b, V_STR);
  gb_key(b, "test.arr_str", GT_ARRAY), gb_u32(b, GT_STRING), gb_u64(b, 3);
  for (i = 0; i < 3; ++i) gb_str(b, ARR_STR[i]);
  gb_key(b, "test.arr_f32", GT_ARRAY), gb_u32(b, GT_F32), gb_u64(b, 3);
  for (i = 0; i < 3; ++i) gb_f32(b, ARR_F32[i]);
  gb_key(b, "test.arr_i32", GT_ARRAY), gb_u32(b, GT_I32), gb_u64(b, 2);
  for (i = 0; i < 2; ++i) gb_u32(b, (uint32_t)ARR_I32[i]);
  gb_key(b, "test.arr_empty", GT_ARRAY), gb_u32(b, GT_U8), gb_u64(b, 0);

  for (i = 0; i < m->n_tensors; ++i) {
    ttensor *t = &m->t[i];
    uint32_t d;
    gb_str(b, t->name);
    gb_u32(b, t->n_dims);
    for (d = 0; d < t->n_dims; ++d) gb_u64(b, t->ne[d]);
    gb_u32(b, t->type);
    t->offset = off;
    t->offset_field = b->len;
    gb_u64(b, off);
    off += (t->n_bytes + align - 1) / align * align;
  }
  gb_pad(b, align);
  m->data_start = b->len;
  for (i = 0; i < m->n_tensors; ++i) {
    ttensor *t = &m->t[i];
    if (b->len - m->data_start != t->offset) {
      fprintf(stderr, "writer bug: offset\n");
      exit(2);
    }
    gb_bytes(b, t->data, t->n_bytes);
    m->data_end = b->len;
    if (i + 1 < m->n_tensors || pad_end) gb_pad(b, align);
  }
}

static void standard_model(tmodel *m, uint32_t alignment) {
  memset(m, 0, sizeof *m);
  m->alignment = alignment;
  m->arch = "synthetic";
  standard_tensors(m);
}

/* ==== Files ================================================================================== */

static char tmp_dir[PATH_MAX];
static char written[32][PATH_MAX];
static int n_written;

static const char *write_file(const char *name, const uint8_t *p, size_t len) {
  char *path = written[n_written++];
  FILE *f;
  if (snprintf(path, PATH_MAX, "%s/%s", tmp_dir, name) >= PATH_MAX) {
    fprintf(stderr, "path too long\n");
    exit(2);
  }
  f = fopen(path, "wb");
  if (f == NULL || (len && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  return path;
}

static void remove_files(void) {
  int i;
  for (i = 0; i < n_written; ++i) unlink(written[i]);
  rmdir(tmp_dir);
}

/* ==== Checking a loaded model ================================================================ */

static size_t find_meta(bg_model *m, const char *key) {
  size_t idx = (size_t)-1;
  CHECK_OK(bg_meta_find(m, key, &idx));
  return idx;
}

static void check_tensors(bg_model *m, const tmodel *tm, const char *how) {
  int i, d;
  CHECK_MSG(bg_tensor_count(m) == (size_t)tm->n_tensors, "%s: %lu tensors", how,
            (unsigned long)bg_tensor_count(m));
  for (i = 0; i < tm->n_tensors; ++i) {
    const ttensor *t = &tm->t[i];
    size_t idx = (size_t)-1, len = 0;
    const uint8_t *p = NULL;
    bg_tensor_desc desc;
    uint64_t n_el = 1;
    CHECK_OK(bg_tensor_find(m, t->name, &idx));
    CHECK(idx < bg_tensor_count(m));
    memset(&desc, 0xAB, sizeof desc);
    CHECK_OK(bg_tensor_info(m, idx, &desc));
    CHECK(desc.name != NULL && strcmp(desc.name, t->name) == 0);
    CHECK(desc.name_len == strlen(t->name));
    CHECK(desc.name[desc.name_len] == '\0');
    /* The API id: upstream ids as they are, the BitNet fork's I2_S as BG_TYPE_I2_S. */
    CHECK_MSG(desc.type_id == (t->type == DISK_I2_S ? (uint32_t)BG_TYPE_I2_S : t->type),
              "%s: %s type_id %u", how, t->name, desc.type_id);
    CHECK(desc.disk_type == t->type);
    CHECK(desc.n_dims == t->n_dims);
    CHECK(desc.shard == 0);
    for (d = 0; d < 4; ++d) {
      CHECK_MSG(desc.ne[d] == t->ne[d], "%s: %s ne[%d] = %llu", how, t->name, d,
                (unsigned long long)desc.ne[d]);
      n_el *= t->ne[d];
    }
    CHECK(desc.n_elements == n_el);
    CHECK_MSG(desc.offset == t->offset, "%s: %s offset %llu, expected %llu", how, t->name,
              (unsigned long long)desc.offset, (unsigned long long)t->offset);
    CHECK(desc.n_bytes == t->n_bytes);

    CHECK_OK(bg_tensor_data(m, idx, &p, &len));
    CHECK(p != NULL && len == t->n_bytes);
    if (p != NULL && len == t->n_bytes) {
      CHECK_MSG(memcmp(p, t->data, len) == 0, "%s: %s bytes differ", how, t->name);
    }
    /* The data section is aligned in the file; mapped and copied files keep that alignment
     * (copies are 64-byte aligned). */
    {
      size_t align = tm->alignment ? tm->alignment : 32;
      if (align > 64) align = 64;
      CHECK_MSG(((uintptr_t)p % align) == 0, "%s: %s data at %p not %lu-aligned", how, t->name,
                (const void *)p, (unsigned long)align);
    }
  }
}

static void check_metadata(bg_model *m, const tmodel *tm) {
  size_t i, idx, len;
  bg_meta_desc md;
  const char *s;
  const uint8_t *data;
  uint8_t u8;
  int8_t i8;
  uint16_t u16;
  int16_t i16;
  uint32_t u32;
  int32_t i32;
  float f32;
  bool b;
  uint64_t u64;
  int64_t i64;
  double f64;

  CHECK(bg_meta_count(m) == tm->n_kv);

  /* Every key is found at an index whose description names it. */
  for (i = 0; i < bg_meta_count(m); ++i) {
    size_t back = (size_t)-1;
    memset(&md, 0, sizeof md);
    CHECK_OK(bg_meta_info(m, i, &md));
    CHECK(md.key != NULL && strlen(md.key) == md.key_len);
    CHECK_OK(bg_meta_find(m, md.key, &back));
    CHECK(back == i);
    CHECK(md.value_type <= 12 && md.array_type <= 12);
  }

  idx = find_meta(m, "general.architecture");
  CHECK_OK(bg_meta_get_str(m, idx, &s, &len));
  CHECK(len == strlen(tm->arch) && memcmp(s, tm->arch, len) == 0);
  if (tm->alignment) {
    idx = find_meta(m, "general.alignment");
    CHECK_OK(bg_meta_get_u32(m, idx, &u32));
    CHECK(u32 == tm->alignment);
  } else {
    CHECK_STATUS(bg_meta_find(m, "general.alignment", &idx), BG_STATUS_NOT_FOUND);
  }

#define SCALAR(k, meta_type, getter, var, expected)                   \
  idx = find_meta(m, k);                                              \
  memset(&md, 0, sizeof md);                                          \
  CHECK_OK(bg_meta_info(m, idx, &md));                                \
  CHECK(strcmp(md.key, k) == 0 && md.key_len == strlen(k));          \
  CHECK(md.value_type == (meta_type) && md.array_type == (meta_type)); \
  CHECK(md.array_len == 1);                                           \
  CHECK_OK(getter(m, idx, &var));                                     \
  CHECK(var == (expected))

  SCALAR("test.u8", BG_META_U8, bg_meta_get_u8, u8, V_U8);
  SCALAR("test.i8", BG_META_I8, bg_meta_get_i8, i8, V_I8);
  SCALAR("test.u16", BG_META_U16, bg_meta_get_u16, u16, V_U16);
  SCALAR("test.i16", BG_META_I16, bg_meta_get_i16, i16, V_I16);
  SCALAR("test.u32", BG_META_U32, bg_meta_get_u32, u32, V_U32);
  SCALAR("test.i32", BG_META_I32, bg_meta_get_i32, i32, V_I32);
  SCALAR("test.f32", BG_META_F32, bg_meta_get_f32, f32, V_F32);
  SCALAR("test.bool", BG_META_BOOL, bg_meta_get_bool, b, true);
  SCALAR("test.bool2", BG_META_BOOL, bg_meta_get_bool, b, true);
  {
    unsigned char raw; /* a C bool must hold exactly 0 or 1 */
    memcpy(&raw, &b, 1);
    CHECK_MSG(raw == 1, "bg_meta_get_bool wrote the byte %u for a stored 2", raw);
  }
  SCALAR("test.u64", BG_META_U64, bg_meta_get_u64, u64, V_U64);
  SCALAR("test.i64", BG_META_I64, bg_meta_get_i64, i64, V_I64);
  SCALAR("test.f64", BG_META_F64, bg_meta_get_f64, f64, V_F64);
#undef SCALAR

  /* Type mismatches: no conversion, output untouched. */
#define MISMATCH(k, getter, var, sentinel)                                    \
  idx = find_meta(m, k);                                                    \
  var = sentinel;                                                             \
  CHECK_STATUS(getter(m, idx, &var), BG_STATUS_TYPE_MISMATCH);                \
  CHECK(var == sentinel)

  MISMATCH("test.u8", bg_meta_get_i8, i8, 11);
  MISMATCH("test.i32", bg_meta_get_u32, u32, 12u);
  MISMATCH("test.u32", bg_meta_get_u64, u64, 13u);
  MISMATCH("test.u64", bg_meta_get_i64, i64, 14);
  MISMATCH("test.f32", bg_meta_get_f64, f64, 15.0);
  MISMATCH("test.f64", bg_meta_get_f32, f32, 16.0f);
  MISMATCH("test.bool", bg_meta_get_u8, u8, 17);
  MISMATCH("test.str", bg_meta_get_u16, u16, 18);
  MISMATCH("test.arr_i32", bg_meta_get_i32, i32, 19);
  MISMATCH("test.i16", bg_meta_get_u16, u16, 20);
  MISMATCH("test.u16", bg_meta_get_i16, i16, 21);
  MISMATCH("test.u32", bg_meta_get_bool, b, false);
#undef MISMATCH
  {
    const char *msg = t_last_error();
    CHECK_MSG(strstr(msg, "bg_meta_get_bool") != NULL && strstr(msg, "test.u32") != NULL,
              "mismatch message: %s", msg);
  }

  /* bg_meta_get_uint: any non-negative integer up to `max`. */
  idx = find_meta(m, "test.u8");
  CHECK_OK(bg_meta_get_uint(m, idx, 255, &u64));
  CHECK(u64 == V_U8);
  idx = find_meta(m, "test.u32");
  u64 = 1;
  CHECK_STATUS(bg_meta_get_uint(m, idx, 1000, &u64), BG_STATUS_INVALID_PARAMETER);
  CHECK(u64 == 1);
  CHECK_OK(bg_meta_get_uint(m, idx, UINT64_MAX, &u64));
  CHECK(u64 == V_U32);
  idx = find_meta(m, "test.u64");
  CHECK_OK(bg_meta_get_uint(m, idx, UINT64_MAX, &u64));
  CHECK(u64 == V_U64);
  idx = find_meta(m, "test.i32"); /* negative */
  u64 = 2;
  CHECK_STATUS(bg_meta_get_uint(m, idx, UINT64_MAX, &u64), BG_STATUS_TYPE_MISMATCH);
  idx = find_meta(m, "test.f32");
  CHECK_STATUS(bg_meta_get_uint(m, idx, UINT64_MAX, &u64), BG_STATUS_TYPE_MISMATCH);
  idx = find_meta(m, "test.str");
  CHECK_STATUS(bg_meta_get_uint(m, idx, UINT64_MAX, &u64), BG_STATUS_TYPE_MISMATCH);
  CHECK(u64 == 2);

  /* Strings: pointer + length, not NUL-terminated. */
  idx = find_meta(m, "test.str");
  s = NULL, len = 0;
  CHECK_OK(bg_meta_get_str(m, idx, &s, &len));
  CHECK(s != NULL && len == strlen(V_STR) && memcmp(s, V_STR, len) == 0);

  /* String array. */
  idx = find_meta(m, "test.arr_str");
  CHECK_OK(bg_meta_info(m, idx, &md));
  CHECK(md.value_type == BG_META_ARRAY && md.array_type == BG_META_STRING && md.array_len == 3);
  for (i = 0; i < 3; ++i) {
    s = NULL, len = 99;
    CHECK_OK(bg_meta_get_arr_str(m, idx, i, &s, &len));
    CHECK_MSG(len == strlen(ARR_STR[i]) && (len == 0 || memcmp(s, ARR_STR[i], len) == 0),
              "arr_str[%lu]: length %lu", (unsigned long)i, (unsigned long)len);
  }
  s = "untouched", len = 77;
  CHECK_STATUS(bg_meta_get_arr_str(m, idx, 3, &s, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(bg_meta_get_arr_str(m, idx, UINT64_MAX, &s, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK(strcmp(s, "untouched") == 0 && len == 77);
  CHECK_STATUS(bg_meta_get_str(m, idx, &s, &len), BG_STATUS_TYPE_MISMATCH);
  CHECK_STATUS(bg_meta_get_arr_data(m, idx, BG_META_STRING, &data, &len), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_meta_get_arr_data(m, idx, BG_META_U8, &data, &len), BG_STATUS_TYPE_MISMATCH);
  CHECK(strcmp(s, "untouched") == 0 && len == 77);

  /* f32 array: packed little-endian bytes, possibly unaligned. */
  idx = find_meta(m, "test.arr_f32");
  CHECK_OK(bg_meta_info(m, idx, &md));
  CHECK(md.value_type == BG_META_ARRAY && md.array_type == BG_META_F32 && md.array_len == 3);
  data = NULL, len = 0;
  CHECK_OK(bg_meta_get_arr_data(m, idx, BG_META_F32, &data, &len));
  CHECK(data != NULL && len == 3 * sizeof(float));
  if (data != NULL && len == 12) {
    float f[3];
    memcpy(f, data, sizeof f);
    CHECK(f[0] == ARR_F32[0] && f[1] == ARR_F32[1] && f[2] == ARR_F32[2]);
  }
  data = (const uint8_t *)"x", len = 5;
  CHECK_STATUS(bg_meta_get_arr_data(m, idx, BG_META_U32, &data, &len), BG_STATUS_TYPE_MISMATCH);
  CHECK_STATUS(bg_meta_get_arr_data(m, idx, BG_META_ARRAY, &data, &len), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_meta_get_arr_data(m, idx, 99, &data, &len), BG_STATUS_INVALID_PARAMETER);
  CHECK(len == 5 && data[0] == 'x');
  CHECK_STATUS(bg_meta_get_arr_str(m, idx, 0, &s, &len), BG_STATUS_TYPE_MISMATCH);
  CHECK_STATUS(bg_meta_get_f32(m, idx, &f32), BG_STATUS_TYPE_MISMATCH);

  /* i32 array. */
  idx = find_meta(m, "test.arr_i32");
  CHECK_OK(bg_meta_get_arr_data(m, idx, BG_META_I32, &data, &len));
  CHECK(len == 8);
  if (len == 8) {
    int32_t v[2];
    memcpy(v, data, sizeof v);
    CHECK(v[0] == ARR_I32[0] && v[1] == ARR_I32[1]);
  }

  /* Empty array. */
  idx = find_meta(m, "test.arr_empty");
  CHECK_OK(bg_meta_info(m, idx, &md));
  CHECK(md.value_type == BG_META_ARRAY && md.array_type == BG_META_U8 && md.array_len == 0);
  len = 99;
  CHECK_OK(bg_meta_get_arr_data(m, idx, BG_META_U8, &data, &len));
  CHECK(len == 0);

  /* Not found and out of range: outputs untouched. */
  idx = 4242;
  CHECK_STATUS(bg_meta_find(m, "no.such.key", &idx), BG_STATUS_NOT_FOUND);
  CHECK_STATUS(bg_meta_find(m, "", &idx), BG_STATUS_NOT_FOUND);
  CHECK_STATUS(bg_meta_find(m, "test.u", &idx), BG_STATUS_NOT_FOUND); /* exact match only */
  CHECK_STATUS(bg_meta_find(m, "\xff\xfe", &idx), BG_STATUS_INVALID_PARAMETER);
  CHECK(idx == 4242);
  memset(&md, 0x5A, sizeof md);
  CHECK_STATUS(bg_meta_info(m, bg_meta_count(m), &md), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(bg_meta_info(m, (size_t)-1, &md), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK(md.key_len == (size_t)0x5A5A5A5A5A5A5A5Aull);
  u8 = 9;
  CHECK_STATUS(bg_meta_get_u8(m, bg_meta_count(m), &u8), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(bg_meta_get_str(m, bg_meta_count(m), &s, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(bg_meta_get_arr_str(m, bg_meta_count(m), 0, &s, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(bg_meta_get_arr_data(m, bg_meta_count(m), BG_META_U8, &data, &len),
               BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK(u8 == 9);
}

static void check_tensor_errors(bg_model *m) {
  size_t idx = 4242, len = 4343;
  const uint8_t *p = (const uint8_t *)"sentinel";
  bg_tensor_desc desc;
  CHECK_STATUS(bg_tensor_find(m, "no.such.tensor", &idx), BG_STATUS_NOT_FOUND);
  CHECK_STATUS(bg_tensor_find(m, "t.f3", &idx), BG_STATUS_NOT_FOUND);
  CHECK_STATUS(bg_tensor_find(m, "\xc3\x28", &idx), BG_STATUS_INVALID_PARAMETER);
  CHECK(idx == 4242);
  {
    const char *msg = t_last_error();
    CHECK_MSG(strstr(msg, "bg_tensor_find") != NULL, "message: %s", msg);
  }
  memset(&desc, 0x77, sizeof desc);
  CHECK_STATUS(bg_tensor_info(m, bg_tensor_count(m), &desc), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK_STATUS(bg_tensor_info(m, (size_t)-1, &desc), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK(desc.n_bytes == 0x7777777777777777ull);
  CHECK_STATUS(bg_tensor_data(m, bg_tensor_count(m), &p, &len), BG_STATUS_INDEX_OUT_OF_RANGE);
  CHECK(len == 4343 && strcmp((const char *)p, "sentinel") == 0);
}

static void check_model(bg_model *m, const tmodel *tm, const char *how) {
  CHECK_MSG(m != NULL, "%s: no model", how);
  if (m == NULL) return;
  check_tensors(m, tm, how);
  check_metadata(m, tm);
  check_tensor_errors(m);
}

/* ==== NULL arguments ========================================================================= */

static void check_null_arguments(bg_model *m, const char *path, const gbuf *file) {
  /* Sentinels: every output must be left as it was. */
  bg_model *const SENTINEL_MODEL = (bg_model *)(uintptr_t)0x1234;
  bg_model *mo = SENTINEL_MODEL;
  size_t idx = 31337, len = 31338;
  const uint8_t *p = (const uint8_t *)"p-sentinel";
  const char *s = "s-sentinel";
  bg_tensor_desc td;
  bg_meta_desc md;
  uint8_t u8 = 1;
  int8_t i8 = 2;
  uint16_t u16 = 3;
  int16_t i16 = 4;
  uint32_t u32 = 5;
  int32_t i32 = 6;
  float f32 = 7.0f;
  bool b = true;
  uint64_t u64 = 8;
  int64_t i64 = 9;
  double f64 = 10.0;
  char buf[16] = "buf-sentinel";
  size_t key_idx = find_meta(m, "test.u8");
  size_t arr_idx = find_meta(m, "test.arr_str");
  memset(&td, 0x33, sizeof td);
  memset(&md, 0x44, sizeof md);

#define NUL(call) CHECK_STATUS(call, BG_STATUS_NULL_PARAMETER)
  NUL(bg_load(NULL, NULL, &mo));
  NUL(bg_load(path, NULL, NULL));
  NUL(bg_load_from_memory(NULL, file->len, NULL, &mo));
  NUL(bg_load_from_memory(file->p, file->len, NULL, NULL));
  CHECK(mo == SENTINEL_MODEL);

  NUL(bg_load_options_set_type_policy(NULL, BG_TYPE_POLICY_AUTO));
  NUL(bg_load_options_set_use_mmap(NULL, true));
  NUL(bg_load_options_set_limit(NULL, BG_LIMIT_MAX_TENSORS, 10));

  NUL(bg_tensor_find(NULL, "t.f32", &idx));
  NUL(bg_tensor_find(m, NULL, &idx));
  NUL(bg_tensor_find(m, "t.f32", NULL));
  NUL(bg_tensor_info(NULL, 0, &td));
  NUL(bg_tensor_info(m, 0, NULL));
  NUL(bg_tensor_data(NULL, 0, &p, &len));
  NUL(bg_tensor_data(m, 0, NULL, &len));
  NUL(bg_tensor_data(m, 0, &p, NULL));
  {
    const char *msg = t_last_error();
    CHECK_MSG(strstr(msg, "bg_tensor_data") != NULL && strstr(msg, "len_out") != NULL,
              "NULL message should name the function and the argument: %s", msg);
  }

  NUL(bg_meta_find(NULL, "test.u8", &idx));
  NUL(bg_meta_find(m, NULL, &idx));
  NUL(bg_meta_find(m, "test.u8", NULL));
  NUL(bg_meta_info(NULL, 0, &md));
  NUL(bg_meta_info(m, 0, NULL));
  NUL(bg_meta_get_u8(NULL, key_idx, &u8));
  NUL(bg_meta_get_u8(m, key_idx, NULL));
  NUL(bg_meta_get_i8(NULL, key_idx, &i8));
  NUL(bg_meta_get_i8(m, key_idx, NULL));
  NUL(bg_meta_get_u16(NULL, key_idx, &u16));
  NUL(bg_meta_get_u16(m, key_idx, NULL));
  NUL(bg_meta_get_i16(NULL, key_idx, &i16));
  NUL(bg_meta_get_i16(m, key_idx, NULL));
  NUL(bg_meta_get_u32(NULL, key_idx, &u32));
  NUL(bg_meta_get_u32(m, key_idx, NULL));
  NUL(bg_meta_get_i32(NULL, key_idx, &i32));
  NUL(bg_meta_get_i32(m, key_idx, NULL));
  NUL(bg_meta_get_f32(NULL, key_idx, &f32));
  NUL(bg_meta_get_f32(m, key_idx, NULL));
  NUL(bg_meta_get_bool(NULL, key_idx, &b));
  NUL(bg_meta_get_bool(m, key_idx, NULL));
  NUL(bg_meta_get_u64(NULL, key_idx, &u64));
  NUL(bg_meta_get_u64(m, key_idx, NULL));
  NUL(bg_meta_get_i64(NULL, key_idx, &i64));
  NUL(bg_meta_get_i64(m, key_idx, NULL));
  NUL(bg_meta_get_f64(NULL, key_idx, &f64));
  NUL(bg_meta_get_f64(m, key_idx, NULL));
  NUL(bg_meta_get_uint(NULL, key_idx, UINT64_MAX, &u64));
  NUL(bg_meta_get_uint(m, key_idx, UINT64_MAX, NULL));
  NUL(bg_meta_get_str(NULL, key_idx, &s, &len));
  NUL(bg_meta_get_str(m, key_idx, NULL, &len));
  NUL(bg_meta_get_str(m, key_idx, &s, NULL));
  NUL(bg_meta_get_arr_str(NULL, arr_idx, 0, &s, &len));
  NUL(bg_meta_get_arr_str(m, arr_idx, 0, NULL, &len));
  NUL(bg_meta_get_arr_str(m, arr_idx, 0, &s, NULL));
  NUL(bg_meta_get_arr_data(NULL, arr_idx, BG_META_U8, &p, &len));
  NUL(bg_meta_get_arr_data(m, arr_idx, BG_META_U8, NULL, &len));
  NUL(bg_meta_get_arr_data(m, arr_idx, BG_META_U8, &p, NULL));

  NUL(bg_type_from_name(NULL, &u32));
  NUL(bg_type_from_name("f32", NULL));
  NUL(bg_last_error_message(buf, sizeof buf, NULL));
#undef NUL

  CHECK(idx == 31337 && len == 31338);
  CHECK(strcmp((const char *)p, "p-sentinel") == 0 && strcmp(s, "s-sentinel") == 0);
  CHECK(td.n_bytes == 0x3333333333333333ull && td.type_id == 0x33333333u);
  CHECK(md.array_len == 0x4444444444444444ull);
  CHECK(u8 == 1 && i8 == 2 && u16 == 3 && i16 == 4 && u32 == 5 && i32 == 6 && f32 == 7.0f &&
        b == true && u64 == 8 && i64 == 9 && f64 == 10.0);
  CHECK(strcmp(buf, "buf-sentinel") == 0);

  /* Functions without a status: NULL is harmless. */
  CHECK(bg_tensor_count(NULL) == 0);
  CHECK(bg_meta_count(NULL) == 0);
  CHECK(bg_model_retain(NULL) == NULL);
  bg_free(NULL);
  bg_load_options_free(NULL);
}

/* ==== The last error message ================================================================= */

/* Copy the last error message into a malloc'ed string (size query, then copy). */
static char *last_error_copy(void) {
  size_t len = (size_t)-1, len2 = (size_t)-1;
  char *buf;
  CHECK_STATUS(bg_last_error_message(NULL, 0, &len), BG_STATUS_INSUFFICIENT_SIZE);
  if (len == (size_t)-1) return NULL;
  buf = (char *)malloc(len + 1);
  if (buf == NULL) return NULL;
  /* A buffer without room for the NUL is too small, and is left untouched. */
  if (len > 0) {
    memset(buf, '#', len + 1);
    CHECK_STATUS(bg_last_error_message(buf, len, &len2), BG_STATUS_INSUFFICIENT_SIZE);
    CHECK(len2 == len);
    CHECK(buf[0] == '#' && buf[len - 1] == '#');
  }
  CHECK_OK(bg_last_error_message(buf, len + 1, &len2));
  CHECK(len2 == len && buf[len] == '\0' && strlen(buf) == len);
  return buf;
}

static void check_last_error(const char *trunc_path, size_t cut, size_t field_pos) {
  bg_model *m = NULL;
  char *msg;
  char want[64];
  size_t len = 0;
  uint32_t t = 0;

  CHECK_STATUS(bg_load(trunc_path, NULL, &m), BG_STATUS_TRUNCATED);
  CHECK(m == NULL);
  msg = last_error_copy();
  CHECK(msg != NULL);
  if (msg == NULL) return;
  printf("truncated file message: %s\n", msg);
  /* What, where and expected vs found: the function, the file, the byte offset of the field
   * that could not be read, and where the input ends. */
  CHECK_MSG(strstr(msg, "bg_load") != NULL, "no function name: %s", msg);
  CHECK_MSG(strstr(msg, trunc_path) != NULL, "no file name: %s", msg);
  snprintf(want, sizeof want, "byte %lu", (unsigned long)field_pos);
  CHECK_MSG(strstr(msg, want) != NULL, "no '%s': %s", want, msg);
  snprintf(want, sizeof want, "byte %lu", (unsigned long)cut);
  CHECK_MSG(strstr(msg, want) != NULL, "no '%s': %s", want, msg);

  /* Successful calls leave the message unchanged. */
  CHECK_OK(bg_type_from_name("f32", &t));
  {
    char *again = last_error_copy();
    CHECK(again != NULL && strcmp(again, msg) == 0);
    free(again);
  }
  /* A small buffer: INSUFFICIENT_SIZE, the length is reported. */
  {
    char small[4] = "abc";
    CHECK_STATUS(bg_last_error_message(small, sizeof small, &len), BG_STATUS_INSUFFICIENT_SIZE);
    CHECK(len == strlen(msg) && strcmp(small, "abc") == 0);
  }
  free(msg);
}

/* ==== Threads: shared read-only model, thread-local errors ==================================== */

typedef struct {
  bg_model *m;
  const tmodel *tm;
  int failures;
} thread_arg;

static void *thread_main(void *p) {
  thread_arg *a = (thread_arg *)p;
  bg_model *m = bg_model_retain(a->m);
  char buf[256];
  size_t len = 99;
  int it, i;
  /* A fresh thread has no last error yet. */
  if (bg_last_error_message(buf, sizeof buf, &len) != BG_STATUS_OK || len != 0 || buf[0] != '\0')
    a->failures++;
  for (it = 0; it < 50; ++it) {
    for (i = 0; i < a->tm->n_tensors; ++i) {
      size_t idx = 0, n = 0;
      const uint8_t *d = NULL;
      if (bg_tensor_find(m, a->tm->t[i].name, &idx) != BG_STATUS_OK) a->failures++;
      if (bg_tensor_data(m, idx, &d, &n) != BG_STATUS_OK || n != a->tm->t[i].n_bytes ||
          memcmp(d, a->tm->t[i].data, n) != 0)
        a->failures++;
    }
  }
  if (bg_tensor_find(m, "thread.missing", &len) != BG_STATUS_NOT_FOUND) a->failures++;
  if (bg_last_error_message(buf, sizeof buf, &len) != BG_STATUS_OK ||
      strstr(buf, "thread.missing") == NULL)
    a->failures++;
  bg_free(m);
  return NULL;
}

static void check_threads(bg_model *m, const tmodel *tm) {
  enum { N = 4 };
  pthread_t th[N];
  thread_arg args[N];
  char *before, *after;
  int i;
  size_t dummy;
  /* Give the main thread a known message first. */
  CHECK_STATUS(bg_tensor_find(m, "main.missing", &dummy), BG_STATUS_NOT_FOUND);
  before = last_error_copy();
  for (i = 0; i < N; ++i) {
    args[i].m = m, args[i].tm = tm, args[i].failures = 0;
    CHECK(pthread_create(&th[i], NULL, thread_main, &args[i]) == 0);
  }
  for (i = 0; i < N; ++i) {
    CHECK(pthread_join(th[i], NULL) == 0);
    CHECK_MSG(args[i].failures == 0, "thread %d: %d failures", i, args[i].failures);
  }
  after = last_error_copy();
  CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
  CHECK(after != NULL && strstr(after, "main.missing") != NULL);
  free(before);
  free(after);
}

/* ==== Malformed files ======================================================================== */

static bg_status load_mem(const uint8_t *p, size_t len, const bg_load_options *o) {
  bg_model *m = NULL;
  bg_status s = bg_load_from_memory(p, len, o, &m);
  if (s == BG_STATUS_OK) {
    /* Whatever loaded must be fully usable. */
    size_t i, n = bg_tensor_count(m), sum = 0;
    for (i = 0; i < n; ++i) {
      bg_tensor_desc d;
      const uint8_t *data = NULL;
      size_t len2 = 0, j;
      CHECK_OK(bg_tensor_info(m, i, &d));
      CHECK_OK(bg_tensor_data(m, i, &data, &len2));
      CHECK(len2 == d.n_bytes);
      for (j = 0; j < len2; ++j) sum += data[j];
    }
    for (i = 0; i < bg_meta_count(m); ++i) {
      bg_meta_desc d;
      CHECK_OK(bg_meta_info(m, i, &d));
    }
    (void)sum;
    bg_free(m);
  } else {
    CHECK(m == NULL);
  }
  return s;
}

static void check_malformed(const gbuf *good, const tmodel *tm) {
  uint8_t *copy = (uint8_t *)malloc(good->len);
  size_t cut, pos;
  bg_model *m = NULL;
  int panics = 0, accepted_short = 0, rejected_full = 0;
  memcpy(copy, good->p, good->len);

  /* Magic and version. */
  copy[3] = 'X';
  CHECK_STATUS(load_mem(copy, good->len, NULL), BG_STATUS_BAD_MAGIC);
  CHECK_STATUS(bg_load(write_file("bad_magic.gguf", copy, good->len), NULL, &m), BG_STATUS_BAD_MAGIC);
  CHECK(m == NULL);
  copy[3] = 'F';
  put_le(copy + 4, 1, 4);
  CHECK_STATUS(load_mem(copy, good->len, NULL), BG_STATUS_VERSION_ONE_UNSUPPORTED);
  put_le(copy + 4, 0, 4);
  CHECK_STATUS(load_mem(copy, good->len, NULL), BG_STATUS_UNSUPPORTED_VERSION);
  put_le(copy + 4, 4, 4);
  CHECK_STATUS(load_mem(copy, good->len, NULL), BG_STATUS_UNSUPPORTED_VERSION);
  put_le(copy + 4, 0x03000000u, 4);
  CHECK_STATUS(load_mem(copy, good->len, NULL), BG_STATUS_BIG_ENDIAN);
  put_le(copy + 4, 3, 4);
  CHECK_OK(load_mem(copy, good->len, NULL));

  /* A tensor offset that is not the running padded sum. */
  put_le(copy + tm->t[1].offset_field, tm->t[1].offset + 32, 8);
  CHECK_STATUS(load_mem(copy, good->len, NULL), BG_STATUS_BAD_TENSOR_OFFSET);
  memcpy(copy, good->p, good->len);

  /* Empty input, a missing file. */
  CHECK_STATUS(load_mem(NULL, 0, NULL), BG_STATUS_TRUNCATED);
  {
    char missing[PATH_MAX];
    if (snprintf(missing, sizeof missing, "%s/does-not-exist.gguf", tmp_dir) >= (int)sizeof missing) exit(2);
    CHECK_STATUS(bg_load(missing, NULL, &m), BG_STATUS_IO);
    CHECK(m == NULL);
    CHECK_MSG(strstr(t_last_error(), "does-not-exist.gguf") != NULL, "IO message: %s", t_last_error());
  }

  /* Truncated in the data section: the first tensor's bytes are missing. */
  CHECK_STATUS(load_mem(good->p, tm->data_start + 8, NULL), BG_STATUS_DATA_OUT_OF_BOUNDS);

  /* Every prefix: rejected while any tensor's bytes are missing (never a panic), accepted from
   * the end of the last tensor on (end padding is optional, as in gguf.cpp). */
  for (cut = 0; cut <= good->len; ++cut) {
    bg_status s = load_mem(good->p, cut, NULL);
    if (s == BG_STATUS_PANIC) panics++;
    if (cut < tm->data_end && s == BG_STATUS_OK) accepted_short++;
    if (cut >= tm->data_end && s != BG_STATUS_OK) rejected_full++;
  }
  CHECK_MSG(panics == 0, "%d truncations panicked", panics);
  CHECK_MSG(accepted_short == 0, "%d truncated files were accepted", accepted_short);
  CHECK_MSG(rejected_full == 0, "%d files without end padding were rejected", rejected_full);

  /* Every single-byte corruption: any status but a panic; what loads must be usable
   * (load_mem touches every tensor byte, which ASan/valgrind watch). */
  panics = 0;
  for (pos = 0; pos < good->len; ++pos) {
    static const uint8_t flips[] = {0xFF, 0x01, 0x80};
    size_t f;
    for (f = 0; f < sizeof flips; ++f) {
      bg_status s;
      copy[pos] ^= flips[f];
      s = load_mem(copy, good->len, NULL);
      if (s == BG_STATUS_PANIC) {
        if (panics++ < 5) fprintf(stderr, "panic at byte %lu ^ 0x%02x: %s\n", (unsigned long)pos, flips[f], t_last_error());
      }
      copy[pos] ^= flips[f];
    }
  }
  CHECK_MSG(panics == 0, "%d corruptions panicked", panics);
  free(copy);
}

/* ==== Options and limits ===================================================================== */

static void check_options(const gbuf *file) {
  bg_load_options *o = bg_load_options_new();
  CHECK(o != NULL);
  if (o == NULL) return;
  CHECK_STATUS(bg_load_options_set_type_policy(o, 3), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_limit(o, 99, 1), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_limit(o, BG_LIMIT_MAX_TENSORS, 0), BG_STATUS_INVALID_PARAMETER);
  CHECK_STATUS(bg_load_options_set_limit(o, BG_LIMIT_MAX_ALIGNMENT, 48), BG_STATUS_INVALID_PARAMETER);
  CHECK_OK(load_mem(file->p, file->len, o)); /* failed setters changed nothing */

#define LIMIT(which, value, expected)                             \
  do {                                                            \
    bg_load_options *lo = bg_load_options_new();                  \
    CHECK_OK(bg_load_options_set_limit(lo, which, value));        \
    CHECK_STATUS(load_mem(file->p, file->len, lo), expected);     \
    bg_load_options_free(lo);                                     \
  } while (0)
  LIMIT(BG_LIMIT_MAX_TENSORS, 2, BG_STATUS_TENSOR_COUNT_TOO_LARGE);
  LIMIT(BG_LIMIT_MAX_KV, 3, BG_STATUS_KV_COUNT_TOO_LARGE);
  LIMIT(BG_LIMIT_MAX_ALIGNMENT, 32, BG_STATUS_ALIGNMENT_TOO_LARGE);
  LIMIT(BG_LIMIT_MAX_STRING_LEN, 4, BG_STATUS_STRING_TOO_LONG);
  LIMIT(BG_LIMIT_MAX_ARRAY_LEN, 2, BG_STATUS_ARRAY_TOO_LONG);
  LIMIT(BG_LIMIT_MAX_TENSORS, 3, BG_STATUS_OK);
  LIMIT(BG_LIMIT_MAX_ALIGNMENT, 64, BG_STATUS_OK);
#undef LIMIT
  bg_load_options_free(o);
}

/* A BitNet file: disk type 36 is I2_S in the BitNet fork and a removed type upstream. */
static void check_type_policy(void) {
  tmodel tm;
  gbuf b = {NULL, 0, 0};
  ttensor *t;
  int i;
  static const uint32_t policies[3] = {BG_TYPE_POLICY_AUTO, BG_TYPE_POLICY_BITNET, BG_TYPE_POLICY_UPSTREAM};
  standard_model(&tm, 0);
  tm.arch = "bitnet-b1.58";
  t = &tm.t[tm.n_tensors++];
  t->name = "blk.0.attn_q.weight";
  t->type = DISK_I2_S;
  t->n_dims = 2;
  t->ne[0] = 128, t->ne[1] = 2, t->ne[2] = 1, t->ne[3] = 1;
  t->n_bytes = 256 / 4 + 32; /* 2 bits per element plus the 32-byte scale tail */
  for (i = 0; i < (int)t->n_bytes; ++i) t->data[i] = (uint8_t)(i * 37 + 1);
  write_model(&b, &tm, 1);

  for (i = 0; i < 3; ++i) {
    bg_load_options *o = bg_load_options_new();
    bg_model *m = NULL;
    bg_status s;
    CHECK_OK(bg_load_options_set_type_policy(o, policies[i]));
    s = bg_load_from_memory(b.p, b.len, o, &m);
    if (policies[i] == BG_TYPE_POLICY_UPSTREAM) {
      CHECK_STATUS(s, BG_STATUS_REMOVED_TYPE);
      CHECK_MSG(strstr(t_last_error(), "blk.0.attn_q.weight") != NULL, "message: %s", t_last_error());
    } else {
      size_t idx = 0, len = 0;
      const uint8_t *p = NULL;
      bg_tensor_desc d;
      CHECK_STATUS(s, BG_STATUS_OK);
      CHECK_OK(bg_tensor_find(m, "blk.0.attn_q.weight", &idx));
      CHECK_OK(bg_tensor_info(m, idx, &d));
      CHECK_MSG(d.type_id == BG_TYPE_I2_S && d.disk_type == DISK_I2_S, "policy %u: type %u disk %u",
                policies[i], d.type_id, d.disk_type);
      CHECK(d.n_bytes == t->n_bytes && d.offset == t->offset);
      CHECK_OK(bg_tensor_data(m, idx, &p, &len));
      CHECK(len == t->n_bytes && memcmp(p, t->data, len) == 0);
      check_tensors(m, &tm, "bitnet");
    }
    bg_free(m);
    bg_load_options_free(o);
  }
  free(b.p);
}

/* ==== Type names ============================================================================= */

static void check_type_names(void) {
  uint32_t id = 0xDEAD;
  CHECK_OK(bg_type_from_name("q4_K", &id));
  CHECK(id == 12 && id == BG_TYPE_Q4_K);
  CHECK_OK(bg_type_from_name("Q4_K", &id));
  CHECK(id == BG_TYPE_Q4_K);
  CHECK_OK(bg_type_from_name("i2_s", &id));
  CHECK(id == BG_TYPE_I2_S);
  CHECK_OK(bg_type_from_name("TL2", &id));
  CHECK(id == BG_TYPE_TL2);
  CHECK_OK(bg_type_from_name("mxfp4", &id));
  CHECK(id == BG_TYPE_MXFP4);
  CHECK_OK(bg_type_from_name("q8_0", &id));
  CHECK(id == BG_TYPE_Q8_0);
  id = 0xDEAD;
  CHECK_STATUS(bg_type_from_name("q4_0_4_4", &id), BG_STATUS_NOT_FOUND); /* retired */
  CHECK_STATUS(bg_type_from_name("no_such_type", &id), BG_STATUS_NOT_FOUND);
  CHECK_STATUS(bg_type_from_name("", &id), BG_STATUS_NOT_FOUND);
  CHECK_STATUS(bg_type_from_name("\xff", &id), BG_STATUS_INVALID_PARAMETER);
  CHECK(id == 0xDEAD);
  CHECK(strcmp(bg_type_name(BG_TYPE_Q4_K), "q4_k") == 0);
  CHECK(strcmp(bg_type_name(BG_TYPE_I2_S), "i2_s") == 0);
  CHECK(strcmp(bg_type_name(BG_TYPE_F16), "f16") == 0);
  CHECK(strcmp(bg_type_name(31), "q4_0_4_4") == 0); /* retired ids keep their names */
  CHECK(bg_type_name(5000) == NULL);
  CHECK(bg_type_name(UINT32_MAX) == NULL);
}

/* ==== main =================================================================================== */

int main(void) {
  const char *base = getenv("TMPDIR");
  gbuf file = {NULL, 0, 0}, file32 = {NULL, 0, 0};
  tmodel tm, tm32;
  const char *path, *path32, *trunc_path;
  bg_model *m = NULL, *m2 = NULL;
  bg_load_options *o;
  int pass;

  snprintf(tmp_dir, sizeof tmp_dir, "%s/bitgguf-c-test-XXXXXX", base && *base ? base : "/tmp");
  if (mkdtemp(tmp_dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }

  /* A 64-aligned file with general.alignment, and a default-aligned one without it. */
  standard_model(&tm, 64);
  write_model(&file, &tm, 1);
  path = write_file("synthetic64.gguf", file.p, file.len);
  standard_model(&tm32, 0);
  write_model(&file32, &tm32, 0);
  path32 = write_file("synthetic32.gguf", file32.p, file32.len);
  CHECK(tm.t[1].offset == 64 && tm.t[2].offset == 128); /* the writer pads as GGUF requires */
  CHECK(tm32.t[1].offset == 64 && tm32.t[2].offset == 96);

  for (pass = 0; pass < 2; ++pass) {
    const char *p = pass ? path32 : path;
    const gbuf *f = pass ? &file32 : &file;
    const tmodel *t = pass ? &tm32 : &tm;
    uint8_t *heap;

    /* 1. mmap (default options, NULL options). */
    m = NULL;
    CHECK_OK(bg_load(p, NULL, &m));
    check_model(m, t, "mmap");
    bg_free(m);

    /* 2. read into memory (use_mmap false). */
    o = bg_load_options_new();
    CHECK_OK(bg_load_options_set_use_mmap(o, false));
    m = NULL;
    CHECK_OK(bg_load(p, o, &m));
    bg_load_options_free(o); /* not retained by the model */
    check_model(m, t, "read");
    bg_free(m);

    /* 3. from memory: the bytes are copied, the caller's buffer can go at once. */
    heap = (uint8_t *)malloc(f->len);
    memcpy(heap, f->p, f->len);
    m = NULL;
    CHECK_OK(bg_load_from_memory(heap, f->len, NULL, &m));
    memset(heap, 0xEE, f->len);
    free(heap);
    check_model(m, t, "memory");
    bg_free(m);
  }

  /* References: retain returns the same handle; each reference is freed once; data stays valid
   * until the last free. */
  m = NULL;
  CHECK_OK(bg_load(path, NULL, &m));
  if (m != NULL) {
    const uint8_t *d = NULL;
    size_t len = 0, idx = 0;
    m2 = bg_model_retain(m);
    CHECK(m2 == m);
    CHECK_OK(bg_tensor_find(m, "t.f16", &idx));
    CHECK_OK(bg_tensor_data(m, idx, &d, &len));
    bg_free(m);
    CHECK(bg_tensor_count(m2) == N_TENSORS);
    CHECK(len == tm.t[1].n_bytes && memcmp(d, tm.t[1].data, len) == 0);

    check_null_arguments(m2, path, &file);
    check_threads(m2, &tm);
    bg_free(m2);
  }

  /* The last error message, with a file cut in the middle of the last tensor info's offset. */
  {
    size_t field = tm.t[2].offset_field;
    trunc_path = write_file("truncated.gguf", file.p, field + 4);
    check_last_error(trunc_path, field + 4, field);
  }

  check_malformed(&file, &tm);
  check_options(&file);
  check_type_policy();
  check_type_names();

  free(file.p);
  free(file32.p);
  remove_files();
  return t_finish("synthetic");
}
