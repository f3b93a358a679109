/* Minimal check macros shared by the C and C++ tests (no test framework, no dependencies).
 *
 * CHECK(cond) and CHECK_STATUS(call, expected) record a failure and keep going; a test's
 * main() ends with `return t_finish("name");`, which prints a summary and returns 1 on any
 * failure. A test that cannot run prints "SKIPPED: <reason>" and returns T_SKIP (77, which
 * CMake's SKIP_RETURN_CODE turns into a skipped test). */
#ifndef BITGGUF_TEST_UTIL_H
#define BITGGUF_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include "bitgguf.h"

#define T_SKIP 77

#ifdef __cplusplus
#define T_INLINE inline
#else
#define T_INLINE static inline
#endif

T_INLINE int *t_failures(void) {
  static int n = 0;
  return &n;
}

T_INLINE int *t_checks(void) {
  static int n = 0;
  return &n;
}

/* This thread's last error message (truncated to fit a static buffer; for diagnostics). */
T_INLINE const char *t_last_error(void) {
  static char buf[1024];
  size_t len = 0;
  buf[0] = '\0';
  if (bg_last_error_message(buf, sizeof buf, &len) != BG_STATUS_OK) {
    snprintf(buf, sizeof buf, "<message of %lu bytes does not fit>", (unsigned long)len);
  }
  return buf;
}

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    ++*t_checks();                                                                     \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
      ++*t_failures();                                                                 \
    }                                                                                  \
  } while (0)

#define CHECK_MSG(cond, ...)                                                           \
  do {                                                                                 \
    ++*t_checks();                                                                     \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);         \
      fprintf(stderr, __VA_ARGS__);                                                    \
      fputc('\n', stderr);                                                             \
      ++*t_failures();                                                                 \
    }                                                                                  \
  } while (0)

/* Evaluate a bg_* call once and compare its status with `expected`. */
#define CHECK_STATUS(call, expected)                                                   \
  do {                                                                                 \
    bg_status t_s_ = (call);                                                           \
    unsigned t_e_ = (unsigned)(expected);                                              \
    ++*t_checks();                                                                     \
    if ((unsigned)t_s_ != t_e_) {                                                      \
      fprintf(stderr, "%s:%d: %s\n  returned %u (%s), expected %s = %u (%s)\n"         \
                      "  last error: %s\n",                                            \
              __FILE__, __LINE__, #call, (unsigned)t_s_, bg_status_str((unsigned)t_s_), \
              #expected, t_e_, bg_status_str(t_e_), t_last_error());                   \
      ++*t_failures();                                                                 \
    }                                                                                  \
  } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, BG_STATUS_OK)

T_INLINE int t_finish(const char *name) {
  if (*t_failures() != 0) {
    fprintf(stderr, "%s: FAILED: %d of %d checks failed\n", name, *t_failures(), *t_checks());
    return 1;
  }
  printf("%s: OK (%d checks)\n", name, *t_checks());
  return 0;
}

#endif /* BITGGUF_TEST_UTIL_H */
