/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-attention-grid.c: the attention map grid (see
 * dinolab-attention-grid.h). One layout function places the tiles (image,
 * mean, heads) in the columns that give them the largest size; one drawing
 * function paints them into any cairo_t, for the widget's snapshot and for
 * the PNG export. Each map is coloured over its own min..max (as the CLI's
 * PNGs and visualize_attention.py do). The masks come from the engine's
 * dinolab_attention_mask, recomputed when the data or the fraction changes.
 * Not here: loading models, computing attention, the controls.
 */
#define G_LOG_DOMAIN "dinolab-attention-grid"

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>
#include <pango/pangocairo.h>

#include "dinolab/eval.h"
#include "dinolab-attention-grid.h"

#define TILE_GAP       8.0   /* pixels between tiles and around the grid */
#define CAPTION_HEIGHT 20.0  /* caption line above each tile */
#define EXPORT_TILE    192   /* export: the longer image side at least this */
#define EXPORT_COLUMNS 4

/* 9 samples (0, 1/8, ..., 1) of matplotlib's colormaps (_cm_listed.py) */
static const guint8 colormaps[DINOLAB_COLORMAP_N][9][3] = {
  [DINOLAB_COLORMAP_VIRIDIS] = {
    { 68, 1, 84 }, { 71, 44, 122 }, { 59, 81, 139 }, { 44, 113, 142 }, { 33, 144, 141 },
    { 39, 173, 129 }, { 92, 200, 99 }, { 170, 220, 50 }, { 253, 231, 37 } },
  [DINOLAB_COLORMAP_INFERNO] = {
    { 0, 0, 4 }, { 31, 12, 72 }, { 85, 15, 109 }, { 136, 34, 106 }, { 186, 54, 85 },
    { 227, 89, 51 }, { 249, 140, 10 }, { 249, 201, 50 }, { 252, 255, 164 } },
  [DINOLAB_COLORMAP_MAGMA] = {
    { 0, 0, 4 }, { 28, 16, 68 }, { 79, 18, 123 }, { 129, 37, 129 }, { 181, 54, 122 },
    { 229, 80, 100 }, { 251, 135, 97 }, { 254, 194, 135 }, { 252, 253, 191 } },
  [DINOLAB_COLORMAP_GREY] = {
    { 0, 0, 0 }, { 32, 32, 32 }, { 64, 64, 64 }, { 96, 96, 96 }, { 128, 128, 128 },
    { 159, 159, 159 }, { 191, 191, 191 }, { 223, 223, 223 }, { 255, 255, 255 } },
};

/* Mask colours: the mean first (pink), then one per head (cycled). */
static const double mask_colours[9][3] = {
  { 1.0, 0.1, 0.6 },
  { 1.0, 0.23, 0.19 }, { 0.2, 0.85, 0.3 }, { 0.2, 0.55, 1.0 }, { 1.0, 0.8, 0.0 },
  { 0.95, 0.3, 0.95 }, { 0.0, 0.9, 0.9 }, { 1.0, 0.55, 0.1 }, { 0.65, 0.45, 1.0 },
};

struct _DinolabAttentionGrid
{
  GtkWidget        parent_instance;

  guint8          *rgb;       /* [height, width, 3] or NULL */
  int              width, height;
  float           *maps;      /* [1 + n_heads, P]: the mean, then the heads */
  guint8          *masks;     /* [1 + n_heads, P], valid when threshold > 0 */
  int             *kept;      /* [1 + n_heads] patches kept */
  double          *kept_mass; /* [1 + n_heads] fraction of the mass kept */
  int              n_heads, grid_h, grid_w;

  DinolabColormap  colormap;
  double           opacity;
  gboolean         smooth;
  double           threshold;
};

enum
{
  PROP_0,
  PROP_COLORMAP,
  PROP_OPACITY,
  PROP_SMOOTH,
  PROP_THRESHOLD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (DinolabAttentionGrid, dinolab_attention_grid, GTK_TYPE_WIDGET)

void
dinolab_colormap_rgb (DinolabColormap cmap,
                      double          t,
                      double          rgb[3])
{
  double u;
  int i, c;

  g_return_if_fail ((int) cmap >= 0 && cmap < DINOLAB_COLORMAP_N);
  u = CLAMP (isfinite (t) ? t : 0.0, 0.0, 1.0) * 8.0;
  i = MIN ((int) u, 7);
  for (c = 0; c < 3; c++)
    rgb[c] = ((1.0 - (u - i)) * colormaps[cmap][i][c] + (u - i) * colormaps[cmap][i + 1][c]) / 255.0;
}

// ---- masks -----------------------------------------------------------------

static void
update_masks (DinolabAttentionGrid *self)
{
  int P = self->grid_h * self->grid_w;
  int t, i;

  if (self->maps == NULL || self->threshold <= 0.0)
    return;
  for (t = 0; t <= self->n_heads; t++)
    {
      const float *m = self->maps + (gsize) t * P;
      guint8 *k = self->masks + (gsize) t * P;
      double total = 0.0, part = 0.0;

      self->kept[t] = dinolab_attention_mask (k, m, P, self->threshold);
      for (i = 0; i < P; i++)
        {
          total += m[i];
          part += k[i] ? m[i] : 0.0;
        }
      self->kept_mass[t] = total > 0.0 ? part / total : 0.0;
    }
}

// ---- layout ------------------------------------------------------------------

typedef struct
{
  int    cols;
  double scale;    /* image pixels -> drawn pixels */
  double x0, y0;   /* top left of the first cell */
  double cell_w, cell_h;
} Layout;

static int
n_tiles (DinolabAttentionGrid *self)
{
  return self->rgb != NULL ? self->n_heads + 2 : 0;
}

/* The columns that make the tiles largest within @width x @height, or
 * @force_cols columns when it is > 0 (the export). */
static Layout
layout_tiles (DinolabAttentionGrid *self,
              double                width,
              double                height,
              int                   force_cols)
{
  Layout best = { 1, 0.0, 0, 0, 0, 0 };
  int n = n_tiles (self);
  int cols;

  if (n == 0)
    return best;
  for (cols = force_cols > 0 ? force_cols : 1; cols <= (force_cols > 0 ? force_cols : n); cols++)
    {
      int rows = (n + cols - 1) / cols;
      double cw = (width - (cols + 1) * TILE_GAP) / cols;
      double ch = (height - (rows + 1) * TILE_GAP) / rows - CAPTION_HEIGHT;
      double s = MIN (cw / self->width, ch / self->height);

      if (s > best.scale)
        {
          best.cols = cols;
          best.scale = s;
        }
    }
  best.scale = MAX (best.scale, 0.05);
  best.cell_w = self->width * best.scale;
  best.cell_h = self->height * best.scale + CAPTION_HEIGHT;
  {
    int rows = (n + best.cols - 1) / best.cols;
    double gw = best.cols * best.cell_w + (best.cols - 1) * TILE_GAP;
    double gh = rows * best.cell_h + (rows - 1) * TILE_GAP;
    best.x0 = floor (MAX (TILE_GAP, (width - gw) / 2));
    best.y0 = floor (MAX (TILE_GAP, (height - gh) / 2));
  }
  return best;
}

/* The image area of tile @t (0: the image, 1: the mean, 2 + h: head h). */
static graphene_rect_t
tile_area (const Layout *l,
           int           t)
{
  graphene_rect_t r;
  int col = t % l->cols, row = t / l->cols;

  graphene_rect_init (&r, round (l->x0 + col * (l->cell_w + TILE_GAP)),
                      round (l->y0 + row * (l->cell_h + TILE_GAP) + CAPTION_HEIGHT),
                      l->cell_w, l->cell_h - CAPTION_HEIGHT);
  return r;
}

// ---- drawing -----------------------------------------------------------------

static cairo_surface_t *
image_surface (DinolabAttentionGrid *self)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, self->width, self->height);
  unsigned char *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  int x, y;

  cairo_surface_flush (s);
  for (y = 0; y < self->height; y++)
    {
      guint32 *row = (guint32 *) (data + (gsize) y * stride);
      for (x = 0; x < self->width; x++)
        {
          const guint8 *q = self->rgb + ((gsize) y * self->width + x) * 3;
          row[x] = ((guint32) q[0] << 16) | ((guint32) q[1] << 8) | q[2];
        }
    }
  cairo_surface_mark_dirty (s);
  return s;
}

/* Map @t through the colormap over its min..max, one pixel per patch. */
static cairo_surface_t *
heat_surface (DinolabAttentionGrid *self,
              int                   t)
{
  int gh = self->grid_h, gw = self->grid_w, P = gh * gw;
  const float *map = self->maps + (gsize) t * P;
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, gw, gh);
  unsigned char *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  float lo = map[0], hi = map[0];
  int i, x, y;

  for (i = 1; i < P; i++)
    {
      lo = MIN (lo, map[i]);
      hi = MAX (hi, map[i]);
    }
  cairo_surface_flush (s);
  for (y = 0; y < gh; y++)
    {
      guint32 *row = (guint32 *) (data + (gsize) y * stride);
      for (x = 0; x < gw; x++)
        {
          double rgb[3];
          dinolab_colormap_rgb (self->colormap, hi > lo ? (map[y * gw + x] - lo) / (double) (hi - lo) : 0.0, rgb);
          row[x] = ((guint32) lround (rgb[0] * 255) << 16) | ((guint32) lround (rgb[1] * 255) << 8)
                   | (guint32) lround (rgb[2] * 255);
        }
    }
  cairo_surface_mark_dirty (s);
  return s;
}

/* Paints @src over @area, scaled from @sw x @sh source pixels. */
static void
paint_scaled (cairo_t               *cr,
              cairo_surface_t       *src,
              int                    sw,
              int                    sh,
              const graphene_rect_t *area,
              cairo_filter_t         filter,
              double                 alpha)
{
  cairo_save (cr);
  cairo_rectangle (cr, area->origin.x, area->origin.y, area->size.width, area->size.height);
  cairo_clip (cr);
  cairo_translate (cr, area->origin.x, area->origin.y);
  cairo_scale (cr, area->size.width / sw, area->size.height / sh);
  cairo_set_source_surface (cr, src, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), filter);
  cairo_pattern_set_extend (cairo_get_source (cr), CAIRO_EXTEND_PAD);
  cairo_paint_with_alpha (cr, alpha);
  cairo_restore (cr);
}

/* Mask of tile @t filled in its colour and outlined along the patch edges
 * where it ends. */
static void
draw_mask (DinolabAttentionGrid  *self,
           cairo_t               *cr,
           int                    t,
           const graphene_rect_t *area)
{
  int gh = self->grid_h, gw = self->grid_w, x, y;
  const guint8 *mask = self->masks + (gsize) t * gh * gw;
  const double *colour = mask_colours[t == 0 ? 0 : 1 + (t - 1) % 8];
  double cw = area->size.width / gw, ch = area->size.height / gh;
  double ox = area->origin.x, oy = area->origin.y;

  cairo_save (cr);
  cairo_set_source_rgba (cr, colour[0], colour[1], colour[2], 0.75 * self->opacity);
  for (y = 0; y < gh; y++)
    for (x = 0; x < gw; x++)
      if (mask[y * gw + x])
        cairo_rectangle (cr, ox + x * cw, oy + y * ch, cw, ch);
  cairo_fill (cr);
  for (y = 0; y < gh; y++)
    for (x = 0; x < gw; x++)
      {
        /* edges on the border move one pixel in, so the line is not half cut off */
        double x0 = ox + (x == 0 ? 1.0 : x * cw), x1 = ox + (x == gw - 1 ? gw * cw - 1.0 : (x + 1) * cw);
        double y0 = oy + (y == 0 ? 1.0 : y * ch), y1 = oy + (y == gh - 1 ? gh * ch - 1.0 : (y + 1) * ch);

        if (!mask[y * gw + x])
          continue;
        if (y == 0 || !mask[(y - 1) * gw + x])
          {
            cairo_move_to (cr, x0, y0);
            cairo_line_to (cr, x1, y0);
          }
        if (y == gh - 1 || !mask[(y + 1) * gw + x])
          {
            cairo_move_to (cr, x0, y1);
            cairo_line_to (cr, x1, y1);
          }
        if (x == 0 || !mask[y * gw + x - 1])
          {
            cairo_move_to (cr, x0, y0);
            cairo_line_to (cr, x0, y1);
          }
        if (x == gw - 1 || !mask[y * gw + x + 1])
          {
            cairo_move_to (cr, x1, y0);
            cairo_line_to (cr, x1, y1);
          }
      }
  cairo_set_source_rgb (cr, colour[0], colour[1], colour[2]);
  cairo_set_line_width (cr, 2.0);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_SQUARE);
  cairo_stroke (cr);
  cairo_restore (cr);
}

static char *
caption (DinolabAttentionGrid *self,
         int                   t)
{
  int P = self->grid_h * self->grid_w;
  g_autofree char *name = NULL;

  if (t == 0)
    return g_strdup (_("Image"));
  name = t == 1 ? g_strdup (_("Mean of heads")) : g_strdup_printf (_("Head %d"), t - 1);
  if (self->threshold > 0.0)
    /* TRANSLATORS: "Head 2: 61 % in 9/36": the share of the attention mass kept by the mask and the patches it keeps */
    return g_strdup_printf (_("%s: %.0f %% in %d/%d"), name, 100.0 * self->kept_mass[t - 1], self->kept[t - 1], P);
  return g_steal_pointer (&name);
}

static void
draw_all (DinolabAttentionGrid *self,
          cairo_t              *cr,
          int                   width,
          int                   height,
          int                   force_cols,
          const GdkRGBA        *fg)
{
  Layout l = layout_tiles (self, width, height, force_cols);
  cairo_surface_t *img;
  PangoLayout *pl;
  PangoFontDescription *font;
  cairo_filter_t img_filter;
  int n = n_tiles (self), t;

  if (n == 0)
    return;
  img = image_surface (self);
  img_filter = l.scale >= 1.0 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD;
  pl = pango_cairo_create_layout (cr);
  font = pango_font_description_from_string ("Sans 9");
  pango_layout_set_font_description (pl, font);
  pango_layout_set_ellipsize (pl, PANGO_ELLIPSIZE_END);
  pango_layout_set_width (pl, (int) (l.cell_w * PANGO_SCALE));
  for (t = 0; t < n; t++)
    {
      graphene_rect_t a = tile_area (&l, t);
      g_autofree char *text = caption (self, t);

      paint_scaled (cr, img, self->width, self->height, &a, img_filter, 1.0);
      if (t > 0 && self->threshold > 0.0)
        draw_mask (self, cr, t - 1, &a);
      else if (t > 0)
        {
          cairo_surface_t *heat = heat_surface (self, t - 1);
          paint_scaled (cr, heat, self->grid_w, self->grid_h, &a,
                        self->smooth ? CAIRO_FILTER_BILINEAR : CAIRO_FILTER_NEAREST, self->opacity);
          cairo_surface_destroy (heat);
        }
      pango_layout_set_text (pl, text, -1);
      cairo_move_to (cr, a.origin.x, a.origin.y - CAPTION_HEIGHT + 2);
      gdk_cairo_set_source_rgba (cr, fg);
      pango_cairo_show_layout (cr, pl);
    }
  pango_font_description_free (font);
  g_object_unref (pl);
  cairo_surface_destroy (img);
}

void
dinolab_attention_grid_draw (DinolabAttentionGrid *self,
                             cairo_t              *cr,
                             int                   width,
                             int                   height)
{
  GdkRGBA fg;

  g_return_if_fail (DINOLAB_IS_ATTENTION_GRID (self));
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (GTK_WIDGET (self)), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS
  draw_all (self, cr, width, height, 0, &fg);
}

static void
dinolab_attention_grid_snapshot (GtkWidget   *widget,
                                 GtkSnapshot *snapshot)
{
  DinolabAttentionGrid *self = DINOLAB_ATTENTION_GRID (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  cairo_t *cr;

  if (self->rgb == NULL || w <= 0 || h <= 0)
    return;
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  dinolab_attention_grid_draw (self, cr, w, h);
  cairo_destroy (cr);
}

static void
dinolab_attention_grid_measure (GtkWidget      *widget G_GNUC_UNUSED,
                                GtkOrientation  orientation G_GNUC_UNUSED,
                                int             for_size G_GNUC_UNUSED,
                                int            *minimum,
                                int            *natural,
                                int            *minimum_baseline,
                                int            *natural_baseline)
{
  *minimum = 120;
  *natural = 480;
  *minimum_baseline = *natural_baseline = -1;
}

// ---- export --------------------------------------------------------------------

void
dinolab_attention_grid_get_export_size (DinolabAttentionGrid *self,
                                        int                  *width,
                                        int                  *height)
{
  int n, cols, rows;
  double s;

  g_return_if_fail (DINOLAB_IS_ATTENTION_GRID (self));
  *width = *height = 0;
  if ((n = n_tiles (self)) == 0)
    return;
  cols = MIN (n, EXPORT_COLUMNS);
  rows = (n + cols - 1) / cols;
  s = MAX (1.0, ceil ((double) EXPORT_TILE / MAX (self->width, self->height)));
  *width = (int) (cols * self->width * s + (cols + 1) * TILE_GAP);
  *height = (int) (rows * (self->height * s + CAPTION_HEIGHT) + (rows + 1) * TILE_GAP);
}

gboolean
dinolab_attention_grid_export_png (DinolabAttentionGrid *self,
                                   const char           *path,
                                   GError              **error)
{
  static const GdkRGBA black = { 0, 0, 0, 1 };
  cairo_surface_t *surface;
  cairo_status_t status;
  cairo_t *cr;
  int w, h;

  g_return_val_if_fail (DINOLAB_IS_ATTENTION_GRID (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  dinolab_attention_grid_get_export_size (self, &w, &h);
  if (w == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("There are no attention maps to export yet"));
      return FALSE;
    }
  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  draw_all (self, cr, w, h, MIN (n_tiles (self), EXPORT_COLUMNS), &black);
  cairo_destroy (cr);
  status = cairo_surface_write_to_png (surface, path);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("%s: cannot write PNG: %s"), path,
                   cairo_status_to_string (status));
      return FALSE;
    }
  return TRUE;
}

// ---- data and properties ----------------------------------------------------------

void
dinolab_attention_grid_set_data (DinolabAttentionGrid *self,
                                 const guint8         *rgb,
                                 int                   width,
                                 int                   height,
                                 const float          *maps,
                                 int                   n_heads,
                                 int                   grid_h,
                                 int                   grid_w)
{
  int P = grid_h * grid_w, h, i;

  g_return_if_fail (DINOLAB_IS_ATTENTION_GRID (self));
  g_clear_pointer (&self->rgb, g_free);
  g_clear_pointer (&self->maps, g_free);
  g_clear_pointer (&self->masks, g_free);
  g_clear_pointer (&self->kept, g_free);
  g_clear_pointer (&self->kept_mass, g_free);
  self->n_heads = self->grid_h = self->grid_w = 0;
  if (rgb != NULL)
    {
      g_return_if_fail (width > 0 && height > 0 && maps != NULL && n_heads > 0 && P > 0);
      self->rgb = g_memdup2 (rgb, (gsize) width * height * 3);
      self->width = width;
      self->height = height;
      self->n_heads = n_heads;
      self->grid_h = grid_h;
      self->grid_w = grid_w;
      self->maps = g_new0 (float, (gsize) (n_heads + 1) * P);
      memcpy (self->maps + P, maps, sizeof (float) * n_heads * P);
      for (h = 0; h < n_heads; h++)
        for (i = 0; i < P; i++)
          self->maps[i] += maps[(gsize) h * P + i] / n_heads;
      self->masks = g_new0 (guint8, (gsize) (n_heads + 1) * P);
      self->kept = g_new0 (int, n_heads + 1);
      self->kept_mass = g_new0 (double, n_heads + 1);
      update_masks (self);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

int
dinolab_attention_grid_get_n_heads (DinolabAttentionGrid *self)
{
  g_return_val_if_fail (DINOLAB_IS_ATTENTION_GRID (self), 0);
  return self->n_heads;
}

void
dinolab_attention_grid_get_grid_size (DinolabAttentionGrid *self,
                                      int                  *grid_h,
                                      int                  *grid_w)
{
  g_return_if_fail (DINOLAB_IS_ATTENTION_GRID (self));
  *grid_h = self->grid_h;
  *grid_w = self->grid_w;
}

const float *
dinolab_attention_grid_get_map (DinolabAttentionGrid *self,
                                int                   tile)
{
  g_return_val_if_fail (DINOLAB_IS_ATTENTION_GRID (self), NULL);
  if (self->maps == NULL || tile < 0 || tile > self->n_heads)
    return NULL;
  return self->maps + (gsize) tile * self->grid_h * self->grid_w;
}

const guint8 *
dinolab_attention_grid_get_mask (DinolabAttentionGrid *self,
                                 int                   tile)
{
  g_return_val_if_fail (DINOLAB_IS_ATTENTION_GRID (self), NULL);
  if (self->maps == NULL || self->threshold <= 0.0 || tile < 0 || tile > self->n_heads)
    return NULL;
  return self->masks + (gsize) tile * self->grid_h * self->grid_w;
}

gboolean
dinolab_attention_grid_get_tile_area (DinolabAttentionGrid *self,
                                      int                   tile,
                                      graphene_rect_t      *area)
{
  Layout l;

  g_return_val_if_fail (DINOLAB_IS_ATTENTION_GRID (self), FALSE);
  if (tile < -1 || tile + 1 >= n_tiles (self))
    return FALSE;
  l = layout_tiles (self, gtk_widget_get_width (GTK_WIDGET (self)), gtk_widget_get_height (GTK_WIDGET (self)), 0);
  *area = tile_area (&l, tile + 1);
  return TRUE;
}

void
dinolab_attention_grid_set_colormap (DinolabAttentionGrid *self,
                                     DinolabColormap       cmap)
{
  g_return_if_fail (DINOLAB_IS_ATTENTION_GRID (self));
  g_return_if_fail ((int) cmap >= 0 && cmap < DINOLAB_COLORMAP_N);
  if (self->colormap == cmap)
    return;
  self->colormap = cmap;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COLORMAP]);
}

void
dinolab_attention_grid_set_opacity (DinolabAttentionGrid *self,
                                    double                opacity)
{
  g_return_if_fail (DINOLAB_IS_ATTENTION_GRID (self));
  opacity = CLAMP (opacity, 0.0, 1.0);
  if (self->opacity == opacity)
    return;
  self->opacity = opacity;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OPACITY]);
}

void
dinolab_attention_grid_set_smooth (DinolabAttentionGrid *self,
                                   gboolean              smooth)
{
  g_return_if_fail (DINOLAB_IS_ATTENTION_GRID (self));
  smooth = !!smooth;
  if (self->smooth == smooth)
    return;
  self->smooth = smooth;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SMOOTH]);
}

void
dinolab_attention_grid_set_threshold (DinolabAttentionGrid *self,
                                      double                fraction)
{
  g_return_if_fail (DINOLAB_IS_ATTENTION_GRID (self));
  fraction = CLAMP (fraction, 0.0, 1.0);
  if (self->threshold == fraction)
    return;
  self->threshold = fraction;
  update_masks (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THRESHOLD]);
}

static void
dinolab_attention_grid_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  DinolabAttentionGrid *self = DINOLAB_ATTENTION_GRID (object);

  switch (prop_id)
    {
    case PROP_COLORMAP:
      g_value_set_int (value, self->colormap);
      break;
    case PROP_OPACITY:
      g_value_set_double (value, self->opacity);
      break;
    case PROP_SMOOTH:
      g_value_set_boolean (value, self->smooth);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_attention_grid_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  DinolabAttentionGrid *self = DINOLAB_ATTENTION_GRID (object);

  switch (prop_id)
    {
    case PROP_COLORMAP:
      dinolab_attention_grid_set_colormap (self, g_value_get_int (value));
      break;
    case PROP_OPACITY:
      dinolab_attention_grid_set_opacity (self, g_value_get_double (value));
      break;
    case PROP_SMOOTH:
      dinolab_attention_grid_set_smooth (self, g_value_get_boolean (value));
      break;
    case PROP_THRESHOLD:
      dinolab_attention_grid_set_threshold (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_attention_grid_finalize (GObject *object)
{
  DinolabAttentionGrid *self = DINOLAB_ATTENTION_GRID (object);

  g_free (self->rgb);
  g_free (self->maps);
  g_free (self->masks);
  g_free (self->kept);
  g_free (self->kept_mass);
  G_OBJECT_CLASS (dinolab_attention_grid_parent_class)->finalize (object);
}

static void
dinolab_attention_grid_class_init (DinolabAttentionGridClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = dinolab_attention_grid_finalize;
  object_class->get_property = dinolab_attention_grid_get_property;
  object_class->set_property = dinolab_attention_grid_set_property;
  widget_class->snapshot = dinolab_attention_grid_snapshot;
  widget_class->measure = dinolab_attention_grid_measure;

  properties[PROP_COLORMAP] =
    g_param_spec_int ("colormap", NULL, NULL, 0, DINOLAB_COLORMAP_N - 1, DINOLAB_COLORMAP_VIRIDIS,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OPACITY] =
    g_param_spec_double ("opacity", NULL, NULL, 0.0, 1.0, 0.6,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SMOOTH] =
    g_param_spec_boolean ("smooth", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_THRESHOLD] =
    g_param_spec_double ("threshold", NULL, NULL, 0.0, 1.0, 0.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "dinolab-attention-grid");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
dinolab_attention_grid_init (DinolabAttentionGrid *self)
{
  self->colormap = DINOLAB_COLORMAP_VIRIDIS;
  self->opacity = 0.6;
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Attention maps"),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  _("The image, the mean attention over heads and one attention map per head of the last block's class token"),
                                  -1);
}

GtkWidget *
dinolab_attention_grid_new (void)
{
  return g_object_new (DINOLAB_TYPE_ATTENTION_GRID, NULL);
}
