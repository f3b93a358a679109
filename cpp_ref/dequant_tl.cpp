// TL1 and TL2 in cpp_ref, written from shared/reference/bitnet-formats.md §4 (TL1: tile
// parameters §4.2, element encoding §4.3, byte layout §4.4, scale §4.5, decode §4.6) and §5
// (TL2: §5.2 tile parameters, §5.3 encoding, §5.4 byte layout, §5.5 decode, §5.7 size).
//
// The tile configuration {BM, BK, bm} is always an explicit argument: files do not record it
// (§4.9, §5.9); bitgguf writes it as the metadata key `bitgguf.tl.<tensor name>` (UINT32[3]),
// which the reader hands out with cref_tensor_tile. The decoders walk the bytes in the order of
// the closed-form loops of §4.4 / §5.4 and scatter each element to W[m][k] (output index
// m * K + k), as the reference's pseudo-code does. Values are `scale * t` in f32 with t in
// {-1, 0, 1}; an index the format forbids is rejected with CREF_ERR_BAD_DATA.
#include <algorithm>

#include "common.hpp"
#include "cref.h"

namespace cref {
namespace {

std::string cfg_text(const char *type, const uint32_t cfg[3], uint64_t m, uint64_t k) {
    return std::string(type) + " tile config BM=" + std::to_string(cfg[0]) + ", BK=" + std::to_string(cfg[1]) +
           ", bm=" + std::to_string(cfg[2]) + " for M=" + std::to_string(m) + ", K=" + std::to_string(k);
}

[[noreturn]] void bad_cfg(const char *type, const uint32_t cfg[3], uint64_t m, uint64_t k, const std::string &why) {
    throw Error(CREF_ERR_ARG, cfg_text(type, cfg, m, k) + ": " + why);
}

// M * K with an overflow check (and the element count must fit the output the caller sized).
uint64_t elements(const char *type, uint64_t m, uint64_t k) {
    if (k != 0 && m > UINT64_MAX / k) throw Error(CREF_ERR_ARG, std::string(type) + ": M * K overflows");
    return m * k;
}

void need_len(const char *type, size_t src_len, uint64_t want) {
    if (src_len != want) {
        throw Error(CREF_ERR_ARG, std::string(type) + ": " + std::to_string(want) + " bytes expected, " +
                                      std::to_string(src_len) + " given");
    }
}

// TL1 / TL2 pair index (§4.3): idx = 3*t0 + t1 + 4, so t0 = idx/3 - 1 and t1 = idx%3 - 1.
void pair(uint8_t idx, int &t0, int &t1) {
    t0 = idx / 3 - 1;
    t1 = idx % 3 - 1;
}

[[noreturn]] void bad_index(const char *type, const char *what, unsigned idx, uint64_t byte) {
    throw Error(CREF_ERR_BAD_DATA, std::string(type) + ": " + what + " index " + std::to_string(idx) + " at byte " +
                                       std::to_string(byte) + " is invalid");
}

// TL2 three-index table (§5.3): idx -> (t0, t1, t2), leading nonzero digit positive.
const int8_t TRIPLES[14][3] = {
    {0, 0, 0},  {0, 0, 1},  {0, 1, -1}, {0, 1, 0},  {0, 1, 1},  {1, -1, -1}, {1, -1, 0},
    {1, -1, 1}, {1, 0, -1}, {1, 0, 0},  {1, 0, 1},  {1, 1, -1}, {1, 1, 0},   {1, 1, 1},
};

// Row of byte position `pos` (0..31) within a 32-row group: bits 3 and 4 swapped (§5.4).
unsigned rowperm(unsigned pos) { return (pos & ~24u) | ((pos & 8u) << 1) | ((pos & 16u) >> 1); }

// F(M, K) of §5.7 with C's signed 64-bit semantics, left to right; false on overflow.
bool tl2_f(uint64_t m, uint64_t k, uint64_t &out) {
    if (m > static_cast<uint64_t>(INT64_MAX) || k > static_cast<uint64_t>(INT64_MAX)) return false;
    const int64_t M = static_cast<int64_t>(m), K = static_cast<int64_t>(k);
    int64_t a;
    if (__builtin_mul_overflow(K - 256, M, &a)) return false;
    a /= 3;
    if (__builtin_mul_overflow(a, int64_t{5}, &a)) return false;
    a /= 8;
    int64_t b;
    if (__builtin_mul_overflow(int64_t{256}, M, &b)) return false;
    b /= 2;
    if (__builtin_mul_overflow(b, int64_t{4}, &b)) return false;
    b /= 8;
    int64_t f;
    if (__builtin_add_overflow(a, b, &f) || f < 0) return false;
    out = static_cast<uint64_t>(f);
    return true;
}

}  // namespace

void dequantize_tl1(const uint8_t *src, size_t src_len, uint64_t m, uint64_t k, const uint32_t cfg[3], float *dst) {
    const uint64_t BM = cfg[0], BK = cfg[1], bm = cfg[2];
    if (bm != 32 && bm != 64) bad_cfg("TL1", cfg, m, k, "bm must be 32 or 64");
    if (BM == 0 || BK == 0) bad_cfg("TL1", cfg, m, k, "BM and BK must be positive");
    if (m % BM != 0) bad_cfg("TL1", cfg, m, k, "M is not a multiple of BM");
    if (BM % bm != 0) bad_cfg("TL1", cfg, m, k, "BM is not a multiple of bm");
    if (k % BK != 0) bad_cfg("TL1", cfg, m, k, "K is not a multiple of BK");
    const uint64_t by = 256 / bm;
    if (BK % by != 0) bad_cfg("TL1", cfg, m, k, "BK is not a multiple of by = 256 / bm");
    const uint64_t n = elements("TL1", m, k);
    const uint64_t payload = n / 4;  // K % 4 == 0 follows from BK % by == 0
    need_len("TL1", src_len, payload + 32);
    if (n > 0 && (src == nullptr || dst == nullptr)) throw Error(CREF_ERR_ARG, "TL1: src or dst is NULL");
    const float scale = bits_to_f32(le32(src + payload));
    check_scale("tl1", scale, payload);
    uint64_t first_nonzero = UINT64_MAX;

    uint64_t o = 0;
    for (uint64_t I = 0; I < m / BM; I++)
        for (uint64_t J = 0; J < k / BK; J++)
            for (uint64_t R = 0; R < BM / bm; R++)
                for (uint64_t Y = 0; Y < BK / by; Y++)
                    for (uint64_t g = 0; g < bm / 16; g++)
                        for (uint64_t yq = 0; yq < by / 4; yq++)
                            for (uint64_t s = 0; s < 16; s++, o++) {
                                const uint64_t row = I * BM + R * bm + g * 16 + s;
                                const uint64_t p0 = J * (BK / 2) + Y * (by / 2) + 2 * yq;
                                const uint8_t b = src[o];
                                const uint8_t nibs[2] = {static_cast<uint8_t>(b >> 4),
                                                         static_cast<uint8_t>(b & 15)};
                                for (int h = 0; h < 2; h++) {
                                    if (nibs[h] > 8) bad_index("TL1", "pair", nibs[h], o);
                                    int t0, t1;
                                    pair(nibs[h], t0, t1);
                                    const uint64_t col = 2 * (p0 + h);
                                    if (t0 != 0) first_nonzero = std::min(first_nonzero, row * k + col);
                                    if (t1 != 0) first_nonzero = std::min(first_nonzero, row * k + col + 1);
                                    dst[row * k + col] = scale * static_cast<float>(t0);
                                    dst[row * k + col + 1] = scale * static_cast<float>(t1);
                                }
                            }
    check_zero_scale("tl1", scale, payload, first_nonzero);
}

void dequantize_tl2(const uint8_t *src, size_t src_len, uint64_t m, uint64_t k, const uint32_t cfg[3], float *dst) {
    const uint64_t BM = cfg[0], BK = cfg[1], bm = cfg[2];
    if (bm != 32) bad_cfg("TL2", cfg, m, k, "bm must be 32");
    if (BM == 0 || BM % 32 != 0) bad_cfg("TL2", cfg, m, k, "BM must be a positive multiple of 32");
    if (m % BM != 0) bad_cfg("TL2", cfg, m, k, "M is not a multiple of BM");
    if (BK == 0 || BK % 24 != 0) bad_cfg("TL2", cfg, m, k, "BK must be a positive multiple of 24");
    const uint64_t K3 = k / BK * BK, K2 = k - K3;
    if (K2 % 32 != 0) bad_cfg("TL2", cfg, m, k, "K2 = K - floor(K/BK)*BK is not a multiple of 32");
    const uint64_t n = elements("TL2", m, k);
    uint64_t F;
    if (!tl2_f(m, k, F) || F > UINT64_MAX - 64) throw Error(CREF_ERR_ARG, "TL2: F(M, K) overflows");
    const uint64_t A = 0, B = m * K3 / 6, C = B + m * K3 / 24, end = C + m * K2 / 4;
    if (end > F) bad_cfg("TL2", cfg, m, k, "the payload (" + std::to_string(end) + " bytes) exceeds F(M, K) = " +
                                               std::to_string(F));
    const uint64_t scale_at = (F + 31) / 32 * 32;
    need_len("TL2", src_len, scale_at + 32);
    if (n > 0 && (src == nullptr || dst == nullptr)) throw Error(CREF_ERR_ARG, "TL2: src or dst is NULL");
    const float scale = bits_to_f32(le32(src + scale_at));
    check_scale("tl2", scale, scale_at);
    uint64_t first_nonzero = UINT64_MAX;

    // Section A (three part) with the signs of section B.
    uint64_t o = A;
    for (uint64_t I = 0; I < m / BM; I++)
        for (uint64_t J = 0; J < K3 / BK; J++)
            for (uint64_t R = 0; R < BM / 32; R++)
                for (uint64_t Y = 0; Y < BK / 6; Y++)
                    for (unsigned pos = 0; pos < 32; pos++, o++) {
                        const uint64_t r = rowperm(pos);
                        const uint64_t row = I * BM + R * 32 + r;
                        const uint8_t b = src[o];
                        for (int h = 0; h < 2; h++) {
                            const uint8_t idx = h == 0 ? (b >> 4) : (b & 15);
                            if (idx > 13) bad_index("TL2", "triple", idx, o);
                            const uint64_t jj = 2 * Y + h;  // triple within the k-block
                            const uint64_t j = J * (BK / 3) + jj;
                            const uint64_t Q = jj / 8, q = jj % 8, hh = r / 16, c = r % 16;
                            const uint64_t w_at = B + ((((I * (K3 / BK) + J) * (BM / 32) + R) * (BK / 24) + Q) * 16 + c) * 2;
                            const bool neg = (le16(src + w_at) >> (15 - (2 * q + hh))) & 1;
                            for (int e = 0; e < 3; e++) {
                                const int t = neg ? -TRIPLES[idx][e] : TRIPLES[idx][e];
                                if (t != 0) first_nonzero = std::min(first_nonzero, row * k + 3 * j + e);
                                dst[row * k + 3 * j + e] = scale * static_cast<float>(t);
                            }
                        }
                    }
    // Section C (two part).
    o = C;
    for (uint64_t I = 0; I < m / BM; I++)
        for (uint64_t J = 0; J < K2 / 32; J++)
            for (uint64_t R = 0; R < BM / 32; R++)
                for (uint64_t Y = 0; Y < 8; Y++)
                    for (unsigned pos = 0; pos < 32; pos++, o++) {
                        const uint64_t row = I * BM + R * 32 + rowperm(pos);
                        const uint64_t p0 = J * 16 + 2 * Y;
                        const uint8_t b = src[o];
                        for (int h = 0; h < 2; h++) {
                            const uint8_t idx = h == 0 ? (b >> 4) : (b & 15);
                            if (idx > 8) bad_index("TL2", "pair", idx, o);
                            int t0, t1;
                            pair(idx, t0, t1);
                            const uint64_t col = K3 + 2 * (p0 + h);
                            if (t0 != 0) first_nonzero = std::min(first_nonzero, row * k + col);
                            if (t1 != 0) first_nonzero = std::min(first_nonzero, row * k + col + 1);
                            dst[row * k + col] = scale * static_cast<float>(t0);
                            dst[row * k + col + 1] = scale * static_cast<float>(t1);
                        }
                    }
    check_zero_scale("tl2", scale, scale_at, first_nonzero);
}

}  // namespace cref
