// include/bitgguf.hpp (the C++17 RAII wrapper) against a GGUF file written byte by byte here,
// whose every value is known: tensors (f32, f16, q8_0), zero-copy bytes, f32/f16/bf16 decoding,
// rows, metadata getters, errors as exceptions (status + the library's message) and as
// bitgguf::Result, move-only ownership and share(), LoadOptions with a progress callback
// (count, cancel, exception -> cancel). With BG_GEMMA_PATH: the wrapper's decoding of a real
// Q4_K_M tensor equals the C API's, bit for bit.
#include "bitgguf.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "test_util.h"

static_assert(!std::is_copy_constructible<bitgguf::Model>::value, "Model is move-only");
static_assert(!std::is_copy_assignable<bitgguf::Model>::value, "Model is move-only");
static_assert(std::is_nothrow_move_constructible<bitgguf::Model>::value, "Model moves without throwing");
static_assert(std::is_nothrow_move_assignable<bitgguf::Model>::value, "Model moves without throwing");
static_assert(!std::is_copy_constructible<bitgguf::LoadOptions>::value, "LoadOptions is move-only");

namespace {

struct Writer {
  std::vector<uint8_t> b;
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void str(const std::string& s) {
    le(s.size(), 8);
    b.insert(b.end(), s.begin(), s.end());
  }
  void pad(size_t a) {
    while (b.size() % a) b.push_back(0);
  }
};

const uint16_t kF16[4] = {0x3C00, 0xC000, 0x3800, 0x0000};  // 1, -2, 0.5, 0

float f32_value(size_t i) { return static_cast<float>(i) * 0.25f - 1.0f; }
int8_t q8_value(size_t row, size_t i) { return static_cast<int8_t>(row == 0 ? int(i) - 16 : 15 - int(i)); }

// "a.f32" f32 [8, 2]; "b.q8_0" q8_0 [32, 2] (d = 0.5 per block); "c.f16" f16 [4].
std::vector<uint8_t> make_model() {
  Writer w;
  w.b.insert(w.b.end(), {'G', 'G', 'U', 'F'});
  w.le(3, 4);
  w.le(3, 8);  // tensors
  w.le(5, 8);  // kv
  w.str("general.architecture");
  w.le(8, 4);
  w.str("llama");
  w.str("llama.block_count");
  w.le(4, 4);
  w.le(2, 4);
  w.str("test.f32");
  w.le(6, 4);
  float f = 1.5f;
  uint32_t fb;
  std::memcpy(&fb, &f, 4);
  w.le(fb, 4);
  w.str("test.flag");
  w.le(7, 4);
  w.le(1, 1);
  w.str("tokenizer.ggml.tokens");
  w.le(9, 4);
  w.le(8, 4);
  w.le(2, 8);
  w.str("a");
  w.str("bc");
  struct T {
    const char* name;
    uint32_t type;
    uint64_t ne0, ne1, bytes;
  } ts[3] = {{"a.f32", 0, 8, 2, 64}, {"b.q8_0", 8, 32, 2, 68}, {"c.f16", 1, 4, 1, 8}};
  uint64_t off = 0;
  for (const T& t : ts) {
    w.str(t.name);
    w.le(2, 4);
    w.le(t.ne0, 8);
    w.le(t.ne1, 8);
    w.le(t.type, 4);
    w.le(off, 8);
    off += (t.bytes + 31) / 32 * 32;
  }
  w.pad(32);
  for (size_t i = 0; i < 16; ++i) {
    float v = f32_value(i);
    uint32_t u;
    std::memcpy(&u, &v, 4);
    w.le(u, 4);
  }
  w.pad(32);
  for (size_t row = 0; row < 2; ++row) {
    w.le(0x3800, 2);  // d = 0.5
    for (size_t i = 0; i < 32; ++i) w.b.push_back(static_cast<uint8_t>(q8_value(row, i)));
  }
  w.pad(32);
  for (uint16_t h : kF16) w.le(h, 2);
  return w.b;
}

template <class F>
bg_status status_of(F&& f) {
  try {
    f();
  } catch (const bitgguf::Error& e) {
    CHECK_MSG(std::strlen(e.what()) > 0 && e.status_str() != nullptr, "error without a message");
    return e.status();
  }
  return BG_STATUS_OK;
}

void test_model(const bitgguf::Model& m, const std::vector<uint8_t>& file) {
  CHECK(m.tensor_count() == 3);
  CHECK(m.tensors().size() == 3);
  std::vector<std::string> names;
  for (const bitgguf::TensorInfo& t : m.tensors()) names.emplace_back(t.name);
  CHECK(names.size() == 3 && names[0] == "a.f32" && names[1] == "b.q8_0" && names[2] == "c.f16");

  CHECK(m.find_tensor("b.q8_0") == std::optional<size_t>(1));
  CHECK(!m.find_tensor("nope").has_value());
  CHECK(status_of([&] { m.tensor("nope"); }) == BG_STATUS_NOT_FOUND);
  CHECK(status_of([&] { m.tensor(3); }) == BG_STATUS_INDEX_OUT_OF_RANGE);

  bitgguf::TensorInfo a = m.tensor("a.f32");
  CHECK(a.type == BG_TYPE_F32 && a.n_dims == 2 && a.ne[0] == 8 && a.ne[1] == 2 && a.n_elements == 16);
  CHECK(a.n_rows() == 2 && a.n_bytes == 64 && std::string(a.type_name()) == "f32");
  bitgguf::TensorInfo q = m.tensor(1);
  CHECK(q.type == BG_TYPE_Q8_0 && q.n_bytes == 68 && q.offset == 64 && std::string(q.type_name()) == "q8_0");

  // Zero-copy bytes: exactly the file's, at the data section + offset.
  bitgguf::Bytes qb = m.data(1);
  size_t data_start = file.size() - 160 - 8;  // a (64) + q8_0 (68, padded to 96), then c.f16 (8)
  CHECK(qb.size() == 68 && std::memcmp(qb.data(), file.data() + data_start + 64, 68) == 0);
  CHECK(m.data(0).size() == 64 && std::memcmp(m.data(0).data(), file.data() + data_start, 64) == 0);

  std::vector<float> af = m.dequantize(0);
  CHECK(af.size() == 16);
  bool exact = af.size() == 16;
  for (size_t i = 0; exact && i < 16; ++i) exact = af[i] == f32_value(i);
  CHECK_MSG(exact, "f32 tensor values");

  std::vector<float> qf = m.dequantize(1);
  CHECK(qf.size() == 64);
  exact = qf.size() == 64;
  for (size_t i = 0; exact && i < 64; ++i) exact = qf[i] == 0.5f * q8_value(i / 32, i % 32);
  CHECK_MSG(exact, "q8_0 tensor values (d * q)");
  std::vector<float> row1 = m.dequantize_rows(1, 1, 1);
  CHECK(row1.size() == 32 && row1[0] == 0.5f * 15 && row1[31] == 0.5f * -16);
  CHECK(status_of([&] { m.dequantize_rows(1, 2, 1); }) == BG_STATUS_INDEX_OUT_OF_RANGE);

  std::vector<uint16_t> h = m.dequantize_f16(2);
  CHECK(h.size() == 4 && std::memcmp(h.data(), kF16, 8) == 0);
  std::vector<uint16_t> bf = m.dequantize_bf16(2);  // 1, -2, 0.5, 0 in bfloat16
  CHECK(bf.size() == 4 && bf[0] == 0x3F80 && bf[1] == 0xC000 && bf[2] == 0x3F00 && bf[3] == 0);
  std::vector<float> hf = m.dequantize(2);
  CHECK(hf.size() == 4 && hf[0] == 1.0f && hf[1] == -2.0f && hf[2] == 0.5f && hf[3] == 0.0f);

  CHECK(m.meta_count() == 5);
  CHECK(m.meta_string("general.architecture") == "llama");
  CHECK(m.meta_u32("llama.block_count") == 2);
  CHECK(m.meta_uint("llama.block_count", 2) == 2);
  CHECK(status_of([&] { m.meta_uint("llama.block_count", 1); }) == BG_STATUS_INVALID_PARAMETER);
  CHECK(m.meta_f32("test.f32") == 1.5f);
  CHECK(m.meta_bool("test.flag"));
  CHECK(m.meta_array_string("tokenizer.ggml.tokens", 1) == "bc");
  CHECK(m.has_meta("test.flag") && !m.has_meta("test.none"));
  bg_meta_desc d = m.meta_info(*m.find_meta("tokenizer.ggml.tokens"));
  CHECK(d.value_type == BG_META_ARRAY && d.array_type == BG_META_STRING && d.array_len == 2);
  CHECK(status_of([&] { m.meta_u32("general.architecture"); }) == BG_STATUS_TYPE_MISMATCH);
  CHECK(status_of([&] { m.meta_string("test.none"); }) == BG_STATUS_NOT_FOUND);
}

void test_errors() {
  const uint8_t junk[8] = {'G', 'G', 'U', 'X', 3, 0, 0, 0};
  bitgguf::Result<bitgguf::Model> r = bitgguf::Model::try_load_from_memory(junk, sizeof junk);
  CHECK(!r.ok() && !r && r.status() == BG_STATUS_BAD_MAGIC);
  CHECK_MSG(r.message().find("bg_load_from_memory") != std::string::npos && r.message().size() > 25,
            "message: %s", r.message().c_str());
  CHECK(status_of([&] { r.value(); }) == BG_STATUS_BAD_MAGIC);
  CHECK(status_of([&] { bitgguf::Model::load_from_memory(junk, sizeof junk); }) == BG_STATUS_BAD_MAGIC);

  bitgguf::Result<bitgguf::Model> io = bitgguf::Model::try_load("/nonexistent/bitgguf/none.gguf");
  CHECK(!io.ok() && io.status() == BG_STATUS_IO);
  CHECK_MSG(io.message().find("none.gguf") != std::string::npos, "the message names the file: %s",
            io.message().c_str());

  bitgguf::LoadOptions o;
  CHECK(status_of([&] { o.type_policy(99); }) == BG_STATUS_INVALID_PARAMETER);
  CHECK(status_of([&] { o.tl_preset("no-such-model"); }) == BG_STATUS_INVALID_PARAMETER);
  CHECK(status_of([&] { o.use_mmap(false).type_policy(BG_TYPE_POLICY_AUTO); }) == BG_STATUS_OK);
}

void test_ownership_and_progress(const std::vector<uint8_t>& file) {
  char path[] = "/tmp/bitgguf_cxx_wrapper_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  FILE* f = fdopen(fd, "wb");
  CHECK(f && std::fwrite(file.data(), 1, file.size(), f) == file.size());
  if (f) std::fclose(f);

  // Progress: reports counted, the last one complete.
  size_t reports = 0, last_done = 0, last_total = 0;
  bitgguf::LoadOptions opts;
  opts.progress([&](const bg_progress& p) {
    ++reports;
    CHECK(p.tensors_done >= last_done);
    last_done = p.tensors_done;
    last_total = p.tensors_total;
    return true;
  });
  bitgguf::LoadOptions moved = std::move(opts);  // the callback moves with the options
  bitgguf::Model m = bitgguf::Model::load(path, moved);
  CHECK(reports >= 3 && last_done == 3 && last_total == 3);

  // Cancel by returning false, and by throwing (the exception does not cross the C library).
  bitgguf::LoadOptions cancel;
  cancel.progress([](const bg_progress& p) { return p.tensors_done < 1; });
  CHECK(status_of([&] { bitgguf::Model::load(path, cancel); }) == BG_STATUS_CANCELLED);
  cancel.progress([](const bg_progress&) -> bool { throw std::runtime_error("stop"); });
  bitgguf::Result<bitgguf::Model> r = bitgguf::Model::try_load(path, &cancel);
  CHECK(!r.ok() && r.status() == BG_STATUS_CANCELLED);
  cancel.progress(nullptr);
  CHECK(bitgguf::Model::try_load(path, &cancel).ok());

  // Ownership: move leaves the source empty; share() keeps the bytes alive after the original
  // reference is gone (read the zero-copy pointer after the release: ASan/valgrind watch this).
  bitgguf::Model m2 = std::move(m);
  CHECK(!m && m2);
  bitgguf::Model s = m2.share();
  const uint8_t* p = s.data(2).data();
  m2 = bitgguf::Model(nullptr);
  CHECK(!m2 && s);
  CHECK(std::memcmp(p, kF16, 8) == 0);
  bitgguf::Model from_mem = bitgguf::Model::load_from_memory(file.data(), file.size());
  test_model(from_mem, file);
  bg_model* raw = from_mem.release();
  CHECK(!from_mem && raw != nullptr && bg_tensor_count(raw) == 3);
  bg_free(raw);
  std::remove(path);
}

void test_gemma() {
  const char* path = std::getenv("BG_GEMMA_PATH");
  if (!path || !*path) {
    std::printf("cxx_wrapper: BG_GEMMA_PATH not set: the Gemma part is skipped (the synthetic part ran)\n");
    return;
  }
  bitgguf::Model m = bitgguf::Model::load(path);
  CHECK(m.meta_string("general.architecture") == "gemma3");
  CHECK(m.tensor_count() == 236);
  bitgguf::TensorInfo t = m.tensor("blk.0.attn_q.weight");
  std::vector<float> ours = m.dequantize(t.index);
  std::vector<float> c(static_cast<size_t>(t.n_elements));
  CHECK_OK(bg_tensor_dequantize(m.get(), t.index, BG_TYPE_F32, c.data(), c.size() * sizeof(float)));
  CHECK(ours.size() == c.size() && std::memcmp(ours.data(), c.data(), c.size() * sizeof(float)) == 0);
  std::printf("cxx_wrapper: Gemma %s (%s, %zu values) decoded identically through the wrapper\n",
              std::string(t.name).c_str(), t.type_name(), ours.size());
}

}  // namespace

int main() {
  CHECK(bitgguf::abi_version() == BG_ABI_VERSION);
  CHECK(std::strlen(bitgguf::version()) > 0);
  std::vector<uint8_t> file = make_model();
  try {
    test_errors();
    test_ownership_and_progress(file);
    test_gemma();
  } catch (const bitgguf::Error& e) {
    std::fprintf(stderr, "unexpected bitgguf::Error %u (%s): %s\n", static_cast<unsigned>(e.status()),
                 e.status_str(), e.what());
    return 1;
  }
  return t_finish("cxx_wrapper");
}
