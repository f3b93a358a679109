// The header as a C++17 client sees it, from two translation units (this one and
// header_cxx_b.cpp) linked into one program: no definitions in the header, so no duplicate
// symbols, and the same declarations in both. Compiled with -Wall -Wextra -Wpedantic -Werror.
#include "bitgguf.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

#include "test_util.h"

static_assert(std::is_enum<bg_status>::value, "in C++, bg_status is an enum");
static_assert(std::is_same<std::underlying_type<bg_status>::type, std::uint32_t>::value,
              "bg_status has a 32-bit unsigned underlying type, as uint32_t in C");
static_assert(std::is_standard_layout<bg_tensor_desc>::value, "bg_tensor_desc is a C struct");
static_assert(std::is_standard_layout<bg_meta_desc>::value, "bg_meta_desc is a C struct");
static_assert(BG_ABI_VERSION >= 1, "ABI version");

// Defined in header_cxx_b.cpp.
int t_cxx_b(void);
using t_free_fn = void (*)(bg_model *);
t_free_fn t_cxx_b_free_address(void);

int main() {
  // Both translation units see the same function (one definition in the library).
  CHECK(&bg_free == t_cxx_b_free_address());
  CHECK(t_cxx_b() == 0);

  // RAII ownership with the C API.
  using model_ptr = std::unique_ptr<bg_model, decltype(&bg_free)>;
  bg_model *raw = nullptr;
  static const std::uint8_t not_gguf[8] = {'N', 'O', 'T', 'G', 'G', 'U', 'F', 0};
  CHECK_STATUS(bg_load_from_memory(not_gguf, sizeof not_gguf, nullptr, &raw), BG_STATUS_BAD_MAGIC);
  CHECK(raw == nullptr);
  model_ptr m(raw, &bg_free);  // freeing NULL is a no-op

  bg_status s = BG_STATUS_OK;
  CHECK(s == 0);
  CHECK(bg_abi_version() == BG_ABI_VERSION);
  CHECK(std::strlen(bg_version()) > 0);
  return t_finish("header_cxx");
}
