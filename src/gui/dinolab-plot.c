/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-plot.c: the plot widget (see dinolab-plot.h). One drawing
 * function, dinolab_plot_draw_into(), lays out and draws axes, ticks, grid,
 * reference lines, markers, curves and the legend into any cairo_t: the
 * widget's snapshot, an image for the benchmark, or a PNG/SVG/PDF surface
 * for export. The hover read-out and the zoom rectangle are drawn in a
 * second Cairo node on top, so they never change what is exported. The
 * curves go through dinolab_plot_series_decimate(): one min..max stroke per
 * pixel column, O(points in view). This file keeps no data of its own
 * beyond view state and annotations.
 */
#define G_LOG_DOMAIN "dinolab-plot"

#include "config.h"

#include <math.h>

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <glib/gi18n.h>

#include "dinolab-plot.h"

typedef struct
{
  double  y;
  char   *label;
} RefLine;

typedef struct
{
  double  x[DINOLAB_PLOT_X_N_KINDS];
  char   *label;
} Marker;

struct _DinolabPlot
{
  GtkWidget          parent_instance;

  GPtrArray         *series;         /* DinolabPlotSeries*, owned */
  GArray            *ref_lines;      /* RefLine */
  GArray            *markers;        /* Marker */

  DinolabPlotXKind   x_kind;
  gboolean           log_y;
  double             smoothing;

  /* zoom, in data units of the current x-kind and y scale */
  gboolean           zoomed;
  double             view_x_min, view_x_max, view_y_min, view_y_max;

  /* layout of the last on-screen frame, for gestures */
  graphene_rect_t    area;
  gboolean           area_valid;

  gboolean           hovering;
  double             hover_x, hover_y;
  gboolean           dragging;
  double             drag_x0, drag_y0, drag_x1, drag_y1;

  /* scratch for decimation, grown to the widest area seen */
  DinolabPlotColumn *columns;
  guint              n_columns;
};

G_DEFINE_FINAL_TYPE (DinolabPlot, dinolab_plot, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_X_KIND,
  PROP_LOG_Y,
  PROP_SMOOTHING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Drags shorter than this (px) are clicks, not zooms. */
#define MIN_DRAG 5.0

/* ---- colours ------------------------------------------------------------- */

/* GNOME HIG palette: the darker shades read on light backgrounds, the
 * lighter ones on dark; same hues in the same order in both. */
static const char * const palette_light[] = {
  "#1c71d8", "#e66100", "#26a269", "#c01c28", "#813d9c", "#865e3c", "#0f7b8a",
};
static const char * const palette_dark[] = {
  "#62a0ea", "#ffa348", "#57e389", "#f66151", "#c061cb", "#cdab8f", "#5bc8d7",
};

typedef struct
{
  GdkRGBA      fg;                /* text, frame, grid (with alpha) */
  gboolean     dark;              /* pick palette_dark */
  gboolean     fill_background;
  GdkRGBA      bg;
  PangoLayout *layout;            /* for every text, owned by the caller */
} PlotStyle;

static void
series_colour (DinolabPlot       *self,
               guint              index,
               const PlotStyle   *style,
               GdkRGBA           *colour)
{
  DinolabPlotSeries *series = g_ptr_array_index (self->series, index);
  const GdkRGBA *own = dinolab_plot_series_get_colour (series);
  const char * const *palette = style->dark ? palette_dark : palette_light;

  if (own != NULL)
    *colour = *own;
  else
    gdk_rgba_parse (colour, palette[index % G_N_ELEMENTS (palette_light)]);
}

static void
set_source (cairo_t       *cr,
            const GdkRGBA *rgba,
            double         alpha)
{
  cairo_set_source_rgba (cr, rgba->red, rgba->green, rgba->blue, rgba->alpha * alpha);
}

/* The widget's colours: the foreground tells light from dark styles
 * (light text = dark background), whatever set them. */
static void
widget_style (DinolabPlot *self,
              PlotStyle   *style)
{
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));

  gtk_style_context_get_color (context, &style->fg);
  style->dark = 0.2126 * style->fg.red + 0.7152 * style->fg.green + 0.0722 * style->fg.blue > 0.5;
  style->fill_background = FALSE;
}

/* ---- axes ---------------------------------------------------------------- */

/* The x and y axes the next frame shows: the zoom if there is one, else
 * the union of the data (and reference lines, for y), padded. */
static void
dinolab_plot_compute_axes (DinolabPlot     *self,
                           DinolabPlotAxis *x_axis,
                           DinolabPlotAxis *y_axis)
{
  DinolabPlotScale y_scale = self->log_y ? DINOLAB_PLOT_SCALE_LOG : DINOLAB_PLOT_SCALE_LINEAR;
  double x_min = INFINITY, x_max = -INFINITY;
  double y_min = INFINITY, y_max = -INFINITY;
  guint i;

  if (self->zoomed)
    {
      dinolab_plot_axis_init (x_axis, DINOLAB_PLOT_SCALE_LINEAR, self->view_x_min, self->view_x_max);
      dinolab_plot_axis_init (y_axis, y_scale, self->view_y_min, self->view_y_max);
      return;
    }

  for (i = 0; i < self->series->len; i++)
    {
      DinolabPlotSeries *series = g_ptr_array_index (self->series, i);
      double lo, hi, lo_pos;

      if (dinolab_plot_series_get_x_range (series, self->x_kind, &lo, &hi))
        {
          x_min = MIN (x_min, lo);
          x_max = MAX (x_max, hi);
        }
      if (dinolab_plot_series_get_y_range (series, &lo, &hi, &lo_pos))
        {
          if (self->log_y)
            lo = lo_pos;
          if (isfinite (lo))
            y_min = MIN (y_min, lo);
          y_max = MAX (y_max, hi);
        }
    }
  for (i = 0; i < self->ref_lines->len; i++)
    {
      double y = g_array_index (self->ref_lines, RefLine, i).y;
      if (isfinite (y) && !(self->log_y && y <= 0.0))
        {
          y_min = MIN (y_min, y);
          y_max = MAX (y_max, y);
        }
    }
  if (!(x_min <= x_max))
    {
      x_min = 0.0;
      x_max = 1.0;
    }
  if (!(y_min <= y_max))
    {
      y_min = self->log_y ? 0.1 : 0.0;
      y_max = 1.0;
    }

  dinolab_plot_axis_init (x_axis, DINOLAB_PLOT_SCALE_LINEAR, x_min, x_max);
  dinolab_plot_axis_init (y_axis, y_scale, y_min, y_max);
  dinolab_plot_axis_pad (y_axis, 0.05);
}

/* Wall time is shown in seconds, minutes or hours, whichever keeps the
 * numbers small; ticks are nice in that unit. */
static double
wall_unit (const DinolabPlotAxis *x_axis,
           const char           **name)
{
  double span = x_axis->max - x_axis->min;

  if (span >= 2 * 3600.0)
    {
      *name = C_("unit of time", "h");
      return 3600.0;
    }
  if (span >= 2 * 60.0)
    {
      *name = C_("unit of time", "min");
      return 60.0;
    }
  *name = C_("unit of time", "s");
  return 1.0;
}

static const char *
x_title (DinolabPlot           *self,
         const DinolabPlotAxis *x_axis,
         double                *unit,
         char                  *buf,
         gsize                  size)
{
  const char *unit_name;

  *unit = 1.0;
  switch (self->x_kind)
    {
    case DINOLAB_PLOT_X_EPOCH:
      return _("Epoch");
    case DINOLAB_PLOT_X_WALL:
      *unit = wall_unit (x_axis, &unit_name);
      /* Translators: the x axis title, e.g. "Time (min)" */
      g_snprintf (buf, size, _("Time (%s)"), unit_name);
      return buf;
    case DINOLAB_PLOT_X_STEP:
    case DINOLAB_PLOT_X_N_KINDS:
    default:
      return _("Step");
    }
}

/* ---- drawing ------------------------------------------------------------- */

/* Shows @text with its point (@xalign, @yalign) of its box at (x, y);
 * returns its width. */
static int
draw_text (cairo_t     *cr,
           PangoLayout *layout,
           const char  *text,
           double       x,
           double       y,
           double       xalign,
           double       yalign)
{
  int w, h;

  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_size (layout, &w, &h);
  cairo_move_to (cr, round (x - xalign * w), round (y - yalign * h));
  pango_cairo_show_layout (cr, layout);
  return w;
}

static int
text_width (PangoLayout *layout,
            const char  *text,
            int         *height)
{
  int w, h;

  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_size (layout, &w, &h);
  if (height != NULL)
    *height = h;
  return w;
}

/* Positions in the data area: y grows downwards on screen, the axis up.
 * Far-away values are clamped so Cairo's fixed point never overflows. */
static inline double
px_of (const graphene_rect_t *area,
       const DinolabPlotAxis *x_axis,
       double                 x)
{
  return area->origin.x + CLAMP (dinolab_plot_axis_map (x_axis, x), -10.0, 11.0) * area->size.width;
}

static inline double
py_of (const graphene_rect_t *area,
       const DinolabPlotAxis *y_axis,
       double                 y)
{
  return area->origin.y + (1.0 - CLAMP (dinolab_plot_axis_map (y_axis, y), -10.0, 11.0))
                          * area->size.height;
}

/* A curve with few points in view (up to 4 a pixel column): every point,
 * plus one on each side so the line runs on to the frame. */
static void
draw_points (DinolabPlot           *self,
             cairo_t               *cr,
             DinolabPlotSeries     *series,
             const double          *y,
             guint                  first,
             guint                  end,
             const graphene_rect_t *area,
             const DinolabPlotAxis *x_axis,
             const DinolabPlotAxis *y_axis)
{
  const double *x = dinolab_plot_series_get_x (series, self->x_kind);
  guint n = dinolab_plot_series_get_n_points (series);
  gboolean started = FALSE;
  guint i;

  first = first > 0 ? first - 1 : 0;
  end = MIN (end + 1, n);
  for (i = first; i < end; i++)
    {
      if (!isfinite (dinolab_plot_axis_map (y_axis, y[i])) || !isfinite (x[i]))
        continue;
      if (started)
        cairo_line_to (cr, px_of (area, x_axis, x[i]), py_of (area, y_axis, y[i]));
      else
        cairo_move_to (cr, px_of (area, x_axis, x[i]), py_of (area, y_axis, y[i]));
      started = TRUE;
    }
  /* a lone point: a zero-length segment, which the round cap makes a dot */
  if (started)
    cairo_rel_line_to (cr, 0, 0);
  cairo_stroke (cr);
}

/* One curve: per pixel column, in from the first value, the column's
 * min..max, out at the last value, so every extreme is drawn. */
static void
draw_curve (DinolabPlot           *self,
            cairo_t               *cr,
            DinolabPlotSeries     *series,
            const double          *y,
            const graphene_rect_t *area,
            const DinolabPlotAxis *x_axis,
            const DinolabPlotAxis *y_axis)
{
  const double *x = dinolab_plot_series_get_x (series, self->x_kind);
  guint n_columns = (guint) MAX (1.0, ceil (area->size.width));
  gboolean started = FALSE;
  int before, after;
  guint c, first, end;

  dinolab_plot_series_get_index_range (series, self->x_kind, x_axis->min, x_axis->max, &first, &end);
  if (end - first <= 4 * n_columns)  /* no more segments than decimation */
    {
      draw_points (self, cr, series, y, first, end, area, x_axis, y_axis);
      return;
    }

  if (n_columns > self->n_columns)
    {
      self->columns = g_renew (DinolabPlotColumn, self->columns, n_columns);
      self->n_columns = n_columns;
    }
  dinolab_plot_series_decimate (series, self->x_kind, y, x_axis, self->log_y,
                                self->columns, n_columns, &before, &after);

  if (before >= 0)
    {
      cairo_move_to (cr, px_of (area, x_axis, x[before]), py_of (area, y_axis, y[before]));
      started = TRUE;
    }
  for (c = 0; c < n_columns; c++)
    {
      const DinolabPlotColumn *col = &self->columns[c];
      double cx = area->origin.x + c + 0.5;

      if (col->n == 0)
        continue;
      if (started)
        cairo_line_to (cr, cx, py_of (area, y_axis, col->first));
      else
        cairo_move_to (cr, cx, py_of (area, y_axis, col->first));
      started = TRUE;
      /* a column of one point, or a monotonic run, needs fewer segments */
      if (col->min != col->first)
        cairo_line_to (cr, cx, py_of (area, y_axis, col->min));
      if (col->max != col->min)
        cairo_line_to (cr, cx, py_of (area, y_axis, col->max));
      if (col->last != col->max)
        cairo_line_to (cr, cx, py_of (area, y_axis, col->last));
    }
  if (after >= 0 && started)
    cairo_line_to (cr, px_of (area, x_axis, x[after]), py_of (area, y_axis, y[after]));
  cairo_stroke (cr);
}

static gboolean
dinolab_plot_has_points (DinolabPlot *self)
{
  guint i;

  for (i = 0; i < self->series->len; i++)
    if (dinolab_plot_series_get_n_points (g_ptr_array_index (self->series, i)) > 0)
      return TRUE;
  return FALSE;
}

/* The legend entry of series @i: its label, plus how many points a log
 * scale hides. Returns a new string. */
static char *
legend_text (DinolabPlot *self,
             guint        i)
{
  DinolabPlotSeries *series = g_ptr_array_index (self->series, i);
  guint hidden = dinolab_plot_series_get_n_nonpositive (series);

  if (self->log_y && hidden > 0)
    /* Translators: a legend entry; the number counts values <= 0 that a log scale cannot show */
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s (%u value ≤ 0 hidden)",
                                         "%s (%u values ≤ 0 hidden)", hidden),
                            dinolab_plot_series_get_label (series), hidden);
  return g_strdup (dinolab_plot_series_get_label (series));
}

#define LEGEND_SWATCH 18.0
#define LEGEND_GAP    14.0
#define PAD           8.0

/* Lays out and draws everything but the hover overlay; @area receives the
 * data rectangle. */
static void
dinolab_plot_draw_into (DinolabPlot     *self,
                        cairo_t         *cr,
                        int              width,
                        int              height,
                        const PlotStyle *style,
                        graphene_rect_t *area)
{
  PangoLayout *layout = style->layout;
  DinolabPlotAxis x_axis, y_axis, x_scaled;
  double x_ticks[DINOLAB_PLOT_AXIS_MAX_TICKS], y_ticks[DINOLAB_PLOT_AXIS_MAX_TICKS];
  double x_step = 0.0, y_step = 0.0, unit = 1.0;
  guint n_x_ticks = 0, n_y_ticks = 0, i;
  int th, max_label = 0;
  double legend_h, left, right, top, bottom, lx, ly;
  const char *title;
  char buf[64], title_buf[64];
  gboolean has_points = dinolab_plot_has_points (self);

  cairo_save (cr);
  if (style->fill_background)
    {
      set_source (cr, &style->bg, 1.0);
      cairo_paint (cr);
    }

  dinolab_plot_compute_axes (self, &x_axis, &y_axis);
  title = x_title (self, &x_axis, &unit, title_buf, sizeof title_buf);
  text_width (layout, "0", &th);

  /* legend rows: entries flow left to right, wrapping */
  legend_h = 0.0;
  if (self->series->len > 0)
    {
      double row_x = PAD;
      legend_h = th + 6.0;
      for (i = 0; i < self->series->len; i++)
        {
          g_autofree char *text = legend_text (self, i);
          double w = LEGEND_SWATCH + 4.0 + text_width (layout, text, NULL) + LEGEND_GAP;
          if (row_x + w > width - PAD && row_x > PAD)
            {
              row_x = PAD;
              legend_h += th + 2.0;
            }
          row_x += w;
        }
    }

  top = PAD + legend_h + 4.0;
  bottom = height - (th + 4.0 + th + PAD);
  right = width - 16.0;

  /* y ticks first: their widest label sets the left margin */
  if (bottom - top > 20.0)
    n_y_ticks = dinolab_plot_axis_ticks (&y_axis, CLAMP ((int) ((bottom - top) / 36.0), 2, 12),
                                         y_ticks, &y_step);
  for (i = 0; i < n_y_ticks; i++)
    max_label = MAX (max_label, text_width (layout,
                                            dinolab_plot_axis_format (y_ticks[i], y_step, buf, sizeof buf),
                                            NULL));
  left = PAD + max_label + 6.0;

  *area = GRAPHENE_RECT_INIT (left, top, MAX (right - left, 1.0), MAX (bottom - top, 1.0));

  /* x ticks in the display unit */
  x_scaled = x_axis;
  x_scaled.min /= unit;
  x_scaled.max /= unit;
  n_x_ticks = dinolab_plot_axis_ticks (&x_scaled, CLAMP ((int) (area->size.width / 90.0), 2, 12),
                                       x_ticks, &x_step);

  /* grid and tick labels */
  cairo_set_line_width (cr, 1.0);
  for (i = 0; i < n_y_ticks; i++)
    {
      double y = floor (py_of (area, &y_axis, y_ticks[i])) + 0.5;
      set_source (cr, &style->fg, 0.10);
      cairo_move_to (cr, area->origin.x, y);
      cairo_line_to (cr, area->origin.x + area->size.width, y);
      cairo_stroke (cr);
      set_source (cr, &style->fg, 0.75);
      draw_text (cr, layout, dinolab_plot_axis_format (y_ticks[i], y_step, buf, sizeof buf),
                 area->origin.x - 6.0, y, 1.0, 0.5);
    }
  for (i = 0; i < n_x_ticks; i++)
    {
      double x = floor (px_of (area, &x_axis, x_ticks[i] * unit)) + 0.5;
      set_source (cr, &style->fg, 0.10);
      cairo_move_to (cr, x, area->origin.y);
      cairo_line_to (cr, x, area->origin.y + area->size.height);
      cairo_stroke (cr);
      set_source (cr, &style->fg, 0.75);
      draw_text (cr, layout, dinolab_plot_axis_format (x_ticks[i], x_step, buf, sizeof buf),
                 x, bottom + 4.0, 0.5, 0.0);
    }
  set_source (cr, &style->fg, 0.75);
  draw_text (cr, layout, title, area->origin.x + area->size.width / 2.0, height - PAD, 0.5, 1.0);

  /* frame */
  set_source (cr, &style->fg, 0.35);
  cairo_rectangle (cr, floor (area->origin.x) + 0.5, floor (area->origin.y) + 0.5,
                   round (area->size.width) - 1.0, round (area->size.height) - 1.0);
  cairo_stroke (cr);

  if (!has_points)
    {
      set_source (cr, &style->fg, 0.55);
      draw_text (cr, layout, _("No data yet"), area->origin.x + area->size.width / 2.0,
                 area->origin.y + area->size.height / 2.0, 0.5, 0.5);
    }

  /* everything inside the frame is clipped to it */
  cairo_save (cr);
  cairo_rectangle (cr, area->origin.x, area->origin.y, area->size.width, area->size.height);
  cairo_clip (cr);

  /* reference lines and markers: dashed, under the curves */
  cairo_set_dash (cr, (double[]) { 6.0, 4.0 }, 2, 0.0);
  for (i = 0; i < self->ref_lines->len; i++)
    {
      RefLine *ref = &g_array_index (self->ref_lines, RefLine, i);
      double y;
      if (!isfinite (dinolab_plot_axis_map (&y_axis, ref->y)))
        continue;
      y = floor (py_of (area, &y_axis, ref->y)) + 0.5;
      set_source (cr, &style->fg, 0.6);
      cairo_move_to (cr, area->origin.x, y);
      cairo_line_to (cr, area->origin.x + area->size.width, y);
      cairo_stroke (cr);
      if (ref->label != NULL)
        draw_text (cr, layout, ref->label, area->origin.x + area->size.width - 6.0, y - 2.0, 1.0, 1.0);
    }
  for (i = 0; i < self->markers->len; i++)
    {
      Marker *marker = &g_array_index (self->markers, Marker, i);
      double x = floor (px_of (area, &x_axis, marker->x[self->x_kind])) + 0.5;
      set_source (cr, &style->fg, 0.6);
      cairo_move_to (cr, x, area->origin.y);
      cairo_line_to (cr, x, area->origin.y + area->size.height);
      cairo_stroke (cr);
      if (marker->label != NULL)
        draw_text (cr, layout, marker->label, x + 4.0, area->origin.y + 4.0, 0.0, 0.0);
    }
  cairo_set_dash (cr, NULL, 0, 0.0);

  /* curves: raw (faint when smoothed), then smoothed */
  /* bevel joins: round ones cost Cairo about twice the time on the
   * thousands of vertical min..max segments of a long series */
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_BEVEL);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  for (i = 0; i < self->series->len; i++)
    {
      DinolabPlotSeries *series = g_ptr_array_index (self->series, i);
      GdkRGBA colour;

      if (dinolab_plot_series_get_n_points (series) == 0)
        continue;
      series_colour (self, i, style, &colour);
      if (self->smoothing > 0.0)
        {
          set_source (cr, &colour, 0.3);
          cairo_set_line_width (cr, 1.0);
          draw_curve (self, cr, series, dinolab_plot_series_get_y (series), area, &x_axis, &y_axis);
        }
      set_source (cr, &colour, 1.0);
      cairo_set_line_width (cr, 1.5);
      draw_curve (self, cr, series,
                  dinolab_plot_series_get_smoothed (series, self->smoothing),
                  area, &x_axis, &y_axis);
    }
  cairo_restore (cr);

  /* legend */
  lx = PAD;
  ly = PAD;
  for (i = 0; i < self->series->len; i++)
    {
      g_autofree char *text = legend_text (self, i);
      double w = LEGEND_SWATCH + 4.0 + text_width (layout, text, NULL) + LEGEND_GAP;
      GdkRGBA colour;

      if (lx + w > width - PAD && lx > PAD)
        {
          lx = PAD;
          ly += th + 2.0;
        }
      series_colour (self, i, style, &colour);
      set_source (cr, &colour, 1.0);
      cairo_set_line_width (cr, 3.0);
      cairo_move_to (cr, lx, round (ly + th / 2.0));
      cairo_line_to (cr, lx + LEGEND_SWATCH, round (ly + th / 2.0));
      cairo_stroke (cr);
      set_source (cr, &style->fg, 0.9);
      draw_text (cr, layout, text, lx + LEGEND_SWATCH + 4.0, ly, 0.0, 0.0);
      lx += w;
    }

  cairo_restore (cr);
}

/* The read-out line for the x under the pointer, e.g. "Step 1200". */
static char *
format_x (DinolabPlot *self,
          double       x)
{
  switch (self->x_kind)
    {
    case DINOLAB_PLOT_X_EPOCH:
      return g_strdup_printf (_("Epoch %.3f"), x);
    case DINOLAB_PLOT_X_WALL:
      return g_strdup_printf (_("Time %.1f s"), x);
    case DINOLAB_PLOT_X_STEP:
    case DINOLAB_PLOT_X_N_KINDS:
    default:
      return g_strdup_printf (_("Step %.0f"), x);
    }
}

/* The hover read-out and the zoom rectangle, over the last frame. */
static void
dinolab_plot_draw_overlay (DinolabPlot     *self,
                           cairo_t         *cr,
                           const PlotStyle *style)
{
  const graphene_rect_t *area = &self->area;
  PangoLayout *layout = style->layout;
  DinolabPlotAxis x_axis, y_axis;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) colours = g_array_new (FALSE, FALSE, sizeof (GdkRGBA));
  double x_value, box_w = 0.0, box_h, bx, by;
  int th;
  guint i;

  if (self->dragging)
    {
      GdkRGBA accent;
      double x0 = MIN (self->drag_x0, self->drag_x1), x1 = MAX (self->drag_x0, self->drag_x1);
      double y0 = MIN (self->drag_y0, self->drag_y1), y1 = MAX (self->drag_y0, self->drag_y1);

      if (fabs (self->drag_y1 - self->drag_y0) < MIN_DRAG)  /* x only: full height */
        {
          y0 = area->origin.y;
          y1 = area->origin.y + area->size.height;
        }
      gdk_rgba_parse (&accent, style->dark ? palette_dark[0] : palette_light[0]);
      set_source (cr, &accent, 0.15);
      cairo_rectangle (cr, x0, y0, x1 - x0, y1 - y0);
      cairo_fill_preserve (cr);
      set_source (cr, &accent, 0.8);
      cairo_set_line_width (cr, 1.0);
      cairo_stroke (cr);
      return;
    }
  if (!self->hovering || !dinolab_plot_has_points (self))
    return;

  dinolab_plot_compute_axes (self, &x_axis, &y_axis);
  x_value = dinolab_plot_axis_unmap (&x_axis, (self->hover_x - area->origin.x) / area->size.width);

  set_source (cr, &style->fg, 0.4);
  cairo_set_line_width (cr, 1.0);
  cairo_move_to (cr, floor (self->hover_x) + 0.5, area->origin.y);
  cairo_line_to (cr, floor (self->hover_x) + 0.5, area->origin.y + area->size.height);
  cairo_stroke (cr);

  g_ptr_array_add (lines, format_x (self, x_value));
  for (i = 0; i < self->series->len; i++)
    {
      DinolabPlotSeries *series = g_ptr_array_index (self->series, i);
      int k = dinolab_plot_series_nearest (series, self->x_kind, x_value);
      const double *y, *raw;
      double px, py;
      GdkRGBA colour;

      if (k < 0)
        continue;
      series_colour (self, i, style, &colour);
      y = dinolab_plot_series_get_smoothed (series, self->smoothing);
      raw = dinolab_plot_series_get_y (series);
      if (self->log_y && y[k] <= 0.0)
        /* Translators: hover read-out of a value a log scale cannot show */
        g_ptr_array_add (lines, g_strdup_printf (_("%s: %.4g (≤ 0, not on log scale)"),
                                                 dinolab_plot_series_get_label (series), y[k]));
      else if (self->smoothing > 0.0)
        g_ptr_array_add (lines, g_strdup_printf (_("%s: %.4g (raw %.4g)"),
                                                 dinolab_plot_series_get_label (series), y[k], raw[k]));
      else
        g_ptr_array_add (lines, g_strdup_printf ("%s: %.4g",
                                                 dinolab_plot_series_get_label (series), y[k]));
      g_array_append_val (colours, colour);

      px = px_of (area, &x_axis, dinolab_plot_series_get_x (series, self->x_kind)[k]);
      if (isfinite (dinolab_plot_axis_map (&y_axis, y[k])))
        {
          py = py_of (area, &y_axis, y[k]);
          /* ringed in the background colour, so it shows on a noisy curve */
          set_source (cr, &colour, 1.0);
          cairo_arc (cr, px, py, 4.0, 0, 2 * G_PI);
          cairo_fill_preserve (cr);
          if (style->dark)
            cairo_set_source_rgb (cr, 0.14, 0.14, 0.14);
          else
            cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
          cairo_set_line_width (cr, 1.5);
          cairo_stroke (cr);
        }
    }

  /* the box: right of the pointer, or left when it would not fit */
  text_width (layout, "0", &th);
  for (i = 0; i < lines->len; i++)
    box_w = MAX (box_w, text_width (layout, g_ptr_array_index (lines, i), NULL)
                        + (i > 0 ? LEGEND_SWATCH / 2.0 + 4.0 : 0.0));
  box_w += 12.0;
  box_h = lines->len * (th + 2.0) + 8.0;
  bx = self->hover_x + 12.0;
  if (bx + box_w > area->origin.x + area->size.width)
    bx = self->hover_x - 12.0 - box_w;
  by = area->origin.y + 8.0;

  if (style->dark)
    cairo_set_source_rgba (cr, 0.16, 0.16, 0.16, 0.92);
  else
    cairo_set_source_rgba (cr, 1.0, 1.0, 1.0, 0.92);
  cairo_rectangle (cr, bx, by, box_w, box_h);
  cairo_fill_preserve (cr);
  set_source (cr, &style->fg, 0.3);
  cairo_stroke (cr);
  for (i = 0; i < lines->len; i++)
    {
      double ty = by + 4.0 + i * (th + 2.0);
      double tx = bx + 6.0;
      if (i > 0)
        {
          set_source (cr, &g_array_index (colours, GdkRGBA, i - 1), 1.0);
          cairo_rectangle (cr, tx, ty + th / 2.0 - 2.0, LEGEND_SWATCH / 2.0, 4.0);
          cairo_fill (cr);
          tx += LEGEND_SWATCH / 2.0 + 4.0;
        }
      set_source (cr, &style->fg, 1.0);
      draw_text (cr, layout, g_ptr_array_index (lines, i), tx, ty, 0.0, 0.0);
    }
}

/* ---- GtkWidget ----------------------------------------------------------- */

static void
dinolab_plot_snapshot (GtkWidget   *widget,
                       GtkSnapshot *snapshot)
{
  DinolabPlot *self = DINOLAB_PLOT (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  PlotStyle style;
  cairo_t *cr;

  if (width <= 0 || height <= 0)
    return;

  widget_style (self, &style);
  style.layout = gtk_widget_create_pango_layout (widget, NULL);

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  dinolab_plot_draw_into (self, cr, width, height, &style, &self->area);
  self->area_valid = TRUE;
  cairo_destroy (cr);

  if (self->hovering || self->dragging)
    {
      cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
      dinolab_plot_draw_overlay (self, cr, &style);
      cairo_destroy (cr);
    }
  g_object_unref (style.layout);
}

static void
dinolab_plot_measure (GtkWidget      *widget,
                      GtkOrientation  orientation,
                      int             for_size,
                      int            *minimum,
                      int            *natural,
                      int            *minimum_baseline,
                      int            *natural_baseline)
{
  /* A modest natural width: plots expand into whatever room they get, and a
   * flow box puts two side by side only when both fit at their natural size. */
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 160;
      *natural = 240;
    }
  else
    {
      *minimum = 120;
      *natural = 300;
    }
}

/* ---- gestures ------------------------------------------------------------ */

static void
on_motion (GtkEventControllerMotion *controller,
           double                    x,
           double                    y,
           DinolabPlot              *self)
{
  dinolab_plot_hover (self, x, y);
}

static void
on_leave (GtkEventControllerMotion *controller,
          DinolabPlot              *self)
{
  dinolab_plot_hover (self, -1.0, -1.0);
}

static void
on_drag_begin (GtkGestureDrag *gesture,
               double          x,
               double          y,
               DinolabPlot    *self)
{
  self->drag_x0 = self->drag_x1 = x;
  self->drag_y0 = self->drag_y1 = y;
}

static void
on_drag_update (GtkGestureDrag *gesture,
                double          dx,
                double          dy,
                DinolabPlot    *self)
{
  self->drag_x1 = self->drag_x0 + dx;
  self->drag_y1 = self->drag_y0 + dy;
  self->dragging = fabs (dx) >= MIN_DRAG;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_drag_end (GtkGestureDrag *gesture,
             double          dx,
             double          dy,
             DinolabPlot    *self)
{
  gboolean was_dragging = self->dragging;

  self->dragging = FALSE;
  if (was_dragging && fabs (dx) >= MIN_DRAG)
    {
      if (fabs (dy) < MIN_DRAG)  /* horizontal drag: zoom x, keep y */
        dinolab_plot_zoom_rect (self, self->drag_x0, self->area.origin.y,
                                self->drag_x0 + dx, self->area.origin.y + self->area.size.height);
      else
        dinolab_plot_zoom_rect (self, self->drag_x0, self->drag_y0,
                                self->drag_x0 + dx, self->drag_y0 + dy);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_pressed (GtkGestureClick *gesture,
            int              n_press,
            double           x,
            double           y,
            DinolabPlot     *self)
{
  if (n_press == 2)
    dinolab_plot_reset_view (self);
}

/* ---- GObject ------------------------------------------------------------- */

static void
ref_line_clear (gpointer data)
{
  g_free (((RefLine *) data)->label);
}

static void
marker_clear (gpointer data)
{
  g_free (((Marker *) data)->label);
}

static void
dinolab_plot_dispose (GObject *object)
{
  DinolabPlot *self = DINOLAB_PLOT (object);

  while (self->series->len > 0)
    dinolab_plot_remove_series (self, g_ptr_array_index (self->series, self->series->len - 1));

  G_OBJECT_CLASS (dinolab_plot_parent_class)->dispose (object);
}

static void
dinolab_plot_finalize (GObject *object)
{
  DinolabPlot *self = DINOLAB_PLOT (object);

  g_ptr_array_unref (self->series);
  g_array_unref (self->ref_lines);
  g_array_unref (self->markers);
  g_free (self->columns);

  G_OBJECT_CLASS (dinolab_plot_parent_class)->finalize (object);
}

static void
dinolab_plot_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  DinolabPlot *self = DINOLAB_PLOT (object);

  switch (prop_id)
    {
    case PROP_X_KIND:
      g_value_set_enum (value, self->x_kind);
      break;
    case PROP_LOG_Y:
      g_value_set_boolean (value, self->log_y);
      break;
    case PROP_SMOOTHING:
      g_value_set_double (value, self->smoothing);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_plot_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  DinolabPlot *self = DINOLAB_PLOT (object);

  switch (prop_id)
    {
    case PROP_X_KIND:
      dinolab_plot_set_x_kind (self, g_value_get_enum (value));
      break;
    case PROP_LOG_Y:
      dinolab_plot_set_log_y (self, g_value_get_boolean (value));
      break;
    case PROP_SMOOTHING:
      dinolab_plot_set_smoothing (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_plot_class_init (DinolabPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = dinolab_plot_dispose;
  object_class->finalize = dinolab_plot_finalize;
  object_class->get_property = dinolab_plot_get_property;
  object_class->set_property = dinolab_plot_set_property;
  widget_class->snapshot = dinolab_plot_snapshot;
  widget_class->measure = dinolab_plot_measure;

  properties[PROP_X_KIND] =
    g_param_spec_enum ("x-kind", NULL, NULL,
                       DINOLAB_TYPE_PLOT_X_KIND, DINOLAB_PLOT_X_STEP,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOG_Y] =
    g_param_spec_boolean ("log-y", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SMOOTHING] =
    g_param_spec_double ("smoothing", NULL, NULL, 0.0, 0.999, 0.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "dinolab-plot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
dinolab_plot_init (DinolabPlot *self)
{
  GtkEventController *motion;
  GtkGesture *drag;
  GtkGesture *click;

  self->series = g_ptr_array_new_with_free_func (g_object_unref);
  self->ref_lines = g_array_new (FALSE, FALSE, sizeof (RefLine));
  g_array_set_clear_func (self->ref_lines, ref_line_clear);
  self->markers = g_array_new (FALSE, FALSE, sizeof (Marker));
  g_array_set_clear_func (self->markers, marker_clear);

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, _("Empty plot"),
                                  -1);
}

/* ---- public API ---------------------------------------------------------- */

GtkWidget *
dinolab_plot_new (void)
{
  return g_object_new (DINOLAB_TYPE_PLOT, NULL);
}

static void
on_series_changed (DinolabPlotSeries *series,
                   DinolabPlot       *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* "Plot of loss, entropy": what a screen reader says for the image. */
static void
dinolab_plot_update_description (DinolabPlot *self)
{
  g_autoptr(GString) names = g_string_new (NULL);
  g_autofree char *text = NULL;
  guint i;

  for (i = 0; i < self->series->len; i++)
    {
      if (i > 0)
        g_string_append (names, ", ");
      g_string_append (names, dinolab_plot_series_get_label (g_ptr_array_index (self->series, i)));
    }
  /* Translators: accessible description of a plot; %s lists its curves */
  text = names->len > 0 ? g_strdup_printf (_("Plot of %s"), names->str) : g_strdup (_("Empty plot"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text,
                                  -1);
}

void
dinolab_plot_add_series (DinolabPlot       *self,
                         DinolabPlotSeries *series)
{
  g_return_if_fail (DINOLAB_IS_PLOT (self));
  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (series));

  g_ptr_array_add (self->series, g_object_ref (series));
  g_signal_connect_object (series, "changed", G_CALLBACK (on_series_changed), self, 0);
  dinolab_plot_update_description (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dinolab_plot_remove_series (DinolabPlot       *self,
                            DinolabPlotSeries *series)
{
  g_return_if_fail (DINOLAB_IS_PLOT (self));
  g_return_if_fail (DINOLAB_IS_PLOT_SERIES (series));

  g_signal_handlers_disconnect_by_func (series, on_series_changed, self);
  if (g_ptr_array_remove (self->series, series))
    {
      dinolab_plot_update_description (self);
      gtk_widget_queue_draw (GTK_WIDGET (self));
    }
}

guint
dinolab_plot_get_n_series (DinolabPlot *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT (self), 0);

  return self->series->len;
}

DinolabPlotSeries *
dinolab_plot_get_series (DinolabPlot *self,
                         guint        index)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT (self), NULL);
  g_return_val_if_fail (index < self->series->len, NULL);

  return g_ptr_array_index (self->series, index);
}

void
dinolab_plot_set_x_kind (DinolabPlot      *self,
                         DinolabPlotXKind  kind)
{
  g_return_if_fail (DINOLAB_IS_PLOT (self));
  g_return_if_fail (kind < DINOLAB_PLOT_X_N_KINDS);

  if (self->x_kind == kind)
    return;
  self->x_kind = kind;
  self->zoomed = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_X_KIND]);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

DinolabPlotXKind
dinolab_plot_get_x_kind (DinolabPlot *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT (self), DINOLAB_PLOT_X_STEP);

  return self->x_kind;
}

void
dinolab_plot_set_log_y (DinolabPlot *self,
                        gboolean     log_y)
{
  g_return_if_fail (DINOLAB_IS_PLOT (self));

  log_y = !!log_y;
  if (self->log_y == log_y)
    return;
  self->log_y = log_y;
  self->zoomed = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOG_Y]);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
dinolab_plot_get_log_y (DinolabPlot *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT (self), FALSE);

  return self->log_y;
}

void
dinolab_plot_set_smoothing (DinolabPlot *self,
                            double       weight)
{
  g_return_if_fail (DINOLAB_IS_PLOT (self));
  g_return_if_fail (weight >= 0.0 && weight <= 0.999);

  if (self->smoothing == weight)
    return;
  self->smoothing = weight;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SMOOTHING]);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

double
dinolab_plot_get_smoothing (DinolabPlot *self)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT (self), 0.0);

  return self->smoothing;
}

void
dinolab_plot_add_reference_line (DinolabPlot *self,
                                 double       y,
                                 const char  *label)
{
  RefLine ref = { y, g_strdup (label) };

  g_return_if_fail (DINOLAB_IS_PLOT (self));

  g_array_append_val (self->ref_lines, ref);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dinolab_plot_add_marker (DinolabPlot *self,
                         double       step,
                         double       epoch,
                         double       wall,
                         const char  *label)
{
  Marker marker = { { step, epoch, wall }, g_strdup (label) };

  g_return_if_fail (DINOLAB_IS_PLOT (self));

  g_array_append_val (self->markers, marker);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dinolab_plot_clear_annotations (DinolabPlot *self)
{
  g_return_if_fail (DINOLAB_IS_PLOT (self));

  g_array_set_size (self->ref_lines, 0);
  g_array_set_size (self->markers, 0);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dinolab_plot_set_view (DinolabPlot *self,
                       double       x_min,
                       double       x_max,
                       double       y_min,
                       double       y_max)
{
  g_return_if_fail (DINOLAB_IS_PLOT (self));
  g_return_if_fail (x_min < x_max && y_min < y_max);

  self->zoomed = TRUE;
  self->view_x_min = x_min;
  self->view_x_max = x_max;
  self->view_y_min = y_min;
  self->view_y_max = y_max;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dinolab_plot_zoom_rect (DinolabPlot *self,
                        double       x0,
                        double       y0,
                        double       x1,
                        double       y1)
{
  const graphene_rect_t *area = &self->area;
  DinolabPlotAxis x_axis, y_axis;
  double tx0, tx1, ty0, ty1;

  g_return_if_fail (DINOLAB_IS_PLOT (self));

  if (!self->area_valid || area->size.width <= 0 || area->size.height <= 0)
    return;
  /* in [0,1] of the area, clamped to it; y up */
  tx0 = CLAMP ((MIN (x0, x1) - area->origin.x) / area->size.width, 0.0, 1.0);
  tx1 = CLAMP ((MAX (x0, x1) - area->origin.x) / area->size.width, 0.0, 1.0);
  ty0 = CLAMP (1.0 - (MAX (y0, y1) - area->origin.y) / area->size.height, 0.0, 1.0);
  ty1 = CLAMP (1.0 - (MIN (y0, y1) - area->origin.y) / area->size.height, 0.0, 1.0);
  if (tx1 - tx0 <= 0.0 || ty1 - ty0 <= 0.0)
    return;

  dinolab_plot_compute_axes (self, &x_axis, &y_axis);
  dinolab_plot_set_view (self,
                         dinolab_plot_axis_unmap (&x_axis, tx0), dinolab_plot_axis_unmap (&x_axis, tx1),
                         dinolab_plot_axis_unmap (&y_axis, ty0), dinolab_plot_axis_unmap (&y_axis, ty1));
}

void
dinolab_plot_reset_view (DinolabPlot *self)
{
  g_return_if_fail (DINOLAB_IS_PLOT (self));

  self->zoomed = FALSE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
dinolab_plot_get_view (DinolabPlot *self,
                       double      *x_min,
                       double      *x_max,
                       double      *y_min,
                       double      *y_max)
{
  DinolabPlotAxis x_axis, y_axis;

  g_return_val_if_fail (DINOLAB_IS_PLOT (self), FALSE);

  dinolab_plot_compute_axes (self, &x_axis, &y_axis);
  if (x_min != NULL)
    *x_min = x_axis.min;
  if (x_max != NULL)
    *x_max = x_axis.max;
  if (y_min != NULL)
    *y_min = y_axis.min;
  if (y_max != NULL)
    *y_max = y_axis.max;
  return self->zoomed;
}

gboolean
dinolab_plot_get_data_area (DinolabPlot     *self,
                            graphene_rect_t *area)
{
  g_return_val_if_fail (DINOLAB_IS_PLOT (self), FALSE);
  g_return_val_if_fail (area != NULL, FALSE);

  if (!self->area_valid)
    return FALSE;
  *area = self->area;
  return TRUE;
}

void
dinolab_plot_hover (DinolabPlot *self,
                    double       x,
                    double       y)
{
  gboolean inside;

  g_return_if_fail (DINOLAB_IS_PLOT (self));

  inside = self->area_valid && graphene_rect_contains_point (&self->area, &GRAPHENE_POINT_INIT (x, y));
  if (!inside && !self->hovering)
    return;
  self->hovering = inside;
  self->hover_x = x;
  self->hover_y = y;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
dinolab_plot_draw (DinolabPlot *self,
                   cairo_t     *cr,
                   int          width,
                   int          height)
{
  PlotStyle style;
  graphene_rect_t area;

  g_return_if_fail (DINOLAB_IS_PLOT (self));
  g_return_if_fail (cr != NULL);
  g_return_if_fail (width > 0 && height > 0);

  widget_style (self, &style);
  style.layout = pango_cairo_create_layout (cr);
  pango_layout_set_font_description (style.layout,
                                     pango_context_get_font_description (gtk_widget_get_pango_context (GTK_WIDGET (self))));
  dinolab_plot_draw_into (self, cr, width, height, &style, &area);
  g_object_unref (style.layout);
}

gboolean
dinolab_plot_export (DinolabPlot        *self,
                     const char         *path,
                     DinolabPlotFormat   format,
                     int                 width,
                     int                 height,
                     GError            **error)
{
  PlotStyle style = { .dark = FALSE, .fill_background = TRUE };
  cairo_surface_t *surface;
  cairo_status_t status;
  graphene_rect_t area;
  cairo_t *cr;

  g_return_val_if_fail (DINOLAB_IS_PLOT (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (width > 0 && height > 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  switch (format)
    {
    case DINOLAB_PLOT_FORMAT_SVG:
      surface = cairo_svg_surface_create (path, width, height);
      break;
    case DINOLAB_PLOT_FORMAT_PDF:
      surface = cairo_pdf_surface_create (path, width, height);
      break;
    case DINOLAB_PLOT_FORMAT_PNG:
    default:
      surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
      break;
    }

  gdk_rgba_parse (&style.fg, "#1e1e1e");
  gdk_rgba_parse (&style.bg, "#ffffff");
  cr = cairo_create (surface);
  style.layout = pango_cairo_create_layout (cr);
  pango_layout_set_font_description (style.layout,
                                     pango_context_get_font_description (gtk_widget_get_pango_context (GTK_WIDGET (self))));
  dinolab_plot_draw_into (self, cr, width, height, &style, &area);
  g_object_unref (style.layout);
  status = cairo_status (cr);
  cairo_destroy (cr);

  if (status == CAIRO_STATUS_SUCCESS && format == DINOLAB_PLOT_FORMAT_PNG)
    status = cairo_surface_write_to_png (surface, path);
  cairo_surface_finish (surface);  /* SVG and PDF are written here */
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_status (surface);
  cairo_surface_destroy (surface);

  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_autofree char *display = g_filename_display_name (path);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Could not export the plot to %s: %s"), display,
                   cairo_status_to_string (status));
      return FALSE;
    }
  return TRUE;
}
