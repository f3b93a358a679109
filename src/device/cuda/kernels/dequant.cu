// bitgguf GPU dequantization kernels (compiled at run time by NVRTC, see src/device/cuda/kernels.rs).
//
// Every kernel expands packed blocks into f32, f16 or bf16 with the same f32 operations, in the
// same order, as the CPU scalar codecs in src/quant/ (which are bit-exact with ggml's
// dequantize_row_*): products and sums are written with __fmul_rn / __fadd_rn / __fsub_rn so
// that no multiply-add is ever contracted into an FMA (the module is also compiled with
// --fmad=false). f32 -> f16 / bf16 give the bits of src/quant/float.rs (f32_to_f16,
// f32_to_bf16), NaN handling included.
//
// Work split: thread g of the grid produces the 8 consecutive output elements [8g, 8g + 8) of
// the launch (every block type has a multiple of 8 elements per block, so 8 elements never
// straddle a block), and stores them with one 16-byte store (f16/bf16) or two (f32): stores are
// coalesced across a warp. Block headers are re-read by the threads sharing a block (L1 hits).
//
// Arguments of every dq_* kernel:
//   src     the packed bytes of the first block of this launch (16-byte aligned: a staging slot
//           or an allocation's start; blocks inside are read with the widest loads their
//           offsets allow)
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

// f32 -> f16 as the CPU's f32_to_f16: the hardware's round-to-nearest-even conversion, which is
// the same for every non-NaN input (subnormals and overflow included; no .ftz), with the CPU's
// NaN rule (sign | 0x7e00 | top payload bits) instead of the hardware's canonical NaN.
__device__ __forceinline__ u32 f2h_fast(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    u32 x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return ((x >> 16) & 0x8000u) | 0x7e00u | ((x & 0x7fffffu) >> 13);
    return h;
}

__device__ __forceinline__ u32 f2bf(float f) {
    u32 u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 64u) & 0xffffu;
    return (u + (0x7fffu + ((u >> 16) & 1u))) >> 16;
}

__device__ __forceinline__ u32 rd16(const u8* p) { return (u32)p[0] | ((u32)p[1] << 8); }
__device__ __forceinline__ u32 rd32(const u8* p) { return rd16(p) | (rd16(p + 2) << 16); }
// Aligned loads (every f16 field sits at an even offset of an even-sized block).
__device__ __forceinline__ u32 ld16(const u8* p) { return *(const u16*)p; }
__device__ __forceinline__ u32 ld32_2(const u8* p) { return ld16(p) | (ld16(p + 2) << 16); }
__device__ __forceinline__ float f16at(const u8* p) { return h2f(ld16(p)); }

// Eight bytes as two little-endian words; A = the alignment the caller guarantees.
struct B8 {
    u32 lo, hi;
    __device__ __forceinline__ u32 operator[](int i) const { return ((i < 4 ? lo : hi) >> (8 * (i & 3))) & 0xFFu; }
};

template <int A>
__device__ __forceinline__ B8 ld8(const u8* p) {
    B8 r;
    if (A >= 8) {
        uint2 w = *(const uint2*)p;
        r.lo = w.x;
        r.hi = w.y;
    } else if (A >= 4) {
        r.lo = *(const u32*)p;
        r.hi = *(const u32*)(p + 4);
    } else if (A >= 2) {
        r.lo = ld32_2(p);
        r.hi = ld32_2(p + 4);
    } else {
        r.lo = rd32(p);
        r.hi = rd32(p + 4);
    }
    return r;
}

// Byte i of w (0..255) as an exact float minus `bias`, without an int -> float conversion (a
// quarter-rate instruction): the bits 0x4B0000ww are 2^23 + w, and (2^23 + w) - (2^23 + bias) is
// exact, so the result has the bits of (float)((int)w - bias) (+0.0 for zero, as I2F gives).
__device__ __forceinline__ float byte_f(u32 w, int i, float two23_plus_bias) {
    return __fsub_rn(__uint_as_float(__byte_perm(w, 0x4B000000u, 0x7440u + (u32)i)), two23_plus_bias);
}

// Bits 0..3 of x spread to bit 0 of bytes 0..3 (no carries: the shifted copies never overlap).
__device__ __forceinline__ u32 spread4(u32 x) { return ((x & 0xFu) * 0x00204081u) & 0x01010101u; }

__device__ __forceinline__ bool either_nan(float a, float b) {
    return (int)((__float_as_uint(a) & 0x7fffffffu) > 0x7f800000u) | (int)((__float_as_uint(b) & 0x7fffffffu) > 0x7f800000u);
}

// Two values as f16 / bf16, a in the low half: on sm_80+ one hardware conversion of the pair
// (round to nearest even, identical to the CPU for non-NaN inputs), falling back to the
// per-value path (the CPU's NaN rule) when either is NaN.
__device__ __forceinline__ u32 pack_f16(float a, float b) {
#if __CUDA_ARCH__ >= 800
    if (!either_nan(a, b)) {
        u32 r;
        asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(b), "f"(a));
        return r;
    }
#endif
    return f2h_fast(a) | (f2h_fast(b) << 16);
}

__device__ __forceinline__ u32 pack_bf16(float a, float b) {
#if __CUDA_ARCH__ >= 800
    if (!either_nan(a, b)) {
        u32 r;
        asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(b), "f"(a));
        return r;
    }
#endif
    return f2bf(a) | (f2bf(b) << 16);
}

// Eight bytes at p, guaranteed A-aligned, with wider loads where p happens to be 8- or 4-aligned
// (for 256-element super-blocks: the 32 threads of a warp share one block, so the branch is
// warp-uniform).
template <int A>
__device__ __forceinline__ B8 ld8_dyn(const u8* p) {
    unsigned long long a = (unsigned long long)p;
    if ((a & 7) == 0) return ld8<8>(p);
    if (A < 4 && (a & 3) == 0) return ld8<4>(p);
    return ld8<A>(p);
}

// Store 8 values at dst + 8g elements. 16-bit outputs: on sm_80+, when none of the 8 is NaN
// (one test per value), four hardware pair conversions; otherwise the per-pair path.
__device__ __forceinline__ void store8(void* dst, u64 g, int out, const float* v) {
    if (out == 0) {
        float4* d = (float4*)((float*)dst + 8 * g);
        d[0] = make_float4(v[0], v[1], v[2], v[3]);
        d[1] = make_float4(v[4], v[5], v[6], v[7]);
        return;
    }
    u32 w[4];
#if __CUDA_ARCH__ >= 800
    bool nan = false;
    #pragma unroll
    for (int i = 0; i < 8; i++) nan |= v[i] != v[i];
    if (!nan) {
        #pragma unroll
        for (int i = 0; i < 4; i++) {
            if (out == 1) asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(w[i]) : "f"(v[2 * i + 1]), "f"(v[2 * i]));
            else asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(w[i]) : "f"(v[2 * i + 1]), "f"(v[2 * i]));
        }
        *(uint4*)((u16*)dst + 8 * g) = make_uint4(w[0], w[1], w[2], w[3]);
        return;
    }
#endif
    #pragma unroll
    for (int i = 0; i < 4; i++) w[i] = out == 1 ? pack_f16(v[2 * i], v[2 * i + 1]) : pack_bf16(v[2 * i], v[2 * i + 1]);
    *(uint4*)((u16*)dst + 8 * g) = make_uint4(w[0], w[1], w[2], w[3]);
}

__device__ __forceinline__ void store1(void* dst, u64 e, int out, float v) {
    if (out == 0) ((float*)dst)[e] = v;
    else ((u16*)dst)[e] = (u16)(out == 1 ? f2h_fast(v) : f2bf(v));
}

#define GRID_LOOP(ngroups) \
    for (u64 g = (u64)blockIdx.x * blockDim.x + threadIdx.x; g < (ngroups); g += (u64)gridDim.x * blockDim.x)

// The table argument, copied to shared memory once per block as exact floats (indexing the
// parameter space with a run-time index would spill it to local memory; the floats spare an
// int -> float conversion per value, a quarter-rate instruction on sm_90; 16 floats sit in 16
// different banks, so the lookups never conflict).
#define SHARED_TAB                                                  \
    __shared__ float s_tabf[16];                                    \
    if (threadIdx.x < 16) s_tabf[threadIdx.x] = (float)tab.v[threadIdx.x]; \
    __syncthreads();

#define KERNEL(name) \
    extern "C" __global__ void __launch_bounds__(256) name(const u8* __restrict__ src, void* __restrict__ dst, \
                                                           u64 n, int out, float aux, Tab16 tab)

// The same with at least `minb` resident blocks per multiprocessor (a register cap).
#define KERNEL_MIN(name, minb) \
    extern "C" __global__ void __launch_bounds__(256, minb) name(const u8* __restrict__ src, void* __restrict__ dst, \
                                                                 u64 n, int out, float aux, Tab16 tab)

// ---- 32-element blocks (src/quant/legacy.rs, iquants.rs, fp4.rs) ------------------------------

// Q4_0: d:f16@0, qs[16]@2. Byte j: element j (low nibble), j+16 (high). (q-8)*d.
KERNEL(dq_q4_0) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 18;
        int s = (int)(g % 4), hi = s >= 2, j0 = (s & 1) * 8;
        float d = f16at(b), v[8];
        B8 qs = ld8<2>(b + 2 + j0);
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 q = qs[i];
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
        B8 qs = ld8<4>(b + 4 + j0);
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 q = qs[i];
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
        u32 qh = ld32_2(b + 2);
        B8 qs = ld8<2>(b + 6 + j0);
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            int j = j0 + i;
            u32 q = qs[i];
            u32 x = hi ? ((q >> 4) | ((qh >> (j + 12)) & 0x10u)) : ((q & 0xF) | (((qh >> j) << 4) & 0x10u));
            v[i] = __fmul_rn((float)((int)x - 16), d);
        }
        store8(dst, g, out, v);
    }
}

// Q5_1: d:f16@0, m:f16@2, qh:u32@4, qs[16]@8. q5*d + m. Byte-parallel: the 5-bit values of 4
// elements are built in one word (nibbles | qh bits spread to bit 4 of each byte), then each is
// made a float with byte_f.
KERNEL(dq_q5_1) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 24;
        int s = (int)(g % 4), hi = s >= 2, j0 = (s & 1) * 8;
        float d = f16at(b), m = f16at(b + 2), v[8];
        // Element j's fifth bit: qh bit j (low nibbles) or j + 16 (high nibbles).
        u32 qh = *(const u32*)(b + 4) >> (j0 + (hi ? 16 : 0));
        uint2 qs = *(const uint2*)(b + 8 + j0);
        u32 w[2];
        w[0] = (hi ? (qs.x >> 4) : qs.x) & 0x0F0F0F0Fu;
        w[1] = (hi ? (qs.y >> 4) : qs.y) & 0x0F0F0F0Fu;
        w[0] |= spread4(qh) << 4;
        w[1] |= spread4(qh >> 4) << 4;
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fadd_rn(__fmul_rn(byte_f(w[i >> 2], i & 3, 8388608.0f), d), m);
        store8(dst, g, out, v);
    }
}

// Q8_0: d:f16@0, qs:i8[32]@2. q*d.
KERNEL(dq_q8_0) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 4) * 34;
        int e0 = (int)(g % 4) * 8;
        float d = f16at(b), v[8];
        B8 qs = ld8<2>(b + 2 + e0);
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fmul_rn((float)(signed char)qs[i], d);
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
        B8 qs = ld8<2>(b + 2 + j0);
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 q = qs[i];
            v[i] = __fmul_rn(d, s_tabf[hi ? (q >> 4) : (q & 0xF)]);
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
        B8 qs = ld8<1>(b + 1 + j0);
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            u32 q = qs[i];
            v[i] = __fmul_rn(s_tabf[hi ? (q >> 4) : (q & 0xF)], d);
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
        B8 q = ld8_dyn<4>(b + 16 + 32 * h + 16 * p + l0);
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fsub_rn(__fmul_rn(dl, (float)((q[i] >> (2 * j)) & 3)), ml);
        store8(dst, g, out, v);
    }
}

// Q3_K: hmask[32]@0, qs[64]@32, scales[12]@96, d:f16@108. e = 128h + 32j + 16p + l.
// Byte-parallel: x + 4 = q2 | (hmask bit ? 4 : 0) for 4 elements per word, then byte_f(., 4).
KERNEL(dq_q3_k) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 110;
        int e0 = (int)(g % 32) * 8;
        int h = e0 >> 7, j = (e0 >> 5) & 3, p = (e0 >> 4) & 1, l0 = e0 & 15;
        int k = 8 * h + 2 * j + p;
        const u8* s = b + 96;
        u32 low = (s[k & 7] >> (4 * (k >> 3))) & 0xF;
        u32 high = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
        int sc = (int)(low | (high << 4));
        float dl = __fmul_rn(f16at(b + 108), (float)(sc - 32));
        B8 q = ld8_dyn<2>(b + 32 + 32 * h + 16 * p + l0);
        B8 hm = ld8_dyn<2>(b + 16 * p + l0);
        int hs = 4 * h + j;
        u32 w[2];
        w[0] = ((q.lo >> (2 * j)) & 0x03030303u) | (((hm.lo >> hs) & 0x01010101u) << 2);
        w[1] = ((q.hi >> (2 * j)) & 0x03030303u) | (((hm.hi >> hs) & 0x01010101u) << 2);
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fmul_rn(dl, byte_f(w[i >> 2], i & 3, 8388612.0f));
        store8(dst, g, out, v);
    }
}

// ggml's get_scale_min_k4, without branches (the sub-block j differs between the threads of a
// warp): j < 4: (s[j] & 63, s[j + 4] & 63); else ((s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4,
// (s[j + 4] >> 4) | (s[j] >> 6) << 4).
__device__ __forceinline__ void scale_min_k4(int j, const u8* s, u32* sc, u32* m) {
    u32 sj = s[j], sj4 = s[j + 4], sjm4 = s[j & 3];
    bool lo = j < 4;
    *sc = lo ? (sj & 63) : ((sj4 & 0xF) | ((sjm4 >> 6) << 4));
    *m = lo ? (sj4 & 63) : ((sj4 >> 4) | ((sj >> 6) << 4));
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
        B8 q = ld8<8>(b + 16 + 32 * c + l0);
        // The 8 nibbles as bytes of two words, each made a float with byte_f.
        u32 w[2] = {(hi ? q.lo >> 4 : q.lo) & 0x0F0F0F0Fu, (hi ? q.hi >> 4 : q.hi) & 0x0F0F0F0Fu};
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fsub_rn(__fmul_rn(d1, byte_f(w[i >> 2], i & 3, 8388608.0f)), m1);
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
        u32 hb = 2 * c + hi; // the qh bit of this sub-block
        B8 q = ld8<8>(b + 48 + 32 * c + l0);
        B8 qh = ld8<8>(b + 16 + l0);
        // Byte-parallel: nibble | qh bit << 4 for 4 elements per word, each made a float with byte_f.
        u32 w[2] = {((hi ? q.lo >> 4 : q.lo) & 0x0F0F0F0Fu) | (((qh.lo >> hb) & 0x01010101u) << 4),
                    ((hi ? q.hi >> 4 : q.hi) & 0x0F0F0F0Fu) | (((qh.hi >> hb) & 0x01010101u) << 4)};
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fsub_rn(__fmul_rn(d1, byte_f(w[i >> 2], i & 3, 8388608.0f)), m1);
        store8(dst, g, out, v);
    }
}

// Q6_K: ql[128]@0, qh[64]@128, scales:i8[16]@192, d:f16@208. e = 128h + 32k + l.
KERNEL(dq_q6_k) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 210;
        int e0 = (int)(g % 32) * 8;
        int h = e0 >> 7, k = (e0 >> 5) & 3, l0 = e0 & 31;
        B8 ql = ld8_dyn<2>(b + 64 * h + (k & 1) * 32 + l0);
        B8 qh = ld8_dyn<2>(b + 128 + 32 * h + l0);
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
        B8 q = ld8<8>(b + 8 + 16 * ib + j0);
        float v[8];
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fmul_rn(dl, s_tabf[hi ? (q[i] >> 4) : (q[i] & 0xF)]);
        store8(dst, g, out, v);
    }
}

// TQ1_0: qs[48]@0, qh[4]@48, d:f16@52 (src/quant/ternary.rs block_tq1_0). Element order:
// trit n of qs[m] at 32n + m (e < 160), of qs[32 + m] at 160 + 16n + m (e < 240), of qh[j] at
// 240 + 4n + j. A group of 8 lies in one region; in the first two it is one trit n of 8
// consecutive bytes, in the last it is trits n0, n0 + 1 of the 4 qh bytes.
__device__ __forceinline__ int tq1_trit(u32 byte, u32 p3) {
    u32 x = (byte * p3) & 0xFFu;
    return (int)((x * 3) >> 8) - 1;
}

__device__ __forceinline__ u32 pow3(int n) { return n == 0 ? 1u : n == 1 ? 3u : n == 2 ? 9u : n == 3 ? 27u : 81u; }

KERNEL(dq_tq1_0) {
    GRID_LOOP(n / 8) {
        const u8* b = src + (g / 32) * 54;
        int e0 = (int)(g % 32) * 8;
        float d = f16at(b + 52), v[8];
        // Region (no divergent arithmetic, only the load differs): byte offset and trit n.
        bool last = e0 >= 240;
        int off = e0 < 160 ? (e0 & 31) : 32 + ((e0 - 160) & 15);
        int n0 = e0 < 160 ? (e0 >> 5) : last ? ((e0 - 240) >> 2) : ((e0 - 160) >> 4);
        B8 q;
        if (last) {
            q.lo = q.hi = ld32_2(b + 48);
        } else {
            q = ld8_dyn<2>(b + off);
        }
        u32 pa = pow3(n0), pb = last ? pow3(n0 + 1) : pa;
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fmul_rn((float)tq1_trit(q[i], i < 4 ? pa : pb), d);
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
        B8 q = ld8_dyn<2>(b + 32 * gr + m0);
        #pragma unroll
        for (int i = 0; i < 8; i++) v[i] = __fmul_rn((float)((int)((q[i] >> (2 * l)) & 3) - 1), d);
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
        B8 q = ld8<8>(src + blk * G + p0);
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

// ---- BitNet TL1 / TL2 (src/quant/bitnet/tl1.rs, tl2.rs) --------------------------------------
// Both formats emit bytes tile by tile with the rows of a 16- or 32-row group interleaved, so the
// values of consecutive packed bytes belong to different rows. The kernels work one "item" at a
// time per block: a run of up to 4 KiB of consecutive packed bytes (one 16-byte chunk per
// thread; TL2 three part: plus its sign bytes), which is a sequence of steps, each step holding
// the same few columns of a group of rows. The chunks of the next item are loaded into registers
// while the current one is decoded; a chunk is written to shared memory transposed, so that each
// row's bytes are consecutive (tl_stage); then each thread decodes consecutive columns of one row
// and stores them with 16-byte stores, consecutive threads on consecutive columns (TL2's 24-column
// groups through a per-warp staging buffer, so that each store instruction is contiguous). A
// table in shared memory gives the output position of each column group of the item.
//
// Values are the CPU's lut {aux * -1, aux * 0, aux * 1} (bitnet value_lut), indexed by the trit
// code t + 1 (0..2). 16-bit outputs convert nothing per value: the three values' f16 / bf16 bits
// (the CPU's rounding of each, f2h_fast / f2bf, NaN rule included) are made once, and a pair of
// codes selects its two halves with one byte permute. The host checks every index before the
// launch; an invalid one here would only give wrong values (no address depends on a value).
// tab = the tile parameters as u32 LE (TL1: K, BM, BK, bm; TL2: K, BM, BK); aux = the scale.

__device__ __forceinline__ u32 tab32(const Tab16& t, int at) {
    return (u32)(u8)t.v[at] | ((u32)(u8)t.v[at + 1] << 8) | ((u32)(u8)t.v[at + 2] << 16) | ((u32)(u8)t.v[at + 3] << 24);
}

struct Lut3 {
    float v0, v1, v2;
    u32 h01, h2; // 16-bit bits: value 0 | value 1 << 16, value 2
};

__device__ __forceinline__ Lut3 make_lut3(float aux, int out) {
    Lut3 l;
    l.v0 = __fmul_rn(aux, -1.0f);
    l.v1 = __fmul_rn(aux, 0.0f);
    l.v2 = __fmul_rn(aux, 1.0f);
    u32 c0 = out == 1 ? f2h_fast(l.v0) : f2bf(l.v0);
    u32 c1 = out == 1 ? f2h_fast(l.v1) : f2bf(l.v1);
    u32 c2 = out == 1 ? f2h_fast(l.v2) : f2bf(l.v2);
    l.h01 = c0 | (c1 << 16);
    l.h2 = c2;
    return l;
}

// Codes a (low half) and b as two 16-bit values: bytes 2a, 2a + 1 and 2b, 2b + 1 of h2:h01.
__device__ __forceinline__ u32 pair16(const Lut3& l, u32 a, u32 b) {
    return __byte_perm(l.h01, l.h2, 0x1010u + a * 0x22u + b * 0x2200u);
}

__device__ __forceinline__ float val3(const Lut3& l, u32 c) { return c == 0 ? l.v0 : (c == 1 ? l.v1 : l.v2); }

// TL1 pair index x (0..8) = (t0 + 1) * 3 + (t1 + 1): its two columns as 16-bit values.
__device__ __forceinline__ u32 pair_x16(const Lut3& l, u32 x) { return pair16(l, x / 3, x % 3); }

__device__ __forceinline__ u32 rowperm(u32 pos) { return (pos & ~0x18u) | ((pos & 8u) << 1) | ((pos & 16u) >> 1); }

// The most bytes of an item (one 16-byte chunk per thread of a 256-thread block), and of the
// column-group table.
#define TL_RUN 4096u
#define TL_GROUPS 64u

// An item's chunks, loaded one item ahead: a (the run) and s (TL2 signs).
struct TlChunks {
    uint4 a, s;
};

__device__ __forceinline__ void tl_load(TlChunks& c, const u8* a, u32 abytes, const u8* s, u32 sbytes) {
    if (threadIdx.x < abytes / 16) c.a = ((const uint4*)a)[threadIdx.x];
    if (threadIdx.x < sbytes / 16) c.s = ((const uint4*)s)[threadIdx.x];
}

// Write this thread's chunks to shared memory. The run is a sequence of steps of `step` bytes
// (32 or 64); 16-byte chunk q of step y holds rows 16 * (q / qps) + i (byte i = 0..15) at byte
// column y * qps + q % qps: it goes to sm[row * pitch + column]. Signs are copied as they are.
__device__ __forceinline__ void tl_stage(const TlChunks& c, u32 abytes, u32 step, u32 qps, u8* sm, u32 pitch, u32 sbytes,
                                         u8* sg) {
    u32 t = threadIdx.x;
    if (t < abytes / 16) {
        u32 cps = step / 16, y = t / cps, q = t % cps;
        u8* d = sm + 16 * (q / qps) * pitch + y * qps + q % qps;
        u32 ws[4] = {c.a.x, c.a.y, c.a.z, c.a.w};
        #pragma unroll
        for (int i = 0; i < 16; i++) d[i * pitch] = (u8)(ws[i >> 2] >> (8 * (i & 3)));
    }
    if (t < sbytes / 16) ((uint4*)sg)[t] = c.s;
}

// Staged pair bytes (TL1, TL2's two part) of rows 0..nrows (byte x of a row: the pair indices of
// its columns 4x, 4x + 1 (high nibble) and 4x + 2, 4x + 3), per row `per` column groups of 8
// columns (wide) or 4: group g of staged row p goes to element eofs[g] + row * K of dst, row =
// perm ? rowperm(p) : p.
__device__ __forceinline__ void tl_pairs_rows(const u8* sm, u32 pitch, u32 nrows, u32 per, bool wide, bool perm,
                                              const u64* eofs, void* dst, u64 K, int out, const Lut3& l) {
    for (u32 x = threadIdx.x; x < nrows * per; x += blockDim.x) {
        u32 p = x / per, cg = x - p * per;
        u64 e = eofs[cg] + (perm ? rowperm(p) : p) * K;
        if (wide) {
            u32 w = *(const u16*)(sm + p * pitch + 2 * cg);
            u32 nb[4] = {(w >> 4) & 15, w & 15, (w >> 12) & 15, (w >> 8) & 15};
            if (out == 0) {
                float v[8];
                #pragma unroll
                for (int k = 0; k < 4; k++) {
                    v[2 * k] = val3(l, nb[k] / 3);
                    v[2 * k + 1] = val3(l, nb[k] % 3);
                }
                float4* d = (float4*)((float*)dst + e);
                d[0] = make_float4(v[0], v[1], v[2], v[3]);
                d[1] = make_float4(v[4], v[5], v[6], v[7]);
            } else {
                *(uint4*)((u16*)dst + e) = make_uint4(pair_x16(l, nb[0]), pair_x16(l, nb[1]), pair_x16(l, nb[2]), pair_x16(l, nb[3]));
            }
        } else {
            u32 w = sm[p * pitch + cg];
            u32 hi = w >> 4, lo = w & 15;
            if (out == 0) {
                *(float4*)((float*)dst + e) = make_float4(val3(l, hi / 3), val3(l, hi % 3), val3(l, lo / 3), val3(l, lo % 3));
            } else {
                *(uint2*)((u16*)dst + e) = make_uint2(pair_x16(l, hi), pair_x16(l, lo));
            }
        }
    }
}

// TL1: byte o of the stream is, from the innermost loop out: s (16), yq (by/4), g (bm/16), y
// (BK/by), r (BM/bm), j (K/BK), i; it holds the pairs of row i*BM + r*bm + 16g + s, columns
// j*BK + y*by + 4yq .. + 3, by = 256/bm. So the stream is a sequence of 64-byte steps of bm rows
// x by columns (256 values), step S being step y = S % (BK/by) of block u = S / (BK/by) = (i, j,
// r). An item is 64 consecutive steps. Column groups: 8 columns (one step for bm = 32, two for
// bm = 64 when BK/by is even), else 4 (one step, bm = 64).
struct Tl1Geo {
    u32 K, BMT, BK, BM, by, qps, ny, nr, nj;
    u64 steps;
    bool wide;
};

__device__ __forceinline__ Tl1Geo tl1_geo(const Tab16& tab, u64 n) {
    Tl1Geo g;
    g.K = tab32(tab, 0), g.BMT = tab32(tab, 4), g.BK = tab32(tab, 8), g.BM = tab32(tab, 12);
    g.by = 256 / g.BM, g.qps = g.by / 4, g.ny = g.BK / g.by, g.nr = g.BMT / g.BM, g.nj = g.K / g.BK;
    g.steps = n / 256;
    g.wide = g.qps == 2 || g.ny % 2 == 0;
    return g;
}

KERNEL_MIN(dq_tl1, 8) {
    __shared__ __align__(16) u8 sm[64 * 68]; // bm = 64: 64 rows x (64 + 4); bm = 32: 32 x (128 + 4)
    __shared__ u64 eofs[TL_GROUPS];
    Tl1Geo g = tl1_geo(tab, n);
    const u32 SPI = TL_RUN / 64; // steps per item
    u64 items = (g.steps + SPI - 1) / SPI;
    Lut3 l = make_lut3(aux, out);
    TlChunks c;
    if (blockIdx.x < items) {
        u64 s0 = blockIdx.x * (u64)SPI;
        tl_load(c, src + s0 * 64, (u32)min((u64)SPI, g.steps - s0) * 64, src, 0);
    }
    for (u64 it = blockIdx.x; it < items; it += gridDim.x) {
        u64 s0 = it * SPI;
        u32 ns = (u32)min((u64)SPI, g.steps - s0);
        u32 q = ns * g.qps, pitch = (q + 7) & ~3u;
        u32 per = g.wide ? q / 2 : q, spg = g.wide ? 2 / g.qps : 1; // groups per row, steps per group
        __syncthreads(); // the previous item's reads are done
        tl_stage(c, ns * 64, 64, g.qps, sm, pitch, 0, sm);
        if (threadIdx.x < per) {
            u64 st = s0 + threadIdx.x * spg, u = st / g.ny;
            u32 y = (u32)(st - u * g.ny), r = (u32)(u % g.nr);
            u64 ij = u / g.nr;
            u32 j = (u32)(ij % g.nj);
            u64 i = ij / g.nj;
            eofs[threadIdx.x] = (i * g.BMT + (u64)r * g.BM) * g.K + (u64)j * g.BK + (u64)y * g.by;
        }
        __syncthreads();
        u64 nx = it + gridDim.x;
        if (nx < items) tl_load(c, src + nx * SPI * 64, (u32)min((u64)SPI, g.steps - nx * SPI) * 64, src, 0);
        tl_pairs_rows(sm, pitch, g.BM, per, g.wide, false, eofs, dst, g.K, out, l);
    }
}

// TL2 (the host regroups the payload by row tile: unit t = [section A | section B | section C]
// of tile t, each section's bytes of one tile being contiguous in the file). K3 = K/BK*BK
// columns of triples, K2 = K - K3 of TL1 pairs; rows are permuted inside 32-row groups
// (rowperm). Section A: per (j, r) block (32 rows x BK columns), BK/6 steps of 32 bytes, byte
// pos of step y = triples 2y (high nibble), 2y + 1 of row rowperm(pos). Section B: per block,
// BK/24 groups of 16 LE u16 words, bit 15 - (2q + h) of word c = the sign of triple 8qg + q of
// row 16h + c. So sign group G = (j*ng + r) * BK/24 + qg (24 columns of 32 rows) is A bytes
// [128 G, 128 G + 128) and B bytes [32 G, 32 G + 32). Section C: per (j2, r) block (32 rows x 32
// columns from K3 + 32 j2), 8 steps of 32 bytes, byte pos of step y = the pairs of columns
// 4y..4y + 3 of row rowperm(pos). Items: 32 consecutive sign groups, or 16 consecutive C blocks.
struct Tl2Geo {
    u32 K, BMT, BK, K3, ng, nq;
    u64 WA, WB, unit, GA, GC, IA, IC;
};

__device__ __forceinline__ Tl2Geo tl2_geo(const Tab16& tab) {
    Tl2Geo g;
    g.K = tab32(tab, 0), g.BMT = tab32(tab, 4), g.BK = tab32(tab, 8);
    g.K3 = g.K / g.BK * g.BK;
    g.ng = g.BMT / 32, g.nq = g.BK / 24;
    g.WA = (u64)g.BMT * g.K3 / 6, g.WB = (u64)g.BMT * g.K3 / 24;
    g.unit = g.WA + g.WB + (u64)g.BMT * (g.K - g.K3) / 4;
    g.GA = (u64)(g.K3 / g.BK) * g.ng * g.nq, g.GC = (u64)((g.K - g.K3) / 32) * g.ng;
    g.IA = (g.GA + 31) / 32, g.IC = (g.GC + 15) / 16;
    return g;
}

// Item it: tile t, and whether it is sign groups (first/count) or C blocks.
struct Tl2Item {
    u64 t, first;
    u32 count;
    bool two;
};

__device__ __forceinline__ Tl2Item tl2_item(const Tl2Geo& g, u64 it) {
    Tl2Item m;
    m.t = it / (g.IA + g.IC);
    u64 w = it - m.t * (g.IA + g.IC);
    m.two = w >= g.IA;
    m.first = m.two ? (w - g.IA) * 16 : w * 32;
    m.count = (u32)(m.two ? min((u64)16, g.GC - m.first) : min((u64)32, g.GA - m.first));
    return m;
}

__device__ __forceinline__ void tl2_load(TlChunks& c, const Tl2Geo& g, const Tl2Item& m, const u8* src) {
    const u8* base = src + m.t * g.unit;
    if (m.two) tl_load(c, base + g.WA + g.WB + m.first * 256, m.count * 256, base, 0);
    else tl_load(c, base + m.first * 128, m.count * 128, base + g.WA + m.first * 32, m.count * 32);
}

// The staged A rows (pitch bytes each, 4 per sign group) and signs of `cnt` sign groups: thread
// x = (row position p, group gi) decodes 8 triples = 24 values (NPC = 3 16-byte pieces for
// f16/bf16, 6 for f32) into the warp's staging buffer ws; then the warp stores its pieces in
// order, consecutive lanes on consecutive pieces (each piece's address from its owner by
// shuffle). Group gi's row 0, column 0 is element eofs[gi].
template <int NPC>
__device__ __forceinline__ void tl2_groups(const u8* sm, const u8* sg, u32 pitch, u32 cnt, const u64* eofs, uint4* ws,
                                           void* dst, u64 K, const Lut3& l) {
    const u32 osz = NPC == 6 ? 4 : 2;
    u32 lane = threadIdx.x % 32, total = 32 * cnt;
    for (u32 b0 = threadIdx.x / 32 * 32; b0 < total; b0 += blockDim.x) {
        u32 x = b0 + lane;
        u64 at = 0;
        if (x < total) {
            u32 p = x / cnt, gi = x - p * cnt, rw = rowperm(p), h = rw >> 4;
            at = (eofs[gi] + (u64)rw * K) * osz;
            u32 a = *(const u32*)(sm + p * pitch + 4 * gi);
            u32 s = *(const u16*)(sg + (gi * 16 + (rw & 15)) * 2);
            u32 c[24];
            #pragma unroll
            for (int k = 0; k < 8; k++) {
                u32 v = (a >> (8 * (k / 2) + (k % 2 ? 0 : 4))) & 15;
                u32 w = (s >> (15 - 2 * k - h)) & 1 ? 13 - v : 13 + v; // its base-3 digits are the codes
                c[3 * k] = w / 9;
                c[3 * k + 1] = w / 3 % 3;
                c[3 * k + 2] = w % 3;
            }
            #pragma unroll
            for (int k = 0; k < NPC; k++) {
                if (NPC == 6)
                    ws[lane * 6 + k] = make_uint4(__float_as_uint(val3(l, c[4 * k])), __float_as_uint(val3(l, c[4 * k + 1])),
                                                  __float_as_uint(val3(l, c[4 * k + 2])), __float_as_uint(val3(l, c[4 * k + 3])));
                else
                    ws[lane * 3 + k] = make_uint4(pair16(l, c[8 * k], c[8 * k + 1]), pair16(l, c[8 * k + 2], c[8 * k + 3]),
                                                  pair16(l, c[8 * k + 4], c[8 * k + 5]), pair16(l, c[8 * k + 6], c[8 * k + 7]));
            }
        }
        __syncwarp();
        #pragma unroll
        for (int k = 0; k < NPC; k++) {
            u32 id = k * 32 + lane, owner = id / NPC;
            u64 oat = ((u64)__shfl_sync(0xffffffffu, (u32)(at >> 32), owner) << 32) | __shfl_sync(0xffffffffu, (u32)at, owner);
            if (b0 + owner < total) *(uint4*)((u8*)dst + oat + 16 * (id - owner * NPC)) = ws[id];
        }
        __syncwarp();
    }
}

KERNEL_MIN(dq_tl2, 4) {
    __shared__ __align__(16) u8 sm[32 * (4 * 32 + 4)]; // 32 rows x (32 groups x 4 bytes + 4) or (16 blocks x 8 + 4)
    __shared__ __align__(16) u8 sg[32 * 32];
    __shared__ u64 eofs[TL_GROUPS];
    __shared__ uint4 stg[8][32 * 6]; // per warp: 3 (16-bit) or 6 (f32) 16-byte pieces per lane
    Tl2Geo g = tl2_geo(tab);
    u64 items = n / ((u64)g.BMT * g.K) * (g.IA + g.IC);
    uint4* ws = stg[threadIdx.x / 32];
    Lut3 l = make_lut3(aux, out);
    TlChunks c;
    if (blockIdx.x < items) tl2_load(c, g, tl2_item(g, blockIdx.x), src);
    for (u64 it = blockIdx.x; it < items; it += gridDim.x) {
        Tl2Item m = tl2_item(g, it);
        u64 row0 = m.t * g.BMT;
        __syncthreads(); // the previous item's reads are done
        u32 pitch;
        if (m.two) {
            pitch = 8 * m.count + 4;
            tl_stage(c, m.count * 256, 32, 1, sm, pitch, 0, sg);
            if (threadIdx.x < 4 * m.count) {
                u64 b = m.first + threadIdx.x / 4;
                u32 r = (u32)(b % g.ng);
                eofs[threadIdx.x] = (row0 + 32 * (u64)r) * g.K + g.K3 + 32 * (b / g.ng) + 8 * (threadIdx.x % 4);
            }
        } else {
            pitch = 4 * m.count + 4;
            tl_stage(c, m.count * 128, 32, 1, sm, pitch, m.count * 32, sg);
            if (threadIdx.x < m.count) {
                u64 G = m.first + threadIdx.x, blk = G / g.nq;
                u32 qg = (u32)(G - blk * g.nq), r = (u32)(blk % g.ng);
                eofs[threadIdx.x] = (row0 + 32 * (u64)r) * g.K + (blk / g.ng) * g.BK + 24 * qg;
            }
        }
        __syncthreads();
        u64 nx = it + gridDim.x;
        if (nx < items) tl2_load(c, g, tl2_item(g, nx), src);
        if (m.two) tl_pairs_rows(sm, pitch, 32, 4 * m.count, true, true, eofs, dst, g.K, out, l);
        else if (out == 0) tl2_groups<6>(sm, sg, pitch, m.count, eofs, ws, dst, g.K, l);
        else tl2_groups<3>(sm, sg, pitch, m.count, eofs, ws, dst, g.K, l);
    }
}

// ---- plain floats ------------------------------------------------------------------------------

__device__ __forceinline__ float load_float(const u8* src, u64 e, int kind) {
    if (kind == 0) return __uint_as_float(rd32(src + 4 * e));
    if (kind == 1) return h2f(rd16(src + 2 * e));
    return __uint_as_float(rd16(src + 2 * e) << 16);
}

// aux unused; tab.v[0]: 0 = f32 in, 1 = f16 in, 2 = bf16 in. Groups of 8 are read with 16-byte
// loads (src is 16-byte aligned).
KERNEL(dq_float) {
    int kind = tab.v[0];
    u64 groups = n / 8;
    GRID_LOOP(groups) {
        float v[8];
        if (kind == 0) {
            const float4* p = (const float4*)(src + 32 * g);
            float4 a = p[0], c = p[1];
            v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = c.x, v[5] = c.y, v[6] = c.z, v[7] = c.w;
        } else {
            uint4 w = *(const uint4*)(src + 16 * g);
            u32 ws[4] = {w.x, w.y, w.z, w.w};
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                u32 lo = ws[i] & 0xFFFFu, hi = ws[i] >> 16;
                v[2 * i] = kind == 1 ? h2f(lo) : __uint_as_float(lo << 16);
                v[2 * i + 1] = kind == 1 ? h2f(hi) : __uint_as_float(hi << 16);
            }
        }
        store8(dst, g, out, v);
    }
    // The last n % 8 elements, one thread each.
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n % 8) {
        u64 e = groups * 8 + t;
        store1(dst, e, out, load_float(src, e, kind));
    }
}
