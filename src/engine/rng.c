/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * rng.c: xoshiro256** (Blackman and Vigna) seeded with splitmix64. The stream id is
 * mixed into the seed so that streams for different purposes never overlap in practice.
 */
#include <math.h>

#include "dinolab/rng.h"

static guint64
splitmix64_ (guint64 *x)
{
    guint64 z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline guint64
rotl_ (guint64 x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void
dinolab_rng_seed (DinolabRng *rng, guint64 seed, guint64 stream)
{
    guint64 x = seed ^ (0xd1b54a32d192ed03ULL * (stream + 1));
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64_ (&x);
}

guint64
dinolab_rng_next (DinolabRng *rng)
{
    guint64 *s = rng->s;
    guint64 result = rotl_ (s[1] * 5, 7) * 9;
    guint64 t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl_ (s[3], 45);
    return result;
}

double
dinolab_rng_uniform (DinolabRng *rng)
{
    return (double) (dinolab_rng_next (rng) >> 11) * 0x1.0p-53;
}

double
dinolab_rng_normal (DinolabRng *rng)
{
    double u1 = 1.0 - dinolab_rng_uniform (rng); /* (0, 1]: log is finite */
    double u2 = dinolab_rng_uniform (rng);
    return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}
