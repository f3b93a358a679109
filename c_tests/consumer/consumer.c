/* Uses an installed bitgguf (see CMakeLists.txt here, and the pkg-config check in
 * scripts/test.sh): the header compiles, the library links and loads, and the two agree. */
#include <bitgguf.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  static const unsigned char not_gguf[4] = {'G', 'G', 'U', 'X'};
  bg_model *m = NULL;
  bg_status s = bg_load_from_memory(not_gguf, sizeof not_gguf, NULL, &m);
  printf("bitgguf %s (ABI %u; header ABI %d)\n", bg_version(), bg_abi_version(), BG_ABI_VERSION);
  if (bg_abi_version() != BG_ABI_VERSION) {
    fprintf(stderr, "ABI mismatch\n");
    return 1;
  }
  if (s != BG_STATUS_BAD_MAGIC || m != NULL) {
    fprintf(stderr, "unexpected status %u (%s)\n", (unsigned)s, bg_status_str(s));
    return 1;
  }
  return 0;
}
