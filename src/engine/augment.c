/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * augment.c: DINO's multi-crop augmentation (DataAugmentationDINO, DINO.md 3), number
 * for number with torchvision 0.8 on PIL images where that is defined, from one 8-bit
 * image to 2 + local_crops_number normalised C x S x S float views.
 *
 * Per view, in the reference's order, each step on an 8-bit image with PIL's rounding:
 *   RandomResizedCrop   torchvision's get_params (10 tries of area U(scale) and log-ratio
 *                       U(ln 3/4, ln 4/3), w/h rounded half-to-even as Python's round(),
 *                       corner randint inclusive; else the centre crop with the ratio
 *                       clamped), then PIL bicubic (a = -0.5) resize to S x S,
 *                       antialiased when shrinking (image.c)
 *   flip                p 0.5, `rand < p`
 *   ColorJitter         p 0.8, applied when `rand <= p` (RandomApply); a random order of
 *                       brightness [0.6,1.4], contrast [0.6,1.4], saturation [0.8,1.2],
 *                       hue [-0.1,0.1]. Each is PIL's Image.blend, which TRUNCATES to
 *                       uint8 (clipping when extrapolating): brightness with black,
 *                       contrast with the rounded mean of the luma, saturation with the
 *                       luma image. Hue goes through PIL's 8-bit HSV and adds
 *                       trunc(255 h) mod 256 to H (numpy's uint8 wrap-around).
 *                       Luma is PIL's "L": (19595 R + 38470 G + 7471 B + 0x8000) >> 16,
 *                       i.e. 0.299 R + 0.587 G + 0.114 B rounded (Pillow 9.4, which
 *                       made the test tables; some older Pillows truncated).
 *   grayscale           p 0.2, `rand < p`, L copied to the three channels
 *   Gaussian blur       view 0 p 1.0, view 1 p 0.1, locals p 0.5, `rand <= p`;
 *                       sigma ~ U(0.1, 2.0) px at the reference sizes, scaled with the
 *                       crop: x S/224 for the globals, x S/96 for the locals (so a 28 px
 *                       global draws sigma in [0.0125, 0.25] and a 12 px local the same;
 *                       the blur then removes as much of the view, relative to its size,
 *                       as the reference's does at 224/96). We use an exact Gaussian
 *                       (radius ceil(3 sigma), weights normalised to 1, separable, float,
 *                       rounded half up to uint8) where PIL uses three box blurs; the
 *                       border repeats the edge pixel, as PIL's box blur does.
 *                       A consequence worth knowing: up to sigma 0.25 no 8-bit pixel
 *                       can change (|out - in| <= (1 - k0^2) 255 < 0.5, k0 the centre
 *                       weight), so with 28/12 px crops the blur, faithfully scaled, is
 *                       a no-op; it is still drawn and logged.
 *   solarize            view 1 only, p 0.2, `rand < p`: v >= 128 becomes 255 - v
 *   normalise           (v / 255 - mean[c]) / std[c] in float, into C x S x S
 *
 * One-channel images (C = 1): brightness and contrast apply (the contrast mean is the
 * mean of the channel); saturation, hue and grayscale are exactly what PIL does to an
 * "L" image: nothing. Their random draws are still made, so the random stream, and
 * with it every crop, flip and blur of a view, is the same whatever the channel count.
 *
 * Randomness: each view draws from its own xoshiro stream, a pure function of
 * (seed, epoch, item index, view) through a chain of splitmix64 finalisers, so views
 * are reproducible whatever thread or order computes them. The draws themselves
 * cannot match PyTorch's generator bit for bit; the distributions do.
 *
 * Not here: decoding (dataset*.c), batching and threads (loader.c), resampling
 * (image.c). The call allocates one scratch block and frees it; it never touches
 * shared state, so any number of threads may call it on one DinolabAugment.
 */
#include <math.h>
#include <string.h>

#include "augment-private.h"
#include "dinolab/data.h"
#include "dinolab/rng.h"
#include "image.h"

/* Reference sizes at which DINO's blur sigma range (0.1, 2.0) is given. */
#define AUGMENT_REF_GLOBAL 224.0
#define AUGMENT_REF_LOCAL  96.0
#define AUGMENT_SIGMA_MIN  0.1
#define AUGMENT_SIGMA_MAX  2.0

/* Tag so that augmentation streams differ from the other users of the seed. */
#define AUGMENT_STREAM_TAG 0x61756726d756c74ULL

// ----------------------------------------------------------------------------
// random streams

static inline guint64
mix64_ (guint64 z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
_dinolab_augment_seed_view (DinolabRng *rng, guint64 seed, guint64 epoch, guint64 index,
                            guint64 view)
{
    /* Each finaliser is a bijection, so for a fixed prefix distinct values give
     * distinct keys; the golden-ratio additions keep 0 from mapping to 0. */
    guint64 k = mix64_ (seed ^ AUGMENT_STREAM_TAG);
    k = mix64_ (k + 0x9e3779b97f4a7c15ULL + epoch);
    k = mix64_ (k + 0x9e3779b97f4a7c15ULL + index);
    dinolab_rng_seed (rng, k, view);
}

static inline double
uniform_ (DinolabRng *rng, double lo, double hi)
{
    return lo + (hi - lo) * dinolab_rng_uniform (rng);
}

/* torch.randint(0, n): uniform in [0, n). */
static inline int
randint_ (DinolabRng *rng, int n)
{
    int v = (int) (dinolab_rng_uniform (rng) * n);
    return v < n ? v : n - 1;
}

// ----------------------------------------------------------------------------
// RandomResizedCrop parameters

gboolean
_dinolab_augment_crop_params (DinolabRng *rng, int W, int H, const double scale[2],
                              const double ratio[2], int *x, int *y, int *w, int *h)
{
    double area = (double) W * H;
    double log_lo = log (ratio[0]), log_hi = log (ratio[1]);
    double in_ratio;
    int cw, ch;

    g_assert (W > 0 && H > 0);
    for (int t = 0; t < 10; t++) {
        double target = area * uniform_ (rng, scale[0], scale[1]);
        double r = exp (uniform_ (rng, log_lo, log_hi));
        /* Python's round() is half-to-even, as rint() in the default rounding mode */
        cw = (int) rint (sqrt (target * r));
        ch = (int) rint (sqrt (target / r));
        if (0 < cw && cw <= W && 0 < ch && ch <= H) {
            *y = randint_ (rng, H - ch + 1);
            *x = randint_ (rng, W - cw + 1);
            *w = cw;
            *h = ch;
            return FALSE;
        }
    }
    /* fallback: the centre crop, its ratio clamped to the range */
    in_ratio = (double) W / H;
    if (in_ratio < ratio[0]) {
        cw = W;
        ch = (int) rint (cw / ratio[0]);
    } else if (in_ratio > ratio[1]) {
        ch = H;
        cw = (int) rint (ch * ratio[1]);
    } else {
        cw = W;
        ch = H;
    }
    /* a sliver image can round a side to 0 (or past the image); keep the box inside */
    cw = CLAMP (cw, 1, W);
    ch = CLAMP (ch, 1, H);
    *y = (H - ch) / 2;
    *x = (W - cw) / 2;
    *w = cw;
    *h = ch;
    return TRUE;
}

// ----------------------------------------------------------------------------
// 8-bit operations (PIL semantics)

int
_dinolab_augment_luma (const guint8 *rgb)
{
    return (rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16;
}

/* PIL's ImagingBlend(im1 = a, im2 = b, alpha) for one value: float arithmetic,
 * truncated to uint8, clipped to [0, 255] (the clip only matters when extrapolating). */
static inline guint8
blend_ (int a, int b, float alpha)
{
    float t = (float) a + alpha * (float) (b - a);
    if (t <= 0.0f)
        return 0;
    if (t >= 255.0f)
        return 255;
    return (guint8) t;
}

void
_dinolab_augment_flip (guint8 *img, int S, int C)
{
    for (int y = 0; y < S; y++) {
        guint8 *row = img + (size_t) y * S * C;
        for (int x = 0; x < S / 2; x++) {
            guint8 *a = row + (size_t) x * C, *b = row + (size_t) (S - 1 - x) * C;
            for (int c = 0; c < C; c++) {
                guint8 t = a[c];
                a[c] = b[c];
                b[c] = t;
            }
        }
    }
}

/* ImageEnhance.Brightness: blend(black, img, factor). */
void
_dinolab_augment_brightness (guint8 *img, int n, int C, float factor)
{
    for (size_t i = 0; i < (size_t) n * C; i++)
        img[i] = blend_ (0, img[i], factor);
}

/* ImageEnhance.Contrast: blend(constant image of int(mean(L) + 0.5), img, factor). */
void
_dinolab_augment_contrast (guint8 *img, int n, int C, float factor)
{
    double sum = 0.0;
    int mean;

    g_assert (C == 1 || C == 3);
    for (int i = 0; i < n; i++)
        sum += C == 3 ? _dinolab_augment_luma (img + (size_t) i * 3) : img[i];
    mean = (int) (sum / n + 0.5);
    for (size_t i = 0; i < (size_t) n * C; i++)
        img[i] = blend_ (mean, img[i], factor);
}

/* ImageEnhance.Color: blend(img.convert("L").convert(mode), img, factor). */
void
_dinolab_augment_saturation (guint8 *img, int n, int C, float factor)
{
    if (C != 3)
        return;
    for (int i = 0; i < n; i++) {
        guint8 *p = img + (size_t) i * 3;
        int l = _dinolab_augment_luma (p);
        p[0] = blend_ (l, p[0], factor);
        p[1] = blend_ (l, p[1], factor);
        p[2] = blend_ (l, p[2], factor);
    }
}

/* Pillow's rgb2hsv_row (Convert.c), with its float and double steps kept. */
static inline void
rgb_to_hsv_ (const guint8 *in, guint8 *hsv)
{
    int r = in[0], g = in[1], b = in[2];
    int maxc = MAX (r, MAX (g, b)), minc = MIN (r, MIN (g, b));

    hsv[2] = (guint8) maxc;
    if (minc == maxc) {
        hsv[0] = 0;
        hsv[1] = 0;
    } else {
        float cr = (float) (maxc - minc);
        float s = cr / (float) maxc;
        float rc = (float) (maxc - r) / cr;
        float gc = (float) (maxc - g) / cr;
        float bc = (float) (maxc - b) / cr;
        float h;
        if (r == maxc)
            h = bc - gc;
        else if (g == maxc)
            h = (float) (2.0 + rc - bc);
        else
            h = (float) (4.0 + gc - rc);
        h = (float) fmod (h / 6.0 + 1.0, 1.0);
        hsv[0] = (guint8) CLAMP ((int) (h * 255.0), 0, 255);
        hsv[1] = (guint8) CLAMP ((int) (s * 255.0), 0, 255);
    }
}

/* Pillow's hsv2rgb (Convert.c). */
static inline void
hsv_to_rgb_ (const guint8 *hsv, guint8 *out)
{
    int h = hsv[0], s = hsv[1], v = hsv[2];

    if (s == 0) {
        out[0] = out[1] = out[2] = (guint8) v;
    } else {
        int i = (int) floor ((float) h * 6.0 / 255.0);
        float f = (float) ((float) h * 6.0 / 255.0 - (float) i);
        float fs = (float) ((float) s / 255.0);
        guint8 p = (guint8) CLAMP ((int) round ((float) v * (1.0 - fs)), 0, 255);
        guint8 q = (guint8) CLAMP ((int) round ((float) v * (1.0 - fs * f)), 0, 255);
        guint8 t = (guint8) CLAMP ((int) round ((float) v * (1.0 - fs * (1.0 - f))), 0, 255);
        guint8 V = (guint8) v;
        switch (i % 6) {
        case 0: out[0] = V; out[1] = t; out[2] = p; break;
        case 1: out[0] = q; out[1] = V; out[2] = p; break;
        case 2: out[0] = p; out[1] = V; out[2] = t; break;
        case 3: out[0] = p; out[1] = q; out[2] = V; break;
        case 4: out[0] = t; out[1] = p; out[2] = V; break;
        default: out[0] = V; out[1] = p; out[2] = q; break;
        }
    }
}

/* torchvision's F_pil.adjust_hue: H of PIL's 8-bit HSV plus np.uint8(factor * 255),
 * which truncates toward zero and wraps negative shifts around 256. */
void
_dinolab_augment_hue (guint8 *img, int n, int C, double factor)
{
    int shift = ((int) (factor * 255.0) % 256 + 256) % 256;

    if (C != 3)
        return;
    for (int i = 0; i < n; i++) {
        guint8 *p = img + (size_t) i * 3, hsv[3];
        rgb_to_hsv_ (p, hsv);
        hsv[0] = (guint8) ((hsv[0] + shift) & 255);
        hsv_to_rgb_ (hsv, p);
    }
}

void
_dinolab_augment_grayscale (guint8 *img, int n, int C)
{
    if (C != 3)
        return;
    for (int i = 0; i < n; i++) {
        guint8 *p = img + (size_t) i * 3;
        p[0] = p[1] = p[2] = (guint8) _dinolab_augment_luma (p);
    }
}

void
_dinolab_augment_solarize (guint8 *img, int n, int C)
{
    for (size_t i = 0; i < (size_t) n * C; i++)
        if (img[i] >= 128)
            img[i] = (guint8) (255 - img[i]);
}

void
_dinolab_augment_blur (guint8 *img, int S, int C, double sigma, float *tmp)
{
    /* tmp: [S, S, C] horizontal pass, then the 2r+1 kernel weights */
    int r = MAX (1, (int) ceil (3.0 * sigma));
    float *row = tmp, *k = tmp + (size_t) S * S * C;
    double ksum = 0.0;

    g_assert (sigma > 0.0);
    for (int d = -r; d <= r; d++)
        ksum += exp (-(double) d * d / (2.0 * sigma * sigma));
    for (int d = -r; d <= r; d++)
        k[d + r] = (float) (exp (-(double) d * d / (2.0 * sigma * sigma)) / ksum);

    /* horizontal: edge pixels repeat */
    for (int y = 0; y < S; y++) {
        const guint8 *src = img + (size_t) y * S * C;
        float *dst = row + (size_t) y * S * C;
        for (int x = 0; x < S; x++)
            for (int c = 0; c < C; c++) {
                float acc = 0.0f;
                for (int d = -r; d <= r; d++) {
                    int xx = CLAMP (x + d, 0, S - 1);
                    acc += k[d + r] * src[(size_t) xx * C + c];
                }
                dst[(size_t) x * C + c] = acc;
            }
    }
    /* vertical, rounded half up to uint8 */
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            for (int c = 0; c < C; c++) {
                float acc = 0.0f;
                int v;
                for (int d = -r; d <= r; d++) {
                    int yy = CLAMP (y + d, 0, S - 1);
                    acc += k[d + r] * row[((size_t) yy * S + x) * C + c];
                }
                v = (int) floorf (acc + 0.5f);
                img[((size_t) y * S + x) * C + c] = (guint8) CLAMP (v, 0, 255);
            }
}

// ----------------------------------------------------------------------------
// lifetime

DinolabAugment *
dinolab_augment_new (const DinolabHparams *hp,
                     int                   channels,
                     const float          *mean,
                     const float          *std)
{
    DinolabAugment *aug;
    double gs, ls;

    g_return_val_if_fail (hp != NULL, NULL);
    g_return_val_if_fail (channels == 1 || channels == 3, NULL);
    g_return_val_if_fail (mean != NULL && std != NULL, NULL);
    g_return_val_if_fail (hp->global_crop_size > 0 && hp->local_crop_size > 0, NULL);
    g_return_val_if_fail (hp->local_crops_number >= 0, NULL);

    aug = g_new0 (DinolabAugment, 1);
    aug->channels = channels;
    aug->global_size = hp->global_crop_size;
    aug->local_size = hp->local_crop_size;
    aug->n_local = hp->local_crops_number;
    memcpy (aug->global_scale, hp->global_crops_scale, sizeof aug->global_scale);
    memcpy (aug->local_scale, hp->local_crops_scale, sizeof aug->local_scale);
    aug->ratio[0] = 3.0 / 4.0;
    aug->ratio[1] = 4.0 / 3.0;
    aug->seed = hp->seed;
    for (int c = 0; c < channels; c++) {
        aug->mean[c] = mean[c];
        aug->std[c] = std[c];
        /* ToTensor then Normalize, in float as torchvision computes them */
        for (int v = 0; v < 256; v++)
            aug->lut[c][v] = ((float) v / 255.0f - mean[c]) / std[c];
    }

    aug->p_flip = 0.5;
    aug->p_jitter = 0.8;
    aug->p_gray = 0.2;
    aug->p_solarize = 0.2;
    aug->p_blur[0] = 1.0;
    aug->p_blur[1] = 0.1;
    aug->p_blur[2] = 0.5;
    aug->brightness[0] = 0.6;
    aug->brightness[1] = 1.4;
    aug->contrast[0] = 0.6;
    aug->contrast[1] = 1.4;
    aug->saturation[0] = 0.8;
    aug->saturation[1] = 1.2;
    aug->hue[0] = -0.1;
    aug->hue[1] = 0.1;
    gs = aug->global_size / AUGMENT_REF_GLOBAL;
    ls = aug->local_size / AUGMENT_REF_LOCAL;
    aug->sigma_global[0] = AUGMENT_SIGMA_MIN * gs;
    aug->sigma_global[1] = AUGMENT_SIGMA_MAX * gs;
    aug->sigma_local[0] = AUGMENT_SIGMA_MIN * ls;
    aug->sigma_local[1] = AUGMENT_SIGMA_MAX * ls;
    return aug;
}

void
dinolab_augment_free (DinolabAugment *aug)
{
    g_free (aug);
}

int
dinolab_augment_get_n_views (const DinolabAugment *aug)
{
    g_return_val_if_fail (aug != NULL, 0);
    return 2 + aug->n_local;
}

// ----------------------------------------------------------------------------
// one view

/* Runs the pipeline for view @v into @out (C x S x S floats). @px: S x S x C bytes;
 * @tmp: scratch floats (see scratch_floats_). */
static void
augment_view_ (const DinolabAugment *aug, const DinolabImage *img, guint64 epoch,
               guint64 index, int v, float *out, guint8 *px, float *tmp, DinolabAugmentLog *log)
{
    const int C = aug->channels;
    const gboolean global = v < 2;
    const int S = global ? aug->global_size : aug->local_size;
    const int n = S * S;
    const double *sigma = global ? aug->sigma_global : aug->sigma_local;
    double p_blur = aug->p_blur[MIN (v, 2)];
    DinolabRng rng;
    DinolabAugmentLog l = { 0 };

    _dinolab_augment_seed_view (&rng, aug->seed, epoch, index, (guint64) v);
    l.size = S;

    /* RandomResizedCrop */
    l.crop_fallback = _dinolab_augment_crop_params (&rng, img->width, img->height,
                                                    global ? aug->global_scale : aug->local_scale,
                                                    aug->ratio, &l.crop_x, &l.crop_y,
                                                    &l.crop_w, &l.crop_h);
    image_resize_bicubic (px, S, S, img->pixels, img->width, img->height, C,
                          l.crop_x, l.crop_y, l.crop_w, l.crop_h, tmp);

    /* RandomHorizontalFlip */
    if (dinolab_rng_uniform (&rng) < aug->p_flip) {
        l.flip = TRUE;
        _dinolab_augment_flip (px, S, C);
    }

    /* RandomApply(ColorJitter): get_params draws the order, then the four factors */
    if (dinolab_rng_uniform (&rng) <= aug->p_jitter) {
        int *order = l.jitter_order;
        l.jitter = TRUE;
        for (int i = 0; i < 4; i++)
            order[i] = i;
        for (int i = 3; i > 0; i--) {
            int j = randint_ (&rng, i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        l.brightness = uniform_ (&rng, aug->brightness[0], aug->brightness[1]);
        l.contrast = uniform_ (&rng, aug->contrast[0], aug->contrast[1]);
        l.saturation = uniform_ (&rng, aug->saturation[0], aug->saturation[1]);
        l.hue = uniform_ (&rng, aug->hue[0], aug->hue[1]);
        for (int i = 0; i < 4; i++) {
            switch (order[i]) {
            case AUGMENT_JITTER_BRIGHTNESS:
                _dinolab_augment_brightness (px, n, C, (float) l.brightness);
                break;
            case AUGMENT_JITTER_CONTRAST:
                _dinolab_augment_contrast (px, n, C, (float) l.contrast);
                break;
            case AUGMENT_JITTER_SATURATION:
                _dinolab_augment_saturation (px, n, C, (float) l.saturation);
                break;
            default:
                _dinolab_augment_hue (px, n, C, l.hue);
                break;
            }
        }
    }

    /* RandomGrayscale (drawn also for C = 1, where it changes nothing) */
    if (dinolab_rng_uniform (&rng) < aug->p_gray) {
        l.gray = TRUE;
        _dinolab_augment_grayscale (px, n, C);
    }

    /* GaussianBlur: DINO's utils.GaussianBlur draws `random() <= p`, then sigma */
    if (dinolab_rng_uniform (&rng) <= p_blur) {
        l.blur = TRUE;
        l.sigma = uniform_ (&rng, sigma[0], sigma[1]);
        if (l.sigma > 0.0)
            _dinolab_augment_blur (px, S, C, l.sigma, tmp);
    }

    /* Solarization, second global view only */
    if (v == 1 && dinolab_rng_uniform (&rng) < aug->p_solarize) {
        l.solarize = TRUE;
        _dinolab_augment_solarize (px, n, C);
    }

    /* ToTensor + Normalize: interleaved bytes to planar floats */
    for (int c = 0; c < C; c++) {
        const float *lut = aug->lut[c];
        float *plane = out + (size_t) c * n;
        for (int i = 0; i < n; i++)
            plane[i] = lut[px[(size_t) i * C + c]];
    }
    if (log != NULL)
        *log = l;
}

/* Floats of scratch one call needs: the resize's h x S x C intermediate (h <= H), or
 * the blur's S x S x C pass plus its kernel, whichever is larger. */
static size_t
scratch_floats_ (const DinolabAugment *aug, int H)
{
    int S = MAX (aug->global_size, aug->local_size);
    double smax = MAX (aug->sigma_global[1], aug->sigma_local[1]);
    size_t resize = (size_t) H * S * aug->channels;
    size_t blur = (size_t) S * S * aug->channels + 2 * (size_t) ceil (3.0 * smax) + 3;
    return MAX (resize, blur);
}

void
_dinolab_augment_views_logged (const DinolabAugment *aug,
                               const DinolabImage   *img,
                               guint64               epoch,
                               guint64               index,
                               float *const         *views,
                               DinolabAugmentLog    *log,
                               guint8 *const        *pixels)
{
    int S = MAX (aug->global_size, aug->local_size);
    size_t npx = (size_t) S * S * aug->channels;
    size_t nf = scratch_floats_ (aug, img->height);
    /* one block: floats first (aligned), then the view's bytes */
    float *tmp = g_malloc (nf * sizeof (float) + npx);
    guint8 *px = (guint8 *) (tmp + nf);

    for (int v = 0; v < 2 + aug->n_local; v++) {
        int Sv = v < 2 ? aug->global_size : aug->local_size;
        augment_view_ (aug, img, epoch, index, v, views[v], px, tmp, log ? &log[v] : NULL);
        if (pixels != NULL && pixels[v] != NULL)
            memcpy (pixels[v], px, (size_t) Sv * Sv * aug->channels);
    }
    g_free (tmp);
}

void
dinolab_augment_views (const DinolabAugment *aug,
                       const DinolabImage   *img,
                       guint64               epoch,
                       guint64               index,
                       float *const         *views)
{
    g_return_if_fail (aug != NULL);
    g_return_if_fail (img != NULL && img->pixels != NULL);
    g_return_if_fail (img->width > 0 && img->height > 0);
    g_return_if_fail (img->channels == aug->channels);
    g_return_if_fail (views != NULL);

    _dinolab_augment_views_logged (aug, img, epoch, index, views, NULL, NULL);
}
