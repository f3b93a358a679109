// The C++17 counterpart of examples/c/host.c, through include/bitgguf.hpp: load a model with a
// progress callback, list its tensors, dequantize one to f32 and print statistics. Errors are
// bitgguf::Error exceptions (status + the library's detailed message).
//
//   host_cpp MODEL.gguf [TENSOR]
//
// The last line has the same format as host.c's (bit patterns; scripts/test.sh compares them).
#include <bitgguf.hpp>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s MODEL.gguf [TENSOR]\n", argv[0]);
    return 2;
  }
  try {
    std::printf("bitgguf %s (ABI %u)\n", bitgguf::version(), bitgguf::abi_version());
    unsigned reports = 0;
    bg_progress last{};
    bitgguf::LoadOptions opts;
    opts.progress([&](const bg_progress& p) {
      ++reports;
      last = p;
      return true;  // false would cancel the load
    });
    bitgguf::Model model = bitgguf::Model::load(argv[1], opts);
    std::printf("loaded %zu/%zu tensors, %" PRIu64 " bytes (%u progress reports)\n", last.tensors_done,
                last.tensors_total, last.bytes_done, reports);

    std::optional<size_t> pick;
    std::printf("%zu tensors:\n", model.tensor_count());
    for (const bitgguf::TensorInfo& t : model.tensors()) {
      std::printf("  %-32.*s %-6s [%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64 "] %" PRIu64 " bytes\n",
                  static_cast<int>(t.name.size()), t.name.data(), t.type_name(), t.ne[0], t.ne[1], t.ne[2], t.ne[3],
                  t.n_bytes);
      if (!pick && t.type != BG_TYPE_F32 && t.type != BG_TYPE_F16) pick = t.index;
    }
    bitgguf::TensorInfo t = argc == 3 ? model.tensor(std::string(argv[2])) : model.tensor(pick.value_or(0));

    std::vector<float> v = model.dequantize(t.index);
    float mn = v.at(0), mx = v.at(0);
    double sum = 0.0;
    for (float x : v) {
      sum += x;
      mn = x < mn ? x : mn;
      mx = x > mx ? x : mx;
    }
    double mean = sum / static_cast<double>(v.size());
    std::string name(t.name);
    std::printf("%s (%s): %zu values, min %.6g, max %.6g, mean %.6g\n", name.c_str(), t.type_name(), v.size(), mn,
                mx, mean);
    uint32_t bmin, bmax;
    uint64_t bmean;
    std::memcpy(&bmin, &mn, 4);
    std::memcpy(&bmax, &mx, 4);
    std::memcpy(&bmean, &mean, 8);
    std::printf("stats name=%s type=%s n=%zu min=%08" PRIx32 " max=%08" PRIx32 " mean=%016" PRIx64 "\n",
                name.c_str(), t.type_name(), v.size(), bmin, bmax, bmean);
    return 0;
  } catch (const bitgguf::Error& e) {
    std::fprintf(stderr, "error %u (%s): %s\n", static_cast<unsigned>(e.status()), e.status_str(), e.what());
    return 1;
  }
}
