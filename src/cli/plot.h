/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * plot.h: line plots for the command line, drawn with Cairo and written as PNG or SVG
 * (a figure for a report: `study collapse`, learning curves for the README).
 *
 * A CliPlot is one figure: a title, one row of panels side by side, and one legend
 * under the title for the labelled lines of every panel (a label used in several
 * panels, say the same run in an entropy and a KL panel, is listed once). Each panel
 * has its own axes: x and y ranges from its data (or set), "nice" ticks (1, 2 or 5
 * times a power of ten), tick labels, axis labels, a light grid. Lines may carry NaN
 * values: a NaN breaks the line. Horizontal reference lines (e.g. ln K) are dashed and
 * labelled at their right end.
 *
 * Typical use:
 *   CliPlot *p = cli_plot_new (2, "Collapse study");
 *   cli_plot_set_panel (p, 0, "Teacher entropy", "step", "h(P_t) [nats]");
 *   cli_plot_add_line (p, 0, "both", 0x0072b2, 2.0, steps, h, n);
 *   cli_plot_add_hline (p, 0, log (1024), "ln K = 6.93", 0x555555);
 *   cli_plot_write_png (p, "collapse.png", 1000, 420, 2.0, &error);
 *   cli_plot_write_svg (p, "collapse.svg", 1000, 420, &error);
 *   cli_plot_free (p);
 *
 * What this is not: a widget (the GUI has its own plot widget), a statistics tool (it
 * draws the values it is given; smooth them first if you want them smooth), or a
 * general charting library (no log axes, bars or second y axes).
 */
#pragma once

#include <cairo.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct CliPlot CliPlot;

/* cli_plot_new:
 * A figure of @n_panels panels (1 to 8) in a row, titled @title (copied; NULL: none).
 * Returns a new plot; free with cli_plot_free(). */
CliPlot  *cli_plot_new          (int            n_panels,
                                 const char    *title);

/* cli_plot_free: frees @plot and everything it copied. NULL-safe. */
void      cli_plot_free         (CliPlot       *plot);

/* cli_plot_set_panel:
 * The title above panel @panel and its axis labels (each copied; NULL: none). */
void      cli_plot_set_panel    (CliPlot       *plot,
                                 int            panel,
                                 const char    *title,
                                 const char    *x_label,
                                 const char    *y_label);

/* cli_plot_set_note:
 * One line of small print under the panels, on the left (how the curves were made,
 * the command that made them); @note is copied, NULL removes it. */
void      cli_plot_set_note     (CliPlot       *plot,
                                 const char    *note);

/* cli_plot_set_y_range / cli_plot_set_x_range:
 * Fixes an axis of panel @panel to [@min, @max] (@min < @max); lines outside are
 * clipped to the panel. Either bound NAN: taken from the data (the default): x spans
 * the data exactly, y the data and reference lines plus 5 % of the span on each side. */
void      cli_plot_set_y_range  (CliPlot       *plot,
                                 int            panel,
                                 double         min,
                                 double         max);
void      cli_plot_set_x_range  (CliPlot       *plot,
                                 int            panel,
                                 double         min,
                                 double         max);

/* cli_plot_add_line:
 * Adds a line through (@x[i], @y[i]), i < @n (copied) to panel @panel, in colour @rgb
 * (0xRRGGBB) and @width (in figure units, ~pixels at scale 1). @label: its legend
 * entry (copied), or NULL for none. Points with a NaN coordinate break the line.
 * Lines are drawn in the order added, so add the one that matters most last. */
void      cli_plot_add_line     (CliPlot       *plot,
                                 int            panel,
                                 const char    *label,
                                 guint32        rgb,
                                 double         width,
                                 const double  *x,
                                 const double  *y,
                                 gsize          n);

/* cli_plot_add_hline:
 * A dashed horizontal line at @y across panel @panel, in @rgb, with @label (copied;
 * NULL: none) written above its right end. It counts for the automatic y range. */
void      cli_plot_add_hline    (CliPlot       *plot,
                                 int            panel,
                                 double         y,
                                 const char    *label,
                                 guint32        rgb);

/* cli_plot_draw:
 * Draws the whole figure on @cr in the rectangle (0, 0, @width, @height) of its user
 * space (light background included). Reference lines are drawn over the data lines. Works on any surface; leaves @cr's state as it
 * found it. */
void      cli_plot_draw         (CliPlot       *plot,
                                 cairo_t       *cr,
                                 double         width,
                                 double         height);

/* cli_plot_write_png:
 * Renders the figure laid out at @width x @height units, at @scale device pixels per
 * unit (2.0 for a sharp figure on a high-density screen or in print), to a PNG of
 * round(@width * @scale) x round(@height * @scale) pixels at @path. Returns FALSE with
 * DINOLAB_ERROR_IO naming the file when it cannot be written. */
gboolean  cli_plot_write_png    (CliPlot       *plot,
                                 const char    *path,
                                 int            width,
                                 int            height,
                                 double         scale,
                                 GError       **error);

/* cli_plot_write_svg:
 * Writes the figure as an SVG of @width x @height points to @path. Returns FALSE with
 * DINOLAB_ERROR_IO naming the file when it cannot be written. */
gboolean  cli_plot_write_svg    (CliPlot       *plot,
                                 const char    *path,
                                 int            width,
                                 int            height,
                                 GError       **error);

/* cli_plot_nice_ticks:
 * Ticks for an axis over [@lo, @hi] (@lo <= @hi, finite) with about @target (>= 2)
 * intervals: the step is 1, 2 or 5 times a power of ten, and *@first / *@last are
 * the multiples of it at or just outside @lo and @hi. A zero-width range is widened
 * first (by 1, or by 10 % of |@lo|). Returns the step. */
double    cli_plot_nice_ticks   (double         lo,
                                 double         hi,
                                 int            target,
                                 double        *first,
                                 double        *last);

G_END_DECLS
