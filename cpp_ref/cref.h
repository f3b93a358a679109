/*
 * cref.h: the C surface of cpp_ref, the independent C++17 reference GGUF reader and
 * dequantizer that bitgguf's crossval compares itself against (shared/DESIGN.md §5).
 *
 * Conventions
 * - Every function that can fail returns an int status: CREF_OK (0) or one of CREF_ERR_*.
 *   On failure, cref_error() gives this thread's message (what, where: byte offset, tensor).
 * - Outputs are written only on success.
 * - No C++ exception crosses this surface: every function catches everything, and an
 *   unexpected exception becomes CREF_ERR_INTERNAL.
 * - Type ids are bitgguf's API ids: upstream ggml ids as they are (0..42); the BitNet fork's
 *   types at 1000 + their fork id (I2_S = 1036, I8_S = 1037, TL1 = 1038, TL2 = 1039).
 * - A cref_file is read-only after it is opened: every query may run on any thread.
 */
#ifndef CREF_H
#define CREF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------------ */
#define CREF_OK 0
#define CREF_ERR_IO 1          /* the file cannot be opened or read */
#define CREF_ERR_TRUNCATED 10  /* the input ends inside a field (or before the data section) */
#define CREF_ERR_MAGIC 11      /* the first four bytes are not "GGUF" */
#define CREF_ERR_VERSION 12    /* version 0, 1, > 3, or byte-swapped (big-endian) */
#define CREF_ERR_COUNT 13      /* tensor or key/value count negative as int64 */
#define CREF_ERR_KEY 20        /* empty or duplicate key */
#define CREF_ERR_VALUE 21      /* bad value type, nested array, string or array too long */
#define CREF_ERR_ALIGNMENT 22  /* general.alignment not u32, zero or not a power of two */
#define CREF_ERR_NAME 30       /* tensor name >= 64 bytes, or duplicate */
#define CREF_ERR_DIMS 31       /* n_dims > 4, negative dimension, element count overflow */
#define CREF_ERR_TYPE 32       /* unknown, removed, not storable or unresolved type id */
#define CREF_ERR_SHAPE 33      /* shape not valid for the type, or byte size overflow */
#define CREF_ERR_OFFSET 40     /* offset not the running sum of padded sizes */
#define CREF_ERR_BOUNDS 41     /* data beyond the end of the file, or data size overflow */
#define CREF_ERR_UNSUPPORTED 50 /* cref_dequantize has no decoder for this type */
#define CREF_ERR_BAD_DATA 51   /* the bytes hold a value the format forbids (I2_S code 3, ...) */
#define CREF_ERR_NO_TILE 52    /* no (or a malformed) bitgguf.tl.<name> key for a TL1/TL2 tensor */
#define CREF_ERR_ARG 90        /* a NULL pointer or a size that does not match */
#define CREF_ERR_RANGE 91      /* tensor index out of range */
#define CREF_ERR_INTERNAL 99   /* an unexpected C++ exception (a bug) */

/* ---- how the contested on-disk type ids 36..39 are read (same values as bitgguf's) -------- */
#define CREF_POLICY_AUTO 0     /* 36 = I2_S, 38 = TL1, 37 rejected; 39 by layout, then producer */
#define CREF_POLICY_UPSTREAM 1 /* 36..38 removed, 39 = MXFP4 */
#define CREF_POLICY_BITNET 2   /* 36 = I2_S, 37 = I8_S (rejected), 38 = TL1, 39 = TL2 */

/** An opened GGUF file (opaque). */
typedef struct cref_file cref_file;

/** Read the whole file at `path` into memory and parse it. */
int cref_open(const char *path, uint32_t policy, cref_file **out);

/** Parse `len` bytes at `data`. The bytes are NOT copied: they must stay valid and unchanged
 *  until cref_close. */
int cref_open_memory(const uint8_t *data, size_t len, uint32_t policy, cref_file **out);

/** Release a file (NULL is a no-op). */
void cref_close(cref_file *f);

/** This thread's last error message (never NULL; "" before any error). Valid until the next
 *  failing cref_* call on this thread. */
const char *cref_error(void);

/** Header facts: version, number of key/value pairs, alignment, absolute data-section offset. */
int cref_file_info(const cref_file *f, uint32_t *version, uint64_t *n_kv, uint64_t *alignment,
                   uint64_t *data_offset);

/** Number of tensors (0 for NULL). */
size_t cref_tensor_count(const cref_file *f);

/** Tensor `i`: name (NUL-terminated, valid until cref_close) and its length, API type id, the
 *  type id as written, n_dims, ne[4] (unused = 1), offset relative to the data section, bytes. */
int cref_tensor_info(const cref_file *f, size_t i, const char **name, size_t *name_len,
                     uint32_t *type, uint32_t *disk_type, uint32_t *n_dims, uint64_t ne[4],
                     uint64_t *offset, uint64_t *n_bytes);

/** Tensor `i`'s bytes (pointer into the file's bytes, valid until cref_close). */
int cref_tensor_data(const cref_file *f, size_t i, const uint8_t **data, size_t *len);

/** Tensor `i`'s TL1 / TL2 tile configuration {BM, BK, bm}, as recorded in the file's metadata
 *  key `bitgguf.tl.<tensor name>` (UINT32 array of 3). CREF_ERR_NO_TILE when the key is absent
 *  or not a UINT32[3]. */
int cref_tensor_tile(const cref_file *f, size_t i, uint32_t cfg[3]);

/** 1 when cpp_ref decodes `type` (TL1 / TL2 with cref_dequantize_tl), else 0. */
int cref_type_supported(uint32_t type);

/** Decode `n` elements of `type` from exactly `src_len` bytes at `src` into `dst` (n floats).
 *  Block types: `n` a multiple of the block size, `src_len` = n / blck * tsize.
 *  I2_S: the whole tensor in the canonical GROUP_128 layout, `n` a multiple of 128, `src_len` =
 *  n / 4 + 32 (scale in the tail); a 2-bit code 3 is rejected with CREF_ERR_BAD_DATA.
 *  TL1 / TL2 need their tile configuration: CREF_ERR_ARG here, use cref_dequantize_tl. */
int cref_dequantize(uint32_t type, const uint8_t *src, size_t src_len, uint64_t n, float *dst);

/** I2_S with an explicit layout: `group` = 32 (GROUP_128, canonical) or 16 (GROUP_64, ARM;
 *  64-element blocks of 16 bytes). `n` a multiple of 4 * group, `src_len` = n / 4 + 32. */
int cref_dequantize_i2s(const uint8_t *src, size_t src_len, uint64_t n, uint32_t group, float *dst);

/** TL1 (type 1038) or TL2 (1039): an M x K tensor (ggml ne0 = K, ne1 = M; M*K floats to `dst`,
 *  row-major) from exactly its `src_len` bytes (TL1: M*K/4 + 32; TL2: roundup32(F(M,K)) + 32),
 *  with tile configuration cfg = {BM, BK, bm}. CREF_ERR_ARG for a configuration that does not
 *  fit the shape (bitnet-formats.md §4.2, §5.2), CREF_ERR_BAD_DATA for an invalid index. */
int cref_dequantize_tl(uint32_t type, const uint8_t *src, size_t src_len, uint64_t k, uint64_t m,
                       const uint32_t cfg[3], float *dst);

#ifdef __cplusplus
}
#endif

#endif /* CREF_H */
