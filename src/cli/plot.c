/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * plot.c: line plots for the command line (plot.h), drawn with Cairo's own text and
 * path calls so that one drawing function serves the PNG and the SVG surface alike.
 *
 * Layout, in figure units (pixels at scale 1): an outer margin, the title, one legend
 * row (or more, wrapped), then the panels side by side with equal widths, then the
 * note (one line, cut with an ellipsis if too long). Inside a
 * panel: its title on top, the y tick labels and the rotated y label on the left, the
 * x tick labels and the x label below, then the plot box with a light grid at the
 * ticks. Axis ranges: x spans the data exactly (a step axis should end at the last
 * step), y spans the data plus 5 % on each side so curves at 0 or at ln K stay off
 * the frame; either can be fixed per panel.
 *
 * What this is not: a widget, nor anything that reads runs; callers hand it arrays.
 */
#include "config.h"

#include <cairo-svg.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dinolab/error.h"
#include "plot.h"

#define MAX_PANELS      8

/* Sizes in figure units. */
#define MARGIN          18.0
#define TITLE_SIZE      20.0
#define PANEL_TITLE_SIZE 15.0
#define LABEL_SIZE      14.0
#define TICK_SIZE       12.5
#define LEGEND_SIZE     14.0
#define NOTE_SIZE       12.0
#define PANEL_GAP       36.0
#define TICK_LEN        5.0

#define FONT            "sans-serif"
#define TEXT_RGB        0x222222
#define AXIS_RGB        0x444444
#define GRID_RGB        0xe3e3e3
#define NOTE_RGB        0x555555
#define BACKGROUND_RGB  0xffffff

typedef struct {
    char    *label;      /* NULL: not in the legend */
    guint32  rgb;
    double   width;
    gsize    n;
    double  *x, *y;      /* [n] */
} Line;

typedef struct {
    char    *label;
    guint32  rgb;
    double   y;
} HLine;

typedef struct {
    char      *title, *x_label, *y_label;
    double     x_min, x_max, y_min, y_max;   /* NAN: from the data */
    GPtrArray *lines;                        /* Line* */
    GArray    *hlines;                       /* HLine */
} Panel;

struct CliPlot {
    char  *title;
    char  *note;          /* small print under the panels, or NULL */
    int    n_panels;
    Panel  panels[MAX_PANELS];
};

// ----------------------------------------------------------------------------
// the figure's contents

static void
line_free_ (gpointer data)
{
    Line *l = data;

    g_free (l->label);
    g_free (l->x);
    g_free (l->y);
    g_free (l);
}

static void
hline_clear_ (gpointer data)
{
    HLine *h = data;

    g_free (h->label);
}

CliPlot *
cli_plot_new (int n_panels, const char *title)
{
    CliPlot *plot;

    g_return_val_if_fail (n_panels >= 1 && n_panels <= MAX_PANELS, NULL);

    plot = g_new0 (CliPlot, 1);
    plot->title = g_strdup (title);
    plot->n_panels = n_panels;
    for (int i = 0; i < n_panels; i++) {
        Panel *p = &plot->panels[i];
        p->x_min = p->x_max = p->y_min = p->y_max = NAN;
        p->lines = g_ptr_array_new_with_free_func (line_free_);
        p->hlines = g_array_new (FALSE, TRUE, sizeof (HLine));
        g_array_set_clear_func (p->hlines, hline_clear_);
    }
    return plot;
}

void
cli_plot_free (CliPlot *plot)
{
    if (plot == NULL)
        return;
    for (int i = 0; i < plot->n_panels; i++) {
        Panel *p = &plot->panels[i];
        g_free (p->title);
        g_free (p->x_label);
        g_free (p->y_label);
        g_ptr_array_unref (p->lines);
        g_array_unref (p->hlines);
    }
    g_free (plot->title);
    g_free (plot->note);
    g_free (plot);
}

void
cli_plot_set_panel (CliPlot *plot, int panel, const char *title, const char *x_label, const char *y_label)
{
    Panel *p;

    g_return_if_fail (plot != NULL && panel >= 0 && panel < plot->n_panels);

    p = &plot->panels[panel];
    g_free (p->title);
    g_free (p->x_label);
    g_free (p->y_label);
    p->title = g_strdup (title);
    p->x_label = g_strdup (x_label);
    p->y_label = g_strdup (y_label);
}

void
cli_plot_set_note (CliPlot *plot, const char *note)
{
    g_return_if_fail (plot != NULL);

    g_free (plot->note);
    plot->note = g_strdup (note);
}

void
cli_plot_set_y_range (CliPlot *plot, int panel, double min, double max)
{
    g_return_if_fail (plot != NULL && panel >= 0 && panel < plot->n_panels);
    g_return_if_fail (isnan (min) || isnan (max) || min < max);

    plot->panels[panel].y_min = min;
    plot->panels[panel].y_max = max;
}

void
cli_plot_set_x_range (CliPlot *plot, int panel, double min, double max)
{
    g_return_if_fail (plot != NULL && panel >= 0 && panel < plot->n_panels);
    g_return_if_fail (isnan (min) || isnan (max) || min < max);

    plot->panels[panel].x_min = min;
    plot->panels[panel].x_max = max;
}

void
cli_plot_add_line (CliPlot *plot, int panel, const char *label, guint32 rgb, double width,
                   const double *x, const double *y, gsize n)
{
    Line *l;

    g_return_if_fail (plot != NULL && panel >= 0 && panel < plot->n_panels);
    g_return_if_fail (n == 0 || (x != NULL && y != NULL));
    g_return_if_fail (width > 0);

    l = g_new0 (Line, 1);
    l->label = g_strdup (label);
    l->rgb = rgb;
    l->width = width;
    l->n = n;
    l->x = g_memdup2 (x, n * sizeof *x);
    l->y = g_memdup2 (y, n * sizeof *y);
    g_ptr_array_add (plot->panels[panel].lines, l);
}

void
cli_plot_add_hline (CliPlot *plot, int panel, double y, const char *label, guint32 rgb)
{
    HLine h = { .label = g_strdup (label), .rgb = rgb, .y = y };

    g_return_if_fail (plot != NULL && panel >= 0 && panel < plot->n_panels);
    g_return_if_fail (isfinite (y));

    g_array_append_val (plot->panels[panel].hlines, h);
}

// ----------------------------------------------------------------------------
// ticks and ranges

double
cli_plot_nice_ticks (double lo, double hi, int target, double *first, double *last)
{
    double span, raw, mag, f, step;

    g_return_val_if_fail (isfinite (lo) && isfinite (hi) && lo <= hi && target >= 2, 1.0);

    if (hi == lo) {
        double pad = lo == 0 ? 1.0 : 0.1 * fabs (lo);
        lo -= pad;
        hi += pad;
    }
    span = hi - lo;
    raw = span / target;
    mag = pow (10.0, floor (log10 (raw)));
    f = raw / mag;    /* in [1, 10) */
    // The closest of 1, 2, 5, 10 in the geometric sense (thresholds at the geometric means).
    if (f < 1.4142)
        step = 1.0 * mag;
    else if (f < 3.1623)
        step = 2.0 * mag;
    else if (f < 7.0711)
        step = 5.0 * mag;
    else
        step = 10.0 * mag;
    // A relative epsilon so that a bound that is a multiple up to rounding stays one.
    if (first != NULL)
        *first = floor (lo / step + 1e-9) * step;
    if (last != NULL)
        *last = ceil (hi / step - 1e-9) * step;
    return step;
}

/* The data range of panel @p on one axis (0: x, 1: y): lines (finite points) and, for
 * y, the reference lines. FALSE when there is no finite value. */
static gboolean
data_range_ (const Panel *p, int axis, double *lo, double *hi)
{
    double a = INFINITY, b = -INFINITY;

    g_assert (axis == 0 || axis == 1);
    for (guint i = 0; i < p->lines->len; i++) {
        const Line *l = p->lines->pdata[i];
        const double *v = axis == 0 ? l->x : l->y;
        for (gsize k = 0; k < l->n; k++)
            if (isfinite (l->x[k]) && isfinite (l->y[k])) {
                a = MIN (a, v[k]);
                b = MAX (b, v[k]);
            }
    }
    if (axis == 1)
        for (guint i = 0; i < p->hlines->len; i++) {
            const HLine *h = &g_array_index (p->hlines, HLine, i);
            a = MIN (a, h->y);
            b = MAX (b, h->y);
        }
    if (!(a <= b))
        return FALSE;
    *lo = a;
    *hi = b;
    return TRUE;
}

/* The drawn range of one axis of @p (rules in the file comment). */
static void
axis_range_ (const Panel *p, int axis, double *lo, double *hi)
{
    double set_lo = axis == 0 ? p->x_min : p->y_min, set_hi = axis == 0 ? p->x_max : p->y_max;
    double a = 0, b = 1;

    if (data_range_ (p, axis, &a, &b)) {
        if (b == a) {
            double pad = a == 0 ? 1.0 : 0.1 * fabs (a);
            a -= pad;
            b += pad;
        } else if (axis == 1) {
            double pad = 0.05 * (b - a);
            a -= pad;
            b += pad;
        }
    }
    if (!isnan (set_lo))
        a = set_lo;
    if (!isnan (set_hi))
        b = set_hi;
    if (!(a < b))
        b = a + 1.0;
    *lo = a;
    *hi = b;
}

/* Digits after the point for tick labels @step apart. */
static int
tick_decimals_ (double step)
{
    double d = -floor (log10 (step) + 1e-9);

    return (int) CLAMP (d, 0, 9);
}

static void
format_tick_ (char *buf, gsize size, double v, int decimals)
{
    if (fabs (v) < 1e-12)
        v = 0;    /* no "-0.0" */
    g_snprintf (buf, size, "%.*f", decimals, v);
}

// ----------------------------------------------------------------------------
// drawing helpers

static void
set_rgb_ (cairo_t *cr, guint32 rgb)
{
    cairo_set_source_rgb (cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
                          (rgb & 0xff) / 255.0);
}

static void
font_ (cairo_t *cr, double size, gboolean bold)
{
    cairo_select_font_face (cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                            bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size (cr, size);
}

static double
text_width_ (cairo_t *cr, const char *text)
{
    cairo_text_extents_t te;

    cairo_text_extents (cr, text, &te);
    return te.x_advance;
}

/* Draws @text (current font and source) with its box aligned at (@x, @y): @ha 0 left,
 * 0.5 centre, 1 right; @va 0 top, 0.5 middle, 1 bottom (of the font's ascent+descent,
 * so labels of one row share a baseline whatever their letters). */
static void
text_ (cairo_t *cr, double x, double y, const char *text, double ha, double va)
{
    cairo_font_extents_t fe;
    double w = text_width_ (cr, text);

    cairo_font_extents (cr, &fe);
    cairo_move_to (cr, x - ha * w, y + fe.ascent - va * (fe.ascent + fe.descent));
    cairo_show_text (cr, text);
}

/* @text, or its longest UTF-8 prefix that fits in @width with "\u2026" appended, in
 * the note's font. Returns a new string. */
static char *
fit_text_ (cairo_t *cr, const char *text, double width)
{
    GString *s = g_string_new (text);

    font_ (cr, NOTE_SIZE, FALSE);
    if (text_width_ (cr, s->str) <= width)
        return g_string_free (s, FALSE);
    while (s->len > 0) {
        const char *prev = g_utf8_find_prev_char (s->str, s->str + s->len);
        g_string_truncate (s, prev ? (gsize) (prev - s->str) : 0);
        g_string_append (s, "\u2026");
        if (text_width_ (cr, s->str) <= width)
            break;
        g_string_truncate (s, s->len - strlen ("\u2026"));
    }
    return g_string_free (s, FALSE);
}

static double
line_height_ (cairo_t *cr)
{
    cairo_font_extents_t fe;

    cairo_font_extents (cr, &fe);
    return fe.ascent + fe.descent;
}

// ----------------------------------------------------------------------------
// legend

/* The legend entries: the first line of each distinct label, panel order. */
static GPtrArray *
legend_entries_ (const CliPlot *plot)
{
    GPtrArray *out = g_ptr_array_new ();

    for (int i = 0; i < plot->n_panels; i++)
        for (guint j = 0; j < plot->panels[i].lines->len; j++) {
            const Line *l = plot->panels[i].lines->pdata[j];
            gboolean seen = FALSE;
            if (l->label == NULL)
                continue;
            for (guint k = 0; k < out->len && !seen; k++)
                seen = strcmp (((const Line *) out->pdata[k])->label, l->label) == 0;
            if (!seen)
                g_ptr_array_add (out, (gpointer) l);
        }
    return out;
}

#define SWATCH_W   30.0
#define SWATCH_GAP 8.0
#define ENTRY_GAP  30.0

/* Lays out (and with @draw, draws) the legend centred in [@x0, @x0 + @width] from
 * @y0 down. Returns its height (0 without entries). */
static double
legend_ (cairo_t *cr, const CliPlot *plot, double x0, double y0, double width, gboolean draw)
{
    g_autoptr (GPtrArray) entries = legend_entries_ (plot);
    double row_h, y = y0;
    guint start = 0;

    if (entries->len == 0)
        return 0;
    font_ (cr, LEGEND_SIZE, FALSE);
    row_h = line_height_ (cr) + 6.0;
    while (start < entries->len) {
        // Fill one row with as many entries as fit, then centre it.
        guint end = start;
        double row_w = 0, x;
        while (end < entries->len) {
            const Line *l = entries->pdata[end];
            double w = SWATCH_W + SWATCH_GAP + text_width_ (cr, l->label);
            double add = (end > start ? ENTRY_GAP : 0) + w;
            if (end > start && row_w + add > width)
                break;
            row_w += add;
            end++;
        }
        x = x0 + (width - row_w) / 2;
        for (guint k = start; k < end && draw; k++) {
            const Line *l = entries->pdata[k];
            double cy = y + row_h / 2;
            set_rgb_ (cr, l->rgb);
            cairo_set_line_width (cr, MAX (l->width, 2.5));
            cairo_move_to (cr, x, cy);
            cairo_line_to (cr, x + SWATCH_W, cy);
            cairo_stroke (cr);
            set_rgb_ (cr, TEXT_RGB);
            text_ (cr, x + SWATCH_W + SWATCH_GAP, cy, l->label, 0, 0.5);
            x += SWATCH_W + SWATCH_GAP + text_width_ (cr, l->label) + ENTRY_GAP;
        }
        y += row_h;
        start = end;
    }
    return y - y0;
}

// ----------------------------------------------------------------------------
// one panel

/* Draws panel @p in the rectangle (@x0, @y0, @w, @h), labels included. */
static void
panel_draw_ (cairo_t *cr, const Panel *p, double x0, double y0, double w, double h)
{
    double xlo, xhi, ylo, yhi, xstep, ystep, xfirst, xlast, yfirst, ylast;
    double left, right, top, bottom, tick_w = 0, px, py, pw, ph;
    int xdec, ydec, xtarget;
    char buf[64];

    axis_range_ (p, 0, &xlo, &xhi);
    axis_range_ (p, 1, &ylo, &yhi);
    // About one x tick per 110 units of width, at least 2.
    xtarget = MAX (2, (int) (w / 110.0));
    xstep = cli_plot_nice_ticks (xlo, xhi, xtarget, &xfirst, &xlast);
    ystep = cli_plot_nice_ticks (ylo, yhi, 6, &yfirst, &ylast);
    xdec = tick_decimals_ (xstep);
    ydec = tick_decimals_ (ystep);

    // Margins: the widest y tick label decides the left one.
    font_ (cr, TICK_SIZE, FALSE);
    for (double v = yfirst; v <= ylast + 0.5 * ystep; v += ystep) {
        if (v < ylo - 1e-9 * ystep || v > yhi + 1e-9 * ystep)
            continue;
        format_tick_ (buf, sizeof buf, v, ydec);
        tick_w = MAX (tick_w, text_width_ (cr, buf));
    }
    top = p->title ? PANEL_TITLE_SIZE * 1.9 : 8.0;
    left = tick_w + TICK_LEN + 6.0 + (p->y_label ? LABEL_SIZE * 1.8 : 0);
    bottom = TICK_LEN + TICK_SIZE * 1.6 + (p->x_label ? LABEL_SIZE * 1.9 : 0);
    right = 14.0;    /* room for the last x tick label's right half */
    px = x0 + left;
    py = y0 + top;
    pw = MAX (w - left - right, 10.0);
    ph = MAX (h - top - bottom, 10.0);

#define MAPX(v) (px + ((v) - xlo) / (xhi - xlo) * pw)
#define MAPY(v) (py + ph - ((v) - ylo) / (yhi - ylo) * ph)

    // plot area and grid
    set_rgb_ (cr, BACKGROUND_RGB);
    cairo_rectangle (cr, px, py, pw, ph);
    cairo_fill (cr);
    cairo_set_line_width (cr, 1.0);
    set_rgb_ (cr, GRID_RGB);
    for (double v = xfirst; v <= xlast + 0.5 * xstep; v += xstep)
        if (v >= xlo - 1e-9 * xstep && v <= xhi + 1e-9 * xstep) {
            cairo_move_to (cr, MAPX (v), py);
            cairo_line_to (cr, MAPX (v), py + ph);
        }
    for (double v = yfirst; v <= ylast + 0.5 * ystep; v += ystep)
        if (v >= ylo - 1e-9 * ystep && v <= yhi + 1e-9 * ystep) {
            cairo_move_to (cr, px, MAPY (v));
            cairo_line_to (cr, px + pw, MAPY (v));
        }
    cairo_stroke (cr);

    // data, clipped to the plot area
    cairo_save (cr);
    cairo_rectangle (cr, px, py, pw, ph);
    cairo_clip (cr);
    cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
    for (guint i = 0; i < p->lines->len; i++) {
        const Line *l = p->lines->pdata[i];
        gboolean pen = FALSE;
        set_rgb_ (cr, l->rgb);
        cairo_set_line_width (cr, l->width);
        for (gsize k = 0; k < l->n; k++) {
            if (!isfinite (l->x[k]) || !isfinite (l->y[k])) {
                pen = FALSE;
                continue;
            }
            if (pen)
                cairo_line_to (cr, MAPX (l->x[k]), MAPY (l->y[k]));
            else
                cairo_move_to (cr, MAPX (l->x[k]), MAPY (l->y[k]));
            pen = TRUE;
        }
        cairo_stroke (cr);
    }
    // reference lines on top, so a curve that reaches one does not hide it
    for (guint i = 0; i < p->hlines->len; i++) {
        const HLine *hl = &g_array_index (p->hlines, HLine, i);
        static const double dash[] = { 7.0, 5.0 };
        set_rgb_ (cr, hl->rgb);
        cairo_set_line_width (cr, 1.6);
        cairo_set_dash (cr, dash, 2, 0);
        cairo_move_to (cr, px, MAPY (hl->y));
        cairo_line_to (cr, px + pw, MAPY (hl->y));
        cairo_stroke (cr);
        cairo_set_dash (cr, NULL, 0, 0);
    }
    cairo_restore (cr);

    // reference line labels, above the line's right end (below it near the top)
    font_ (cr, TICK_SIZE, FALSE);
    for (guint i = 0; i < p->hlines->len; i++) {
        const HLine *hl = &g_array_index (p->hlines, HLine, i);
        double yy = MAPY (hl->y);
        if (hl->label == NULL || yy < py || yy > py + ph)
            continue;
        set_rgb_ (cr, hl->rgb);
        if (yy - py > line_height_ (cr) + 4)
            text_ (cr, px + pw - 6, yy - 3, hl->label, 1, 1);
        else
            text_ (cr, px + pw - 6, yy + 3, hl->label, 1, 0);
    }

    // frame, ticks, tick labels
    set_rgb_ (cr, AXIS_RGB);
    cairo_set_line_width (cr, 1.2);
    cairo_rectangle (cr, px, py, pw, ph);
    cairo_stroke (cr);
    for (double v = xfirst; v <= xlast + 0.5 * xstep; v += xstep) {
        if (v < xlo - 1e-9 * xstep || v > xhi + 1e-9 * xstep)
            continue;
        cairo_move_to (cr, MAPX (v), py + ph);
        cairo_line_to (cr, MAPX (v), py + ph + TICK_LEN);
        cairo_stroke (cr);
        format_tick_ (buf, sizeof buf, v, xdec);
        set_rgb_ (cr, TEXT_RGB);
        text_ (cr, MAPX (v), py + ph + TICK_LEN + 3, buf, 0.5, 0);
        set_rgb_ (cr, AXIS_RGB);
    }
    for (double v = yfirst; v <= ylast + 0.5 * ystep; v += ystep) {
        if (v < ylo - 1e-9 * ystep || v > yhi + 1e-9 * ystep)
            continue;
        cairo_move_to (cr, px, MAPY (v));
        cairo_line_to (cr, px - TICK_LEN, MAPY (v));
        cairo_stroke (cr);
        format_tick_ (buf, sizeof buf, v, ydec);
        set_rgb_ (cr, TEXT_RGB);
        text_ (cr, px - TICK_LEN - 4, MAPY (v), buf, 1, 0.5);
        set_rgb_ (cr, AXIS_RGB);
    }
#undef MAPX
#undef MAPY

    // titles and axis labels
    set_rgb_ (cr, TEXT_RGB);
    if (p->title) {
        font_ (cr, PANEL_TITLE_SIZE, TRUE);
        text_ (cr, px + pw / 2, py - 8, p->title, 0.5, 1);
    }
    font_ (cr, LABEL_SIZE, FALSE);
    if (p->x_label)
        text_ (cr, px + pw / 2, y0 + h, p->x_label, 0.5, 1);
    if (p->y_label) {
        cairo_save (cr);
        cairo_translate (cr, x0, py + ph / 2);
        cairo_rotate (cr, -G_PI / 2);
        text_ (cr, 0, 0, p->y_label, 0.5, 0);
        cairo_restore (cr);
    }
}

// ----------------------------------------------------------------------------
// the figure

void
cli_plot_draw (CliPlot *plot, cairo_t *cr, double width, double height)
{
    double y = MARGIN, panel_w, panel_h;

    g_return_if_fail (plot != NULL && cr != NULL);
    g_return_if_fail (width > 0 && height > 0);

    cairo_save (cr);
    set_rgb_ (cr, BACKGROUND_RGB);
    cairo_rectangle (cr, 0, 0, width, height);
    cairo_fill (cr);

    if (plot->title) {
        font_ (cr, TITLE_SIZE, TRUE);
        set_rgb_ (cr, TEXT_RGB);
        text_ (cr, width / 2, y, plot->title, 0.5, 0);
        y += line_height_ (cr) + 8;
    }
    y += legend_ (cr, plot, MARGIN, y, width - 2 * MARGIN, TRUE);
    y += 6;

    panel_w = (width - 2 * MARGIN - (plot->n_panels - 1) * PANEL_GAP) / plot->n_panels;
    panel_h = height - y - MARGIN;
    if (plot->note) {
        g_autofree char *note = fit_text_ (cr, plot->note, width - 2 * MARGIN);
        font_ (cr, NOTE_SIZE, FALSE);
        set_rgb_ (cr, NOTE_RGB);
        text_ (cr, MARGIN, height - MARGIN / 2, note, 0, 1);
        panel_h -= line_height_ (cr) + 4;
    }
    for (int i = 0; i < plot->n_panels; i++)
        panel_draw_ (cr, &plot->panels[i], MARGIN + i * (panel_w + PANEL_GAP), y, panel_w, panel_h);
    cairo_restore (cr);
}

/* Cairo's write callback onto a stdio stream. */
static cairo_status_t
write_stream_ (void *closure, const unsigned char *data, unsigned int length)
{
    return fwrite (data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Opens @path for writing, or sets @error naming it. */
static FILE *
open_out_ (const char *path, GError **error)
{
    FILE *f = g_fopen (path, "wb");

    if (f == NULL) {
        int e = errno;
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot write: %s", path, g_strerror (e));
    }
    return f;
}

/* Closes @f after a write whose Cairo status is @status; on any failure sets @error
 * naming @path and removes the partial file. */
static gboolean
close_out_ (FILE *f, const char *path, cairo_status_t status, GError **error)
{
    int write_errno = ferror (f) ? errno : 0;

    if (fclose (f) != 0 && write_errno == 0)
        write_errno = errno ? errno : EIO;
    if (status == CAIRO_STATUS_SUCCESS && write_errno == 0)
        return TRUE;
    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot write: %s", path,
                 write_errno ? g_strerror (write_errno) : cairo_status_to_string (status));
    g_unlink (path);
    return FALSE;
}

gboolean
cli_plot_write_png (CliPlot *plot, const char *path, int width, int height, double scale, GError **error)
{
    cairo_surface_t *surface;
    cairo_t *cr;
    cairo_status_t status;
    FILE *f;

    g_return_val_if_fail (plot != NULL && path != NULL, FALSE);
    g_return_val_if_fail (width > 0 && height > 0 && scale > 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (int) lround (width * scale),
                                          (int) lround (height * scale));
    cr = cairo_create (surface);
    cairo_scale (cr, scale, scale);
    cli_plot_draw (plot, cr, width, height);
    cairo_destroy (cr);
    cairo_surface_flush (surface);
    if (!(f = open_out_ (path, error))) {
        cairo_surface_destroy (surface);
        return FALSE;
    }
    status = cairo_surface_write_to_png_stream (surface, write_stream_, f);
    cairo_surface_destroy (surface);
    return close_out_ (f, path, status, error);
}

gboolean
cli_plot_write_svg (CliPlot *plot, const char *path, int width, int height, GError **error)
{
    cairo_surface_t *surface;
    cairo_t *cr;
    cairo_status_t status;
    FILE *f;

    g_return_val_if_fail (plot != NULL && path != NULL, FALSE);
    g_return_val_if_fail (width > 0 && height > 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    if (!(f = open_out_ (path, error)))
        return FALSE;
    surface = cairo_svg_surface_create_for_stream (write_stream_, f, width, height);
    cr = cairo_create (surface);
    cli_plot_draw (plot, cr, width, height);
    cairo_destroy (cr);
    cairo_surface_finish (surface);    /* writes the document */
    status = cairo_surface_status (surface);
    cairo_surface_destroy (surface);
    return close_out_ (f, path, status, error);
}
