/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-attention-grid.h: DinolabAttentionGrid, the widget that draws one
 * image's last-block CLS attention as a grid of tiles: the image, the mean
 * over heads, then one tile per head. Each map is an overlay on the image
 * through a colormap (DinolabColormap, a small table) at a chosen opacity,
 * upsampled as patch blocks (nearest) or smoothly (bilinear); or, in
 * threshold mode, the smallest set of patches holding a fraction of the
 * map's mass (dinolab_attention_mask) as a coloured mask with its outline.
 * It draws into any cairo_t, so the same code makes the PNG export. It holds
 * a copy of the data it draws and computes nothing but the mean and the
 * masks; it loads no model (see dinolab-attention-view.h).
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef enum
{
  DINOLAB_COLORMAP_VIRIDIS,
  DINOLAB_COLORMAP_INFERNO,
  DINOLAB_COLORMAP_MAGMA,
  DINOLAB_COLORMAP_GREY,
} DinolabColormap;

#define DINOLAB_COLORMAP_N (DINOLAB_COLORMAP_GREY + 1)

/* dinolab_colormap_rgb:
 * The colour of @t (clamped to [0, 1]) in @cmap, linearly interpolated
 * between the table's 9 samples; @rgb receives 3 values in [0, 1]. */
void        dinolab_colormap_rgb          (DinolabColormap cmap,
                                           double          t,
                                           double          rgb[3]);

#define DINOLAB_TYPE_ATTENTION_GRID (dinolab_attention_grid_get_type ())

G_DECLARE_FINAL_TYPE (DinolabAttentionGrid, dinolab_attention_grid, DINOLAB, ATTENTION_GRID, GtkWidget)

/* Creates an empty grid (viridis, opacity 0.6, nearest, no threshold).
 * Returns a floating widget. */
GtkWidget  *dinolab_attention_grid_new    (void);

/* dinolab_attention_grid_set_data:
 * Shows @rgb [@height, @width, 3] with @maps [@n_heads, @grid_h * @grid_w]
 * (patches row-major; each patch covers @height / @grid_h x @width /
 * @grid_w pixels). Both are copied. @rgb NULL clears the grid (it then
 * shows nothing). */
void        dinolab_attention_grid_set_data (DinolabAttentionGrid *self,
                                             const guint8         *rgb,
                                             int                   width,
                                             int                   height,
                                             const float          *maps,
                                             int                   n_heads,
                                             int                   grid_h,
                                             int                   grid_w);

/* Heads of the data shown (0 when empty), and the patch grid. */
int         dinolab_attention_grid_get_n_heads (DinolabAttentionGrid *self);
void        dinolab_attention_grid_get_grid_size (DinolabAttentionGrid *self,
                                                  int                  *grid_h,
                                                  int                  *grid_w);

/* dinolab_attention_grid_get_map:
 * Map @tile: 0 = the mean over heads, 1 + h = head h; [grid_h * grid_w]
 * owned by the grid (valid until the next set_data), or NULL. */
const float *dinolab_attention_grid_get_map (DinolabAttentionGrid *self,
                                             int                   tile);

/* dinolab_attention_grid_get_mask:
 * The threshold mask of map @tile (as get_map) at the current fraction:
 * [grid_h * grid_w] of 0/1 owned by the grid, or NULL when the grid is empty
 * or threshold mode is off. */
const guint8 *dinolab_attention_grid_get_mask (DinolabAttentionGrid *self,
                                               int                   tile);

/* dinolab_attention_grid_get_tile_area:
 * Where map @tile (-1: the image, 0: the mean, 1 + h: head h) is drawn
 * at the widget's current size: the image area of the tile, in widget
 * coordinates. FALSE when there is no such tile. */
gboolean    dinolab_attention_grid_get_tile_area (DinolabAttentionGrid *self,
                                                  int                   tile,
                                                  graphene_rect_t      *area);

/* Properties "colormap", "opacity" ([0, 1]), "smooth" (bilinear instead of
 * patch blocks) and "threshold" (the kept fraction of the mass in (0, 1];
 * 0 turns threshold mode off). */
void        dinolab_attention_grid_set_colormap  (DinolabAttentionGrid *self,
                                                  DinolabColormap       cmap);
void        dinolab_attention_grid_set_opacity   (DinolabAttentionGrid *self,
                                                  double                opacity);
void        dinolab_attention_grid_set_smooth    (DinolabAttentionGrid *self,
                                                  gboolean              smooth);
void        dinolab_attention_grid_set_threshold (DinolabAttentionGrid *self,
                                                  double                fraction);

/* dinolab_attention_grid_draw:
 * Lays out and draws the tiles into @cr over @width x @height (the widget
 * and the export both use it). */
void        dinolab_attention_grid_draw   (DinolabAttentionGrid *self,
                                           cairo_t              *cr,
                                           int                   width,
                                           int                   height);

/* dinolab_attention_grid_export_png:
 * Writes the grid as a PNG at its natural export size (tiles of at least
 * 192 pixels, up to 4 a row, on white) to @path. FALSE with @error set
 * (G_IO_ERROR) when there is nothing to export or the file cannot be
 * written. */
gboolean    dinolab_attention_grid_export_png (DinolabAttentionGrid *self,
                                               const char           *path,
                                               GError              **error);

/* The size dinolab_attention_grid_export_png() writes, or 0 x 0 when empty. */
void        dinolab_attention_grid_get_export_size (DinolabAttentionGrid *self,
                                                    int                  *width,
                                                    int                  *height);

G_END_DECLS
