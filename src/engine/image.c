/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * image.c: PIL-style bicubic resampling of 8-bit images (see image.h), and
 * dinolab_image_clear() of the public DinolabImage.
 *
 * Pillow's Resample.c precomputes, per output pixel, the input range and normalised
 * weights of its filter; we compute the same numbers on the fly instead (the filter
 * costs a few flops and the kernel may not allocate), walking the taps in the outer
 * loop so each weight is computed once per output column or row block.
 *
 * For output pixel o of an axis resampled from n_in to n_out pixels (Pillow's
 * precompute_coeffs with in0 = 0, in1 = n_in):
 *     scale   = n_in / n_out            fs = max(scale, 1)     (antialias when shrinking)
 *     center  = (o + 0.5) * scale       support = 2 * fs       (bicubic support is 2)
 *     lo      = max(0, (int) (center - support + 0.5))
 *     hi      = min(n_in, (int) (center + support + 0.5))      (exclusive)
 *     w[i]    = cubic((i + 0.5 - center) / fs) / sum_i cubic(...),  i in [lo, hi)
 *
 * Not here: anything that decodes, crops at random or changes colours.
 */
#include <math.h>
#include <string.h>

#include "dinolab/data.h"
#include "image.h"

// ----------------------------------------------------------------------------
// DinolabImage

void
dinolab_image_clear (DinolabImage *img)
{
    g_return_if_fail (img != NULL);
    g_free (img->pixels);
    memset (img, 0, sizeof *img);
}

// ----------------------------------------------------------------------------
// filter taps

/* Keys' cubic convolution kernel with a = -0.5, as Pillow's bicubic_filter. */
static inline double
cubic_ (double x)
{
    const double a = -0.5;
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/* The taps of one output pixel: input pixels [lo, lo + n) with weights
 * cubic((lo + j + 0.5 - center) * inv_fs) * inv_sum. */
typedef struct {
    double center;
    double inv_fs;
    double inv_sum;
    int    lo;
    int    n;
} Taps;

static void
taps_init_ (Taps *t, int o, int n_out, int n_in)
{
    double scale, fs, support, sum;
    int lo, hi;

    g_assert (n_out > 0 && n_in > 0 && o >= 0 && o < n_out);

    scale = (double) n_in / (double) n_out;
    fs = scale < 1.0 ? 1.0 : scale;
    support = 2.0 * fs;
    t->center = (o + 0.5) * scale;
    t->inv_fs = 1.0 / fs;
    /* (int) truncates toward zero, as Pillow's "round the value"; negative lows end
     * up clamped to 0 either way. */
    lo = (int) (t->center - support + 0.5);
    hi = (int) (t->center + support + 0.5);
    if (lo < 0)
        lo = 0;
    if (hi > n_in)
        hi = n_in;
    if (hi <= lo) /* cannot happen for center in [0, n_in]; keep one tap anyway */
        hi = lo + 1;
    t->lo = lo;
    t->n = hi - lo;
    sum = 0.0;
    for (int j = 0; j < t->n; j++)
        sum += cubic_ ((lo + j + 0.5 - t->center) * t->inv_fs);
    /* Pillow leaves the weights unnormalised when they sum to 0. */
    t->inv_sum = sum != 0.0 ? 1.0 / sum : 1.0;
}

static inline float
taps_weight_ (const Taps *t, int j)
{
    return (float) (cubic_ ((t->lo + j + 0.5 - t->center) * t->inv_fs) * t->inv_sum);
}

static inline guint8
round_u8_ (float v)
{
    /* Round half up and clamp, as Pillow's clip8 of (acc + 0.5 << PRECISION_BITS):
     * floor(v + 0.5), written as a truncation of a non-negative value because floorf
     * is a libm call on baseline x86-64 (it tripled the cost of a small resize). */
    if (!(v > 0.0f))
        return 0;
    if (v >= 254.5f)
        return 255;
    return (guint8) (int) (v + 0.5f);
}

// ----------------------------------------------------------------------------
// resampling

/* Rows per block of the horizontal pass: the taps of one output column are computed
 * once per block, and the block's source rows stay in cache. */
#define H_ROW_BLOCK 16
/* Floats accumulated at a time by the vertical pass (on the stack). */
#define V_ELEM_BLOCK 256

void
image_resize_bicubic_window (guint8 *dst, int ox, int oy, int ow, int oh, int dw, int dh,
                             const guint8 *src, int W, int H, int C,
                             int x0, int y0, int w, int h, float *tmp)
{
    /* dst: (oh, ow, C) uint8      src: (H, W, C) uint8, region rows y0..y0+h, cols x0..x0+w
     * tmp: (row_hi - row_lo, ow, C) float: horizontally resampled source rows */
    Taps t;
    int row_lo, row_hi, n_elem;
    size_t src_stride, tmp_stride;

    g_return_if_fail (dst != NULL && src != NULL && tmp != NULL);
    g_return_if_fail (C >= 1 && W >= 1 && H >= 1 && w >= 1 && h >= 1 && dw >= 1 && dh >= 1);
    g_return_if_fail (x0 >= 0 && y0 >= 0 && x0 + w <= W && y0 + h <= H);
    g_return_if_fail (ow >= 1 && oh >= 1 && ox >= 0 && oy >= 0 && ox + ow <= dw && oy + oh <= dh);

    src_stride = (size_t) W * C;
    n_elem = ow * C;
    tmp_stride = (size_t) n_elem;

    /* Same size: the cubic weights are exactly 1 at the centre and 0 elsewhere, so
     * this is a copy; do it as one. */
    if (dw == w && dh == h) {
        for (int y = 0; y < oh; y++)
            memcpy (dst + (size_t) y * n_elem,
                    src + (size_t) (y0 + oy + y) * src_stride + (size_t) (x0 + ox) * C,
                    (size_t) n_elem);
        return;
    }

    /* Source rows (relative to y0) that the window's output rows read. */
    taps_init_ (&t, oy, dh, h);
    row_lo = t.lo;
    taps_init_ (&t, oy + oh - 1, dh, h);
    row_hi = t.lo + t.n;

    // horizontal pass: tmp[r - row_lo][xo][c] = sum_j w_j * src[y0 + r][x0 + lo + j][c]
    for (int r0 = row_lo; r0 < row_hi; r0 += H_ROW_BLOCK) {
        int r1 = MIN (r0 + H_ROW_BLOCK, row_hi);
        for (int xo = 0; xo < ow; xo++) {
            taps_init_ (&t, ox + xo, dw, w);
            for (int r = r0; r < r1; r++)
                memset (tmp + (size_t) (r - row_lo) * tmp_stride + (size_t) xo * C, 0,
                        (size_t) C * sizeof (float));
            for (int j = 0; j < t.n; j++) {
                float wt = taps_weight_ (&t, j);
                const guint8 *s = src + (size_t) y0 * src_stride + (size_t) (x0 + t.lo + j) * C;
                if (wt == 0.0f)
                    continue;
                for (int r = r0; r < r1; r++) {
                    float *d = tmp + (size_t) (r - row_lo) * tmp_stride + (size_t) xo * C;
                    const guint8 *sr = s + (size_t) r * src_stride;
                    for (int c = 0; c < C; c++)
                        d[c] += wt * (float) sr[c];
                }
            }
        }
        /* Pillow stores the horizontal pass as an 8-bit image: round and clamp here
         * too. Without it, cubic overshoot on noisy input (up to ~18 levels past 0 or
         * 255) would reach the vertical pass and the result would differ from PIL by
         * as much; with it the difference is at most 1 (float vs Pillow's 22-bit fixed
         * point weights). */
        for (int r = r0; r < r1; r++) {
            float *d = tmp + (size_t) (r - row_lo) * tmp_stride;
            for (int e = 0; e < n_elem; e++)
                d[e] = (float) round_u8_ (d[e]);
        }
    }

    // vertical pass: dst[yo][e] = round(sum_j w_j * tmp[lo + j - row_lo][e])
    for (int yo = 0; yo < oh; yo++) {
        taps_init_ (&t, oy + yo, dh, h);
        for (int e0 = 0; e0 < n_elem; e0 += V_ELEM_BLOCK) {
            float acc[V_ELEM_BLOCK];
            int ne = MIN (V_ELEM_BLOCK, n_elem - e0);
            guint8 *d = dst + (size_t) yo * n_elem + e0;
            memset (acc, 0, sizeof acc);
            for (int j = 0; j < t.n; j++) {
                float wt = taps_weight_ (&t, j);
                const float *s = tmp + (size_t) (t.lo + j - row_lo) * tmp_stride + e0;
                if (wt == 0.0f)
                    continue;
                for (int e = 0; e < ne; e++)
                    acc[e] += wt * s[e];
            }
            for (int e = 0; e < ne; e++)
                d[e] = round_u8_ (acc[e]);
        }
    }
}

void
image_resize_bicubic (guint8 *dst, int dw, int dh, const guint8 *src, int W, int H, int C,
                      int x0, int y0, int w, int h, float *tmp)
{
    image_resize_bicubic_window (dst, 0, 0, dw, dh, dw, dh, src, W, H, C, x0, y0, w, h, tmp);
}
