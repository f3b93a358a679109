// Second translation unit of the C++ header test (see header_cxx_a.cpp).
#include "bitgguf.h"
#include "bitgguf.h"

#include <cstdint>
#include <cstring>

#include "test_util.h"

using t_free_fn = void (*)(bg_model *);
t_free_fn t_cxx_b_free_address(void) { return &bg_free; }

int t_cxx_b(void) {
  std::uint32_t id = 0;
  CHECK_OK(bg_type_from_name("Q4_K", &id));
  CHECK(id == BG_TYPE_Q4_K);
  CHECK(std::strcmp(bg_type_name(BG_TYPE_I2_S), "i2_s") == 0);
  std::uint8_t v = 42;
  CHECK_STATUS(bg_meta_get_u8(nullptr, 0, &v), BG_STATUS_NULL_PARAMETER);
  CHECK(v == 42);
  bg_load_options *o = bg_load_options_new();
  CHECK(o != nullptr);
  CHECK_OK(bg_load_options_set_use_mmap(o, false));
  bg_load_options_free(o);
  return 0;
}
