/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * image.h: private 8-bit image resampling shared by the datasets (evaluation view)
 * and the multi-crop augmentation (random resized crop).
 *
 * The resampler is PIL's BICUBIC (Pillow's Resample.c): cubic convolution with
 * a = -0.5, and when shrinking the kernel is stretched by the shrink factor (support
 * 2 * scale), which is PIL's antialiasing and what torchvision's resize does on PIL
 * images. It is separable: a horizontal pass into a float scratch, then a vertical
 * pass rounded (half up, as PIL) and clamped to 0..255. The intermediate lives in
 * the float scratch but is rounded and clamped to 0..255, as Pillow's 8-bit
 * intermediate image is; with float weights instead of Pillow's fixed point the
 * result differs from PIL's by at most one level (the tests hold it to PIL's output).
 *
 * A sub-rectangle is treated as if it had been cut out first (torchvision's
 * resized_crop = crop, then resize): pixels outside it never contribute, and the
 * kernel is clamped at its edges, exactly as for a whole image. Integer coordinates
 * only. Nothing here allocates: callers pass the scratch, so these can run in the
 * loader's hot path.
 *
 * Not here: decoding (dataset*.c, gdk-pixbuf), colour operations (augment.c).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* image_resize_bicubic:
 * Resamples the sub-rectangle (@x0, @y0, @w, @h) of @src (@H x @W x @C uint8,
 * channel-interleaved, rows of @W * @C bytes) to @dst (@dh x @dw x @C, uint8, rows of
 * @dw * @C bytes). The rectangle must lie inside the image and all sizes be >= 1.
 * @tmp: scratch of at least @h * @dw * @C floats (contents ignored and overwritten).
 * Resizing to the same size is an exact copy. */
void image_resize_bicubic        (guint8       *dst,
                                  int           dw,
                                  int           dh,
                                  const guint8 *src,
                                  int           W,
                                  int           H,
                                  int           C,
                                  int           x0,
                                  int           y0,
                                  int           w,
                                  int           h,
                                  float        *tmp);

/* image_resize_bicubic_window:
 * Same resampling, but computes only the window (@ox, @oy, @ow, @oh) of the
 * @dw x @dh result (the window must lie inside it) and writes it to @dst (@oh x @ow x
 * @C, rows of @ow * @C bytes). Equal, pixel for pixel, to resizing in full and then
 * cropping, without paying for the pixels cropped away: resize + centre crop of the
 * evaluation view. @tmp: at least @h * @ow * @C floats. */
void image_resize_bicubic_window (guint8       *dst,
                                  int           ox,
                                  int           oy,
                                  int           ow,
                                  int           oh,
                                  int           dw,
                                  int           dh,
                                  const guint8 *src,
                                  int           W,
                                  int           H,
                                  int           C,
                                  int           x0,
                                  int           y0,
                                  int           w,
                                  int           h,
                                  float        *tmp);

G_END_DECLS
