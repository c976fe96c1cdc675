/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * test-plot.c: the plot widget and its two helpers. The axis code is checked
 * against hand-computed ticks and mappings; the series' EMA against the
 * closed-form weighted mean; its min/max decimation against a brute-force
 * envelope over every point; the widget on a real X server (Xvfb): three
 * series drawn in a window (screenshots, and pixels of each series' colour
 * must exist), a spike among a million points that must survive decimation,
 * log scale with zeros and negatives, zoom through the function the drag
 * gesture calls and reset, and export to PNG, SVG and PDF. It does not test
 * the trainer that feeds the plots.
 *
 * Screenshots go to $DINOLAB_SCREENSHOT_DIR (meson: build/tests/gui/
 * screenshots/) for a person to look at. Needs GDK_BACKEND=x11,
 * GTK_A11Y=none, GSK_RENDERER=cairo (meson sets them).
 */
#define G_LOG_DOMAIN "test-plot"

#include "config.h"

#include <locale.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <adwaita.h>

#include "dinolab-plot.h"

#include "gui-test-util.h"

// ---- pixels ----------------------------------------------------------------------

/* Saves @widget as <shot_dir>/<name>.png and downloads its pixels. */
static void
take_screenshot (GtkWidget *widget, const char *name, Shot *out)
{
    save_screenshot (widget, "", name, 1, out);
}

/* Pixels within @tol of the colour @hex in the rectangle (x0,y0)-(x1,y1);
 * a rectangle of -1 means the whole image. */
static guint
count_colour (const Shot *p, const char *hex, int tol, int x0, int y0, int x1, int y1)
{
    GdkRGBA rgba;
    int r, g, b, x, y;
    guint n = 0;

    g_assert_true (gdk_rgba_parse (&rgba, hex));
    r = (int) lround (rgba.red * 255);
    g = (int) lround (rgba.green * 255);
    b = (int) lround (rgba.blue * 255);
    if (x0 < 0) {
        x0 = 0; y0 = 0; x1 = p->width; y1 = p->height;
    }
    for (y = MAX (y0, 0); y < MIN (y1, p->height); y++) {
        const guchar *row = p->data + y * p->stride;
        for (x = MAX (x0, 0); x < MIN (x1, p->width); x++)
            if (abs (row[4 * x + 2] - r) <= tol && abs (row[4 * x + 1] - g) <= tol
                && abs (row[4 * x] - b) <= tol && row[4 * x + 3] == 255)
                n++;
    }
    return n;
}

// ---- the axis --------------------------------------------------------------------

static void
test_axis_nice_step (void)
{
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_nice_step (1.0, 5), 0.2, 1e-12);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_nice_step (10.0, 5), 2.0, 1e-12);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_nice_step (15.9, 4), 5.0, 1e-12);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_nice_step (0.037, 4), 0.01, 1e-15);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_nice_step (7e6, 5), 2e6, 1e-6);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_nice_step (100.0, 10), 10.0, 1e-12);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_nice_step (101.0, 10), 20.0, 1e-12);
}

static void
assert_ticks (const DinolabPlotAxis *axis, int max_ticks, const double *want, guint n_want)
{
    double ticks[DINOLAB_PLOT_AXIS_MAX_TICKS];
    double step;
    guint n, i;

    n = dinolab_plot_axis_ticks (axis, max_ticks, ticks, &step);
    g_assert_cmpuint (n, ==, n_want);
    for (i = 0; i < n; i++)
        g_assert_cmpfloat_with_epsilon (ticks[i], want[i], 1e-9 * MAX (1.0, fabs (want[i])));
}

static void
test_axis_ticks (void)
{
    DinolabPlotAxis axis;
    char buf[32];
    /* arbitrary ranges: every tick is a multiple of a 1-2-5 step, inside */
    static const double ranges[][2] = {
        { 0, 1 }, { -3.7, 12.2 }, { 0.0013, 0.0071 }, { 9.9, 10.1 }, { -1e7, 3e7 },
        { 0.69, 2.3 }, { 1234, 1240 }, { -0.5, -0.49 }, { 0, 1e6 }, { 4.6, 6.3 },
    };
    guint r;

    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, 0, 1);
    assert_ticks (&axis, 6, (double[]) { 0, 0.2, 0.4, 0.6, 0.8, 1.0 }, 6);
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, -3.7, 12.2);
    assert_ticks (&axis, 5, (double[]) { 0, 5, 10 }, 3);
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, 0.0013, 0.0071);
    assert_ticks (&axis, 6, (double[]) { 0.002, 0.004, 0.006 }, 3);
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, 0, 60000);
    assert_ticks (&axis, 7, (double[]) { 0, 10000, 20000, 30000, 40000, 50000, 60000 }, 7);
    /* a short axis (two ticks) is labelled to its top, not cut off after 1, 2 */
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, 0.6, 4.4);
    assert_ticks (&axis, 2, (double[]) { 2, 4 }, 2);

    for (r = 0; r < G_N_ELEMENTS (ranges); r++) {
        double ticks[DINOLAB_PLOT_AXIS_MAX_TICKS], step, mantissa;
        int max_ticks;

        for (max_ticks = 2; max_ticks <= 12; max_ticks++) {
            guint n, i;

            dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, ranges[r][0], ranges[r][1]);
            n = dinolab_plot_axis_ticks (&axis, max_ticks, ticks, &step);
            g_assert_cmpuint (n, >=, 2);
            g_assert_cmpuint (n, <=, (guint) max_ticks);
            mantissa = step / pow (10.0, floor (log10 (step) + 1e-12));
            g_assert_true (fabs (mantissa - 1) < 1e-9 || fabs (mantissa - 2) < 1e-9
                           || fabs (mantissa - 5) < 1e-9);
            for (i = 0; i < n; i++) {
                double k = ticks[i] / step;
                g_assert_cmpfloat (fabs (k - round (k)), <, 1e-6);
                g_assert_cmpfloat (ticks[i], >=, axis.min - 1e-9 * step);
                g_assert_cmpfloat (ticks[i], <=, axis.max + 1e-9 * step);
                if (i > 0)
                    g_assert_cmpfloat_with_epsilon (ticks[i] - ticks[i - 1], step, 1e-6 * step);
                dinolab_plot_axis_format (ticks[i], step, buf, sizeof buf);
                g_assert_false (g_str_has_prefix (buf, "-0") && strspn (buf + 1, "0.") == strlen (buf + 1));
                g_assert_null (strstr (buf, "0000001"));  /* no float noise in labels */
            }
        }
    }

    g_assert_cmpstr (dinolab_plot_axis_format (0.2, 0.2, buf, sizeof buf), ==, "0.2");
    g_assert_cmpstr (dinolab_plot_axis_format (0.25, 0.05, buf, sizeof buf), ==, "0.25");
    g_assert_cmpstr (dinolab_plot_axis_format (100, 50, buf, sizeof buf), ==, "100");
    g_assert_cmpstr (dinolab_plot_axis_format (-0.0, 1, buf, sizeof buf), ==, "0");
    g_assert_cmpstr (dinolab_plot_axis_format (0.3, 0.1, buf, sizeof buf), ==, "0.3");
    g_assert_cmpstr (dinolab_plot_axis_format (1e-5, 0, buf, sizeof buf), ==, "1e-05");

    /* degenerate ranges grow instead of dividing by zero */
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, 3, 3);
    g_assert_cmpfloat (axis.min, <, 3);
    g_assert_cmpfloat (axis.max, >, 3);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_map (&axis, 3), 0.5, 1e-12);
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, NAN, 1);
    g_assert_true (isfinite (axis.min) && axis.min < axis.max);
}

static void
test_axis_log (void)
{
    DinolabPlotAxis axis;
    double ticks[DINOLAB_PLOT_AXIS_MAX_TICKS];
    double step = -1;
    guint n;

    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LOG, 1, 1000);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_map (&axis, 10), 1.0 / 3.0, 1e-12);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_map (&axis, 1000), 1.0, 1e-12);
    g_assert_cmpfloat_with_epsilon (dinolab_plot_axis_unmap (&axis, 2.0 / 3.0), 100.0, 1e-9);
    g_assert_true (isnan (dinolab_plot_axis_map (&axis, 0)));
    g_assert_true (isnan (dinolab_plot_axis_map (&axis, -2)));
    g_assert_true (isnan (dinolab_plot_axis_map (&axis, NAN)));

    assert_ticks (&axis, 12, (double[]) { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 }, 10);
    n = dinolab_plot_axis_ticks (&axis, 12, ticks, &step);
    g_assert_cmpfloat (step, ==, 0.0);  /* labels use %g */
    g_assert_cmpuint (n, ==, 10);
    assert_ticks (&axis, 5, (double[]) { 1, 10, 100, 1000 }, 4);

    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LOG, 1e-6, 1e3);
    assert_ticks (&axis, 6, (double[]) { 1e-6, 1e-4, 1e-2, 1, 1e2 }, 5);
    /* six decades on a short axis: the end decades, not crowded linear values */
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LOG, 1e-6, 1);
    assert_ticks (&axis, 2, (double[]) { 1e-6, 1 }, 2);

    /* less than a decade: linear steps, still placed by log10 */
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LOG, 2.2, 2.9);
    n = dinolab_plot_axis_ticks (&axis, 6, ticks, &step);
    g_assert_cmpuint (n, >=, 2);
    g_assert_cmpfloat_with_epsilon (step, 0.2, 1e-12);

    /* non-positive bounds are repaired: a decade below the positive one */
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LOG, -5, 100);
    g_assert_cmpfloat_with_epsilon (axis.min, 10, 1e-12);
    g_assert_cmpfloat_with_epsilon (axis.max, 100, 1e-12);
    dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LOG, -5, 0);
    g_assert_cmpfloat (axis.min, >, 0);
    g_assert_cmpfloat (axis.min, <, axis.max);
}

// ---- the series --------------------------------------------------------------------

static void
test_series_smoothing (void)
{
    g_autoptr(DinolabPlotSeries) series = dinolab_plot_series_new ("loss");
    const double w = 0.8;
    GRand *rand = g_rand_new_with_seed (7);
    double y[300];
    const double *s;
    double max_err = 0;
    guint i, j;

    for (i = 0; i < G_N_ELEMENTS (y); i++)
        y[i] = (i == 17 || i == 150) ? NAN : g_rand_double_range (rand, -1, 3);
    g_rand_free (rand);

    /* half now, the rest after a first smoothing: the cache must extend */
    for (i = 0; i < 100; i++)
        dinolab_plot_series_append (series, i, i / 10.0, i * 0.5, y[i]);
    s = dinolab_plot_series_get_smoothed (series, w);
    g_assert_nonnull (s);
    for (; i < G_N_ELEMENTS (y); i++)
        dinolab_plot_series_append (series, i, i / 10.0, i * 0.5, y[i]);
    s = dinolab_plot_series_get_smoothed (series, w);

    /* closed form: s_i = sum_j w^(m-k_j) (1-w) y_j / (1 - w^m) over the m
     * finite values up to i (k_j = rank of y_j among them, 1-based) */
    for (i = 0; i < G_N_ELEMENTS (y); i++) {
        double num = 0, m = 0, rank = 0;
        if (isnan (y[i])) {
            g_assert_true (isnan (s[i]));
            continue;
        }
        for (j = 0; j <= i; j++)
            if (isfinite (y[j]))
                m++;
        for (j = 0; j <= i; j++) {
            if (!isfinite (y[j]))
                continue;
            rank++;
            num += pow (w, m - rank) * (1 - w) * y[j];
        }
        max_err = MAX (max_err, fabs (s[i] - num / (1 - pow (w, m))));
    }
    g_test_message ("EMA: max |cached - closed form| = %.3g", max_err);
    g_assert_cmpfloat (max_err, <, 1e-12);
    g_assert_cmpfloat (s[0], ==, y[0]);  /* debiased: starts at the first value */

    /* weight 0 is y itself; a new weight recomputes */
    g_assert_true (dinolab_plot_series_get_smoothed (series, 0) == dinolab_plot_series_get_y (series));
    s = dinolab_plot_series_get_smoothed (series, 0.5);
    g_assert_cmpfloat_with_epsilon (s[1], (0.5 * 0.5 * y[0] + 0.5 * y[1]) / 0.75, 1e-12);
}

/* The envelope of every column by a plain loop over all points. */
static void
brute_force_envelope (const double *x, const double *y, guint n, const DinolabPlotAxis *axis,
                      gboolean skip_nonpositive, DinolabPlotColumn *cols, guint n_cols)
{
    guint i;

    memset (cols, 0, n_cols * sizeof *cols);
    for (i = 0; i < n; i++) {
        double t = (x[i] - axis->min) / (axis->max - axis->min);
        guint c;
        if (t < 0 || t >= 1 || !isfinite (y[i]) || (skip_nonpositive && y[i] <= 0))
            continue;
        c = (guint) (t * n_cols);
        if (cols[c].n == 0) {
            cols[c].min = cols[c].max = cols[c].first = y[i];
        }
        cols[c].min = MIN (cols[c].min, y[i]);
        cols[c].max = MAX (cols[c].max, y[i]);
        cols[c].last = y[i];
        cols[c].n++;
    }
}

static void
test_series_decimate (void)
{
    const guint n = 200000, n_cols = 997;  /* not a divisor: columns hold 200 or 201 points */
    g_autoptr(DinolabPlotSeries) series = dinolab_plot_series_new ("noise");
    g_autofree double *x = g_new (double, n);
    g_autofree double *y = g_new (double, n);
    g_autofree DinolabPlotColumn *got = g_new (DinolabPlotColumn, n_cols);
    g_autofree DinolabPlotColumn *want = g_new (DinolabPlotColumn, n_cols);
    GRand *rand = g_rand_new_with_seed (42);
    static const double views[][2] = { { 0, 200000 }, { 12345.6, 54321.2 }, { -50, 10 }, { 199990, 300000 } };
    guint i, v, c, n_extremes = 0;
    int before, after;

    for (i = 0; i < n; i++) {
        x[i] = i + 0.5;  /* never on a column boundary */
        y[i] = g_rand_double_range (rand, -1, 1);
        if (g_rand_int_range (rand, 0, 1000) == 0)
            y[i] = g_rand_double_range (rand, -100, 100);  /* rare spikes must survive */
        if (g_rand_int_range (rand, 0, 5000) == 0)
            y[i] = NAN;
    }
    g_rand_free (rand);
    dinolab_plot_series_append_many (series, x, NULL, NULL, y, n);

    for (v = 0; v < G_N_ELEMENTS (views); v++) {
        gboolean log_mode;
        for (log_mode = FALSE; log_mode <= TRUE; log_mode++) {
            DinolabPlotAxis axis;
            dinolab_plot_axis_init (&axis, DINOLAB_PLOT_SCALE_LINEAR, views[v][0], views[v][1]);
            dinolab_plot_series_decimate (series, DINOLAB_PLOT_X_STEP, dinolab_plot_series_get_y (series),
                                          &axis, log_mode, got, n_cols, &before, &after);
            brute_force_envelope (x, y, n, &axis, log_mode, want, n_cols);
            for (c = 0; c < n_cols; c++) {
                g_assert_cmpuint (got[c].n, ==, want[c].n);
                if (want[c].n == 0)
                    continue;
                g_assert_cmpfloat (got[c].min, ==, want[c].min);
                g_assert_cmpfloat (got[c].max, ==, want[c].max);
                g_assert_cmpfloat (got[c].first, ==, want[c].first);
                g_assert_cmpfloat (got[c].last, ==, want[c].last);
                if (log_mode)
                    g_assert_cmpfloat (got[c].min, >, 0);
                if (fabs (want[c].max) > 1 || fabs (want[c].min) > 1)
                    n_extremes++;
            }
            /* neighbours outside the view, for lines running to the frame */
            if (views[v][0] > 0.5 && isfinite (y[(guint) ceil (views[v][0] - 0.5) - 1])
                && !(log_mode && y[(guint) ceil (views[v][0] - 0.5) - 1] <= 0))
                g_assert_cmpint (before, ==, (int) ceil (views[v][0] - 0.5) - 1);
            if (views[v][1] < n)
                g_assert_cmpint (after, >=, -1);
            else
                g_assert_cmpint (after, ==, -1);
        }
    }
    g_test_message ("decimation: %u columns with a spike, all kept", n_extremes);
    g_assert_cmpuint (n_extremes, >, 100);

    /* the nearest point by x */
    g_assert_cmpint (dinolab_plot_series_nearest (series, DINOLAB_PLOT_X_STEP, 1000.9), ==, 1000);
    g_assert_cmpint (dinolab_plot_series_nearest (series, DINOLAB_PLOT_X_STEP, -7), ==, 0);
    g_assert_cmpint (dinolab_plot_series_nearest (series, DINOLAB_PLOT_X_STEP, 1e9), ==, (int) n - 1);
}

// ---- the widget --------------------------------------------------------------------

/* A window holding one plot of @width x @height, shown and drawn. */
static GtkWidget *
show_plot (GtkWidget *plot, int width, int height, GtkWindow **window_out)
{
    GtkWindow *window = GTK_WINDOW (gtk_window_new ());

    gtk_window_set_default_size (window, width, height);
    gtk_window_set_decorated (window, FALSE);
    gtk_window_set_child (window, plot);
    gtk_window_present (window);
    WAIT_UNTIL (gtk_widget_get_mapped (plot), 5000);
    g_assert_true (gtk_widget_get_mapped (plot));
    gtk_test_widget_wait_for_draw (plot);
    *window_out = window;
    return plot;
}

/* Entropy-like, KL-like and loss-like curves over 2000 steps. */
static void
add_training_series (DinolabPlot *plot)
{
    g_autoptr(DinolabPlotSeries) entropy = dinolab_plot_series_new ("h(P_t)");
    g_autoptr(DinolabPlotSeries) kl = dinolab_plot_series_new ("KL(P_t || P_s)");
    g_autoptr(DinolabPlotSeries) loss = dinolab_plot_series_new ("loss");
    GRand *rand = g_rand_new_with_seed (1);
    guint i;

    for (i = 0; i < 2000; i++) {
        double t = i / 2000.0;
        double wall = i * 0.37;
        dinolab_plot_series_append (entropy, i, 4 * t, wall, log (4096) * (1 - 0.4 * t) + 0.05 * g_rand_double (rand));
        dinolab_plot_series_append (kl, i, 4 * t, wall, 3.0 * exp (-3 * t) + 0.3 * g_rand_double (rand));
        dinolab_plot_series_append (loss, i, 4 * t, wall, 2 + 6 * exp (-5 * t) + 0.6 * g_rand_double (rand));
    }
    g_rand_free (rand);
    dinolab_plot_add_series (plot, entropy);
    dinolab_plot_add_series (plot, kl);
    dinolab_plot_add_series (plot, loss);
    dinolab_plot_add_reference_line (plot, log (4096), "log K = 8.32");
    dinolab_plot_add_marker (plot, 1400, 2.8, 1400 * 0.37, "collapse");
}

static void
test_plot_window (void)
{
    static const char * const light[] = { "#1c71d8", "#e66100", "#26a269" };
    static const char * const dark[] = { "#62a0ea", "#ffa348", "#57e389" };
    GtkWidget *plot = dinolab_plot_new ();
    GtkWindow *window;
    graphene_rect_t area;
    Shot shot = { 0 };
    guint i;

    add_training_series (DINOLAB_PLOT (plot));
    dinolab_plot_set_smoothing (DINOLAB_PLOT (plot), 0.6);
    show_plot (plot, 800, 480, &window);
    g_assert_true (dinolab_plot_get_data_area (DINOLAB_PLOT (plot), &area));
    g_assert_cmpfloat (area.size.width, >, 600);
    g_assert_cmpfloat (area.size.height, >, 300);

    take_screenshot (GTK_WIDGET (window), "plot", &shot);
    for (i = 0; i < 3; i++) {
        guint n_light = count_colour (&shot, light[i], 10, -1, -1, -1, -1);
        guint n_dark = count_colour (&shot, dark[i], 10, -1, -1, -1, -1);
        g_test_message ("series %u: %u pixels of %s, %u of %s", i, n_light, light[i], n_dark, dark[i]);
        g_assert_cmpuint (MAX (n_light, n_dark), >, 150);  /* thin sloped lines: few exact pixels */
    }
    shot_clear (&shot);

    /* hover read-out in the middle */
    dinolab_plot_hover (DINOLAB_PLOT (plot), area.origin.x + area.size.width * 0.5,
                        area.origin.y + area.size.height * 0.5);
    take_screenshot (GTK_WIDGET (window), "plot-hover", &shot);
    shot_clear (&shot);
    dinolab_plot_hover (DINOLAB_PLOT (plot), -1, -1);

    /* the dark style takes the lighter palette */
    adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_FORCE_DARK);
    take_screenshot (GTK_WIDGET (window), "plot-dark", &shot);
    for (i = 0; i < 3; i++) {
        guint n_dark = count_colour (&shot, dark[i], 10, -1, -1, -1, -1);
        g_test_message ("dark style, series %u: %u pixels of %s", i, n_dark, dark[i]);
        g_assert_cmpuint (n_dark, >, 150);
        g_assert_cmpuint (count_colour (&shot, light[i], 10, -1, -1, -1, -1), <, 50);
    }
    shot_clear (&shot);
    adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);

    /* wall time on x: minutes for a 12-minute run */
    dinolab_plot_set_x_kind (DINOLAB_PLOT (plot), DINOLAB_PLOT_X_WALL);
    take_screenshot (GTK_WIDGET (window), "plot-wall-time", &shot);
    shot_clear (&shot);

    gtk_window_destroy (window);
}

static void
test_plot_zoom (void)
{
    GtkWidget *plot = dinolab_plot_new ();
    GtkWindow *window;
    graphene_rect_t area;
    double x0, x1, y0, y1, zx0, zx1, zy0, zy1;
    Shot shot = { 0 };

    add_training_series (DINOLAB_PLOT (plot));
    show_plot (plot, 800, 480, &window);
    g_assert_true (dinolab_plot_get_data_area (DINOLAB_PLOT (plot), &area));
    g_assert_false (dinolab_plot_get_view (DINOLAB_PLOT (plot), &x0, &x1, &y0, &y1));
    g_assert_cmpfloat (x0, ==, 0);     /* auto range: the data's x */
    g_assert_cmpfloat (x1, ==, 1999);

    /* the rectangle from 25 % to 50 % across and the top half, dragged
     * right-to-left and bottom-to-top: corners in any order */
    dinolab_plot_zoom_rect (DINOLAB_PLOT (plot),
                            area.origin.x + 0.50 * area.size.width, area.origin.y + 0.5 * area.size.height,
                            area.origin.x + 0.25 * area.size.width, area.origin.y);
    g_assert_true (dinolab_plot_get_view (DINOLAB_PLOT (plot), &zx0, &zx1, &zy0, &zy1));
    g_assert_cmpfloat_with_epsilon (zx0, x0 + 0.25 * (x1 - x0), 1e-9);
    g_assert_cmpfloat_with_epsilon (zx1, x0 + 0.50 * (x1 - x0), 1e-9);
    g_assert_cmpfloat_with_epsilon (zy0, y0 + 0.5 * (y1 - y0), 1e-9);
    g_assert_cmpfloat_with_epsilon (zy1, y1, 1e-9);
    take_screenshot (GTK_WIDGET (window), "plot-zoomed", &shot);
    shot_clear (&shot);

    /* a click-sized drag does nothing */
    dinolab_plot_zoom_rect (DINOLAB_PLOT (plot), area.origin.x + 10, area.origin.y + 10,
                            area.origin.x + 10, area.origin.y + 40);
    g_assert_true (dinolab_plot_get_view (DINOLAB_PLOT (plot), &x0, NULL, NULL, NULL));
    g_assert_cmpfloat (x0, ==, zx0);

    /* what double-click does */
    dinolab_plot_reset_view (DINOLAB_PLOT (plot));
    g_assert_false (dinolab_plot_get_view (DINOLAB_PLOT (plot), &x0, &x1, NULL, NULL));
    g_assert_cmpfloat (x0, ==, 0);
    g_assert_cmpfloat (x1, ==, 1999);
    gtk_window_destroy (window);
}

static void
test_plot_log (void)
{
    g_autoptr(DinolabPlotSeries) series = dinolab_plot_series_new ("lr");
    GtkWidget *plot = dinolab_plot_new ();
    GtkWindow *window;
    cairo_surface_t *surface;
    cairo_t *cr;
    double y0, y1;
    Shot shot = { 0 };
    guint i;

    /* a warm-up that starts at 0, a few negatives, then a cosine decay */
    for (i = 0; i < 500; i++) {
        double y = i < 50 ? 1e-3 * i / 50.0 : 1e-6 + 0.5e-3 * (1 + cos (G_PI * (i - 50) / 450.0));
        if (i % 97 == 5)
            y = -1e-4;
        dinolab_plot_series_append (series, i, i / 100.0, i, y);
    }
    g_assert_cmpuint (dinolab_plot_series_get_n_nonpositive (series), ==, 1 + 6);
    dinolab_plot_add_series (DINOLAB_PLOT (plot), series);
    dinolab_plot_set_log_y (DINOLAB_PLOT (plot), TRUE);

    /* the automatic range starts at the smallest positive value, padded */
    dinolab_plot_get_view (DINOLAB_PLOT (plot), NULL, NULL, &y0, &y1);
    g_assert_cmpfloat (y0, >, 0);
    g_assert_cmpfloat (y0, <, 1e-6);
    g_assert_cmpfloat (y0, >, 1e-7);
    g_assert_cmpfloat (y1, >, 1e-3);

    /* drawing never hands Cairo a NaN (which would put it in an error state) */
    surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 600, 400);
    cr = cairo_create (surface);
    dinolab_plot_draw (DINOLAB_PLOT (plot), cr, 600, 400);
    g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
    cairo_destroy (cr);
    cairo_surface_destroy (surface);

    show_plot (plot, 640, 400, &window);
    take_screenshot (GTK_WIDGET (window), "plot-log", &shot);
    g_assert_cmpuint (count_colour (&shot, "#1c71d8", 10, -1, -1, -1, -1)
                      + count_colour (&shot, "#62a0ea", 10, -1, -1, -1, -1), >, 200);
    shot_clear (&shot);
    gtk_window_destroy (window);
}

/* One spike among a million flat points: decimation must keep it, so the
 * top of the data area shows the series' colour in the spike's column. */
static void
test_plot_spike (void)
{
    const guint n = 1000000, spike = 612345;
    g_autoptr(DinolabPlotSeries) series = dinolab_plot_series_new ("flat");
    g_autofree double *x = g_new (double, n);
    g_autofree double *y = g_new (double, n);
    GtkWidget *plot = g_object_ref_sink (dinolab_plot_new ());
    GdkRGBA red = { 1, 0, 0, 1 };
    cairo_surface_t *surface;
    cairo_t *cr;
    Shot p = { 0 };
    double y1;
    int column, band_top, band_bottom;
    guint i;

    for (i = 0; i < n; i++) {
        x[i] = i;
        y[i] = i == spike ? 1.0 : 0.0;
    }
    dinolab_plot_series_append_many (series, x, NULL, NULL, y, n);
    dinolab_plot_series_set_colour (series, &red);
    dinolab_plot_add_series (DINOLAB_PLOT (plot), series);

    surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 1000, 600);
    cr = cairo_create (surface);
    dinolab_plot_draw (DINOLAB_PLOT (plot), cr, 1000, 600);
    g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
    cairo_destroy (cr);
    cairo_surface_flush (surface);

    p.width = 1000;
    p.height = 600;
    p.stride = cairo_image_surface_get_stride (surface);
    p.data = g_memdup2 (cairo_image_surface_get_data (surface), p.stride * p.height);
    cairo_surface_destroy (surface);

    /* the view's top is above the spike (5 % padding) */
    dinolab_plot_get_view (DINOLAB_PLOT (plot), NULL, NULL, NULL, &y1);
    g_assert_cmpfloat (y1, >, 1.0);
    /* an offscreen draw does not record its data area: look for a vertical
     * red stroke most of the image high */
    band_top = 0;
    band_bottom = 600;
    column = -1;
    for (i = 0; i < 1000; i++) {
        guint n_red = count_colour (&p, "#ff0000", 0, i, band_top, i + 1, band_bottom);
        if (n_red > 300) {
            column = i;
            break;
        }
    }
    g_test_message ("spike drawn in pixel column %d", column);
    g_assert_cmpint (column, >=, 0);
    /* 61.2 % of the way across a data area that starts a little right of 0 */
    g_assert_cmpint (column, >, 0.612 * 1000 - 40);
    g_assert_cmpint (column, <, 0.612 * 1000 + 40);
    shot_clear (&p);
    g_object_unref (plot);
}

static void
test_plot_export (void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp ("test-plot-XXXXXX", &error);
    GtkWidget *plot = g_object_ref_sink (dinolab_plot_new ());
    static const struct { DinolabPlotFormat format; const char *name; const char *magic; } cases[] = {
        { DINOLAB_PLOT_FORMAT_PNG, "plot.png", "\x89PNG\r\n\x1a\n" },
        { DINOLAB_PLOT_FORMAT_SVG, "plot.svg", "<?xml" },
        { DINOLAB_PLOT_FORMAT_PDF, "plot.pdf", "%PDF-" },
    };
    guint i;

    g_assert_no_error (error);
    add_training_series (DINOLAB_PLOT (plot));
    for (i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autofree char *path = g_build_filename (dir, cases[i].name, NULL);
        g_autofree char *contents = NULL;
        gsize length;

        g_assert_true (dinolab_plot_export (DINOLAB_PLOT (plot), path, cases[i].format, 720, 400, &error));
        g_assert_no_error (error);
        g_assert_true (g_file_get_contents (path, &contents, &length, &error));
        g_assert_no_error (error);
        g_test_message ("%s: %" G_GSIZE_FORMAT " bytes", cases[i].name, length);
        g_assert_cmpuint (length, >, 1000);
        g_assert_true (memcmp (contents, cases[i].magic, strlen (cases[i].magic)) == 0);
        if (cases[i].format == DINOLAB_PLOT_FORMAT_SVG)
            g_assert_nonnull (strstr (contents, "<svg"));
        if (cases[i].format == DINOLAB_PLOT_FORMAT_PNG) {
            g_autoptr(GdkTexture) texture = gdk_texture_new_from_filename (path, &error);
            g_autofree char *shot = g_build_filename (shot_dir, "plot-export.png", NULL);
            g_assert_no_error (error);
            g_assert_cmpint (gdk_texture_get_width (texture), ==, 720);
            g_assert_cmpint (gdk_texture_get_height (texture), ==, 400);
            g_assert_true (gdk_texture_save_to_png (texture, shot));
        }
        g_assert_cmpint (g_remove (path), ==, 0);
    }

    /* a directory that does not exist: an error naming the file, no file */
    {
        g_autofree char *bad = g_build_filename (dir, "missing", "plot.png", NULL);
        g_assert_false (dinolab_plot_export (DINOLAB_PLOT (plot), bad, DINOLAB_PLOT_FORMAT_PNG, 100, 100, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
        g_assert_nonnull (strstr (error->message, "plot.png"));
        g_test_message ("expected error: %s", error->message);
        g_clear_error (&error);
    }
    g_assert_cmpint (g_rmdir (dir), ==, 0);
    g_object_unref (plot);
}

int
main (int argc, char **argv)
{
    setlocale (LC_ALL, "C.UTF-8");
    gtk_test_init (&argc, &argv, NULL);  /* makes warnings and criticals fatal */
    adw_init ();

    screenshot_dir_init (NULL);

    g_test_add_func ("/gui/plot/axis/nice-step", test_axis_nice_step);
    g_test_add_func ("/gui/plot/axis/ticks", test_axis_ticks);
    g_test_add_func ("/gui/plot/axis/log", test_axis_log);
    g_test_add_func ("/gui/plot/series/smoothing", test_series_smoothing);
    g_test_add_func ("/gui/plot/series/decimate", test_series_decimate);
    g_test_add_func ("/gui/plot/widget/window", test_plot_window);
    g_test_add_func ("/gui/plot/widget/zoom", test_plot_zoom);
    g_test_add_func ("/gui/plot/widget/log", test_plot_log);
    g_test_add_func ("/gui/plot/widget/spike", test_plot_spike);
    g_test_add_func ("/gui/plot/export", test_plot_export);

    return g_test_run ();
}
