/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * augment-private.h: the inside of the multi-crop augmentation, shared by augment.c,
 * the `crops` contact sheet of dinolab-cli and tests/test-augment.c.
 *
 * It exposes three things the public data.h does not: the struct body (so a test can
 * change an operation's probability, e.g. turn jitter off to check the resize path),
 * a log of what each view went through (which ops fired, with their draws, for the
 * contact sheet labels and the probability tests), and the single 8-bit operations,
 * so each can be checked against its formula on a tiny image. Nothing here is part of
 * the engine's contract; the trainer uses only data.h.
 *
 * Images here are 8-bit, channel-interleaved: n pixels x C (C = 1 or 3).
 */
#pragma once

#include <glib.h>

#include "dinolab/data.h"
#include "dinolab/rng.h"

G_BEGIN_DECLS

#define AUGMENT_MAX_CHANNELS 3

/* Operation codes of ColorJitter's random order (torchvision's fn_idx). */
enum {
    AUGMENT_JITTER_BRIGHTNESS,
    AUGMENT_JITTER_CONTRAST,
    AUGMENT_JITTER_SATURATION,
    AUGMENT_JITTER_HUE,
};

struct DinolabAugment {
    int     channels;
    int     global_size, local_size, n_local;
    double  global_scale[2], local_scale[2];  /* area fractions (lo, hi) */
    double  ratio[2];                         /* aspect ratio range, (3/4, 4/3) */
    guint64 seed;
    float   mean[AUGMENT_MAX_CHANNELS], std[AUGMENT_MAX_CHANNELS];
    float   lut[AUGMENT_MAX_CHANNELS][256];   /* (v / 255 - mean) / std, as ToTensor + Normalize */
    /* probabilities: the reference's (DINO.md 3); tests may change them */
    double  p_flip, p_jitter, p_gray, p_solarize;
    double  p_blur[3];                        /* view 0, view 1, every local view */
    /* ColorJitter ranges: brightness, contrast, saturation factors; hue shift */
    double  brightness[2], contrast[2], saturation[2], hue[2];
    /* blur sigma ranges in output pixels, already scaled to the crop sizes */
    double  sigma_global[2], sigma_local[2];
};

/* What happened to one view (filled by _dinolab_augment_views_logged). */
typedef struct {
    int      size;                       /* S: side of the view */
    int      crop_x, crop_y, crop_w, crop_h; /* RandomResizedCrop box in the source image */
    gboolean crop_fallback;              /* the 10 tries failed: centre crop */
    gboolean flip;
    gboolean jitter;
    int      jitter_order[4];            /* AUGMENT_JITTER_* in the order applied */
    double   brightness, contrast, saturation, hue; /* factors drawn (when jitter) */
    gboolean gray;                       /* drawn TRUE (no effect on 1-channel images) */
    gboolean blur;
    double   sigma;                      /* blur sigma in output pixels (when blur) */
    gboolean solarize;
} DinolabAugmentLog;

/* dinolab_augment_views() that also fills @log[v] for every view (may be NULL) and, if
 * @pixels is not NULL, copies each view's final 8-bit image (S x S x C, before
 * normalisation) to @pixels[v]. */
void _dinolab_augment_views_logged (const DinolabAugment *aug,
                                    const DinolabImage   *img,
                                    guint64               epoch,
                                    guint64               index,
                                    float *const         *views,
                                    DinolabAugmentLog    *log,
                                    guint8 *const        *pixels);

/* The random stream of view @view of item @index in @epoch. */
void _dinolab_augment_seed_view (DinolabRng *rng, guint64 seed, guint64 epoch, guint64 index,
                                 guint64 view);

/* torchvision 0.8 RandomResizedCrop.get_params on a W x H image: writes the box
 * (x, y, w, h); returns TRUE when the ten tries failed and the centre crop was used. */
gboolean _dinolab_augment_crop_params (DinolabRng *rng, int W, int H, const double scale[2],
                                       const double ratio[2], int *x, int *y, int *w, int *h);

/* The 8-bit operations, in place on @n pixels of @C channels (PIL semantics). */
void _dinolab_augment_flip       (guint8 *img, int S, int C);             /* S x S mirror */
void _dinolab_augment_brightness (guint8 *img, int n, int C, float factor);
void _dinolab_augment_contrast   (guint8 *img, int n, int C, float factor);
void _dinolab_augment_saturation (guint8 *img, int n, int C, float factor); /* no-op for C = 1 */
void _dinolab_augment_hue        (guint8 *img, int n, int C, double factor); /* no-op for C = 1 */
void _dinolab_augment_grayscale  (guint8 *img, int n, int C);              /* no-op for C = 1 */
void _dinolab_augment_solarize   (guint8 *img, int n, int C);
/* Exact Gaussian blur of an S x S image; @tmp >= S * S * C + 2 * ceil(3 sigma) + 1 floats. */
void _dinolab_augment_blur       (guint8 *img, int S, int C, double sigma, float *tmp);
/* PIL's "L" of one RGB pixel: (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
int  _dinolab_augment_luma       (const guint8 *rgb);

G_END_DECLS
