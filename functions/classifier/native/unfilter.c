/*
 * PNG scanline unfiltering for 8-bit RGB and RGBA images, 16 rows at a time.
 *
 * A PNG row is filtered against the pixel to its left (a), the one above (b) and the one
 * above-left (c). The Paeth filter picks one of the three per byte, so each byte depends on
 * the byte before it: unfiltering a row is a serial chain, and decoders that vectorise along
 * the row (libspng, libpng) run at a few hundred MB/s. Here the 16 lanes of a vector hold 16
 * consecutive rows instead, skewed by one pixel: at step t, lane j unfilters pixel t - j of
 * row j. Its left neighbour is its own lane's previous result, and the pixels above are lane
 * j - 1's results of the last two steps, one lane shift away; lane 0 reads the last row of
 * the band before. Every byte is computed exactly as the PNG specification says, so the
 * pixels are the same as any conforming decoder's.
 *
 * Portable C: GCC/Clang vector extensions compile to SSE/AVX on x86_64 and to NEON on
 * aarch64 (the arm64 Lambda). No allocation escapes; the caller owns both buffers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LANES 16
typedef uint8_t bytes16 __attribute__((vector_size(LANES)));

#define IMGCLF_BAD_ARGUMENTS (-1)
#define IMGCLF_NO_MEMORY (-2)
/* The band buffers hold LANES rows of the width whatever the height: bounded here. */
#define MAX_WIDTH 65536

static inline bytes16 load16(const uint8_t *p) { bytes16 v; memcpy(&v, p, LANES); return v; }
static inline void store16(uint8_t *p, bytes16 v) { memcpy(p, &v, LANES); }

/* The byte operations the predictors need, each one instruction on SSE4.1 and NEON; the
 * portable versions below them give the same results, only slower. pick(mask, x, y) takes
 * x where the mask byte is 0xff and y where it is 0. */
#if defined(__SSE4_1__)
#include <smmintrin.h>
#define M(v) ((__m128i)(v))
static inline bytes16 min16(bytes16 x, bytes16 y) { return (bytes16)_mm_min_epu8(M(x), M(y)); }
static inline bytes16 max16(bytes16 x, bytes16 y) { return (bytes16)_mm_max_epu8(M(x), M(y)); }
static inline bytes16 adds16(bytes16 x, bytes16 y) { return (bytes16)_mm_adds_epu8(M(x), M(y)); }
static inline bytes16 equal16(bytes16 x, bytes16 y) { return (bytes16)_mm_cmpeq_epi8(M(x), M(y)); }
static inline bytes16 pick(bytes16 mask, bytes16 x, bytes16 y) {
    return (bytes16)_mm_blendv_epi8(M(y), M(x), M(mask));
}
#elif defined(__ARM_NEON)
#include <arm_neon.h>
static inline bytes16 min16(bytes16 x, bytes16 y) { return (bytes16)vminq_u8((uint8x16_t)x, (uint8x16_t)y); }
static inline bytes16 max16(bytes16 x, bytes16 y) { return (bytes16)vmaxq_u8((uint8x16_t)x, (uint8x16_t)y); }
static inline bytes16 adds16(bytes16 x, bytes16 y) { return (bytes16)vqaddq_u8((uint8x16_t)x, (uint8x16_t)y); }
static inline bytes16 equal16(bytes16 x, bytes16 y) { return (bytes16)vceqq_u8((uint8x16_t)x, (uint8x16_t)y); }
static inline bytes16 pick(bytes16 mask, bytes16 x, bytes16 y) {
    return (bytes16)vbslq_u8((uint8x16_t)mask, (uint8x16_t)x, (uint8x16_t)y);
}
#else
static inline bytes16 pick(bytes16 mask, bytes16 x, bytes16 y) { return (x & mask) | (y & ~mask); }
static inline bytes16 min16(bytes16 x, bytes16 y) { return pick((bytes16)(x < y), x, y); }
static inline bytes16 max16(bytes16 x, bytes16 y) { return pick((bytes16)(x < y), y, x); }
static inline bytes16 adds16(bytes16 x, bytes16 y) { bytes16 s = x + y; return s | (bytes16)(s < x); }
static inline bytes16 equal16(bytes16 x, bytes16 y) { return (bytes16)(x == y); }
#endif

/* The Paeth predictor in 8 bits. pa = |b - c|, pb = |a - c|, and pc = |a + b - 2c|, which is
 * pa + pb when b - c and a - c have the same sign and |pa - pb| otherwise. pc saturates at
 * 255; as pa and pb never exceed 255, the comparisons come out as with the exact value.
 * x <= y is min(x, y) == x, and x >= y is max(x, y) == x. */
static inline bytes16 paeth(bytes16 a, bytes16 b, bytes16 c) {
    bytes16 high_bc = max16(b, c), high_ac = max16(a, c);
    bytes16 pa = high_bc - min16(b, c), pb = high_ac - min16(a, c);
    bytes16 signs_differ = equal16(high_bc, b) ^ equal16(high_ac, a);
    bytes16 low_ab = min16(pa, pb);
    bytes16 pc = pick(signs_differ, max16(pa, pb) - low_ab, adds16(pa, pb));
    bytes16 a_nearest = equal16(low_ab, pa) & equal16(min16(pa, pc), pa);
    bytes16 b_nearer = equal16(min16(pb, pc), pb);
    return pick(a_nearest, a, pick(b_nearer, b, c));
}

static const bytes16 INTERLEAVE_LOW = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const bytes16 INTERLEAVE_HIGH = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
static const bytes16 SHIFT_IN_LAST = {31, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

/* A 16 x 16 byte block from src (rows src_stride apart) to dst, transposed. */
static void transpose16(const uint8_t *src, size_t src_stride, uint8_t *dst, size_t dst_stride) {
    bytes16 rows[LANES], mixed[LANES];
    for (int i = 0; i < LANES; i++) rows[i] = load16(src + i * src_stride);
    for (int round = 0; round < 4; round++) {  /* four interleaves of rows i and i + 8 */
        for (int i = 0; i < LANES / 2; i++) {
            mixed[2 * i] = __builtin_shuffle(rows[i], rows[i + 8], INTERLEAVE_LOW);
            mixed[2 * i + 1] = __builtin_shuffle(rows[i], rows[i + 8], INTERLEAVE_HIGH);
        }
        memcpy(rows, mixed, sizeof rows);
    }
    for (int i = 0; i < LANES; i++) store16(dst + i * dst_stride, rows[i]);
}

/* Per-lane masks: which filter each of the band's rows uses (lanes past the end: none). */
struct filters { bytes16 sub, up, average, paeth; int all_paeth; };

/* One band's steps. Inlined with constant `channels` and `all_paeth`, so that the per-channel
 * state stays in registers and a band of Paeth rows (most of a photo) skips the other
 * predictors: the serial chain per step is then the Paeth predictor alone. */
static inline __attribute__((always_inline)) void
band_steps(const uint8_t *filtered, const uint8_t *above, uint8_t *result, size_t steps,
           const int channels, const struct filters *f, const int all_paeth) {
    bytes16 left[4] = {{0}}, upper_left[4] = {{0}};
    for (size_t t = 0; t < steps; t++) {
        for (int ch = 0; ch < channels; ch++) {
            size_t k = t * channels + ch;
            bytes16 a = left[ch];
            /* b: lane j - 1's last result; lane 0 takes the band above's last row. */
            bytes16 b = __builtin_shuffle(a, load16(above + (k + (LANES - 1) * channels) * LANES),
                                          SHIFT_IN_LAST);
            bytes16 c = upper_left[ch];
            bytes16 predicted = paeth(a, b, c);
            if (!all_paeth) {
                bytes16 average = (a & b) + ((a ^ b) >> 1);
                predicted = (a & f->sub) | (b & f->up) | (average & f->average) |
                            (predicted & f->paeth);
            }
            bytes16 value = load16(filtered + k * LANES) + predicted;
            store16(result + k * LANES, value);
            left[ch] = value;
            upper_left[ch] = b;
        }
    }
}

static void unfilter_band(const uint8_t *filtered, const uint8_t *above, uint8_t *result,
                          size_t steps, int channels, const struct filters *f) {
    if (channels == 3 && f->all_paeth) band_steps(filtered, above, result, steps, 3, f, 1);
    else if (channels == 3) band_steps(filtered, above, result, steps, 3, f, 0);
    else if (f->all_paeth) band_steps(filtered, above, result, steps, 4, f, 1);
    else band_steps(filtered, above, result, steps, 4, f, 0);
}

/*
 * raw: height rows, each a filter-type byte and width * channels filtered bytes (the
 * inflated IDAT stream of a non-interlaced 8-bit PNG). out: height * width * channels bytes.
 * Returns 0, or 1 + the index of the first row whose filter type is not 0-4, or a negative
 * IMGCLF_* code.
 */
long imgclf_unfilter(const uint8_t *raw, size_t raw_size, uint8_t *out, size_t height,
                     size_t width, int channels) {
    if ((channels != 3 && channels != 4) || width == 0 || height == 0 ||
        width > MAX_WIDTH || raw_size / height < 1 + width * channels ||
        raw_size != height * (1 + width * channels))
        return IMGCLF_BAD_ARGUMENTS;
    size_t row_bytes = width * channels;
    /* Step t covers pixel t - j of lane j; (width + 2 * LANES) steps leave room for lane 0
     * to read the band above's last lane LANES - 1 steps ahead. */
    size_t span = ((width + 2 * LANES) * channels + LANES - 1) & ~(size_t)(LANES - 1);
    /* One block for the four band buffers, each 64-byte aligned and staggered by 320 bytes
     * so that their streams do not alias in the L1 cache's 4 KB sets. */
    size_t buffer = LANES * span + 4096, stagger = 320;
    uint8_t *block = calloc(4 * buffer + 64, 1);
    long status = 0;
    if (!block) return IMGCLF_NO_MEMORY;
    uint8_t *base = (uint8_t *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
    uint8_t *skewed = base, *filtered = base + buffer + stagger;
    uint8_t *result = base + 2 * (buffer + stagger), *above = base + 3 * (buffer + stagger);
    for (size_t first = 0; first < height; first += LANES) {
        struct filters f;
        memset(&f, 0, sizeof f);
        f.all_paeth = 1;
        memset(skewed, 0, LANES * span);
        for (size_t j = 0; j < LANES && first + j < height; j++) {
            const uint8_t *row = raw + (first + j) * (1 + row_bytes);
            if (row[0] > 4) { status = (long)(first + j) + 1; goto done; }
            memcpy(skewed + j * span + j * channels, row + 1, row_bytes);
            f.sub[j] = row[0] == 1 ? 0xff : 0;
            f.up[j] = row[0] == 2 ? 0xff : 0;
            f.average[j] = row[0] == 3 ? 0xff : 0;
            f.paeth[j] = row[0] == 4 ? 0xff : 0;
            f.all_paeth &= row[0] == 4;
        }
        for (size_t k = 0; k < span; k += LANES)
            transpose16(skewed + k, span, filtered + k * LANES, LANES);
        unfilter_band(filtered, above, result, width + LANES - 1, channels, &f);
        for (size_t k = 0; k < span; k += LANES)
            transpose16(result + k * LANES, LANES, skewed + k, span);
        for (size_t j = 0; j < LANES && first + j < height; j++)
            memcpy(out + (first + j) * row_bytes, skewed + j * span + j * channels, row_bytes);
        uint8_t *swap = above; above = result; result = swap;
    }
done:
    free(block);
    return status;
}
