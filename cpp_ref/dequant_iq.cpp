// The IQ family's dequantizers in cpp_ref, written from shared/reference/gguf-ggml.md §2.3 (block
// layouts), §2.5 (IQ4_NL, IQ4_XS) and §2.6 (the grid types), with the element order and the
// association of every product taken from the reference's description and gguf-py's numpy
// dequantizers (gguf/quants.py), which §2.6 names as the readable port source. The lattice
// tables are format constants generated into iq_tables.hpp by scripts/gen_iq_tables.py --cpp.
//
// Plain scalar code, one block at a time, all arithmetic in f32:
//   IQ2_*:   y = (db * grid) * sign, with db = (d * (0.5 + s)) * 0.25
//   IQ3_XXS: y = (db * grid) * sign, with db = (d * (0.5 + s)) * 0.5
//   IQ3_S:   y = (db * grid) * sign, with db = d * (1 + 2 s) (an integer factor)
//   IQ1_*:   y = dl * (grid + delta), with dl = d * (2 s + 1)
//   IQ4_*:   y = dl * kvalue, with dl = d (IQ4_NL) or d * (ls - 32) (IQ4_XS)
// A sign is a multiplication by +1 or -1 (exact; it also flips the sign of a zero or a NaN).
#include "common.hpp"
#include "iq_tables.hpp"

namespace cref {
namespace {

using iq::IQ1S_DELTA;
using iq::KSIGNS_IQ2XS;
using iq::KVALUES_IQ4NL;

// Byte j of a grid word, as a magnitude (IQ2/IQ3) or a signed value (IQ1).
inline float grid_u8(uint64_t word, int j) { return static_cast<float>((word >> (8 * j)) & 0xFF); }
inline float grid_i8(uint64_t word, int j) {
    return static_cast<float>(static_cast<int8_t>(static_cast<uint8_t>((word >> (8 * j)) & 0xFF)));
}
// +1 or -1 by bit j of a sign byte.
inline float sign_of(uint8_t signs, int j) { return ((signs >> j) & 1) ? -1.0f : 1.0f; }

// Eight outputs from one 8-value grid word: (db * grid[j]) * sign_j.
inline void emit8(float db, uint64_t grid, uint8_t signs, float *y) {
    for (int j = 0; j < 8; j++) y[j] = db * grid_u8(grid, j) * sign_of(signs, j);
}

// IQ2_XXS (66 bytes): d @0, then 8 groups of 32 elements, each two u32 words: aux0 holds four
// grid indices (one byte each, 8 elements each), aux1 four 7-bit ksigns indices (bits 0, 7, 14,
// 21) and the 4-bit scale in bits 28..31.
void dq_iq2_xxs(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int ib = 0; ib < 8; ib++) {
        const uint32_t aux0 = le32(x + 2 + 8 * ib);
        const uint32_t aux1 = le32(x + 2 + 8 * ib + 4);
        const float db = d * (0.5f + static_cast<float>(aux1 >> 28)) * 0.25f;
        for (int l = 0; l < 4; l++) {
            const uint8_t idx = static_cast<uint8_t>(aux0 >> (8 * l));
            const uint8_t signs = KSIGNS_IQ2XS[(aux1 >> (7 * l)) & 127];
            emit8(db, iq::IQ2XXS_GRID[idx], signs, y + 32 * ib + 8 * l);
        }
    }
}

// IQ2_XS (74 bytes): d @0, qs u16[32] @2 (low 9 bits grid index, high 7 bits ksigns index),
// scales[8] @66: group ib's low nibble scales its first 16 elements, the high nibble the rest.
void dq_iq2_xs(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int ib = 0; ib < 8; ib++) {
        const uint8_t sc = x[66 + ib];
        const float db[2] = {d * (0.5f + static_cast<float>(sc & 0xF)) * 0.25f,
                             d * (0.5f + static_cast<float>(sc >> 4)) * 0.25f};
        for (int l = 0; l < 4; l++) {
            const uint16_t q = le16(x + 2 + 2 * (4 * ib + l));
            emit8(db[l / 2], iq::IQ2XS_GRID[q & 511], KSIGNS_IQ2XS[q >> 9], y + 32 * ib + 8 * l);
        }
    }
}

// IQ2_S (82 bytes): d @0, qs[32] @2 (grid index low bytes), signs[32] @34 (raw sign bytes, one
// per 8 elements), qh[8] @66 (2 high index bits per 8 elements), scales[8] @74 (as IQ2_XS).
void dq_iq2_s(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int ib = 0; ib < 8; ib++) {
        const uint8_t sc = x[74 + ib];
        const float db[2] = {d * (0.5f + static_cast<float>(sc & 0xF)) * 0.25f,
                             d * (0.5f + static_cast<float>(sc >> 4)) * 0.25f};
        const uint8_t qh = x[66 + ib];
        for (int l = 0; l < 4; l++) {
            const unsigned idx = x[2 + 4 * ib + l] | (((qh >> (2 * l)) & 3u) << 8);
            emit8(db[l / 2], iq::IQ2S_GRID[idx], x[34 + 4 * ib + l], y + 32 * ib + 8 * l);
        }
    }
}

// IQ3_XXS (98 bytes): d @0, qs[64] @2 (grid indices, 4 elements each), then 8 u32
// scales_and_signs @66: four 7-bit ksigns indices (bits 0, 7, 14, 21; 8 elements each) and the
// 4-bit scale in bits 28..31.
void dq_iq3_xxs(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int ib = 0; ib < 8; ib++) {
        const uint32_t aux = le32(x + 66 + 4 * ib);
        const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
        for (int l = 0; l < 4; l++) {
            const uint8_t signs = KSIGNS_IQ2XS[(aux >> (7 * l)) & 127];
            const uint32_t g1 = iq::IQ3XXS_GRID[x[2 + 8 * ib + 2 * l]];
            const uint32_t g2 = iq::IQ3XXS_GRID[x[2 + 8 * ib + 2 * l + 1]];
            float *out = y + 32 * ib + 8 * l;
            for (int j = 0; j < 4; j++) {
                out[j] = db * grid_u8(g1, j) * sign_of(signs, j);
                out[j + 4] = db * grid_u8(g2, j) * sign_of(signs, j + 4);
            }
        }
    }
}

// IQ3_S (110 bytes): d @0, qs[64] @2 (grid index low bytes, 4 elements each), qh[8] @66 (bit k
// of qh[ib] is bit 8 of index 8*ib + k), signs[32] @74 (one per 8 elements), scales[4] @106
// (group ib: nibble ib % 2 of scales[ib / 2]).
void dq_iq3_s(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int ib = 0; ib < 8; ib++) {
        const int s = (x[106 + ib / 2] >> (4 * (ib % 2))) & 0xF;
        const float db = d * static_cast<float>(1 + 2 * s);
        const uint8_t qh = x[66 + ib];
        for (int k = 0; k < 8; k++) {  // grid entry k of the group: 4 elements
            const unsigned idx = x[2 + 8 * ib + k] | (((qh >> k) & 1u) << 8);
            const uint32_t g = iq::IQ3S_GRID[idx];
            const uint8_t signs = x[74 + 4 * ib + k / 2];
            float *out = y + 32 * ib + 4 * k;
            for (int j = 0; j < 4; j++) out[j] = db * grid_u8(g, j) * sign_of(signs, 4 * (k % 2) + j);
        }
    }
}

// IQ1_S (50 bytes): d @0, qs[32] @2, qh u16[8] @34. Group ib: dl = d * (2*((qh >> 12) & 7) + 1),
// delta = -0.125 when bit 15 is set, else +0.125; grid index l (8 elements) = qs[4ib + l] | 3
// bits of qh at 3l, << 8.
void dq_iq1_s(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int ib = 0; ib < 8; ib++) {
        const uint16_t qh = le16(x + 34 + 2 * ib);
        const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
        const float delta = (qh & 0x8000) ? -IQ1S_DELTA : IQ1S_DELTA;
        for (int l = 0; l < 4; l++) {
            const unsigned idx = x[2 + 4 * ib + l] | (((qh >> (3 * l)) & 7u) << 8);
            const uint64_t g = iq::IQ1S_GRID[idx];
            for (int j = 0; j < 8; j++) y[32 * ib + 8 * l + j] = dl * (grid_i8(g, j) + delta);
        }
    }
}

// IQ1_M (56 bytes): qs[32] @0, qh[16] @32, scales u16[4] @48. The block's f16 scale is the top
// nibbles of the four scale words (word 0 -> bits 0..3, ..., word 3 -> bits 12..15). Group ib
// (32 elements) has two 3-bit sub-scales, at bits 6*(ib%2) and 6*(ib%2)+3 of word ib/2, each
// for 16 elements. qh[2ib + h] gives grid entries 2h and 2h+1 of the group their 3 high index
// bits (low nibble bits 0..2, high nibble bits 4..6) and their delta sign (bit 3, bit 7).
void dq_iq1_m(const uint8_t *x, float *y) {
    uint16_t sc[4];
    for (int w = 0; w < 4; w++) sc[w] = le16(x + 48 + 2 * w);
    const uint16_t dbits = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) |
                                                 ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000));
    const float d = f16_to_f32(dbits);
    for (int ib = 0; ib < 8; ib++) {
        const int shift = 6 * (ib % 2);
        const float dl[2] = {d * static_cast<float>(2 * ((sc[ib / 2] >> shift) & 7) + 1),
                             d * static_cast<float>(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1)};
        for (int l = 0; l < 4; l++) {
            const uint8_t qh = x[32 + 2 * ib + l / 2];
            const uint8_t nib = (l % 2) ? (qh >> 4) : (qh & 0xF);
            const unsigned idx = x[4 * ib + l] | ((nib & 7u) << 8);
            const float delta = (nib & 8) ? -IQ1S_DELTA : IQ1S_DELTA;
            const uint64_t g = iq::IQ1S_GRID[idx];
            for (int j = 0; j < 8; j++) y[32 * ib + 8 * l + j] = dl[l / 2] * (grid_i8(g, j) + delta);
        }
    }
}

// IQ4_NL (18 bytes, 32 elements): d @0, qs[16] @2; Q4_0 nibble order through kvalues_iq4nl.
void dq_iq4_nl(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    for (int j = 0; j < 16; j++) {
        y[j] = d * static_cast<float>(KVALUES_IQ4NL[x[2 + j] & 0xF]);
        y[j + 16] = d * static_cast<float>(KVALUES_IQ4NL[x[2 + j] >> 4]);
    }
}

// IQ4_XS (136 bytes): d @0, scales_h u16 @2, scales_l[4] @4, qs[128] @8. Group ib: 6-bit scale
// ls = nibble ib%2 of scales_l[ib/2] | 2 bits of scales_h at 2ib, << 4; dl = d * (ls - 32);
// 16 bytes in Q4_0 nibble order.
void dq_iq4_xs(const uint8_t *x, float *y) {
    const float d = fp16_at(x);
    const uint16_t sh = le16(x + 2);
    for (int ib = 0; ib < 8; ib++) {
        const int ls = ((x[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4);
        const float dl = d * static_cast<float>(ls - 32);
        const uint8_t *qs = x + 8 + 16 * ib;
        for (int j = 0; j < 16; j++) {
            y[32 * ib + j] = dl * static_cast<float>(KVALUES_IQ4NL[qs[j] & 0xF]);
            y[32 * ib + j + 16] = dl * static_cast<float>(KVALUES_IQ4NL[qs[j] >> 4]);
        }
    }
}

}  // namespace

BlockFn iq_block_fn(uint32_t type) {
    switch (type) {
        case 16: return dq_iq2_xxs;
        case 17: return dq_iq2_xs;
        case 18: return dq_iq3_xxs;
        case 19: return dq_iq1_s;
        case 20: return dq_iq4_nl;
        case 21: return dq_iq3_s;
        case 22: return dq_iq2_s;
        case 23: return dq_iq4_xs;
        case 29: return dq_iq1_m;
        default: return nullptr;
    }
}

}  // namespace cref
