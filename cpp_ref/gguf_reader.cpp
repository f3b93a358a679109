// The GGUF reader of cpp_ref, written from shared/reference/gguf-ggml.md §1 (byte layout §1.1,
// value types §1.3, tensor infos §1.4, alignment and offsets §1.5) and its exhaustive list of
// what llama.cpp's gguf.cpp rejects (§1.8), plus llama-model-loader's "data within the file"
// check (§1.5) and the BitNet types' sizes (bitnet-formats.md §2.3, §3.9, §5.7).
//
// Deliberately plain: one pass over the bytes with a cursor that refuses every read past the
// end, u64 arithmetic with explicit overflow checks, no allocation larger than what the file
// itself holds. Little-endian files only (the version heuristic of §1.6 rejects the others).
#include <set>

#include "common.hpp"
#include "cref.h"

namespace cref {

// ---- the type table (gguf-ggml.md §2.1; removed ids have blck 0) --------------------------
namespace {

const TypeDesc UPSTREAM[UPSTREAM_TYPE_COUNT] = {
    {0, "f32", 1, 4, Size::Blocks},          {1, "f16", 1, 2, Size::Blocks},
    {2, "q4_0", 32, 18, Size::Blocks},       {3, "q4_1", 32, 20, Size::Blocks},
    {4, "q4_2", 0, 0, Size::None},           {5, "q4_3", 0, 0, Size::None},
    {6, "q5_0", 32, 22, Size::Blocks},       {7, "q5_1", 32, 24, Size::Blocks},
    {8, "q8_0", 32, 34, Size::Blocks},       {9, "q8_1", 32, 36, Size::Blocks},
    {10, "q2_k", 256, 84, Size::Blocks},     {11, "q3_k", 256, 110, Size::Blocks},
    {12, "q4_k", 256, 144, Size::Blocks},    {13, "q5_k", 256, 176, Size::Blocks},
    {14, "q6_k", 256, 210, Size::Blocks},    {15, "q8_k", 256, 292, Size::Blocks},
    {16, "iq2_xxs", 256, 66, Size::Blocks},  {17, "iq2_xs", 256, 74, Size::Blocks},
    {18, "iq3_xxs", 256, 98, Size::Blocks},  {19, "iq1_s", 256, 50, Size::Blocks},
    {20, "iq4_nl", 32, 18, Size::Blocks},    {21, "iq3_s", 256, 110, Size::Blocks},
    {22, "iq2_s", 256, 82, Size::Blocks},    {23, "iq4_xs", 256, 136, Size::Blocks},
    {24, "i8", 1, 1, Size::Blocks},          {25, "i16", 1, 2, Size::Blocks},
    {26, "i32", 1, 4, Size::Blocks},         {27, "i64", 1, 8, Size::Blocks},
    {28, "f64", 1, 8, Size::Blocks},         {29, "iq1_m", 256, 56, Size::Blocks},
    {30, "bf16", 1, 2, Size::Blocks},        {31, "q4_0_4_4", 0, 0, Size::None},
    {32, "q4_0_4_8", 0, 0, Size::None},      {33, "q4_0_8_8", 0, 0, Size::None},
    {34, "tq1_0", 256, 54, Size::Blocks},    {35, "tq2_0", 256, 66, Size::Blocks},
    {36, "iq4_nl_4_4", 0, 0, Size::None},    {37, "iq4_nl_4_8", 0, 0, Size::None},
    {38, "iq4_nl_8_8", 0, 0, Size::None},    {39, "mxfp4", 32, 17, Size::Blocks},
    {40, "nvfp4", 64, 36, Size::Blocks},     {41, "q1_0", 128, 18, Size::Blocks},
    {42, "q2_0", 64, 18, Size::Blocks},
};

// The BitNet fork's types (bitnet-formats.md §2.1, §2.3). I8_S never appears in files.
const TypeDesc BITNET[4] = {
    {T_I2_S, "i2_s", 128, 32, Size::Tail32},
    {T_I8_S, "i8_s", 0, 0, Size::None},
    {T_TL1, "tl1", 4, 1, Size::Tail32},
    {T_TL2, "tl2", 32, 0, Size::Tl2},
};

}  // namespace

const TypeDesc *find_type(uint32_t id) {
    if (id < UPSTREAM_TYPE_COUNT) return &UPSTREAM[id];
    for (const TypeDesc &t : BITNET) {
        if (t.id == id) return &t;
    }
    return nullptr;
}

namespace {

constexpr uint64_t MAX_STRING_LENGTH = 1ull << 30;    // GGUF_MAX_STRING_LENGTH (1 GiB)
constexpr uint64_t MAX_ARRAY_ELEMENTS = 1ull << 30;   // GGUF_MAX_ARRAY_ELEMENTS (1 Gi)
constexpr uint64_t MAX_NAME = 64;                     // GGML_MAX_NAME: names are < 64 bytes
constexpr uint32_t MAX_DIMS = 4;                      // GGML_MAX_DIMS
constexpr uint64_t INT64_MAX_U = 0x7fffffffffffffffull;

// gguf value types (gguf-ggml.md §1.3).
enum ValueType : uint32_t {
    V_U8 = 0, V_I8 = 1, V_U16 = 2, V_I16 = 3, V_U32 = 4, V_I32 = 5, V_F32 = 6, V_BOOL = 7,
    V_STRING = 8, V_ARRAY = 9, V_U64 = 10, V_I64 = 11, V_F64 = 12, V_COUNT = 13,
};

// Bytes of a scalar value type (0 for string and array).
uint64_t scalar_size(uint32_t t) {
    switch (t) {
        case V_U8: case V_I8: case V_BOOL: return 1;
        case V_U16: case V_I16: return 2;
        case V_U32: case V_I32: case V_F32: return 4;
        case V_U64: case V_I64: case V_F64: return 8;
        default: return 0;
    }
}

std::string at(uint64_t pos) { return " at byte " + std::to_string(pos); }

// Reads fields front to back; every read first checks that the bytes are there.
class Cursor {
public:
    Cursor(const uint8_t *data, size_t size) : data_(data), size_(size) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    void need(uint64_t n, const std::string &what) const {
        if (n > remaining()) {
            throw Error(CREF_ERR_TRUNCATED, "truncated: " + what + at(pos_) + " needs " +
                                                std::to_string(n) + " bytes, " +
                                                std::to_string(remaining()) + " remain");
        }
    }
    const uint8_t *take(uint64_t n, const std::string &what) {
        need(n, what);
        const uint8_t *p = data_ + pos_;
        pos_ += n;
        return p;
    }
    uint32_t u32(const std::string &what) { return le32(take(4, what)); }
    uint64_t u64(const std::string &what) { return le64(take(8, what)); }

    // A gguf string: u64 length, then the bytes (no NUL).
    std::string str(const std::string &what) {
        uint64_t len_pos = pos_;
        uint64_t len = u64(what + " length");
        if (len > MAX_STRING_LENGTH) {
            throw Error(CREF_ERR_VALUE, what + at(len_pos) + ": length " + std::to_string(len) +
                                            " exceeds the maximum of 1 GiB");
        }
        const uint8_t *p = take(len, what);
        return std::string(reinterpret_cast<const char *>(p), static_cast<size_t>(len));
    }

private:
    const uint8_t *data_;
    uint64_t size_;
    uint64_t pos_ = 0;
};

uint64_t align_up(uint64_t v, uint64_t a, const std::string &what) {
    if (v > UINT64_MAX - (a - 1)) throw Error(CREF_ERR_BOUNDS, what + ": aligning overflows");
    return (v + (a - 1)) / a * a;
}

bool mul_ok(uint64_t a, uint64_t b, uint64_t &out) {
    if (a != 0 && b > UINT64_MAX / a) return false;
    out = a * b;
    return true;
}

std::string lower(std::string s) {
    for (char &c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

// What the metadata says about the file's producer (used only for type id 39 under AUTO).
struct Producer {
    bool has_architecture = false;
    std::string architecture;
    bool has_file_type = false;
    uint64_t file_type = 0;
};

// An array whose elements cannot fit in the bytes that remain.
[[noreturn]] void too_short(const Cursor &c, uint64_t count, uint64_t min_size, const std::string &key) {
    throw Error(CREF_ERR_TRUNCATED, "truncated: the array of key '" + key + "'" + at(c.pos()) + " has " +
                                        std::to_string(count) + " elements of at least " + std::to_string(min_size) +
                                        " bytes, " + std::to_string(c.remaining()) + " bytes remain");
}

// Read one value of type `type` (already validated); remember the keys we need.
void read_value(Cursor &c, uint32_t type, const std::string &key, uint64_t &alignment,
                Producer &producer, std::map<std::string, TileKey> &tiles) {
    // gguf-ggml.md §1.8 rule 12: general.alignment of any type but UINT32 (string and array
    // included) is rejected.
    if (key == "general.alignment" && type != V_U32) {
        throw Error(CREF_ERR_ALIGNMENT, "key 'general.alignment' must be of type u32 but is type " +
                                            std::to_string(type));
    }
    const bool tile_key = key.compare(0, std::strlen(TILE_KEY_PREFIX), TILE_KEY_PREFIX) == 0;
    if (tile_key) {
        tiles[key.substr(std::strlen(TILE_KEY_PREFIX))].problem =
            "key '" + key + "' is not a UINT32 array of 3 elements [BM, BK, bm]";
    }
    const std::string what = "value of key '" + key + "'";
    if (type == V_STRING) {
        std::string s = c.str(what);
        if (key == "general.architecture") {
            producer.has_architecture = true;
            producer.architecture = s;
        }
    } else if (type == V_ARRAY) {
        uint64_t elem_pos = c.pos();
        uint32_t elem = c.u32("array element type of key '" + key + "'");
        if (elem >= V_COUNT || elem == V_ARRAY) {
            throw Error(CREF_ERR_VALUE, "key '" + key + "'" + at(elem_pos) +
                                            " has an array of invalid GGUF type " +
                                            std::to_string(static_cast<int32_t>(elem)));
        }
        uint64_t count_pos = c.pos();
        uint64_t count = c.u64("array length of key '" + key + "'");
        if (count > MAX_ARRAY_ELEMENTS) {
            throw Error(CREF_ERR_VALUE, "key '" + key + "'" + at(count_pos) + ": array of " +
                                            std::to_string(count) +
                                            " elements exceeds the maximum of 2^30");
        }
        if (elem == V_STRING) {
            // Each string needs at least its 8-byte length.
            if (count > c.remaining() / 8) too_short(c, count, 8, key);
            for (uint64_t i = 0; i < count; i++) c.str("string " + std::to_string(i) + " of " + what);
        } else {
            uint64_t size = scalar_size(elem);
            if (count > c.remaining() / size) too_short(c, count, size, key);
            const uint8_t *p = c.take(count * size, "array of key '" + key + "'");
            if (tile_key && elem == V_U32 && count == 3) {
                TileKey &t = tiles[key.substr(std::strlen(TILE_KEY_PREFIX))];
                for (int j = 0; j < 3; j++) t.cfg[j] = le32(p + 4 * j);
                t.problem.clear();
            }
        }
    } else {
        const uint8_t *p = c.take(scalar_size(type), what);
        if (key == "general.alignment") {
            if (type != V_U32) {
                throw Error(CREF_ERR_ALIGNMENT, "key 'general.alignment' must be of type u32 but is type " +
                                                    std::to_string(type));
            }
            uint32_t a = le32(p);
            if (a == 0 || (a & (a - 1)) != 0) {
                throw Error(CREF_ERR_ALIGNMENT, "alignment " + std::to_string(a) + " is not a power of 2");
            }
            alignment = a;
        }
        if (key == "general.file_type") {
            switch (type) {
                case V_U8: producer.has_file_type = true; producer.file_type = p[0]; break;
                case V_U16: producer.has_file_type = true; producer.file_type = le16(p); break;
                case V_U32: producer.has_file_type = true; producer.file_type = le32(p); break;
                case V_U64: producer.has_file_type = true; producer.file_type = le64(p); break;
                case V_I8:
                    producer.has_file_type = static_cast<int8_t>(p[0]) >= 0;
                    producer.file_type = p[0];
                    break;
                case V_I16:
                    producer.has_file_type = static_cast<int16_t>(le16(p)) >= 0;
                    producer.file_type = le16(p);
                    break;
                case V_I32:
                    producer.has_file_type = static_cast<int32_t>(le32(p)) >= 0;
                    producer.file_type = le32(p);
                    break;
                case V_I64:
                    producer.has_file_type = static_cast<int64_t>(le64(p)) >= 0;
                    producer.file_type = le64(p);
                    break;
                default: break;
            }
        }
    }
}

std::string tensor_ctx(const Tensor &t) {
    return "tensor '" + t.name + "' (tensor info" + at(t.info_pos) + ")";
}

// Resolve a non-contested or policy-decided on-disk id; 39 under AUTO returns 0xFFFFFFFF.
uint32_t resolve_type(const Tensor &t, uint32_t policy) {
    uint32_t d = t.disk_type;
    const std::string ctx = tensor_ctx(t);
    if (d >= 36 && d <= 39) {
        if (policy == CREF_POLICY_UPSTREAM) {
            if (d == 39) return T_MXFP4;
            throw Error(CREF_ERR_TYPE, ctx + ": type " + std::to_string(d) +
                                           " was removed from ggml (upstream type policy)");
        }
        if (d == 37) {
            throw Error(CREF_ERR_TYPE, ctx + ": type 37 (BitNet I8_S) is an activation type, never stored");
        }
        if (d == 36) return T_I2_S;
        if (d == 38) return T_TL1;
        if (policy == CREF_POLICY_BITNET) return T_TL2;
        return 0xFFFFFFFFu;  // 39 under AUTO: decided from the layout
    }
    if (d >= UPSTREAM_TYPE_COUNT) {
        throw Error(CREF_ERR_TYPE, ctx + ": invalid ggml type " + std::to_string(static_cast<int32_t>(d)));
    }
    if (UPSTREAM[d].blck == 0) {
        throw Error(CREF_ERR_TYPE, ctx + ": type " + std::to_string(d) + " (" + UPSTREAM[d].name +
                                       ") was removed from ggml");
    }
    return d;
}

// Type id 39 under the AUTO policy: MXFP4 (upstream) or TL2 (BitNet fork)? First by which size
// the layout implies (offsets are running sums of padded sizes; the last tensor ends, padded or
// not, at the end of the data), then by the producer (bitnet-formats.md §2.1).
uint32_t decide_39(const std::vector<Tensor> &ts, size_t i, uint64_t alignment, uint64_t data_len,
                   const Producer &producer) {
    const Tensor &t = ts[i];
    struct Fit {
        bool exact = false, loose = false;
    };
    auto fit = [&](uint32_t type) {
        Fit f;
        uint64_t n;
        try {
            n = tensor_nbytes(*find_type(type), t.ne, t.n_elements);
        } catch (const Error &) {
            return f;
        }
        if (t.offset > UINT64_MAX - n) return f;
        uint64_t end = t.offset + n;
        bool pad_ok = end <= UINT64_MAX - (alignment - 1);
        uint64_t padded = pad_ok ? (end + alignment - 1) / alignment * alignment : 0;
        if (i + 1 < ts.size()) {
            f.exact = f.loose = pad_ok && padded == ts[i + 1].offset;
        } else {
            f.exact = end == data_len || (pad_ok && padded == data_len);
            f.loose = end <= data_len;
        }
        return f;
    };
    Fit mx = fit(T_MXFP4), tl = fit(T_TL2);
    if (mx.exact != tl.exact) return mx.exact ? T_MXFP4 : T_TL2;
    if (mx.loose != tl.loose) return mx.loose ? T_MXFP4 : T_TL2;
    if (mx.loose && tl.loose) {
        bool bitnet_only = false;
        for (const Tensor &o : ts) bitnet_only = bitnet_only || o.type == T_I2_S || o.type == T_TL1;
        if ((producer.has_architecture && lower(producer.architecture).find("bitnet") != std::string::npos) ||
            bitnet_only || (producer.has_file_type && producer.file_type == 39)) {
            return T_TL2;
        }
        if ((producer.has_file_type && producer.file_type == 38) || producer.has_architecture) return T_MXFP4;
    }
    throw Error(CREF_ERR_TYPE, tensor_ctx(t) + ": type 39 is MXFP4 upstream and TL2 in the BitNet fork; "
                                               "neither the layout nor the metadata decides which");
}

}  // namespace

uint64_t tensor_nbytes(const TypeDesc &t, const uint64_t ne[4], uint64_t n_elements) {
    const std::string shape = "[" + std::to_string(ne[0]) + ", " + std::to_string(ne[1]) + ", " +
                              std::to_string(ne[2]) + ", " + std::to_string(ne[3]) + "]";
    switch (t.size) {
        case Size::Blocks: {
            if (ne[0] % t.blck != 0) {
                throw Error(CREF_ERR_SHAPE, std::string(t.name) + " shape " + shape + ": " +
                                                std::to_string(ne[0]) +
                                                " elements per row, not a multiple of block size " +
                                                std::to_string(t.blck));
            }
            uint64_t n = ne[0] / t.blck;
            if (!mul_ok(n, t.tsize, n) || !mul_ok(n, ne[1], n) || !mul_ok(n, ne[2], n) || !mul_ok(n, ne[3], n)) {
                throw Error(CREF_ERR_SHAPE, std::string(t.name) + " shape " + shape + ": byte size overflows");
            }
            return n;
        }
        case Size::Tail32: {
            // I2_S packs whole 128-element blocks of each row (bitnet-formats.md §3.3, A5);
            // TL1 packs 4 elements per byte (§4.1).
            if (ne[0] % t.blck != 0) {
                throw Error(CREF_ERR_SHAPE, std::string(t.name) + " shape " + shape + ": ne[0] is not a multiple of " +
                                                std::to_string(t.blck));
            }
            return n_elements / 4 + 32;
        }
        case Size::Tl2: {
            // F(M, K) = (K-256)*M/3*5/8 + 256*M/2*4/8, C integer arithmetic left to right;
            // roundup32(F) + 32 (bitnet-formats.md §5.7). M = ne1 (rows), K = ne0.
            if (ne[2] != 1 || ne[3] != 1 || ne[0] < 256 || ne[0] % 32 != 0) {
                throw Error(CREF_ERR_SHAPE, "tl2 shape " + shape + ": must be 2-D with ne[0] >= 256, a multiple of 32");
            }
            uint64_t k = ne[0], m = ne[1], a, b;
            if (!mul_ok(k - 256, m, a) || !mul_ok(a / 3, 5, a) || !mul_ok(256, m, b) || !mul_ok(b / 2, 4, b)) {
                throw Error(CREF_ERR_SHAPE, "tl2 shape " + shape + ": byte size overflows");
            }
            a = a / 8;
            b = b / 8;
            if (a > UINT64_MAX - b || a + b > UINT64_MAX - 31 - 32) {
                throw Error(CREF_ERR_SHAPE, "tl2 shape " + shape + ": byte size overflows");
            }
            return (a + b + 31) / 32 * 32 + 32;
        }
        case Size::None: break;
    }
    throw Error(CREF_ERR_TYPE, std::string(t.name) + " cannot be stored in a file");
}

void parse_gguf(GgufFile &file, const uint8_t *data, size_t size, uint32_t policy) {
    if (policy > CREF_POLICY_BITNET) throw Error(CREF_ERR_ARG, "unknown type policy " + std::to_string(policy));
    file.data = data;
    file.size = size;
    Cursor c(data, size);

    // ---- header (§1.1, §1.2, §1.8 rules 1-5) --------------------------------------------------
    const uint8_t *magic = c.take(4, "the magic");
    if (std::memcmp(magic, "GGUF", 4) != 0) {
        std::string shown;
        for (int i = 0; i < 4; i++) shown += (magic[i] >= 0x20 && magic[i] < 0x7f) ? static_cast<char>(magic[i]) : '?';
        throw Error(CREF_ERR_MAGIC, "invalid magic characters '" + shown + "', expected 'GGUF'");
    }
    file.version = c.u32("the version");
    if (file.version == 0) throw Error(CREF_ERR_VERSION, "bad GGUF version 0");
    if ((file.version & 0xFFFFu) == 0) {
        throw Error(CREF_ERR_VERSION, "version " + std::to_string(file.version) +
                                          " is extremely large: is the file big-endian?");
    }
    if (file.version == 1) throw Error(CREF_ERR_VERSION, "GGUFv1 is no longer supported");
    if (file.version > 3) {
        throw Error(CREF_ERR_VERSION, "version " + std::to_string(file.version) + ": only versions up to 3 are supported");
    }
    uint64_t n_tensors = c.u64("the tensor count");
    if (n_tensors > INT64_MAX_U) throw Error(CREF_ERR_COUNT, "the tensor count is negative as int64");
    file.n_kv = c.u64("the key/value count");
    if (file.n_kv > INT64_MAX_U) throw Error(CREF_ERR_COUNT, "the key/value count is negative as int64");

    // ---- key/value pairs (§1.3, rules 6-13) ---------------------------------------------------
    std::set<std::string> keys;
    Producer producer;
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < file.n_kv; i++) {
        uint64_t kv_pos = c.pos();
        std::string key = c.str("key " + std::to_string(i));
        if (key.empty()) throw Error(CREF_ERR_KEY, "key " + std::to_string(i) + at(kv_pos) + " is empty");
        if (!keys.insert(key).second) {
            throw Error(CREF_ERR_KEY, "duplicate key '" + key + "'" + at(kv_pos));
        }
        uint64_t type_pos = c.pos();
        uint32_t type = c.u32("the value type of key '" + key + "'");
        if (type >= V_COUNT) {
            throw Error(CREF_ERR_VALUE, "key '" + key + "'" + at(type_pos) + " has invalid GGUF type " +
                                            std::to_string(static_cast<int32_t>(type)));
        }
        read_value(c, type, key, alignment, producer, file.tiles);
    }
    file.alignment = alignment;

    // ---- tensor infos (§1.4, rules 14-22) -----------------------------------------------------
    std::set<std::string> names;
    for (uint64_t i = 0; i < n_tensors; i++) {
        Tensor t;
        t.info_pos = c.pos();
        t.name = c.str("the name of tensor " + std::to_string(i));
        if (t.name.size() >= MAX_NAME) {
            throw Error(CREF_ERR_NAME, "tensor name " + std::to_string(i) + at(t.info_pos) + " is too long: " +
                                           std::to_string(t.name.size()) + " >= 64");
        }
        if (!names.insert(t.name).second) throw Error(CREF_ERR_NAME, "duplicate tensor name '" + t.name + "'" + at(t.info_pos));
        const std::string ctx = tensor_ctx(t);
        t.n_dims = c.u32("n_dims of " + ctx);
        if (t.n_dims > MAX_DIMS) {
            throw Error(CREF_ERR_DIMS, ctx + " has an invalid number of dimensions (" + std::to_string(t.n_dims) + ")");
        }
        for (uint32_t j = 0; j < t.n_dims; j++) {
            t.ne[j] = c.u64("dimension " + std::to_string(j) + " of " + ctx);
            if (t.ne[j] > INT64_MAX_U) {
                throw Error(CREF_ERR_DIMS, ctx + ": dimension " + std::to_string(j) + " is negative as int64");
            }
        }
        // The element count must fit int64 (zero-sized tensors are fine).
        bool any_zero = t.ne[0] == 0 || t.ne[1] == 0 || t.ne[2] == 0 || t.ne[3] == 0;
        if (any_zero) {
            t.n_elements = 0;
        } else {
            uint64_t n = 1;
            for (uint64_t d : t.ne) {
                if (!mul_ok(n, d, n) || n > INT64_MAX_U) {
                    throw Error(CREF_ERR_DIMS, ctx + ": the number of elements overflows int64");
                }
            }
            t.n_elements = n;
        }
        t.disk_type = c.u32("the type of " + ctx);
        t.offset = c.u64("the offset of " + ctx);
        file.tensors.push_back(t);
    }

    // ---- data section (§1.5, rules 23-25; data within the file as llama-model-loader) ------
    uint64_t infos_end = c.pos();
    file.data_offset = n_tensors > 0 ? align_up(infos_end, alignment, "the data section start") : infos_end;
    if (file.data_offset > size) {
        throw Error(CREF_ERR_TRUNCATED, "truncated: the data section starts at byte " +
                                            std::to_string(file.data_offset) + ", the input ends at byte " +
                                            std::to_string(size));
    }
    const uint64_t data_len = size - file.data_offset;
    // Types and sizes (id 39 under AUTO needs its neighbours' offsets: second pass).
    for (Tensor &t : file.tensors) {
        t.type = resolve_type(t, policy);
        if (t.type != 0xFFFFFFFFu) t.n_bytes = tensor_nbytes(*find_type(t.type), t.ne, t.n_elements);
    }
    for (size_t i = 0; i < file.tensors.size(); i++) {
        Tensor &t = file.tensors[i];
        if (t.type != 0xFFFFFFFFu) continue;
        t.type = decide_39(file.tensors, i, alignment, data_len, producer);
        t.n_bytes = tensor_nbytes(*find_type(t.type), t.ne, t.n_elements);
    }
    uint64_t expected = 0;
    for (const Tensor &t : file.tensors) {
        const std::string ctx = tensor_ctx(t);
        if (t.offset != expected) {
            throw Error(CREF_ERR_OFFSET, ctx + " has offset " + std::to_string(t.offset) + ", expected " +
                                             std::to_string(expected));
        }
        if (t.offset > UINT64_MAX - t.n_bytes) throw Error(CREF_ERR_BOUNDS, ctx + ": size overflow");
        uint64_t end = t.offset + t.n_bytes;
        if (end > data_len) {
            throw Error(CREF_ERR_BOUNDS, ctx + ": data is not within the file bounds (ends at byte " +
                                             std::to_string(file.data_offset) + " + " + std::to_string(end) +
                                             ", the file has " + std::to_string(size) + " bytes)");
        }
        expected = align_up(end, alignment, ctx);
    }
}

}  // namespace cref
