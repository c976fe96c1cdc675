/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-augment.c: DINO's multi-crop augmentation (augment.c) against independent
 * computations: each 8-bit colour operation against a table made with PIL itself,
 * flip and solarize against their definitions, the blur against a direct 2-D
 * convolution in double, RandomResizedCrop's boxes against the scale and ratio ranges
 * over many draws (and its fallback by hand), the whole pipeline against the plain
 * normalisation when every random op is off, determinism, and each op's probability
 * per view within binomial tolerances.
 *
 * It does not test the resampler (tests/test-dataset.c does) or the loader.
 */
#include <math.h>
#include <string.h>

#include "augment-private.h"
#include "dinolab/data.h"
#include "dinolab/hparams.h"
#include "test-util.h"

// ----------------------------------------------------------------------------
// helpers

static void
hp_small_ (DinolabHparams *hp, int G, int L, int n_local)
{
    dinolab_hparams_clear (hp);   /* callers pass a zeroed or used struct */
    dinolab_hparams_init (hp);
    hp->global_crop_size = G;
    hp->local_crop_size = L;
    hp->local_crops_number = n_local;
    hp->seed = 42;
}

/* A W x H x C image with smooth structure plus noise, fixed by @seed. */
static void
image_random_ (DinolabImage *img, int W, int H, int C, guint32 seed)
{
    GRand *r = g_rand_new_with_seed (seed);
    img->width = W;
    img->height = H;
    img->channels = C;
    img->pixels = g_malloc ((size_t) W * H * C);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++) {
                int v = (x * 255 / MAX (1, W - 1) + y * 97 + c * 60) % 256;
                v = (v + g_rand_int_range (r, -20, 21) + 256) % 256;
                img->pixels[((size_t) y * W + x) * C + c] = (guint8) v;
            }
    g_rand_free (r);
}

typedef struct {
    int     n_views;
    float **views;
} Views;

static void
views_alloc_ (Views *v, const DinolabAugment *aug, int C, int G, int L)
{
    v->n_views = dinolab_augment_get_n_views (aug);
    v->views = g_new (float *, v->n_views);
    for (int i = 0; i < v->n_views; i++) {
        int S = i < 2 ? G : L;
        v->views[i] = g_new0 (float, (size_t) C * S * S);
    }
}

static void
views_free_ (Views *v)
{
    for (int i = 0; i < v->n_views; i++)
        g_free (v->views[i]);
    g_free (v->views);
}

// ----------------------------------------------------------------------------
// 8-bit operations against PIL

/* Made with Debian 12's python3-pil 9.4 and numpy 1.24, following torchvision 0.8's
 * F_pil functions exactly: ImageEnhance.Brightness / Contrast / Color(img).enhance(f),
 * adjust_hue = HSV split, np.uint8 H += np.uint8(f * 255), merge, convert('RGB');
 * grayscale = convert('L') merged to 3 channels; ImageOps.solarize(img) (threshold 128).
 * The input is the 4x4 RGB image below ("input"), row-major, interleaved; the "L"
 * rows are the same image converted to mode L. */
typedef struct {
    const char *name;
    guint8      px[48];
} PilRef;

static const PilRef pil_ref[] = {
    { "input", {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128, 200, 30, 90, 17, 240, 133, 250, 251, 3, 64, 200, 199, 100, 50, 25, 255, 128, 0, 1, 2, 200, 90, 90, 91, 33, 66, 99, 240, 10, 250} },
    { "brightness 0.6", {153, 0, 0, 0, 153, 0, 0, 0, 153, 153, 153, 153, 0, 0, 0, 76, 76, 76, 120, 18, 54, 10, 144, 79, 150, 150, 1, 38, 120, 119, 60, 30, 15, 153, 76, 0, 0, 1, 120, 54, 54, 54, 19, 39, 59, 144, 6, 150} },
    { "brightness 0.83", {211, 0, 0, 0, 211, 0, 0, 0, 211, 211, 211, 211, 0, 0, 0, 106, 106, 106, 166, 24, 74, 14, 199, 110, 207, 208, 2, 53, 166, 165, 83, 41, 20, 211, 106, 0, 0, 1, 166, 74, 74, 75, 27, 54, 82, 199, 8, 207} },
    { "brightness 1.37", {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 175, 175, 175, 255, 41, 123, 23, 255, 182, 255, 255, 4, 87, 255, 255, 137, 68, 34, 255, 175, 0, 1, 2, 255, 123, 123, 124, 45, 90, 135, 255, 13, 255} },
    { "contrast 0.6", {197, 44, 44, 44, 197, 44, 44, 44, 197, 197, 197, 197, 44, 44, 44, 120, 120, 120, 164, 62, 98, 54, 188, 123, 194, 194, 45, 82, 164, 163, 104, 74, 58, 197, 120, 44, 44, 45, 164, 98, 98, 98, 63, 83, 103, 188, 49, 194} },
    { "contrast 1.21", {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 131, 131, 131, 218, 13, 85, 0, 255, 137, 255, 255, 0, 54, 218, 217, 97, 37, 7, 255, 131, 0, 0, 0, 218, 85, 85, 87, 16, 56, 96, 255, 0, 255} },
    { "contrast 1.4", {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 135, 135, 135, 236, 0, 82, 0, 255, 142, 255, 255, 0, 45, 236, 234, 96, 26, 0, 255, 135, 0, 0, 0, 236, 82, 82, 83, 2, 48, 94, 255, 0, 255} },
    { "saturation 0.8", {219, 15, 15, 30, 234, 30, 5, 5, 209, 255, 255, 255, 0, 0, 0, 128, 128, 128, 177, 41, 89, 45, 224, 138, 244, 245, 46, 83, 191, 191, 92, 52, 32, 234, 132, 30, 5, 6, 164, 90, 90, 90, 38, 64, 91, 213, 29, 221} },
    { "saturation 1.13", {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128, 214, 22, 90, 0, 250, 129, 253, 254, 0, 51, 205, 204, 104, 48, 20, 255, 125, 0, 0, 0, 222, 90, 90, 91, 29, 66, 104, 255, 0, 255} },
    { "hue -0.1", {255, 0, 144, 150, 255, 0, 0, 150, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128, 200, 31, 190, 34, 240, 18, 251, 103, 4, 64, 200, 119, 100, 25, 43, 255, 0, 18, 2, 123, 200, 90, 91, 91, 33, 99, 92, 95, 11, 250} },
    { "hue -0.037", {255, 0, 48, 54, 255, 0, 0, 54, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128, 200, 31, 126, 18, 240, 86, 251, 196, 4, 64, 200, 170, 100, 34, 25, 255, 72, 0, 2, 48, 200, 90, 90, 91, 33, 81, 99, 185, 11, 250} },
    { "hue 0.05", {255, 72, 0, 0, 255, 72, 72, 0, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128, 200, 31, 43, 18, 240, 196, 184, 251, 4, 64, 163, 200, 100, 71, 25, 255, 198, 0, 53, 2, 200, 90, 90, 91, 33, 49, 99, 250, 11, 197} },
    { "hue 0.1", {255, 150, 0, 0, 255, 150, 150, 0, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128, 200, 66, 31, 18, 216, 240, 109, 251, 4, 64, 122, 200, 100, 94, 25, 234, 255, 0, 114, 2, 200, 91, 90, 91, 38, 33, 99, 250, 11, 123} },
    { "gray", {76, 76, 76, 150, 150, 150, 29, 29, 29, 255, 255, 255, 0, 0, 0, 128, 128, 128, 88, 88, 88, 161, 161, 161, 222, 222, 222, 159, 159, 159, 62, 62, 62, 151, 151, 151, 24, 24, 24, 90, 90, 90, 60, 60, 60, 106, 106, 106} },
    { "solarize", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 127, 127, 55, 30, 90, 17, 15, 122, 5, 4, 3, 64, 55, 56, 100, 50, 25, 0, 127, 0, 1, 2, 55, 90, 90, 91, 33, 66, 99, 15, 10, 5} },
    { "L input", {76, 150, 29, 255, 0, 128, 88, 161, 222, 159, 62, 151, 24, 90, 60, 106} },
    { "L brightness 0.6", {45, 90, 17, 153, 0, 76, 52, 96, 133, 95, 37, 90, 14, 54, 36, 63} },
    { "L brightness 1.37", {104, 205, 39, 255, 0, 175, 120, 220, 255, 217, 84, 206, 32, 123, 82, 145} },
    { "L contrast 0.6", {89, 134, 61, 197, 44, 120, 96, 140, 177, 139, 81, 134, 58, 98, 80, 107} },
    { "L contrast 1.4", {62, 166, 0, 255, 0, 135, 79, 181, 255, 178, 42, 167, 0, 82, 40, 104} },
};

static const guint8 *
pil_ (const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS (pil_ref); i++)
        if (strcmp (pil_ref[i].name, name) == 0)
            return pil_ref[i].px;
    g_assert_not_reached ();
    return NULL;
}

/* Runs @op on a copy of the input and compares with PIL's row @name byte for byte. */
static void
check_pil_ (const char *name, gboolean gray_input, void (*op) (guint8 *, int, int, double),
            double factor)
{
    int C = gray_input ? 1 : 3;
    guint8 px[48];
    const guint8 *want = pil_ (name);
    int bad = 0;

    memcpy (px, pil_ (gray_input ? "L input" : "input"), (size_t) 16 * C);
    op (px, 16, C, factor);
    for (int i = 0; i < 16 * C; i++)
        if (px[i] != want[i]) {
            if (bad++ < 5)
                g_test_message ("%s: value %d: got %d, PIL %d", name, i, px[i], want[i]);
        }
    g_test_message ("%s: %d of %d values differ from PIL", name, bad, 16 * C);
    g_assert_cmpint (bad, ==, 0);
}

static void op_brightness_ (guint8 *p, int n, int C, double f) { _dinolab_augment_brightness (p, n, C, (float) f); }
static void op_contrast_ (guint8 *p, int n, int C, double f) { _dinolab_augment_contrast (p, n, C, (float) f); }
static void op_saturation_ (guint8 *p, int n, int C, double f) { _dinolab_augment_saturation (p, n, C, (float) f); }
static void op_hue_ (guint8 *p, int n, int C, double f) { _dinolab_augment_hue (p, n, C, f); }
static void op_gray_ (guint8 *p, int n, int C, double f G_GNUC_UNUSED) { _dinolab_augment_grayscale (p, n, C); }
static void op_solarize_ (guint8 *p, int n, int C, double f G_GNUC_UNUSED) { _dinolab_augment_solarize (p, n, C); }

static void
test_color_ops_vs_pil (void)
{
    check_pil_ ("brightness 0.6", FALSE, op_brightness_, 0.6);
    check_pil_ ("brightness 0.83", FALSE, op_brightness_, 0.83);
    check_pil_ ("brightness 1.37", FALSE, op_brightness_, 1.37);
    check_pil_ ("contrast 0.6", FALSE, op_contrast_, 0.6);
    check_pil_ ("contrast 1.21", FALSE, op_contrast_, 1.21);
    check_pil_ ("contrast 1.4", FALSE, op_contrast_, 1.4);
    check_pil_ ("saturation 0.8", FALSE, op_saturation_, 0.8);
    check_pil_ ("saturation 1.13", FALSE, op_saturation_, 1.13);
    check_pil_ ("hue -0.1", FALSE, op_hue_, -0.1);
    check_pil_ ("hue -0.037", FALSE, op_hue_, -0.037);
    check_pil_ ("hue 0.05", FALSE, op_hue_, 0.05);
    check_pil_ ("hue 0.1", FALSE, op_hue_, 0.1);
    check_pil_ ("gray", FALSE, op_gray_, 0.0);
    check_pil_ ("solarize", FALSE, op_solarize_, 0.0);
    check_pil_ ("L brightness 0.6", TRUE, op_brightness_, 0.6);
    check_pil_ ("L brightness 1.37", TRUE, op_brightness_, 1.37);
    check_pil_ ("L contrast 0.6", TRUE, op_contrast_, 0.6);
    check_pil_ ("L contrast 1.4", TRUE, op_contrast_, 1.4);
}

/* Brightness, contrast and saturation against the blend formula, written out here
 * independently in double, on every 8-bit value. Factors with few binary digits make
 * the float products exact, so the comparison is exact. Hand-checked corner values:
 * brightness 1.375 of 200 -> 275 -> 255; 0.625 of 101 -> 63.125 -> 63; contrast 1.25
 * of a one-channel image {10, 20, 30, 41} (mean 25.25 -> 25) -> {6, 18, 31, 45}. */
static void
test_blend_formulas (void)
{
    const double factors[] = { 0.0, 0.625, 0.875, 1.0, 1.125, 1.375 };
    guint8 px[256], q[4] = { 10, 20, 30, 41 };

    for (size_t k = 0; k < G_N_ELEMENTS (factors); k++) {
        double f = factors[k];
        for (int v = 0; v < 256; v++)
            px[v] = (guint8) v;
        _dinolab_augment_brightness (px, 256, 1, (float) f);
        for (int v = 0; v < 256; v++) {
            double want = floor (CLAMP (f * v, 0.0, 255.0));
            g_assert_cmpint (px[v], ==, (int) want);
        }
    }
    px[0] = 200;
    _dinolab_augment_brightness (px, 1, 1, 1.375f);
    g_assert_cmpint (px[0], ==, 255);
    px[0] = 101;
    _dinolab_augment_brightness (px, 1, 1, 0.625f);
    g_assert_cmpint (px[0], ==, 63);

    _dinolab_augment_contrast (q, 4, 1, 1.25f);
    g_assert_cmpint (q[0], ==, 6);
    g_assert_cmpint (q[1], ==, 18);
    g_assert_cmpint (q[2], ==, 31);
    g_assert_cmpint (q[3], ==, 45);

    /* saturation on random RGB: blend with round(0.299 R + 0.587 G + 0.114 B) */
    {
        GRand *r = g_rand_new_with_seed (7);
        guint8 rgb[3 * 500], orig[3 * 500];
        int luma_bad = 0;
        for (int i = 0; i < 3 * 500; i++)
            rgb[i] = orig[i] = (guint8) g_rand_int_range (r, 0, 256);
        for (int i = 0; i < 500; i++) {
            double l = 0.299 * orig[3 * i] + 0.587 * orig[3 * i + 1] + 0.114 * orig[3 * i + 2];
            /* PIL's 16-bit fixed-point weights round within a hair of the decimal ones */
            luma_bad += fabs (_dinolab_augment_luma (orig + 3 * i) - l) > 0.5 + 1e-3;
        }
        g_assert_cmpint (luma_bad, ==, 0);
        _dinolab_augment_saturation (rgb, 500, 3, 1.375f);
        for (int i = 0; i < 500; i++) {
            int l = _dinolab_augment_luma (orig + 3 * i);
            for (int c = 0; c < 3; c++) {
                double want = floor (CLAMP (l + 1.375 * (orig[3 * i + c] - l), 0.0, 255.0));
                g_assert_cmpint (rgb[3 * i + c], ==, (int) want);
            }
        }
        g_rand_free (r);
    }
}

/* Hue: PIL's 8-bit HSV by hand. Pure red (255, 0, 0) has H 0; + trunc(0.333 * 255) = 84:
 * i = floor(84 * 6 / 255) = 1, f = 0.976, s = 255 -> (q, v, p) = (round(255 * 0.0235), 255, 0)
 * = (6, 255, 0). Negative shifts wrap: -0.1 -> -25 -> +231 -> H 231 ->
 * i = 5, f = 0.435 -> (v, p, q) = (255, 0, 144), as PIL's table row "hue -0.1" says.
 * Greys have s = 0 and never change. */
static void
test_hue_by_hand (void)
{
    guint8 red[3] = { 255, 0, 0 }, grey[3] = { 77, 77, 77 }, red2[3] = { 255, 0, 0 };

    _dinolab_augment_hue (red, 1, 3, 0.333);
    g_assert_cmpint (red[0], ==, 6);
    g_assert_cmpint (red[1], ==, 255);
    g_assert_cmpint (red[2], ==, 0);
    _dinolab_augment_hue (red2, 1, 3, -0.1);
    g_assert_cmpint (red2[0], ==, 255);
    g_assert_cmpint (red2[1], ==, 0);
    g_assert_cmpint (red2[2], ==, 144);
    _dinolab_augment_hue (grey, 1, 3, 0.1);
    g_assert_cmpint (grey[0], ==, 77);
    g_assert_cmpint (grey[1], ==, 77);
    g_assert_cmpint (grey[2], ==, 77);
}

/* One channel: saturation, hue and grayscale are PIL's no-ops on "L" images. */
static void
test_gray_input_noops (void)
{
    guint8 px[16], orig[16];

    memcpy (orig, pil_ ("L input"), 16);
    memcpy (px, orig, 16);
    _dinolab_augment_saturation (px, 16, 1, 1.2f);
    _dinolab_augment_hue (px, 16, 1, 0.1);
    _dinolab_augment_grayscale (px, 16, 1);
    g_assert_cmpmem (px, 16, orig, 16);
}

static void
test_flip_solarize (void)
{
    enum { S = 5, C = 3 };
    guint8 img[S * S * C], orig[S * S * C];

    for (int i = 0; i < S * S * C; i++)
        img[i] = orig[i] = (guint8) (i * 37 + 11);
    _dinolab_augment_flip (img, S, C);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < C; c++)
                g_assert_cmpint (img[(y * S + x) * C + c], ==, orig[(y * S + (S - 1 - x)) * C + c]);
    _dinolab_augment_flip (img, S, C);
    g_assert_cmpmem (img, sizeof img, orig, sizeof orig);

    /* every 8-bit value: v >= 128 -> 255 - v, else unchanged */
    {
        guint8 all[256];
        for (int v = 0; v < 256; v++)
            all[v] = (guint8) v;
        _dinolab_augment_solarize (all, 256, 1);
        for (int v = 0; v < 256; v++)
            g_assert_cmpint (all[v], ==, v >= 128 ? 255 - v : v);
        g_assert_cmpint (all[127], ==, 127);
        g_assert_cmpint (all[128], ==, 127);
        g_assert_cmpint (all[255], ==, 0);
    }
}

// ----------------------------------------------------------------------------
// blur

/* Direct, non-separable 2-D convolution in double with the same kernel definition
 * (radius ceil(3 sigma), weights exp(-d^2 / 2 sigma^2) normalised, edge pixels
 * repeated). */
static double
blur_ref_ (const guint8 *img, int S, int C, double sigma, int y, int x, int c)
{
    int r = MAX (1, (int) ceil (3.0 * sigma));
    double k[64], ksum = 0.0, acc = 0.0;

    g_assert (2 * r + 1 <= 64);
    for (int d = -r; d <= r; d++)
        ksum += k[d + r] = exp (-(double) d * d / (2.0 * sigma * sigma));
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int yy = CLAMP (y + dy, 0, S - 1), xx = CLAMP (x + dx, 0, S - 1);
            acc += k[dy + r] * k[dx + r] / (ksum * ksum) * img[((size_t) yy * S + xx) * C + c];
        }
    return acc;
}

static void
test_blur (void)
{
    enum { S = 24, C = 3 };
    const double sigmas[] = { 0.3, 0.9, 2.0, 3.7 };
    guint8 img[S * S * C], orig[S * S * C];
    float tmp[S * S * C + 64];

    for (size_t k = 0; k < G_N_ELEMENTS (sigmas); k++) {
        double sigma = sigmas[k], max_diff = 0.0;
        long sum0 = 0, sum1 = 0;

        /* a constant image stays constant */
        memset (img, 173, sizeof img);
        _dinolab_augment_blur (img, S, C, sigma, tmp);
        for (int i = 0; i < S * S * C; i++)
            g_assert_cmpint (img[i], ==, 173);

        /* a blob away from the borders keeps its sum (up to per-pixel rounding) and
         * matches the 2-D reference within one level */
        memset (orig, 0, sizeof orig);
        for (int y = 9; y < 15; y++)
            for (int x = 8; x < 16; x++)
                for (int c = 0; c < C; c++)
                    orig[(y * S + x) * C + c] = (guint8) (120 + 20 * c + ((x * y) % 7) * 10);
        memcpy (img, orig, sizeof img);
        _dinolab_augment_blur (img, S, C, sigma, tmp);
        for (int i = 0; i < S * S * C; i++) {
            sum0 += orig[i];
            sum1 += img[i];
        }
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int c = 0; c < C; c++) {
                    double want = blur_ref_ (orig, S, C, sigma, y, x, c);
                    max_diff = fmax (max_diff, fabs (img[(y * S + x) * C + c] - want));
                }
        g_test_message ("blur sigma %.1f: sum %ld -> %ld (%.3f%%), max |got - 2-D reference| %.3f",
                        sigma, sum0, sum1, 100.0 * (sum1 - sum0) / sum0, max_diff);
        g_assert_cmpfloat (max_diff, <=, 0.5 + 1e-3);
        /* the blob lies 8 px from the borders: for sigma <= 2 nothing reaches them */
        if (sigma <= 2.0)
            g_assert_cmpfloat (fabs ((double) (sum1 - sum0)), <=, 0.01 * sum0);
    }

    /* The documented consequence of scaling sigma to 28/12 px crops: up to sigma 0.25
     * not even a 0/255 checkerboard (the worst case) changes; at 0.3 it does. */
    for (int i = 0; i < S * S * C; i++)
        orig[i] = img[i] = (guint8) ((((i / C) % S + (i / C) / S) % 2) * 255);
    _dinolab_augment_blur (img, S, C, 0.25, tmp);
    g_assert_cmpmem (img, sizeof img, orig, sizeof orig);
    _dinolab_augment_blur (img, S, C, 0.3, tmp);
    g_assert_true (memcmp (img, orig, sizeof img) != 0);
}

// ----------------------------------------------------------------------------
// RandomResizedCrop

typedef struct {
    int    n;
    double min_area, max_area, min_ratio, max_ratio, centre_x, centre_y;
    int    n_fallback;
} CropStats;

static void
crop_draws_ (int W, int H, const double scale[2], int n, CropStats *st)
{
    const double ratio[2] = { 3.0 / 4.0, 4.0 / 3.0 };
    DinolabRng rng;

    memset (st, 0, sizeof *st);
    st->min_area = st->min_ratio = 1e9;
    dinolab_rng_seed (&rng, 1234, 5);
    for (int i = 0; i < n; i++) {
        int x, y, w, h;
        double area, lo, hi;
        st->n_fallback += _dinolab_augment_crop_params (&rng, W, H, scale, ratio, &x, &y, &w, &h);
        g_assert_cmpint (w, >=, 1);
        g_assert_cmpint (h, >=, 1);
        g_assert_cmpint (x, >=, 0);
        g_assert_cmpint (y, >=, 0);
        g_assert_cmpint (x + w, <=, W);
        g_assert_cmpint (y + h, <=, H);
        /* w and h are rounded: the drawn area lies between the boxes half a pixel
         * smaller and larger, and so must the range; same for the ratio */
        lo = (w - 0.5) * (h - 0.5) / ((double) W * H);
        hi = (w + 0.5) * (h + 0.5) / ((double) W * H);
        g_assert_cmpfloat (hi, >=, scale[0]);
        g_assert_cmpfloat (lo, <=, scale[1]);
        g_assert_cmpfloat ((w + 0.5) / (h - 0.5), >=, ratio[0]);
        g_assert_cmpfloat ((w - 0.5) / (h + 0.5), <=, ratio[1]);
        area = (double) w * h / ((double) W * H);
        st->min_area = fmin (st->min_area, area);
        st->max_area = fmax (st->max_area, area);
        st->min_ratio = fmin (st->min_ratio, (double) w / h);
        st->max_ratio = fmax (st->max_ratio, (double) w / h);
        st->centre_x += (x + w / 2.0) / n;
        st->centre_y += (y + h / 2.0) / n;
    }
    st->n = n;
}

static void
test_crop_params (void)
{
    const double global[2] = { 0.4, 1.0 }, local[2] = { 0.05, 0.4 };
    CropStats st;

    crop_draws_ (28, 28, global, 20000, &st);
    g_test_message ("global 28x28: area %.3f..%.3f, ratio %.3f..%.3f, centre (%.2f, %.2f), %d fallbacks",
                    st.min_area, st.max_area, st.min_ratio, st.max_ratio, st.centre_x, st.centre_y,
                    st.n_fallback);
    g_assert_cmpfloat (st.min_area, <, 0.45);  /* the whole range is reached */
    g_assert_cmpfloat (st.max_area, >, 0.95);
    g_assert_cmpfloat (fabs (st.centre_x - 14.0), <, 0.3); /* corners uniform: centred on average */
    g_assert_cmpfloat (fabs (st.centre_y - 14.0), <, 0.3);

    crop_draws_ (28, 28, local, 20000, &st);
    g_test_message ("local 28x28: area %.3f..%.3f, ratio %.3f..%.3f, centre (%.2f, %.2f), %d fallbacks",
                    st.min_area, st.max_area, st.min_ratio, st.max_ratio, st.centre_x, st.centre_y,
                    st.n_fallback);
    g_assert_cmpint (st.n_fallback, ==, 0);
    g_assert_cmpfloat (st.min_area, <, 0.07);
    g_assert_cmpfloat (st.max_area, >, 0.37);
    g_assert_cmpfloat (st.min_ratio, <, 0.8);
    g_assert_cmpfloat (st.max_ratio, >, 1.25);
    g_assert_cmpfloat (fabs (st.centre_x - 14.0), <, 0.3);

    crop_draws_ (300, 200, global, 20000, &st);
    g_test_message ("global 300x200: area %.3f..%.3f, ratio %.3f..%.3f, %d fallbacks",
                    st.min_area, st.max_area, st.min_ratio, st.max_ratio, st.n_fallback);
    g_assert_cmpfloat (st.min_ratio, <, 0.76);
    g_assert_cmpfloat (st.max_ratio, >, 1.32);

    /* fallback by hand. 100 x 2 at scale (0.9, 1): every try is far too tall, so the
     * centre crop with the ratio clamped to 4/3: h = 2, w = round(2.67) = 3,
     * x = (100 - 3) / 2 = 48. The transposed image gives the transposed box. */
    {
        const double big[2] = { 0.9, 1.0 }, ratio[2] = { 3.0 / 4.0, 4.0 / 3.0 };
        DinolabRng rng;
        int x, y, w, h;
        dinolab_rng_seed (&rng, 9, 9);
        g_assert_true (_dinolab_augment_crop_params (&rng, 100, 2, big, ratio, &x, &y, &w, &h));
        g_assert_cmpint (x, ==, 48);
        g_assert_cmpint (y, ==, 0);
        g_assert_cmpint (w, ==, 3);
        g_assert_cmpint (h, ==, 2);
        g_assert_true (_dinolab_augment_crop_params (&rng, 2, 100, big, ratio, &x, &y, &w, &h));
        g_assert_cmpint (x, ==, 0);
        g_assert_cmpint (y, ==, 48);
        g_assert_cmpint (w, ==, 2);
        g_assert_cmpint (h, ==, 3);
    }
    /* scale (1, 1) on a square image always gives the whole image (directly when the
     * ratio rounds to 1, else through the fallback) */
    {
        const double one[2] = { 1.0, 1.0 }, ratio[2] = { 3.0 / 4.0, 4.0 / 3.0 };
        DinolabRng rng;
        dinolab_rng_seed (&rng, 3, 3);
        for (int i = 0; i < 1000; i++) {
            int x, y, w, h;
            _dinolab_augment_crop_params (&rng, 28, 28, one, ratio, &x, &y, &w, &h);
            g_assert_cmpint (x, ==, 0);
            g_assert_cmpint (y, ==, 0);
            g_assert_cmpint (w, ==, 28);
            g_assert_cmpint (h, ==, 28);
        }
    }
}

// ----------------------------------------------------------------------------
// the pipeline

/* Every random op off and scale (1, 1) at the native size: the views are the image,
 * normalised as ToTensor + Normalize compute it (here, per pixel, in float). */
static void
test_identity_path (void)
{
    const float mean[3] = { 0.485f, 0.456f, 0.406f }, std[3] = { 0.229f, 0.224f, 0.225f };
    g_auto (DinolabHparams) hp = { 0 };
    g_auto (DinolabImage) img = { 0 };
    g_autoptr (DinolabAugment) aug = NULL;
    DinolabAugmentLog log[4];
    Views v;

    hp_small_ (&hp, 20, 20, 2);
    hp.global_crops_scale[0] = hp.global_crops_scale[1] = 1.0;
    hp.local_crops_scale[0] = hp.local_crops_scale[1] = 1.0;
    image_random_ (&img, 20, 20, 3, 11);
    aug = dinolab_augment_new (&hp, 3, mean, std);
    aug->p_flip = aug->p_jitter = aug->p_gray = aug->p_solarize = 0.0;
    aug->p_blur[0] = aug->p_blur[1] = aug->p_blur[2] = 0.0;
    views_alloc_ (&v, aug, 3, 20, 20);

    for (guint64 index = 0; index < 20; index++) {
        _dinolab_augment_views_logged (aug, &img, 0, index, v.views, log, NULL);
        for (int k = 0; k < v.n_views; k++) {
            g_assert_cmpint (log[k].crop_w, ==, 20);
            g_assert_cmpint (log[k].crop_h, ==, 20);
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < 400; i++) {
                    float want = ((float) img.pixels[i * 3 + c] / 255.0f - mean[c]) / std[c];
                    g_assert_cmpfloat (v.views[k][c * 400 + i], ==, want);
                }
        }
    }
    views_free_ (&v);
}

/* A constant image stays constant through crop, resize (up and down), flip, blur and
 * solarize below 128; only jitter and grayscale could change it, and they are off. */
static void
test_constant_image (void)
{
    const float mean[1] = { 0.25f }, std[1] = { 0.5f };
    g_auto (DinolabHparams) hp = { 0 };
    g_autoptr (DinolabAugment) aug = NULL;
    DinolabImage img = { 17, 13, 1, NULL };
    guint8 px[17 * 13];
    float want = (100.0f / 255.0f - 0.25f) / 0.5f;
    Views v;

    memset (px, 100, sizeof px);
    img.pixels = px;
    hp_small_ (&hp, 32, 8, 4);
    aug = dinolab_augment_new (&hp, 1, mean, std);
    aug->p_jitter = 0.0;
    views_alloc_ (&v, aug, 1, 32, 8);
    for (guint64 index = 0; index < 50; index++) {
        dinolab_augment_views (aug, &img, 3, index, v.views);
        for (int k = 0; k < v.n_views; k++) {
            int S = k < 2 ? 32 : 8;
            for (int i = 0; i < S * S; i++)
                g_assert_cmpfloat (v.views[k][i], ==, want);
        }
    }
    views_free_ (&v);
}

static gboolean
views_equal_ (const Views *a, const Views *b, int C, int G, int L)
{
    for (int k = 0; k < a->n_views; k++) {
        int S = k < 2 ? G : L;
        if (memcmp (a->views[k], b->views[k], (size_t) C * S * S * sizeof (float)) != 0)
            return FALSE;
    }
    return TRUE;
}

static void
test_determinism (void)
{
    const float mean[3] = { 0.5f, 0.5f, 0.5f }, std[3] = { 0.25f, 0.25f, 0.25f };
    g_auto (DinolabHparams) hp = { 0 };
    g_auto (DinolabImage) img = { 0 };
    g_autoptr (DinolabAugment) aug = NULL;
    g_autoptr (DinolabAugment) aug2 = NULL;
    Views a, b;

    hp_small_ (&hp, 24, 12, 4);
    image_random_ (&img, 30, 26, 3, 5);
    aug = dinolab_augment_new (&hp, 3, mean, std);
    views_alloc_ (&a, aug, 3, 24, 12);
    views_alloc_ (&b, aug, 3, 24, 12);

    /* same (seed, epoch, index): identical, also from a second DinolabAugment */
    dinolab_augment_views (aug, &img, 2, 7, a.views);
    aug2 = dinolab_augment_new (&hp, 3, mean, std);
    dinolab_augment_views (aug2, &img, 2, 7, b.views);
    g_assert_true (views_equal_ (&a, &b, 3, 24, 12));
    /* another index, epoch or seed: different */
    dinolab_augment_views (aug, &img, 2, 8, b.views);
    g_assert_false (views_equal_ (&a, &b, 3, 24, 12));
    dinolab_augment_views (aug, &img, 3, 7, b.views);
    g_assert_false (views_equal_ (&a, &b, 3, 24, 12));
    hp.seed = 43;
    g_clear_pointer (&aug2, dinolab_augment_free);
    aug2 = dinolab_augment_new (&hp, 3, mean, std);
    dinolab_augment_views (aug2, &img, 2, 7, b.views);
    g_assert_false (views_equal_ (&a, &b, 3, 24, 12));
    /* the views of one item differ from each other */
    g_assert_true (memcmp (a.views[0], a.views[1], 3 * 24 * 24 * sizeof (float)) != 0);
    g_assert_true (memcmp (a.views[2], a.views[3], 3 * 12 * 12 * sizeof (float)) != 0);

    /* (epoch, index) pairs are not confused: (1, 2) vs (2, 1), (0, 3) vs (3, 0) */
    {
        DinolabRng r1, r2;
        _dinolab_augment_seed_view (&r1, 42, 1, 2, 0);
        _dinolab_augment_seed_view (&r2, 42, 2, 1, 0);
        g_assert_true (dinolab_rng_next (&r1) != dinolab_rng_next (&r2));
        _dinolab_augment_seed_view (&r1, 42, 0, 3, 1);
        _dinolab_augment_seed_view (&r2, 42, 3, 0, 1);
        g_assert_true (dinolab_rng_next (&r1) != dinolab_rng_next (&r2));
    }
    views_free_ (&a);
    views_free_ (&b);
}

static gboolean
log_equal_ (const DinolabAugmentLog *a, const DinolabAugmentLog *b)
{
    return a->size == b->size && a->crop_x == b->crop_x && a->crop_y == b->crop_y &&
           a->crop_w == b->crop_w && a->crop_h == b->crop_h &&
           a->crop_fallback == b->crop_fallback && a->flip == b->flip &&
           a->jitter == b->jitter && memcmp (a->jitter_order, b->jitter_order, sizeof a->jitter_order) == 0 &&
           a->brightness == b->brightness && a->contrast == b->contrast &&
           a->saturation == b->saturation && a->hue == b->hue && a->gray == b->gray &&
           a->blur == b->blur && a->sigma == b->sigma && a->solarize == b->solarize;
}

/* The random stream does not depend on the channel count: a 1-channel image and a
 * 3-channel one draw the same crops, flips, jitter factors, grayscale and blur. */
static void
test_channel_independent_stream (void)
{
    const float mean[3] = { 0.5f, 0.5f, 0.5f }, std[3] = { 0.25f, 0.25f, 0.25f };
    g_auto (DinolabHparams) hp = { 0 };
    g_auto (DinolabImage) rgb = { 0 };
    g_auto (DinolabImage) gray = { 0 };
    g_autoptr (DinolabAugment) a3 = NULL;
    g_autoptr (DinolabAugment) a1 = NULL;
    DinolabAugmentLog l3[8], l1[8];
    Views v3, v1;

    hp_small_ (&hp, 16, 8, 6);
    image_random_ (&rgb, 20, 20, 3, 1);
    image_random_ (&gray, 20, 20, 1, 1);
    a3 = dinolab_augment_new (&hp, 3, mean, std);
    a1 = dinolab_augment_new (&hp, 1, mean, std);
    views_alloc_ (&v3, a3, 3, 16, 8);
    views_alloc_ (&v1, a1, 1, 16, 8);
    for (guint64 index = 0; index < 100; index++) {
        _dinolab_augment_views_logged (a3, &rgb, 0, index, v3.views, l3, NULL);
        _dinolab_augment_views_logged (a1, &gray, 0, index, v1.views, l1, NULL);
        for (int k = 0; k < 8; k++)
            g_assert_true (log_equal_ (&l3[k], &l1[k]));
    }
    views_free_ (&v3);
    views_free_ (&v1);
}

// ----------------------------------------------------------------------------
// probabilities

/* |observed - p| within 5 binomial standard deviations (and exact for p = 0 or 1). */
static void
check_rate_ (const char *what, int hits, int n, double p)
{
    double rate = (double) hits / n, tol = 5.0 * sqrt (p * (1.0 - p) / n);
    g_test_message ("%-18s %.4f (p %.2f, n %d, tolerance %.4f)", what, rate, p, n, tol);
    if (p == 0.0 || p == 1.0)
        g_assert_cmpfloat (rate, ==, p);
    else
        g_assert_cmpfloat (fabs (rate - p), <=, tol);
}

static void
test_probabilities (void)
{
    enum { N = 4000, NL = 6 };
    const float mean[3] = { 0.5f, 0.5f, 0.5f }, std[3] = { 0.25f, 0.25f, 0.25f };
    const double sg = 16.0 / 224.0, sl = 8.0 / 96.0;
    g_auto (DinolabHparams) hp = { 0 };
    g_auto (DinolabImage) img = { 0 };
    g_autoptr (DinolabAugment) aug = NULL;
    DinolabAugmentLog log[2 + NL];
    int flip[2 + NL] = { 0 }, jitter[2 + NL] = { 0 }, gray[2 + NL] = { 0 };
    int blur[2 + NL] = { 0 }, solar[2 + NL] = { 0 }, first[4] = { 0 };
    int n_jitter = 0, n_blur_g = 0, n_blur_l = 0;
    double sigma_min[2] = { 1e9, 1e9 }, sigma_max[2] = { 0, 0 }, sigma_mean[2] = { 0, 0 };
    double bmin = 1e9, bmax = 0, hmin = 1e9, hmax = -1e9;
    Views v;

    hp_small_ (&hp, 16, 8, NL);
    image_random_ (&img, 16, 16, 3, 3);
    aug = dinolab_augment_new (&hp, 3, mean, std);
    views_alloc_ (&v, aug, 3, 16, 8);

    for (int i = 0; i < N; i++) {
        _dinolab_augment_views_logged (aug, &img, 1, (guint64) i, v.views, log, NULL);
        for (int k = 0; k < 2 + NL; k++) {
            int g = k < 2 ? 0 : 1;
            flip[k] += log[k].flip;
            jitter[k] += log[k].jitter;
            gray[k] += log[k].gray;
            blur[k] += log[k].blur;
            solar[k] += log[k].solarize;
            if (log[k].jitter) {
                n_jitter++;
                first[log[k].jitter_order[0]]++;
                bmin = fmin (bmin, log[k].brightness);
                bmax = fmax (bmax, log[k].brightness);
                hmin = fmin (hmin, log[k].hue);
                hmax = fmax (hmax, log[k].hue);
            }
            if (log[k].blur) {
                sigma_min[g] = fmin (sigma_min[g], log[k].sigma);
                sigma_max[g] = fmax (sigma_max[g], log[k].sigma);
                sigma_mean[g] += log[k].sigma;
                if (g == 0)
                    n_blur_g++;
                else
                    n_blur_l++;
            }
        }
    }

    for (int k = 0; k < 2 + NL; k++) {
        char name[32];
        g_snprintf (name, sizeof name, "flip view %d", k);
        check_rate_ (name, flip[k], N, 0.5);
        g_snprintf (name, sizeof name, "jitter view %d", k);
        check_rate_ (name, jitter[k], N, 0.8);
        g_snprintf (name, sizeof name, "gray view %d", k);
        check_rate_ (name, gray[k], N, 0.2);
        g_snprintf (name, sizeof name, "blur view %d", k);
        check_rate_ (name, blur[k], N, k == 0 ? 1.0 : k == 1 ? 0.1 : 0.5);
        g_snprintf (name, sizeof name, "solarize view %d", k);
        check_rate_ (name, solar[k], N, k == 1 ? 0.2 : 0.0);
    }
    /* the jitter order is a uniform permutation: each op comes first 1/4 of the time */
    for (int o = 0; o < 4; o++) {
        char name[32];
        g_snprintf (name, sizeof name, "jitter op %d first", o);
        check_rate_ (name, first[o], n_jitter, 0.25);
    }
    g_test_message ("brightness %.3f..%.3f, hue %.3f..%.3f", bmin, bmax, hmin, hmax);
    g_assert_cmpfloat (bmin, >=, 0.6);
    g_assert_cmpfloat (bmax, <=, 1.4);
    g_assert_cmpfloat (bmin, <, 0.61);
    g_assert_cmpfloat (bmax, >, 1.39);
    g_assert_cmpfloat (hmin, >=, -0.1);
    g_assert_cmpfloat (hmax, <=, 0.1);

    /* blur sigma: U(0.1, 2.0) scaled by S/224 (globals) and S/96 (locals) */
    sigma_mean[0] /= n_blur_g;
    sigma_mean[1] /= n_blur_l;
    g_test_message ("sigma global %.4f..%.4f mean %.4f (range %.4f..%.4f); local %.4f..%.4f mean %.4f "
                    "(range %.4f..%.4f)", sigma_min[0], sigma_max[0], sigma_mean[0], 0.1 * sg,
                    2.0 * sg, sigma_min[1], sigma_max[1], sigma_mean[1], 0.1 * sl, 2.0 * sl);
    g_assert_cmpfloat (sigma_min[0], >=, 0.1 * sg);
    g_assert_cmpfloat (sigma_max[0], <=, 2.0 * sg);
    g_assert_cmpfloat (fabs (sigma_mean[0] - 1.05 * sg), <, 0.02 * sg);
    g_assert_cmpfloat (sigma_min[1], >=, 0.1 * sl);
    g_assert_cmpfloat (sigma_max[1], <=, 2.0 * sl);
    g_assert_cmpfloat (fabs (sigma_mean[1] - 1.05 * sl), <, 0.02 * sl);
    views_free_ (&v);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/augment/color-ops-vs-pil", test_color_ops_vs_pil);
    g_test_add_func ("/augment/blend-formulas", test_blend_formulas);
    g_test_add_func ("/augment/hue-by-hand", test_hue_by_hand);
    g_test_add_func ("/augment/gray-input-noops", test_gray_input_noops);
    g_test_add_func ("/augment/flip-solarize", test_flip_solarize);
    g_test_add_func ("/augment/blur", test_blur);
    g_test_add_func ("/augment/crop-params", test_crop_params);
    g_test_add_func ("/augment/identity-path", test_identity_path);
    g_test_add_func ("/augment/constant-image", test_constant_image);
    g_test_add_func ("/augment/determinism", test_determinism);
    g_test_add_func ("/augment/channel-independent-stream", test_channel_independent_stream);
    g_test_add_func ("/augment/probabilities", test_probabilities);
    return g_test_run ();
}
