/* The header as a C99 client sees it: compiled with -std=c99 -Wall -Wextra -Wpedantic -Werror
 * (see CMakeLists.txt), included first (self-contained) and twice (include guard). Checks that
 * the compile-time constants agree with the library that is linked: version macros against
 * bg_version(), BG_ABI_VERSION against bg_abi_version(), every BG_STATUS_* against
 * bg_status_str() and every BG_TYPE_* against bg_type_name()/bg_type_from_name(). */
#include "bitgguf.h"
#include "bitgguf.h" /* the include guard makes the second inclusion a no-op */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"

/* C99 compile-time assertion. */
#define T_STATIC_ASSERT(cond, name) typedef char t_static_assert_##name[(cond) ? 1 : -1]

T_STATIC_ASSERT(sizeof(bg_status) == 4, bg_status_is_32_bits);
T_STATIC_ASSERT(BG_STATUS_OK == 0, ok_is_zero);
T_STATIC_ASSERT(BG_VERSION_MAJOR >= 0 && BG_VERSION_MINOR >= 0 && BG_VERSION_PATCH >= 0, version_ints);
T_STATIC_ASSERT(BG_ABI_VERSION >= 1, abi_version);
T_STATIC_ASSERT(sizeof(((bg_tensor_desc *)0)->ne) == 4 * sizeof(uint64_t), ne_has_4_dims);

#define STR2(x) #x
#define STR(x) STR2(x)

static const unsigned all_status[] = {
    BG_STATUS_OK, BG_STATUS_TRUNCATED, BG_STATUS_BAD_MAGIC, BG_STATUS_UNSUPPORTED_VERSION,
    BG_STATUS_VERSION_ONE_UNSUPPORTED, BG_STATUS_BIG_ENDIAN, BG_STATUS_TENSOR_COUNT_TOO_LARGE,
    BG_STATUS_KV_COUNT_TOO_LARGE, BG_STATUS_EMPTY_KEY, BG_STATUS_DUPLICATE_KEY,
    BG_STATUS_INVALID_KEY, BG_STATUS_BAD_VALUE_TYPE, BG_STATUS_NESTED_ARRAY,
    BG_STATUS_STRING_TOO_LONG, BG_STATUS_ARRAY_TOO_LONG, BG_STATUS_ALIGNMENT_TYPE,
    BG_STATUS_ALIGNMENT_NOT_POWER_OF_TWO, BG_STATUS_ALIGNMENT_TOO_LARGE,
    BG_STATUS_METADATA_TOO_LARGE, BG_STATUS_TENSOR_NAME_TOO_LONG, BG_STATUS_INVALID_TENSOR_NAME,
    BG_STATUS_DUPLICATE_TENSOR, BG_STATUS_BAD_DIM_COUNT, BG_STATUS_BAD_DIMENSION,
    BG_STATUS_ELEMENT_COUNT_OVERFLOW, BG_STATUS_UNKNOWN_TYPE, BG_STATUS_REMOVED_TYPE,
    BG_STATUS_BAD_SHAPE_FOR_TYPE, BG_STATUS_BYTE_SIZE_OVERFLOW, BG_STATUS_CONTESTED_TYPE,
    BG_STATUS_TYPE_NOT_STORABLE, BG_STATUS_BAD_TENSOR_OFFSET, BG_STATUS_DATA_SIZE_OVERFLOW,
    BG_STATUS_DATA_OUT_OF_BOUNDS, BG_STATUS_SPLIT_MISMATCH, BG_STATUS_UNSUPPORTED_TYPE,
    BG_STATUS_NOT_COMPILED, BG_STATUS_NO_DEVICE, BG_STATUS_OUT_OF_MEMORY,
    BG_STATUS_NULL_PARAMETER, BG_STATUS_INVALID_PARAMETER, BG_STATUS_INSUFFICIENT_SIZE,
    BG_STATUS_INDEX_OUT_OF_RANGE, BG_STATUS_NOT_FOUND, BG_STATUS_TYPE_MISMATCH, BG_STATUS_IO,
    BG_STATUS_CANCELLED, BG_STATUS_PANIC,
};

static const unsigned all_types[] = {
    BG_TYPE_F32,     BG_TYPE_F16,    BG_TYPE_Q4_0,   BG_TYPE_Q4_1,    BG_TYPE_Q5_0,
    BG_TYPE_Q5_1,    BG_TYPE_Q8_0,   BG_TYPE_Q8_1,   BG_TYPE_Q2_K,    BG_TYPE_Q3_K,
    BG_TYPE_Q4_K,    BG_TYPE_Q5_K,   BG_TYPE_Q6_K,   BG_TYPE_Q8_K,    BG_TYPE_IQ2_XXS,
    BG_TYPE_IQ2_XS,  BG_TYPE_IQ3_XXS, BG_TYPE_IQ1_S, BG_TYPE_IQ4_NL,  BG_TYPE_IQ3_S,
    BG_TYPE_IQ2_S,   BG_TYPE_IQ4_XS, BG_TYPE_I8,     BG_TYPE_I16,     BG_TYPE_I32,
    BG_TYPE_I64,     BG_TYPE_F64,    BG_TYPE_IQ1_M,  BG_TYPE_BF16,    BG_TYPE_TQ1_0,
    BG_TYPE_TQ2_0,   BG_TYPE_MXFP4,  BG_TYPE_NVFP4,  BG_TYPE_Q1_0,    BG_TYPE_Q2_0,
    BG_TYPE_I2_S,    BG_TYPE_TL1,    BG_TYPE_TL2,
};

static void check_versions(void) {
  const char *v = bg_version();
  const char *expected = STR(BG_VERSION_MAJOR) "." STR(BG_VERSION_MINOR) "." STR(BG_VERSION_PATCH);
  size_t n = strlen(expected);
  CHECK(v != NULL);
  if (v == NULL) return;
  printf("bg_version() = \"%s\", BG_ABI_VERSION = %d\n", v, BG_ABI_VERSION);
  /* "MAJOR.MINOR.PATCH" followed by the end, a space or a pre-release/build suffix, never by
   * another digit (0.1.0 must not match 0.1.01). */
  CHECK_MSG(strncmp(v, expected, n) == 0, "bg_version() \"%s\" does not start with \"%s\"", v, expected);
  CHECK_MSG(v[n] == '\0' || v[n] == ' ' || v[n] == '-' || v[n] == '+',
            "bg_version() \"%s\": unexpected character after \"%s\"", v, expected);
#ifdef BG_EXPECTED_VERSION
  /* The [package] version of Cargo.toml, read by CMake. */
  CHECK_MSG(strcmp(expected, BG_EXPECTED_VERSION) == 0,
            "header macros say %s, Cargo.toml says %s", expected, BG_EXPECTED_VERSION);
#endif
  CHECK(bg_abi_version() == BG_ABI_VERSION);
  CHECK(bg_version() == v); /* static: the same pointer every time */
}

static void check_status_table(void) {
  size_t i, j;
  const char *unknown = bg_status_str(12345u);
  CHECK(unknown != NULL && strcmp(unknown, "unknown status") == 0);
  for (i = 0; i < sizeof all_status / sizeof all_status[0]; ++i) {
    const char *s = bg_status_str(all_status[i]);
    CHECK_MSG(s != NULL && s[0] != '\0' && strcmp(s, "unknown status") != 0,
              "status %u is in the header but the library does not know it", all_status[i]);
    for (j = 0; j < i; ++j) CHECK_MSG(all_status[i] != all_status[j], "status %u twice", all_status[i]);
  }
  CHECK(strcmp(bg_status_str(BG_STATUS_OK), "ok") == 0);
}

static void check_type_table(void) {
  size_t i;
  for (i = 0; i < sizeof all_types / sizeof all_types[0]; ++i) {
    const char *name = bg_type_name(all_types[i]);
    uint32_t back = 0xFFFFFFFFu;
    CHECK_MSG(name != NULL, "BG_TYPE id %u has no name in the library", all_types[i]);
    if (name == NULL) continue;
    CHECK_OK(bg_type_from_name(name, &back));
    CHECK_MSG(back == all_types[i], "bg_type_from_name(\"%s\") = %u, expected %u", name, back, all_types[i]);
  }
  CHECK(BG_META_U8 == 0 && BG_META_I8 == 1 && BG_META_U16 == 2 && BG_META_I16 == 3 &&
        BG_META_U32 == 4 && BG_META_I32 == 5 && BG_META_F32 == 6 && BG_META_BOOL == 7 &&
        BG_META_STRING == 8 && BG_META_ARRAY == 9 && BG_META_U64 == 10 && BG_META_I64 == 11 &&
        BG_META_F64 == 12);
}

int main(void) {
  check_versions();
  check_status_table();
  check_type_table();
  return t_finish("header_c99");
}
