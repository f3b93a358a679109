// add_subdirectory consumer in C++17: bitgguf.hpp is on the include path of bitgguf::bitgguf,
// and its errors carry the library's status and message.
#include <bitgguf.hpp>

#include <cstdio>
#include <cstring>

int main() {
  static const unsigned char not_gguf[4] = {'G', 'G', 'U', 'X'};
  bitgguf::Result<bitgguf::Model> r = bitgguf::Model::try_load_from_memory(not_gguf, sizeof not_gguf);
  std::printf("bitgguf %s: %s\n", bitgguf::version(), r.message().c_str());
  if (r.ok() || r.status() != BG_STATUS_BAD_MAGIC || r.message().empty()) return 1;
  return bitgguf::abi_version() == BG_ABI_VERSION ? 0 : 1;
}
