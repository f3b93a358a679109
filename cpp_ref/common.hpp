// Shared declarations of cpp_ref: the error type, little-endian byte readers, the ggml type
// table, the GGUF reader and the dequantizers. Everything here is written from
// shared/reference/gguf-ggml.md and shared/reference/bitnet-formats.md; see README.md.
#ifndef CREF_COMMON_HPP
#define CREF_COMMON_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cref {

// An error with one of the CREF_ERR_* codes of cref.h. Thrown inside cpp_ref, caught at the
// C surface (cref.cpp) and turned into a status plus a message.
class Error : public std::runtime_error {
public:
    Error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

// ---- little-endian readers (blocks may be misaligned: always go through memcpy) ------------
inline uint16_t le16(const uint8_t *p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t le32(const uint8_t *p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t le64(const uint8_t *p) {
    return static_cast<uint64_t>(le32(p)) | (static_cast<uint64_t>(le32(p + 4)) << 32);
}
inline float bits_to_f32(uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// ---- type ids and the type table (gguf-ggml.md §2.1, bitnet-formats.md §2) ------------------
constexpr uint32_t BITNET_BASE = 1000;
constexpr uint32_t T_I2_S = BITNET_BASE + 36;
constexpr uint32_t T_I8_S = BITNET_BASE + 37;
constexpr uint32_t T_TL1 = BITNET_BASE + 38;
constexpr uint32_t T_TL2 = BITNET_BASE + 39;
constexpr uint32_t T_MXFP4 = 39;
constexpr uint32_t UPSTREAM_TYPE_COUNT = 43;  // GGML_TYPE_COUNT at ggml HEAD 2026-08

// How the byte size of a tensor follows from its shape.
enum class Size {
    Blocks,  // (ne0 / blck) * tsize * ne1 * ne2 * ne3, ne0 % blck == 0
    Tail32,  // I2_S, TL1: n / 4 + 32 (2 bits per element + a 32-byte tail holding the scale)
    Tl2,     // TL2: roundup32(F(M, K)) + 32 (bitnet-formats.md §5.7)
    None,    // removed ids and types never stored in files
};

struct TypeDesc {
    uint32_t id;       // API id
    const char *name;  // lower case
    uint64_t blck;     // elements per block (0 when removed)
    uint64_t tsize;    // bytes per block
    Size size;
};

// The row for an API id, or nullptr.
const TypeDesc *find_type(uint32_t id);

// ---- the GGUF file ------------------------------------------------------------------------
struct Tensor {
    std::string name;
    uint32_t disk_type = 0;
    uint32_t type = 0;  // API id after the type policy
    uint32_t n_dims = 0;
    uint64_t ne[4] = {1, 1, 1, 1};
    uint64_t n_elements = 0;
    uint64_t offset = 0;  // relative to the data section
    uint64_t n_bytes = 0;
    uint64_t info_pos = 0;  // absolute offset of the tensor info
};

// The value of a `bitgguf.tl.<tensor name>` key: a TL1 / TL2 tile configuration {BM, BK, bm}
// as UINT32[3]. A key of another type or length is remembered as malformed (`problem`).
struct TileKey {
    uint32_t cfg[3] = {0, 0, 0};
    std::string problem;  // empty when the key is well-formed
};

// The metadata key prefix of the tile configurations (bitgguf's own, written by its writer).
constexpr const char *TILE_KEY_PREFIX = "bitgguf.tl.";

struct GgufFile {
    std::vector<uint8_t> owned;  // the bytes when read from a path
    const uint8_t *data = nullptr;
    size_t size = 0;
    uint32_t version = 0;
    uint64_t n_kv = 0;
    uint64_t alignment = 32;
    uint64_t data_offset = 0;
    std::vector<Tensor> tensors;
    std::map<std::string, TileKey> tiles;  // by tensor name (the key without its prefix)
};

// Parse `size` bytes (not copied) with a type policy (CREF_POLICY_*). Throws cref::Error.
void parse_gguf(GgufFile &file, const uint8_t *data, size_t size, uint32_t policy);

// The byte size of a tensor of `type` and shape `ne`. Throws cref::Error (CREF_ERR_SHAPE).
uint64_t tensor_nbytes(const TypeDesc &t, const uint64_t ne[4], uint64_t n_elements);

// ---- dequantization -----------------------------------------------------------------------
// IEEE binary16 -> binary32 (dequant.cpp), and the f16 stored little-endian at p.
float f16_to_f32(uint16_t h);
inline float fp16_at(const uint8_t *p) { return f16_to_f32(le16(p)); }

// Decodes one block of `blck` elements to f32.
typedef void (*BlockFn)(const uint8_t *, float *);
// The IQ family's block decoders (dequant_iq.cpp); nullptr for any other type.
BlockFn iq_block_fn(uint32_t type);

// TL1 / TL2 (dequant_tl.cpp): an M x K tensor (ggml ne1 = M rows, ne0 = K columns), `src_len`
// bytes, tile configuration cfg = {BM, BK, bm}. Throws cref::Error (CREF_ERR_ARG for a shape or
// configuration that does not fit, CREF_ERR_BAD_DATA for an invalid index).
void dequantize_tl1(const uint8_t *src, size_t src_len, uint64_t m, uint64_t k, const uint32_t cfg[3], float *dst);
void dequantize_tl2(const uint8_t *src, size_t src_len, uint64_t m, uint64_t k, const uint32_t cfg[3], float *dst);

// The per-tensor scale rule of I2_S, TL1 and TL2 read from files (bitnet-formats.md §3.4, §3.7,
// §4.5: bitnet.cpp writes max|W| or the clamped absmean; bitgguf's docs/FORMATS.md §5): the scale
// at byte `at` must be finite and >= 0 (check_scale, before decoding), and may be zero only when
// every element is zero (check_zero_scale, after decoding; `first_nonzero` is the index of the
// first nonzero element, UINT64_MAX when none). Both throw CREF_ERR_BAD_DATA.
void check_scale(const char *type, float scale, uint64_t at);
void check_zero_scale(const char *type, float scale, uint64_t at, uint64_t first_nonzero);

// I2_S in either layout (bitnet-formats.md §3.3, §3.8): `group` = 32 (canonical GROUP_128) or 16
// (ARM GROUP_64) bytes per block; `n` elements, `src_len` = n / 4 + 32.
void dequantize_i2s(const uint8_t *src, size_t src_len, uint64_t n, uint32_t group, float *dst);
bool dequantize_supported(uint32_t type);
// Throws cref::Error (CREF_ERR_ARG, CREF_ERR_UNSUPPORTED, CREF_ERR_BAD_DATA).
void dequantize(uint32_t type, const uint8_t *src, size_t src_len, uint64_t n, float *dst);

}  // namespace cref

#endif
