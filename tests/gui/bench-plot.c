/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-plot.c: how long DinolabPlot takes to redraw long series, the figure
 * behind "1,000,000 points redraw in under 16 ms". It draws into a
 * 1000 x 600 Cairo image surface through dinolab_plot_draw() (the code the
 * widget's snapshot runs) and prints the median of repeated draws for: one
 * series of 1,000,000 points; four such series; one series zoomed to a
 * tenth; and one series with EMA smoothing on (raw + smoothed curves). It
 * needs a display for GTK (meson runs it under xvfb-run) and checks nothing:
 * it prints figures and exits 0.
 */
#define G_LOG_DOMAIN "bench-plot"

#include "config.h"

#include <math.h>
#include <stdio.h>

#include <gtk/gtk.h>

#include "dinolab-plot.h"

#define N_POINTS 1000000
#define WIDTH    1000
#define HEIGHT   600
#define N_REPEAT 31

static int
compare_doubles (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* A loss-like random walk of N_POINTS, seeded. Returns a new reference;
 * adds the time append_many took to *@append_ms. */
static DinolabPlotSeries *
make_series (guint seed, double *append_ms)
{
    DinolabPlotSeries *series = dinolab_plot_series_new ("series");
    double *x = g_new (double, N_POINTS);
    double *epoch = g_new (double, N_POINTS);
    double *wall = g_new (double, N_POINTS);
    double *y = g_new (double, N_POINTS);
    GRand *rand = g_rand_new_with_seed (seed);
    double level = 5.0;
    gint64 start;
    guint i;

    for (i = 0; i < N_POINTS; i++) {
        x[i] = i;
        epoch[i] = i / 1000.0;
        wall[i] = i * 0.01;
        level += g_rand_double_range (rand, -0.01, 0.01) - 3e-6;
        y[i] = level + 0.2 * g_rand_double (rand);
    }
    start = g_get_monotonic_time ();
    dinolab_plot_series_append_many (series, x, epoch, wall, y, N_POINTS);
    *append_ms += (g_get_monotonic_time () - start) / 1000.0;
    g_rand_free (rand);
    g_free (x);
    g_free (epoch);
    g_free (wall);
    g_free (y);
    return series;
}

/* Median milliseconds of N_REPEAT draws of @plot (after one warm-up). */
static double
median_draw_ms (DinolabPlot *plot)
{
    cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, WIDTH, HEIGHT);
    double times[N_REPEAT];
    int r;

    for (r = -1; r < N_REPEAT; r++) {
        cairo_t *cr = cairo_create (surface);
        gint64 start;

        cairo_set_operator (cr, CAIRO_OPERATOR_CLEAR);
        cairo_paint (cr);
        cairo_set_operator (cr, CAIRO_OPERATOR_OVER);
        start = g_get_monotonic_time ();
        dinolab_plot_draw (plot, cr, WIDTH, HEIGHT);
        cairo_surface_flush (surface);
        if (r >= 0)
            times[r] = (g_get_monotonic_time () - start) / 1000.0;
        g_assert (cairo_status (cr) == CAIRO_STATUS_SUCCESS);
        cairo_destroy (cr);
    }
    cairo_surface_destroy (surface);
    qsort (times, N_REPEAT, sizeof times[0], compare_doubles);
    return times[N_REPEAT / 2];
}

int
main (int argc, char **argv)
{
    DinolabPlot *plot;
    DinolabPlotSeries *series[4];
    double append_ms = 0.0;
    int i;

    gtk_init ();
    plot = DINOLAB_PLOT (g_object_ref_sink (dinolab_plot_new ()));

    for (i = 0; i < 4; i++)
        series[i] = make_series (i + 1, &append_ms);
    append_ms /= 4;

    printf ("# DinolabPlot redraw into a %dx%d image surface, median of %d\n", WIDTH, HEIGHT, N_REPEAT);
    printf ("append %d points (append_many):      %7.2f ms\n", N_POINTS, append_ms);

    dinolab_plot_add_series (plot, series[0]);
    printf ("1 series x %d points:               %7.2f ms\n", N_POINTS, median_draw_ms (plot));

    dinolab_plot_set_view (plot, 450000, 550000, 0, 10);
    printf ("1 series, zoomed to 100000 points:        %7.2f ms\n", median_draw_ms (plot));
    dinolab_plot_reset_view (plot);

    dinolab_plot_set_smoothing (plot, 0.9);
    printf ("1 series, EMA on (raw + smoothed):        %7.2f ms\n", median_draw_ms (plot));
    dinolab_plot_set_smoothing (plot, 0.0);

    for (i = 1; i < 4; i++)
        dinolab_plot_add_series (plot, series[i]);
    printf ("4 series x %d points:               %7.2f ms\n", N_POINTS, median_draw_ms (plot));

    for (i = 0; i < 4; i++)
        g_object_unref (series[i]);
    g_object_unref (plot);
    return 0;
}
