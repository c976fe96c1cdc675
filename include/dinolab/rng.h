/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * rng.h: small, reproducible random streams (xoshiro256**, seeded through splitmix64).
 * A stream is a pure function of (seed, stream id), so the same seed gives the same
 * weights, drop-path masks and augmentations whatever the thread timing. Not for
 * cryptography. The struct is public so streams live on the stack or inside other
 * structs with no allocation.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    guint64 s[4];
} DinolabRng;

/* Seeds @rng from @seed and an independent @stream id (e.g. a purpose tag or an item index). */
void    dinolab_rng_seed    (DinolabRng *rng, guint64 seed, guint64 stream);
/* Next 64 random bits. */
guint64 dinolab_rng_next    (DinolabRng *rng);
/* Uniform double in [0, 1) with 53 random bits. */
double  dinolab_rng_uniform (DinolabRng *rng);
/* Standard normal N(0, 1) (Box-Muller; uses two uniforms per call, no cached state). */
double  dinolab_rng_normal  (DinolabRng *rng);

G_END_DECLS
