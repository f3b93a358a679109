// bitgguf GPU dequantization kernels (compiled at run time by NVRTC, see src/device/cuda/kernels.rs).
//
// Every kernel expands packed blocks into f32, f16 or bf16 with the same f32 operations, in the
// same order, as the CPU scalar codecs in src/quant/ (which are bit-exact with ggml's
// dequantize_row_*): products and sums are written with __fmul_rn / __fadd_rn / __fsub_rn so
// that no multiply-add is ever contracted into an FMA (the module is also compiled with
// --fmad=false). f32 -> f16 / bf16 are the integer roundings of src/quant/float.rs
// (f32_to_f16, f32_to_bf16), NaN handling included.
//
// Work split: thread g of the grid produces the 8 consecutive output elements [8g, 8g + 8) of
// the launch (every block type has a multiple of 8 elements per block, so 8 elements never
// straddle a block), and stores them with one 16-byte store (f16/bf16) or two (f32): stores are
// coalesced across a warp. Block headers are re-read by the threads sharing a block (L1 hits).
//
// Arguments of every dq_* kernel:
//   src     the packed bytes of the first block of this launch
//   dst     the output of the first element of this launch (16-byte aligned)
//   n       elements in this launch (a whole number of blocks; any count for f32/f16/bf16)
//   out     0 = f32, 1 = f16, 2 = bf16
//   aux     a type-specific argument (I2_S: the per-tensor scale; I2_S GROUP_64: see dq_i2_s)
//   tab     a 16-entry value table passed by value (IQ4_NL/IQ4_XS, MXFP4; filled by the host
//           from the CPU codecs' own tables)

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

struct Tab16 {
    signed char v[16];
};

// ---- conversions (src/quant/float.rs) -------------------------------------------------------

__device__ __forceinline__ float h2f(u32 h) {
    u32 sign = (h & 0x8000u) << 16;
    u32 exp = (h >> 10) & 0x1fu;
    u32 man = h & 0x3ffu;
    u32 bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            u32 lz = (u32)__clz(man) - 21u;
            man = (man << lz) & 0x3ffu;
            bits = sign | ((127u - 15u + 1u - lz) << 23) | (man << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127u - 15u) << 23) | (man << 13);
    }
    return __uint_as_float(bits);
}

__device__ __forceinline__ u32 f2h(float f) {
    u32 x = __float_as_uint(f);
    u32 sign = (x >> 16) & 0x8000u;
    int exp = (int)((x >> 23) & 0xffu);
    u32 man = x & 0x7fffffu;
    if (exp == 0xff) {
        return man == 0 ? (sign | 0x7c00u) : (sign | 0x7e00u | (man >> 13));
    }
    int e = exp - 127 + 15;
    if (e >= 0x1f) return sign | 0x7c00u;
    if (e <= 0) {
        if (e < -10) return sign;
        u32 m = man | 0x800000u;
        u32 shift = (u32)(14 - e);
        u32 half = 1u << (shift - 1);
        u32 rest = m & ((1u << shift) - 1);
        u32 h = m >> shift;
        if (rest > half || (rest == half && (h & 1u))) h += 1;
        return sign | h;
    }
    u32 h = ((u32)e << 10) | (man >> 13);
    u32 rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h += 1;
    return (sign | h) & 0xffffu;
}

__device__ __forceinline__ u32 f2bf(float f) {
    u32 u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 64u) & 0xffffu;
    return (u + (0x7fffu + ((u >> 16) & 1u))) >> 16;
}

__device__ __forceinline__ u32 rd16(const u8* p) { return (u32)p[0] | ((u32)p[1] << 8); }
__device__ __forceinline__ u32 rd32(const u8* p) { return rd16(p) | (rd16(p + 2) << 16); }
__device__ __forceinline__ float f16at(const u8* p) { return h2f(rd16(p)); }

// Store 8 values at dst + 8g elements.
__device__ __forceinline__ void store8(void* dst, u64 g, int out, const float* v) {
    if (out == 0) {
        float4* d = (float4*)((float*)dst + 8 * g);
        d[0] = make_float4(v[0], v[1], v[2], v[3]);
        d[1] = make_float4(v[4], v[5], v[6], v[7]);
    } else {
        u32 w[4];
        #pragma unroll
        for (int i = 0; i < 4; i++) {
            u32 a = out == 1 ? f2h(v[2 * i]) : f2bf(v[2 * i]);
            u32 b = out == 1 ? f2h(v[2 * i + 1]) : f2bf(v[2 * i + 1]);
            w[i] = a | (b << 16);
        }
        *(uint4*)((u16*)dst + 8 * g) = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

__device__ __forceinline__ void store1(void* dst, u64 e, int out, float v) {
    if (out == 0) ((float*)dst)[e] = v;
    else ((u16*)dst)[e] = (u16)(out == 1 ? f2h(v) : f2bf(v));
}

#define GRID_LOOP(ngroups) \
    for (u64 g = (u64)blockIdx.x * blockDim.x + threadIdx.x; g < (ngroups); g += (u64)gridDim.x * blockDim.x)

// The table argument, copied to shared memory once per block (indexing the parameter space with
// a run-time index would spill it to local memory).
#define SHARED_TAB                                         \
    __shared__ signed char s_tab[16];                      \
    if (threadIdx.x < 16) s_tab[threadIdx.x] = tab.v[threadIdx.x]; \
    __syncthreads();

#define KERNEL(name) \
    extern "C" __global__ void __launch_bounds__(256) name(const u8* __restrict__ src, void* __restrict__ dst, \
                                                           u64 n, int out, float aux, Tab16 tab)

// ---- 32-element blocks (src/quant/legacy.rs, iquants.rs, fp4.rs) ------------------------------

// Q4_0: d:f16@0, qs[16]@2. Byte j: element j (low nibble), j+16 (high). (q-8)*d.
KERNEL(dq_q4_0) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 18;
        int s = (int)(g % 4), hi = s >= 2, j0 = (s & 1) * 8;
        float d = f16at(b), v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 q = b[2 + j0 + i];
            int x = (int)(hi ? (q >> 4) : (q & 0xF)) - 8;
            v[i] = __fmul_rn((float)x, d);
        }
        store8(dst, g, out, v);
    }
}

// Q4_1: d:f16@0, m:f16@2, qs[16]@4. q*d + m.
KERNEL(dq_q4_1) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 20;
        int s = (int)(g % 4), hi = s >= 2, j0 = (s & 1) * 8;
        float d = f16at(b), m = f16at(b + 2), v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 q = b[4 + j0 + i];
            v[i] = __fadd_rn(__fmul_rn((float)(hi ? (q >> 4) : (q & 0xF)), d), m);
        }
        store8(dst, g, out, v);
    }
}

// Q5_0: d:f16@0, qh:u32@2, qs[16]@6. (q5 - 16)*d.
KERNEL(dq_q5_0) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 22;
        int s = (int)(g % 4), hi = s >= 2, j0 = (s & 1) * 8;
        float d = f16at(b), v[8];
        u32 qh = rd32(b + 2);
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            int j = j0 + i;
            u32 q = b[6 + j];
            u32 x = hi ? ((q >> 4) | ((qh >> (j + 12)) & 0x10u)) : ((q & 0xF) | (((qh >> j) << 4) & 0x10u));
            v[i] = __fmul_rn((float)((int)x - 16), d);
        }
        store8(dst, g, out, v);
    }
}

// Q5_1: d:f16@0, m:f16@2, qh:u32@4, qs[16]@8. q5*d + m.
KERNEL(dq_q5_1) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 24;
        int s = (int)(g % 4), hi = s >= 2, j0 = (s & 1) * 8;
        float d = f16at(b), m = f16at(b + 2), v[8];
        u32 qh = rd32(b + 4);
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            int j = j0 + i;
            u32 q = b[8 + j];
            u32 x = hi ? ((q >> 4) | ((qh >> (j + 12)) & 0x10u)) : ((q & 0xF) | (((qh >> j) << 4) & 0x10u));
            v[i] = __fadd_rn(__fmul_rn((float)x, d), m);
        }
        store8(dst, g, out, v);
    }
}

// Q8_0: d:f16@0, qs:i8[32]@2. q*d.
KERNEL(dq_q8_0) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 34;
        int e0 = (int)(g % 4) * 8;
        float d = f16at(b), v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fmul_rn((float)(signed char)b[2 + e0 + i], d);
        store8(dst, g, out, v);
    }
}

// IQ4_NL: d:f16@0, qs[16]@2; d * kvalues[nibble].
KERNEL(dq_iq4_nl) {
    SHARED_TAB
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 18;
        int s = (int)(g % 4), hi = s >= 2, j0 = (s & 1) * 8;
        float d = f16at(b), v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 q = b[2 + j0 + i];
            v[i] = __fmul_rn(d, (float)s_tab[hi ? (q >> 4) : (q & 0xF)]);
        }
        store8(dst, g, out, v);
    }
}

// E8M0 scale byte, halved (src/quant/fp4.rs e8m0_to_f32_half).
__device__ __forceinline__ float e8m0_half(u32 e) {
    return __uint_as_float(e < 2 ? (0x00200000u << e) : ((e - 1) << 23));
}

// MXFP4: e:u8@0, qs[16]@1. kvalues[nibble] * (2^(e-128)).
KERNEL(dq_mxfp4) {
    SHARED_TAB
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 17;
        int s = (int)(g % 4), hi = s >= 2, j0 = (s & 1) * 8;
        float d = e8m0_half(b[0]), v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 q = b[1 + j0 + i];
            v[i] = __fmul_rn((float)s_tab[hi ? (q >> 4) : (q & 0xF)], d);
        }
        store8(dst, g, out, v);
    }
}

// ---- 256-element super-blocks (src/quant/kquants.rs, iquants.rs, ternary.rs) ------------------

// Q2_K: scales[16]@0, qs[64]@16, d:f16@80, dmin:f16@82. e = 128h + 32j + 16p + l.
KERNEL(dq_q2_k) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 84;
        int e0 = (int)(g % 32) * 8;
        int h = e0 >> 7, j = (e0 >> 5) & 3, p = (e0 >> 4) & 1, l0 = e0 & 15;
        u32 sc = b[8 * h + 2 * j + p];
        float d = f16at(b + 80), mn = f16at(b + 82);
        float dl = __fmul_rn(d, (float)(sc & 0xF)), ml = __fmul_rn(mn, (float)(sc >> 4));
        const u8* q = b + 16 + 32 * h + 16 * p + l0;
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fsub_rn(__fmul_rn(dl, (float)((q[i] >> (2 * j)) & 3)), ml);
        store8(dst, g, out, v);
    }
}

// Q3_K: hmask[32]@0, qs[64]@32, scales[12]@96, d:f16@108. e = 128h + 32j + 16p + l.
KERNEL(dq_q3_k) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 110;
        int e0 = (int)(g % 32) * 8;
        int h = e0 >> 7, j = (e0 >> 5) & 3, p = (e0 >> 4) & 1, l0 = e0 & 15;
        int k = 8 * h + 2 * j + p;
        const u8* s = b + 96;
        u32 low = k < 8 ? (s[k] & 0xF) : (s[k - 8] >> 4);
        u32 high = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
        int sc = (int)(low | (high << 4));
        float dl = __fmul_rn(f16at(b + 108), (float)(sc - 32));
        u32 m = 1u << (4 * h + j);
        const u8* q = b + 32 + 32 * h + 16 * p + l0;
        const u8* hm = b + 16 * p + l0;
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            int x = (int)((q[i] >> (2 * j)) & 3) - ((hm[i] & m) ? 0 : 4);
            v[i] = __fmul_rn(dl, (float)x);
        }
        store8(dst, g, out, v);
    }
}

// ggml's get_scale_min_k4.
__device__ __forceinline__ void scale_min_k4(int j, const u8* s, u32* sc, u32* m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q4_K: d@0, dmin@2, scales[12]@4, qs[128]@16. e = 64c + 32hi + l.
KERNEL(dq_q4_k) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 144;
        int e0 = (int)(g % 32) * 8;
        int c = e0 >> 6, hi = (e0 >> 5) & 1, l0 = e0 & 31;
        u32 sc, m;
        scale_min_k4(2 * c + hi, b + 4, &sc, &m);
        float d1 = __fmul_rn(f16at(b), (float)sc), m1 = __fmul_rn(f16at(b + 2), (float)m);
        const u8* q = b + 16 + 32 * c + l0;
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fsub_rn(__fmul_rn(d1, (float)(hi ? (q[i] >> 4) : (q[i] & 0xF))), m1);
        store8(dst, g, out, v);
    }
}

// Q5_K: d@0, dmin@2, scales[12]@4, qh[32]@16, qs[128]@48. e = 64c + 32hi + l.
KERNEL(dq_q5_k) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 176;
        int e0 = (int)(g % 32) * 8;
        int c = e0 >> 6, hi = (e0 >> 5) & 1, l0 = e0 & 31;
        u32 sc, m;
        scale_min_k4(2 * c + hi, b + 4, &sc, &m);
        float d1 = __fmul_rn(f16at(b), (float)sc), m1 = __fmul_rn(f16at(b + 2), (float)m);
        u32 u = (hi ? 2u : 1u) << (2 * c);
        const u8* q = b + 48 + 32 * c + l0;
        const u8* qh = b + 16 + l0;
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 x = (hi ? (q[i] >> 4) : (q[i] & 0xF)) + ((qh[i] & u) ? 16 : 0);
            v[i] = __fsub_rn(__fmul_rn(d1, (float)x), m1);
        }
        store8(dst, g, out, v);
    }
}

// Q6_K: ql[128]@0, qh[64]@128, scales:i8[16]@192, d:f16@208. e = 128h + 32k + l.
KERNEL(dq_q6_k) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 210;
        int e0 = (int)(g % 32) * 8;
        int h = e0 >> 7, k = (e0 >> 5) & 3, l0 = e0 & 31;
        const u8* ql = b + 64 * h + (k & 1) * 32 + l0;
        const u8* qh = b + 128 + 32 * h + l0;
        int is = l0 / 16;
        float ds = __fmul_rn(f16at(b + 208), (float)(signed char)b[192 + 8 * h + is + 2 * k]);
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 lo = k < 2 ? (ql[i] & 0xF) : (ql[i] >> 4);
            u32 q = lo | (((qh[i] >> (2 * k)) & 3) << 4);
            v[i] = __fmul_rn(ds, (float)((int)q - 32));
        }
        store8(dst, g, out, v);
    }
}

// IQ4_XS: d:f16@0, scales_h:u16@2, scales_l[4]@4, qs[128]@8. e = 32ib + 16hi + j.
KERNEL(dq_iq4_xs) {
    SHARED_TAB
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 136;
        int e0 = (int)(g % 32) * 8;
        int ib = e0 >> 5, hi = (e0 >> 4) & 1, j0 = e0 & 15;
        u32 sh = rd16(b + 2);
        int ls = (int)(((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4));
        float dl = __fmul_rn(f16at(b), (float)(ls - 32));
        const u8* q = b + 8 + 16 * ib + j0;
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fmul_rn(dl, (float)s_tab[hi ? (q[i] >> 4) : (q[i] & 0xF)]);
        store8(dst, g, out, v);
    }
}

// TQ1_0: qs[48]@0, qh[4]@48, d:f16@52 (src/quant/ternary.rs block_tq1_0).
__device__ __forceinline__ int tq1_trit(u32 byte, int n) {
    u32 p3 = n == 0 ? 1u : n == 1 ? 3u : n == 2 ? 9u : n == 3 ? 27u : 81u;
    u32 x = (byte * p3) & 0xFFu;
    return (int)((x * 3) >> 8) - 1;
}

KERNEL(dq_tq1_0) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 54;
        int e0 = (int)(g % 32) * 8;
        float d = f16at(b + 52), v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            int e = e0 + i, t;
            if (e < 160) t = tq1_trit(b[e & 31], e >> 5);
            else if (e < 240) t = tq1_trit(b[32 + ((e - 160) & 15)], (e - 160) >> 4);
            else t = tq1_trit(b[48 + ((e - 240) & 3)], (e - 240) >> 2);
            v[i] = __fmul_rn((float)t, d);
        }
        store8(dst, g, out, v);
    }
}

// TQ2_0: qs[64]@0, d:f16@64. e = 128gr + 32l + m: bits 2l of qs[32gr + m].
KERNEL(dq_tq2_0) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 66;
        int e0 = (int)(g % 32) * 8;
        int gr = e0 >> 7, l = (e0 >> 5) & 3, m0 = e0 & 31;
        float d = f16at(b + 64), v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fmul_rn((float)((int)((b[32 * gr + m0 + i] >> (2 * l)) & 3) - 1), d);
        store8(dst, g, out, v);
    }
}

// ---- BitNet I2_S (src/quant/bitnet/i2s.rs) ----------------------------------------------------
// Payload only (the host reads the scale from the tail and passes it as aux; it also rejects
// code 3 while staging the bytes). Blocks of 4*G elements / G bytes, G = 32 (canonical) or 16
// (GROUP_64, tab.v[0] = 1): byte p of a block holds elements p, p+G, p+2G, p+3G in bits 7-6,
// 5-4, 3-2, 1-0. Values are the CPU's lut: {scale * -1, scale * 0, scale * 1}[code].
template <int G>
__device__ __forceinline__ void i2s_body(const u8* __restrict__ src, void* __restrict__ dst, u64 n, int out, float aux) {
    float l0 = __fmul_rn(aux, -1.0f), l1 = __fmul_rn(aux, 0.0f), l2 = __fmul_rn(aux, 1.0f);
    GRID_LOOP(n / 8) {
        u64 e0 = g * 8;
        u64 blk = e0 / (4 * G);
        int r = (int)(e0 % (4 * G));
        int field = r / G, p0 = r % G;
        const u8* q = src + blk * G + p0;
        int sh = 6 - 2 * field;
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 c = (q[i] >> sh) & 3;
            v[i] = c == 0 ? l0 : (c == 1 ? l1 : l2);
        }
        store8(dst, g, out, v);
    }
}

KERNEL(dq_i2_s) {
    if (tab.v[0]) i2s_body<16>(src, dst, n, out, aux);
    else i2s_body<32>(src, dst, n, out, aux);
}

// ---- plain floats ------------------------------------------------------------------------------

__device__ __forceinline__ float load_float(const u8* src, u64 e, int kind) {
    if (kind == 0) return __uint_as_float(rd32(src + 4 * e));
    if (kind == 1) return h2f(rd16(src + 2 * e));
    return __uint_as_float(rd16(src + 2 * e) << 16);
}

// aux unused; tab.v[0]: 0 = f32 in, 1 = f16 in, 2 = bf16 in.
KERNEL(dq_float) {
    int kind = tab.v[0];
    u64 groups = n / 8;
    GRID_LOOP(groups) {
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = load_float(src, 8 * g + i, kind);
        store8(dst, g, out, v);
    }
    // The last n % 8 elements, one thread each.
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n % 8) {
        u64 e = groups * 8 + t;
        store1(dst, e, out, load_float(src, e, kind));
    }
}
