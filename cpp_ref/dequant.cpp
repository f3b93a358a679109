// The dequantizers of cpp_ref: every block decoded to f32 exactly as described in
// shared/reference/gguf-ggml.md §2.3 (byte layouts), §2.4 (scalar conversions) and §2.5
// (reference dequantization), and I2_S as in bitnet-formats.md §3.3-§3.5.
//
// Plain scalar code, one function per type, one block at a time. All arithmetic is f32, in the
// order the reference gives (`x*d + m`, `d1*q - m1`, `(d*sc)*q`, ...); the build uses
// -ffp-contract=off so that no multiply-add is fused (gguf-ggml.md §2.7).
#include <cmath>
#include <cstdio>

#include "common.hpp"
#include "cref.h"

namespace cref {

// IEEE binary16 -> binary32, exact. NaN keeps its payload, shifted into the f32 mantissa.
float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t man = h & 0x3FFu;
    if (exp == 0x1F) return bits_to_f32(sign | 0x7F800000u | (man << 13));  // inf, NaN
    if (exp != 0) return bits_to_f32(sign | ((exp - 15 + 127) << 23) | (man << 13));
    // Zero or subnormal: man * 2^-24 is exact in f32 (man < 2^10).
    float v = static_cast<float>(man) * 0x1p-24f;
    return sign ? -v : v;
}

namespace {

// ---- scalar conversions (gguf-ggml.md §2.4) -----------------------------------------------

// bfloat16 -> f32: the upper 16 bits.
float bf16_to_f32(uint16_t h) { return bits_to_f32(static_cast<uint32_t>(h) << 16); }

// E8M0 scale of MXFP4, halved (the FP4 table holds doubled values): 2^(e-128).
float e8m0_half(uint8_t e) {
    if (e < 2) return bits_to_f32(0x00200000u << e);  // 2^-128, 2^-127 (subnormal)
    return bits_to_f32(static_cast<uint32_t>(e - 1) << 23);
}

// E2M1 values, doubled (kvalues_mxfp4).
const int8_t KVALUES_FP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// ---- float types ----------------------------------------------------------------------------

void dq_f32(const uint8_t *x, float *y) { *y = bits_to_f32(le32(x)); }
void dq_f16(const uint8_t *x, float *y) { *y = fp16_at(x); }
void dq_bf16(const uint8_t *x, float *y) { *y = bf16_to_f32(le16(x)); }

// ---- legacy quants (32 elements) --------------------------------------------------------

// Q4_0: d f16 @0, qs[16] @2. Low nibbles are elements 0..15, high nibbles 16..31.
void dq_q4_0(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    const uint8_t *qs = x + 2;
    for (int j = 0; j < 16; j++) {
        const int x0 = (qs[j] & 0x0F) - 8;
        const int x1 = (qs[j] >> 4) - 8;
        y[j] = static_cast<float>(x0) * d;
        y[j + 16] = static_cast<float>(x1) * d;
    }
}

// Q4_1: d @0, m @2, qs[16] @4; y = q*d + m.
void dq_q4_1(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    const float m = fp16_at(x + 2);
    const uint8_t *qs = x + 4;
    for (int j = 0; j < 16; j++) {
        const int x0 = qs[j] & 0x0F;
        const int x1 = qs[j] >> 4;
        y[j] = static_cast<float>(x0) * d + m;
        y[j + 16] = static_cast<float>(x1) * d + m;
    }
}

// Q5_0: d @0, qh u32 @2, qs[16] @6. Bit j of qh is the 5th bit of element j, bit j+16 of
// element j+16; values are q - 16.
void dq_q5_0(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    const uint32_t qh = le32(x + 2);
    const uint8_t *qs = x + 6;
    for (int j = 0; j < 16; j++) {
        const int hi0 = static_cast<int>((qh >> j) & 1u);
        const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u);
        const int x0 = ((qs[j] & 0x0F) | (hi0 << 4)) - 16;
        const int x1 = ((qs[j] >> 4) | (hi1 << 4)) - 16;
        y[j] = static_cast<float>(x0) * d;
        y[j + 16] = static_cast<float>(x1) * d;
    }
}

// Q5_1: d @0, m @2, qh u32 @4, qs[16] @8; y = q*d + m.
void dq_q5_1(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    const float m = fp16_at(x + 2);
    const uint32_t qh = le32(x + 4);
    const uint8_t *qs = x + 8;
    for (int j = 0; j < 16; j++) {
        const int hi0 = static_cast<int>((qh >> j) & 1u);
        const int hi1 = static_cast<int>((qh >> (j + 16)) & 1u);
        const int x0 = (qs[j] & 0x0F) | (hi0 << 4);
        const int x1 = (qs[j] >> 4) | (hi1 << 4);
        y[j] = static_cast<float>(x0) * d + m;
        y[j + 16] = static_cast<float>(x1) * d + m;
    }
}

// Q8_0: d @0, qs i8[32] @2.
void dq_q8_0(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int j = 0; j < 32; j++) y[j] = static_cast<float>(static_cast<int8_t>(x[2 + j])) * d;
}

// ---- k-quants (256 elements) --------------------------------------------------------------

// Q2_K: scales[16] @0, qs[64] @16, d @80, dmin @82. Scale byte: low nibble scale, high min.
void dq_q2_k(const uint8_t *x, float *y) {
    const uint8_t *scales = x;
    const float d = fp16_at(x + 80);
    const float min = fp16_at(x + 82);
    int is = 0;
    for (int h = 0; h < 2; h++) {
        const uint8_t *q = x + 16 + 32 * h;
        for (int j = 0; j < 4; j++) {
            const int shift = 2 * j;
            for (int part = 0; part < 2; part++) {  // q[0..16], then q[16..32]
                const uint8_t sc = scales[is++];
                const float dl = d * static_cast<float>(sc & 0xF);
                const float ml = min * static_cast<float>(sc >> 4);
                for (int l = 0; l < 16; l++) {
                    const int v = (q[16 * part + l] >> shift) & 3;
                    *y++ = dl * static_cast<float>(v) - ml;
                }
            }
        }
    }
}

// Q3_K: hmask[32] @0, qs[64] @32, scales[12] @96, d @108. 6-bit signed scales; a clear hmask
// bit subtracts 4.
void dq_q3_k(const uint8_t *x, float *y) {
    const uint8_t *hmask = x;
    const uint8_t *scales = x + 96;
    const float d_all = fp16_at(x + 108);
    int sc[16];
    for (int j = 0; j < 16; j++) {
        const int low4 = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
        const int high2 = (scales[8 + (j % 4)] >> (2 * (j / 4))) & 3;
        sc[j] = (low4 | (high2 << 4)) - 32;
    }
    int is = 0;
    for (int h = 0; h < 2; h++) {
        const uint8_t *q = x + 32 + 32 * h;
        for (int j = 0; j < 4; j++) {
            const int shift = 2 * j;
            const uint8_t m = static_cast<uint8_t>(1u << (4 * h + j));
            for (int part = 0; part < 2; part++) {
                const float dl = d_all * static_cast<float>(sc[is++]);
                for (int l = 16 * part; l < 16 * part + 16; l++) {
                    const int v = ((q[l] >> shift) & 3) - ((hmask[l] & m) ? 0 : 4);
                    *y++ = dl * static_cast<float>(v);
                }
            }
        }
    }
}

// The 6-bit scale and min of sub-block j of Q4_K / Q5_K (get_scale_min_k4).
void scale_min_k4(int j, const uint8_t *s, int &sc, int &mn) {
    if (j < 4) {
        sc = s[j] & 63;
        mn = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q4_K: d @0, dmin @2, scales[12] @4, qs[128] @16. Each 32-byte chunk gives 64 elements:
// low nibbles, then high nibbles.
void dq_q4_k(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    const float dmin = fp16_at(x + 2);
    const uint8_t *scales = x + 4;
    for (int c = 0; c < 4; c++) {
        const uint8_t *q = x + 16 + 32 * c;
        int sc1, m1, sc2, m2;
        scale_min_k4(2 * c, scales, sc1, m1);
        scale_min_k4(2 * c + 1, scales, sc2, m2);
        const float d1 = d * static_cast<float>(sc1), mm1 = dmin * static_cast<float>(m1);
        const float d2 = d * static_cast<float>(sc2), mm2 = dmin * static_cast<float>(m2);
        for (int l = 0; l < 32; l++) *y++ = d1 * static_cast<float>(q[l] & 0xF) - mm1;
        for (int l = 0; l < 32; l++) *y++ = d2 * static_cast<float>(q[l] >> 4) - mm2;
    }
}

// Q5_K: d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48. Chunk c takes its 5th bits
// from bit 2c (low nibbles) and 2c+1 (high nibbles) of qh[l].
void dq_q5_k(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    const float dmin = fp16_at(x + 2);
    const uint8_t *scales = x + 4;
    const uint8_t *qh = x + 16;
    for (int c = 0; c < 4; c++) {
        const uint8_t *q = x + 48 + 32 * c;
        int sc1, m1, sc2, m2;
        scale_min_k4(2 * c, scales, sc1, m1);
        scale_min_k4(2 * c + 1, scales, sc2, m2);
        const float d1 = d * static_cast<float>(sc1), mm1 = dmin * static_cast<float>(m1);
        const float d2 = d * static_cast<float>(sc2), mm2 = dmin * static_cast<float>(m2);
        const uint8_t u1 = static_cast<uint8_t>(1u << (2 * c));
        const uint8_t u2 = static_cast<uint8_t>(1u << (2 * c + 1));
        for (int l = 0; l < 32; l++) {
            const int v = (q[l] & 0xF) + ((qh[l] & u1) ? 16 : 0);
            *y++ = d1 * static_cast<float>(v) - mm1;
        }
        for (int l = 0; l < 32; l++) {
            const int v = (q[l] >> 4) + ((qh[l] & u2) ? 16 : 0);
            *y++ = d2 * static_cast<float>(v) - mm2;
        }
    }
}

// Q6_K: ql[128] @0, qh[64] @128, scales i8[16] @192, d @208. y = (d*sc)*q.
void dq_q6_k(const uint8_t *x, float *y) {
    const float d = fp16_at(x + 208);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x + 64 * h;
        const uint8_t *qh = x + 128 + 32 * h;
        const int8_t *sc = reinterpret_cast<const int8_t *>(x + 192 + 8 * h);
        float *out = y + 128 * h;
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            out[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
            out[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
            out[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
            out[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
        }
    }
}

// ---- ternary (256 elements) --------------------------------------------------------------

// Trit n (0 = most significant) of a TQ1_0 byte: ((u8)(b * 3^n) * 3) >> 8.
int tq1_trit(uint8_t b, int n) {
    static const uint8_t POW3[6] = {1, 3, 9, 27, 81, 243};
    const uint8_t shifted = static_cast<uint8_t>(b * POW3[n]);  // wraps mod 256
    return (static_cast<uint16_t>(shifted) * 3) >> 8;
}

// TQ1_0: qs[48] @0, qh[4] @48, d @52.
void dq_tq1_0(const uint8_t *x, float *y) {
    const uint8_t *qs = x;
    const uint8_t *qh = x + 48;
    const float d = fp16_at(x + 52);
    for (int n = 0; n < 5; n++) {
        for (int m = 0; m < 32; m++) *y++ = static_cast<float>(tq1_trit(qs[m], n) - 1) * d;
    }
    for (int n = 0; n < 5; n++) {
        for (int m = 0; m < 16; m++) *y++ = static_cast<float>(tq1_trit(qs[32 + m], n) - 1) * d;
    }
    for (int n = 0; n < 4; n++) {
        for (int j = 0; j < 4; j++) *y++ = static_cast<float>(tq1_trit(qh[j], n) - 1) * d;
    }
}

// TQ2_0: qs[64] @0, d @64. Byte m of each 32-byte half feeds elements m, m+32, m+64, m+96
// (2-bit fields LSB first).
void dq_tq2_0(const uint8_t *x, float *y) {
    const float d = fp16_at(x + 64);
    for (int j = 0; j < 64; j += 32) {
        for (int l = 0; l < 4; l++) {
            for (int m = 0; m < 32; m++) {
                const int q = (x[j + m] >> (2 * l)) & 3;
                *y++ = static_cast<float>(q - 1) * d;
            }
        }
    }
}

// ---- FP4 and low-bit ------------------------------------------------------------------------

// MXFP4: e (E8M0) @0, qs[16] @1; Q4_0 nibble order.
void dq_mxfp4(const uint8_t *x, float *y) {
    const float d = e8m0_half(x[0]);
    const uint8_t *qs = x + 1;
    for (int j = 0; j < 16; j++) {
        y[j] = static_cast<float>(KVALUES_FP4[qs[j] & 0x0F]) * d;
        y[j + 16] = static_cast<float>(KVALUES_FP4[qs[j] >> 4]) * d;
    }
}

// UE4M3 scale of NVFP4, halved (doubled-table convention): 0 and 0x7F give 0; bit 7 is
// ignored; exponent 0 gives man * 2^-9, otherwise (1 + man/8) * 2^(exp-7). All exact in f32.
float ue4m3_half(uint8_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const int exp = (x >> 3) & 0xF;
    const int man = x & 7;
    float raw;
    if (exp == 0) {
        raw = static_cast<float>(man) * 0x1p-9f;
    } else {
        raw = (1.0f + static_cast<float>(man) / 8.0f) * std::ldexp(1.0f, exp - 7);
    }
    return raw * 0.5f;
}

// NVFP4 (64 elements): d[4] (UE4M3, one per 16 elements) @0, qs[32] @4. Sub-block s: byte
// 8s+j holds element 16s+j (low nibble) and 16s+j+8 (high nibble).
void dq_nvfp4(const uint8_t *x, float *y) {
    for (int s = 0; s < 4; s++) {
        const float d = ue4m3_half(x[s]);
        const uint8_t *qs = x + 4 + 8 * s;
        for (int j = 0; j < 8; j++) {
            y[16 * s + j] = static_cast<float>(KVALUES_FP4[qs[j] & 0x0F]) * d;
            y[16 * s + j + 8] = static_cast<float>(KVALUES_FP4[qs[j] >> 4]) * d;
        }
    }
}

// Q1_0 (128 elements): d @0, qs[16] @2; bit j%8 of byte j/8: set -> d, clear -> -d.
void dq_q1_0(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int j = 0; j < 128; j++) y[j] = ((x[2 + j / 8] >> (j % 8)) & 1) ? d : -d;
}

// Q2_0 (64 elements): d @0, qs[16] @2; sequential 2-bit fields, LSB first; y = (q-1)*d.
void dq_q2_0(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int j = 0; j < 64; j++) {
        const int q = (x[2 + j / 4] >> (2 * (j % 4))) & 3;
        y[j] = static_cast<float>(q - 1) * d;
    }
}

// ---- dispatch ---------------------------------------------------------------------------------

BlockFn block_fn(uint32_t type) {
    if (BlockFn iq = iq_block_fn(type)) return iq;
    switch (type) {
        case 0: return dq_f32;
        case 1: return dq_f16;
        case 2: return dq_q4_0;
        case 3: return dq_q4_1;
        case 6: return dq_q5_0;
        case 7: return dq_q5_1;
        case 8: return dq_q8_0;
        case 10: return dq_q2_k;
        case 11: return dq_q3_k;
        case 12: return dq_q4_k;
        case 13: return dq_q5_k;
        case 14: return dq_q6_k;
        case 30: return dq_bf16;
        case 34: return dq_tq1_0;
        case 35: return dq_tq2_0;
        case 39: return dq_mxfp4;
        case 40: return dq_nvfp4;
        case 41: return dq_q1_0;
        case 42: return dq_q2_0;
        default: return nullptr;
    }
}

}  // namespace

bool dequantize_supported(uint32_t type) {
    return block_fn(type) != nullptr || type == T_I2_S || type == T_TL1 || type == T_TL2;
}

namespace {
std::string scale_text(const char *type, float scale, uint64_t at) {
    uint32_t bits;
    std::memcpy(&bits, &scale, 4);
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", bits);
    return std::string(type) + " per-tensor scale at byte " + std::to_string(at) + " is " + std::to_string(scale) +
           " (bits " + hex + ")";
}
}  // namespace

void check_scale(const char *type, float scale, uint64_t at) {
    if (!std::isfinite(scale) || scale < 0.0f) {
        throw Error(CREF_ERR_BAD_DATA, scale_text(type, scale, at) + "; expected a finite value >= 0");
    }
}

void check_zero_scale(const char *type, float scale, uint64_t at, uint64_t first_nonzero) {
    if (scale == 0.0f && first_nonzero != UINT64_MAX) {
        throw Error(CREF_ERR_BAD_DATA, scale_text(type, scale, at) + " but element " + std::to_string(first_nonzero) +
                                           " is not zero; a zero scale is only valid for an all-zero tensor");
    }
}

// I2_S, the whole tensor (bitnet-formats.md §3.3-§3.5, §3.8): blocks of 4*group elements in
// `group` bytes; byte p of a block holds elements p, p+group, p+2*group, p+3*group in bits 7-6,
// 5-4, 3-2, 1-0; code c means c - 1 (code 3 is invalid); one f32 scale at byte n/4.
void dequantize_i2s(const uint8_t *src, size_t src_len, uint64_t n, uint32_t group, float *dst) {
    if (group != 32 && group != 16) {
        throw Error(CREF_ERR_ARG, "i2_s: the block group must be 32 (GROUP_128) or 16 (GROUP_64) bytes, not " +
                                      std::to_string(group));
    }
    const uint64_t blck = 4ull * group;
    if (n % blck != 0 || src_len != n / 4 + 32) {
        throw Error(CREF_ERR_ARG, "i2_s: " + std::to_string(n) + " elements need a multiple of " + std::to_string(blck) +
                                      " and " + std::to_string(n / 4 + 32) + " bytes; " + std::to_string(src_len) +
                                      " bytes given");
    }
    if (n > 0 && (src == nullptr || dst == nullptr)) throw Error(CREF_ERR_ARG, "src or dst is NULL");
    const float scale = bits_to_f32(le32(src + n / 4));
    check_scale("i2_s", scale, n / 4);
    uint64_t first_nonzero = UINT64_MAX;
    for (uint64_t e = 0; e < n; e++) {
        const uint64_t blk = e / blck, pos = e % blck;
        const uint64_t at = group * blk + pos % group;
        const int code = (src[at] >> (6 - 2 * static_cast<int>(pos / group))) & 3;
        if (code == 3) {
            throw Error(CREF_ERR_BAD_DATA, "i2_s element " + std::to_string(e) + " (byte " + std::to_string(at) +
                                               ") has the invalid 2-bit code 3");
        }
        if (code != 1 && first_nonzero == UINT64_MAX) first_nonzero = e;
        dst[e] = scale * static_cast<float>(code - 1);
    }
    check_zero_scale("i2_s", scale, n / 4, first_nonzero);
}

void dequantize(uint32_t type, const uint8_t *src, size_t src_len, uint64_t n, float *dst) {
    const TypeDesc *t = find_type(type);
    if (t == nullptr) throw Error(CREF_ERR_ARG, "unknown type id " + std::to_string(type));
    if (type == T_TL1 || type == T_TL2) {
        throw Error(CREF_ERR_ARG, std::string(t->name) + " needs its tile configuration: use cref_dequantize_tl");
    }
    if (!dequantize_supported(type)) {
        throw Error(CREF_ERR_UNSUPPORTED, std::string("cpp_ref cannot decode ") + t->name + " (not implemented)");
    }
    if (n > 0 && (src == nullptr || dst == nullptr)) throw Error(CREF_ERR_ARG, "src or dst is NULL");
    if (type == T_I2_S) {
        dequantize_i2s(src, src_len, n, 32, dst);
        return;
    }
    if (n % t->blck != 0 || src_len / t->tsize != n / t->blck || src_len % t->tsize != 0) {
        throw Error(CREF_ERR_ARG, std::string(t->name) + ": " + std::to_string(n) + " elements are not " +
                                      std::to_string(src_len) + " bytes of whole " + std::to_string(t->blck) +
                                      "-element blocks");
    }
    const BlockFn fn = block_fn(type);
    const uint64_t blocks = n / t->blck;
    for (uint64_t b = 0; b < blocks; b++) fn(src + b * t->tsize, dst + b * t->blck);
}

}  // namespace cref
