/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-util.h: small helpers shared by the engine tests (header-only).
 * check_tensor() compares against an independent computation and prints the max
 * difference and the first mismatches, as llm.c's test does.
 */
#pragma once

#include <glib.h>
#include <math.h>
#include <stdio.h>

/* Mixed tolerance: |got - want| <= tol * max(1, |want|). Returns TRUE when all match. */
static inline gboolean
check_tensor (const char *label, const float *got, const float *want, size_t n, double tol)
{
    double max_diff = 0.0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs ((double) got[i] - (double) want[i]);
        double scale = fmax (1.0, fabs ((double) want[i]));
        if (!(d <= tol * scale)) { /* also catches NaN */
            if (bad < 5)
                g_test_message ("%s[%zu]: got %.9g want %.9g (diff %.3g) NOT OK",
                                label, i, got[i], want[i], d);
            bad++;
        }
        if (d > max_diff || isnan (d))
            max_diff = d;
    }
    g_test_message ("%s: %zu values, max diff %.3g, %zu over tolerance %.1g",
                    label, n, max_diff, bad, tol);
    return bad == 0;
}

#define assert_tensor(label, got, want, n, tol) \
    g_assert_true (check_tensor ((label), (got), (want), (n), (tol)))

/* Deterministic pseudo-random fill in [-scale, scale), for test inputs only. */
static inline void
fill_uniform (float *x, size_t n, guint32 seed, float scale)
{
    GRand *r = g_rand_new_with_seed (seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float) g_rand_double_range (r, -scale, scale);
    g_rand_free (r);
}
