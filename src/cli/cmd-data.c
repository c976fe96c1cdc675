/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * cmd-data.c: `crops` and `bench-data`, the two ways to look at the data pipeline
 * from the command line. `crops` draws a contact sheet (Cairo, PNG) of one item and
 * every multi-crop view the augmentation makes of it, each labelled with what was
 * applied, so a person can check the augmentations by eye. `bench-data` prints the
 * loader's throughput on one thread and on N, beside the rate at which one core's
 * training step consumes the same samples.
 *
 * Neither trains nor stores anything; the views are exactly what the trainer gets
 * for (seed, epoch, item), de-normalised back to pixels.
 */
#include "config.h"

#include <cairo.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "augment-private.h"
#include "cli.h"
#include "dinolab/data.h"
#include "dinolab/error.h"
#include "dinolab/model.h"
#include "dinolab/step.h"
#include "kernels.h"

/* Tiles are scaled up (nearest) to at least this many pixels, or down to at most
 * SHEET_MAX_TILE for large images. */
#define SHEET_MIN_TILE  128
#define SHEET_MAX_TILE  320
#define SHEET_MIN_CELL  200
#define SHEET_MARGIN    16
#define SHEET_GAP       14
#define SHEET_FONT      11.0
#define SHEET_LINE      14.0
#define SHEET_LOCALS_PER_ROW 4

static const char *const preset_dirs[] = { PKGDATADIR "/presets", SOURCE_DATADIR "/presets", NULL };

/* Distinct colours for the views' frames and their boxes on the original. */
static const double view_colours[][3] = {
    { 0.85, 0.15, 0.15 }, { 0.10, 0.45, 0.85 }, { 0.10, 0.60, 0.25 }, { 0.90, 0.55, 0.05 },
    { 0.55, 0.25, 0.75 }, { 0.05, 0.65, 0.70 }, { 0.85, 0.30, 0.60 }, { 0.45, 0.45, 0.10 },
    { 0.35, 0.35, 0.35 }, { 0.60, 0.30, 0.15 },
};

/* Preset (default "default"), then --config, --set, --dataset and --seed. */
static gboolean
load_hparams_ (DinolabHparams *hp, const char *preset, const char *config, char **sets,
               const char *dataset, gint64 seed, GError **error)
{
    dinolab_hparams_init (hp);
    if (!dinolab_hparams_load_preset (hp, preset ? preset : "default", preset_dirs, error) ||
        !cli_apply_overrides (hp, config, sets, error))
        return FALSE;
    if (dataset != NULL && !dinolab_hparams_set (hp, "dataset", dataset, error))
        return FALSE;
    if (seed >= 0) {
        g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, seed);
        if (!dinolab_hparams_set (hp, "seed", text, error))
            return FALSE;
    }
    return dinolab_hparams_validate (hp, error);
}

/* Opens @spec; warns about the files an image folder left out. */
static DinolabDataset *
open_dataset_ (const char *cmd, const char *spec, DinolabSplit split, GError **error)
{
    DinolabDataset *ds = dinolab_dataset_open (spec, split, error);
    guint skipped;

    if (ds != NULL && (skipped = dinolab_dataset_get_n_skipped (ds)) > 0) {
        const char *first = dinolab_dataset_get_first_skipped (ds);
        g_printerr ("dinolab-cli %s: warning: %s: %u file%s could not be read and %s left out%s%s\n",
                    cmd, spec, skipped, skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are",
                    first ? ", the first: " : "", first ? first : "");
    }
    return ds;
}

static gboolean
parse_split_ (const char *text, DinolabSplit *split)
{
    if (text == NULL || g_ascii_strcasecmp (text, "train") == 0)
        *split = DINOLAB_SPLIT_TRAIN;
    else if (g_ascii_strcasecmp (text, "test") == 0)
        *split = DINOLAB_SPLIT_TEST;
    else
        return FALSE;
    return TRUE;
}

// ----------------------------------------------------------------------------
// contact sheet

/* An RGB24 surface of an 8-bit interleaved image (C = 1 or 3). */
static cairo_surface_t *
surface_from_u8_ (const guint8 *px, int W, int H, int C)
{
    cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
    int stride = cairo_image_surface_get_stride (s);
    unsigned char *data = cairo_image_surface_get_data (s);

    for (int y = 0; y < H; y++) {
        guint32 *row = (guint32 *) (void *) (data + (size_t) y * stride);
        for (int x = 0; x < W; x++) {
            const guint8 *p = px + ((size_t) y * W + x) * C;
            guint32 r = p[0], g = C == 3 ? p[1] : p[0], b = C == 3 ? p[2] : p[0];
            row[x] = (r << 16) | (g << 8) | b;
        }
    }
    cairo_surface_mark_dirty (s);
    return s;
}

/* A view (C x S x S normalised floats) back to 8-bit pixels, then to a surface. */
static cairo_surface_t *
surface_from_view_ (const float *view, int S, int C, const float *mean, const float *std)
{
    g_autofree guint8 *px = g_new (guint8, (size_t) S * S * C);

    for (int c = 0; c < C; c++)
        for (int i = 0; i < S * S; i++) {
            double v = (view[(size_t) c * S * S + i] * std[c] + mean[c]) * 255.0;
            px[(size_t) i * C + c] = (guint8) CLAMP (lround (v), 0, 255);
        }
    return surface_from_u8_ (px, S, S, C);
}

/* Display scale for an image whose larger side is @side. */
static double
tile_scale_ (int side)
{
    if (side < SHEET_MIN_TILE)
        return ceil ((double) SHEET_MIN_TILE / side);
    if (side > SHEET_MAX_TILE)
        return (double) SHEET_MAX_TILE / side;
    return 1.0;
}

static void
paint_tile_ (cairo_t *cr, cairo_surface_t *s, double x, double y, double scale, const double *rgb)
{
    int w = cairo_image_surface_get_width (s), h = cairo_image_surface_get_height (s);

    cairo_save (cr);
    cairo_translate (cr, x, y);
    cairo_scale (cr, scale, scale);
    cairo_set_source_surface (cr, s, 0, 0);
    cairo_pattern_set_filter (cairo_get_source (cr), scale >= 1.0 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cairo_rectangle (cr, 0, 0, w, h);
    cairo_fill (cr);
    cairo_restore (cr);
    if (rgb != NULL) {
        cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width (cr, 3.0);
        cairo_rectangle (cr, x - 1.5, y - 1.5, w * scale + 3.0, h * scale + 3.0);
        cairo_stroke (cr);
    }
}

/* Draws @text from (x, y) (baseline of the first line) wrapped at word boundaries
 * within @width; returns the number of lines. With @cr NULL, only counts them. */
static int
draw_wrapped_ (cairo_t *cr, cairo_t *measure, const char *text, double x, double y, double width)
{
    g_auto (GStrv) words = g_strsplit (text, " ", -1);
    g_autoptr (GString) line = g_string_new (NULL);
    int lines = 0;

    for (int i = 0; words[i] != NULL; i++) {
        g_autofree char *trial = line->len ? g_strdup_printf ("%s %s", line->str, words[i])
                                           : g_strdup (words[i]);
        cairo_text_extents_t ext;
        cairo_text_extents (measure, trial, &ext);
        if (ext.x_advance > width && line->len > 0) {
            if (cr != NULL) {
                cairo_move_to (cr, x, y + lines * SHEET_LINE);
                cairo_show_text (cr, line->str);
            }
            lines++;
            g_string_assign (line, words[i]);
        } else {
            g_string_assign (line, trial);
        }
    }
    if (line->len > 0) {
        if (cr != NULL) {
            cairo_move_to (cr, x, y + lines * SHEET_LINE);
            cairo_show_text (cr, line->str);
        }
        lines++;
    }
    return lines;
}

/* The label lines of view @v: name and size; crop box; what fired. */
static GPtrArray *
view_label_ (const DinolabAugmentLog *l, int v, int C)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GString) ops = g_string_new (NULL);

    if (v < 2)
        g_ptr_array_add (lines, g_strdup_printf ("global %d \u00b7 %d\u00d7%d", v + 1, l->size, l->size));
    else
        g_ptr_array_add (lines, g_strdup_printf ("local %d \u00b7 %d\u00d7%d", v - 1, l->size, l->size));
    g_ptr_array_add (lines, g_strdup_printf ("crop %d\u00d7%d at (%d, %d)%s", l->crop_w, l->crop_h,
                                             l->crop_x, l->crop_y, l->crop_fallback ? ", centre fallback" : ""));
    if (l->flip)
        g_string_append (ops, "flip, ");
    if (l->jitter) {
        /* the factors in the order they were applied; saturation and hue do
         * nothing to one-channel images */
        g_string_append (ops, "jitter");
        for (int i = 0; i < 4; i++) {
            switch (l->jitter_order[i]) {
            case AUGMENT_JITTER_BRIGHTNESS:
                g_string_append_printf (ops, " b%.2f", l->brightness);
                break;
            case AUGMENT_JITTER_CONTRAST:
                g_string_append_printf (ops, " c%.2f", l->contrast);
                break;
            case AUGMENT_JITTER_SATURATION:
                if (C == 3)
                    g_string_append_printf (ops, " s%.2f", l->saturation);
                break;
            default:
                if (C == 3)
                    g_string_append_printf (ops, " h%+.3f", l->hue);
                break;
            }
        }
        g_string_append (ops, ", ");
    }
    if (l->gray && C == 3)
        g_string_append (ops, "gray, ");
    if (l->blur)
        g_string_append_printf (ops, "blur \u03c3=%.3f, ", l->sigma);
    if (l->solarize)
        g_string_append (ops, "solarize, ");
    if (ops->len == 0)
        g_string_append (ops, "no flip, no colour op, no blur");
    else
        g_string_truncate (ops, ops->len - 2);
    g_ptr_array_add (lines, g_string_free (g_steal_pointer (&ops), FALSE));
    return lines;
}

typedef struct {
    cairo_surface_t *surface;
    double           scale, w, h;   /* display size */
    GPtrArray       *label;         /* lines (first one bold) */
    const double    *colour;
    double           x, y, cell_w;  /* layout */
    int              n_lines;
} Tile;

static gboolean
write_sheet_ (const char *out, const DinolabImage *img, float *const *views, const DinolabAugmentLog *log,
              int n_views, int C, const float *mean, const float *std, const char *title,
              const char *subtitle, const char *orig_label, GError **error)
{
    /* tiles: the original, the original with every crop box, then each view */
    int n_tiles = 2 + n_views, n_rows = 1 + (n_views - 2 + SHEET_LOCALS_PER_ROW - 1) / SHEET_LOCALS_PER_ROW;
    g_autofree Tile *tiles = g_new0 (Tile, n_tiles);
    cairo_surface_t *measure_s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *measure = cairo_create (measure_s);
    cairo_surface_t *sheet;
    cairo_t *cr;
    cairo_status_t st;
    double y, sheet_w = 0.0, sheet_h;

    cairo_select_font_face (measure, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size (measure, SHEET_FONT);

    tiles[0].surface = surface_from_u8_ (img->pixels, img->width, img->height, C);
    tiles[0].scale = tile_scale_ (MAX (img->width, img->height));
    tiles[0].label = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (tiles[0].label, g_strdup_printf ("original %d\u00d7%d", img->width, img->height));
    g_ptr_array_add (tiles[0].label, g_strdup (orig_label));
    /* the boxes need room: twice the size when the image is shown small */
    tiles[1].surface = cairo_surface_reference (tiles[0].surface);
    tiles[1].scale = tiles[0].scale;
    if (MAX (img->width, img->height) * tiles[0].scale < 2 * SHEET_MIN_TILE)
        tiles[1].scale *= 2.0;
    tiles[1].label = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (tiles[1].label, g_strdup ("crop boxes"));
    g_ptr_array_add (tiles[1].label, g_strdup ("each view's RandomResizedCrop box, before resize and flip"));
    for (int v = 0; v < n_views; v++) {
        Tile *t = &tiles[2 + v];
        t->surface = surface_from_view_ (views[v], log[v].size, C, mean, std);
        t->scale = tile_scale_ (log[v].size);
        t->label = view_label_ (&log[v], v, C);
        t->colour = view_colours[v % G_N_ELEMENTS (view_colours)];
    }
    for (int i = 0; i < n_tiles; i++) {
        Tile *t = &tiles[i];
        t->w = cairo_image_surface_get_width (t->surface) * t->scale;
        t->h = cairo_image_surface_get_height (t->surface) * t->scale;
        t->cell_w = MAX (t->w, SHEET_MIN_CELL);
        t->n_lines = 0;
        for (guint k = 0; k < t->label->len; k++)
            t->n_lines += draw_wrapped_ (NULL, measure, t->label->pdata[k], 0, 0, t->cell_w);
    }

    /* layout: row 0 = original, global 1, global 2; then the locals, a few per row */
    y = SHEET_MARGIN + 2.5 * SHEET_LINE + SHEET_GAP;
    for (int row = 0, i = 0; row < n_rows && i < n_tiles; row++) {
        int n = row == 0 ? MIN (4, n_tiles) : MIN (SHEET_LOCALS_PER_ROW, n_tiles - i);
        double x = SHEET_MARGIN, row_h = 0.0;
        for (int k = 0; k < n; k++, i++) {
            Tile *t = &tiles[i];
            t->x = x;
            t->y = y;
            x += t->cell_w + SHEET_GAP;
            row_h = MAX (row_h, t->h + 6.0 + t->n_lines * SHEET_LINE);
        }
        sheet_w = MAX (sheet_w, x - SHEET_GAP + SHEET_MARGIN);
        y += row_h + SHEET_GAP;
    }
    sheet_h = y + SHEET_MARGIN - SHEET_GAP;
    {
        cairo_text_extents_t ext;
        cairo_set_font_size (measure, SHEET_FONT + 2.0);
        cairo_text_extents (measure, title, &ext);
        sheet_w = MAX (sheet_w, ext.x_advance + 2 * SHEET_MARGIN);
        cairo_set_font_size (measure, SHEET_FONT);
        cairo_text_extents (measure, subtitle, &ext);
        sheet_w = MAX (sheet_w, ext.x_advance + 2 * SHEET_MARGIN);
    }

    sheet = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (int) ceil (sheet_w), (int) ceil (sheet_h));
    cr = cairo_create (sheet);
    cairo_set_source_rgb (cr, 1, 1, 1);
    cairo_paint (cr);
    cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size (cr, SHEET_FONT + 2.0);
    cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
    cairo_move_to (cr, SHEET_MARGIN, SHEET_MARGIN + SHEET_LINE);
    cairo_show_text (cr, title);
    cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size (cr, SHEET_FONT);
    cairo_set_source_rgb (cr, 0.35, 0.35, 0.35);
    cairo_move_to (cr, SHEET_MARGIN, SHEET_MARGIN + 2.3 * SHEET_LINE);
    cairo_show_text (cr, subtitle);

    for (int i = 0; i < n_tiles; i++) {
        Tile *t = &tiles[i];
        double ty = t->y + t->h + 6.0 + SHEET_FONT;
        paint_tile_ (cr, t->surface, t->x, t->y, t->scale, t->colour);
        for (guint k = 0; k < t->label->len; k++) {
            cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                                    k == 0 ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
            if (k == 0 && t->colour != NULL)
                cairo_set_source_rgb (cr, t->colour[0] * 0.8, t->colour[1] * 0.8, t->colour[2] * 0.8);
            else
                cairo_set_source_rgb (cr, 0.15, 0.15, 0.15);
            ty += SHEET_LINE * draw_wrapped_ (cr, measure, t->label->pdata[k], t->x, ty, t->cell_w);
        }
    }
    /* every view's crop box on the second copy of the original, dimmed */
    {
        const Tile *t = &tiles[1];
        double s = t->scale;
        cairo_set_source_rgba (cr, 1, 1, 1, 0.35);
        cairo_rectangle (cr, t->x, t->y, t->w, t->h);
        cairo_fill (cr);
        cairo_set_line_width (cr, 2.0);
        cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
        for (int v = 0; v < n_views; v++) {
            const double *c = view_colours[v % G_N_ELEMENTS (view_colours)];
            g_autofree char *tag = v < 2 ? g_strdup_printf ("g%d", v + 1) : g_strdup_printf ("l%d", v - 1);
            double bx = t->x + log[v].crop_x * s, by = t->y + log[v].crop_y * s;
            cairo_set_source_rgb (cr, c[0], c[1], c[2]);
            cairo_rectangle (cr, bx + 1.0, by + 1.0, log[v].crop_w * s - 2.0, log[v].crop_h * s - 2.0);
            cairo_stroke (cr);
            cairo_move_to (cr, bx + 3.0, by + SHEET_FONT + 1.0);
            cairo_show_text (cr, tag);
        }
    }

    cairo_destroy (cr);
    st = cairo_surface_write_to_png (sheet, out);
    cairo_surface_destroy (sheet);
    for (int i = 0; i < n_tiles; i++) {
        cairo_surface_destroy (tiles[i].surface);
        g_ptr_array_unref (tiles[i].label);
    }
    cairo_destroy (measure);
    cairo_surface_destroy (measure_s);
    if (st != CAIRO_STATUS_SUCCESS) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s: cannot write the PNG: %s", out,
                     cairo_status_to_string (st));
        return FALSE;
    }
    return TRUE;
}

int
cmd_crops (int argc, char **argv)
{
    g_autofree char *dataset = NULL, *split_text = NULL, *config = NULL, *preset = NULL, *out = NULL;
    g_auto (GStrv) sets = NULL;
    gint64 index = 0, seed = -1, epoch = 0;
    int status = CLI_EXIT_OK;
    const GOptionEntry entries[] = {
        { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "Dataset spec (default: the preset's, fashion-mnist)", "SPEC" },
        { "split", 0, 0, G_OPTION_ARG_STRING, &split_text, "train (default) or test", "SPLIT" },
        { "index", 0, 0, G_OPTION_ARG_INT64, &index, "Item of the split (default 0)", "I" },
        { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed (default: the preset's)", "S" },
        { "epoch", 0, 0, G_OPTION_ARG_INT64, &epoch, "Epoch whose views to draw (default 0)", "E" },
        { "preset", 0, 0, G_OPTION_ARG_STRING, &preset, "Start from this preset (default: default)", "NAME" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Hyperparameters (JSON) on top of the preset", "CFG.json" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override one hyperparameter (repeatable)", "KEY=VALUE" },
        { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "The contact sheet to write", "SHEET.png" },
        { NULL }
    };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabDataset) ds = NULL;
    g_autoptr (DinolabAugment) aug = NULL;
    g_auto (DinolabImage) img = { 0 };
    g_auto (DinolabHparams) hp = { 0 };
    g_autofree DinolabAugmentLog *log = NULL;
    g_autofree char *title = NULL, *subtitle = NULL, *orig_label = NULL;
    g_autoptr (GString) norm = g_string_new (NULL);
    float mean[3], std[3], **views;
    DinolabSplit split;
    int C, n_views, label;
    gsize n;
    gboolean ok;

    if (!cli_parse ("crops", "", "Draws a contact sheet of one item and every multi-crop view the "
                    "augmentation makes of it for (seed, epoch, item), exactly as the trainer gets them, "
                    "scaled up and labelled with the crop box and the operations applied.",
                    entries, &argc, &argv, &status))
        return status;
    if (out == NULL)
        return cli_fail ("crops", CLI_EXIT_USAGE, "--out is required (see --help)");
    if (!parse_split_ (split_text, &split))
        return cli_fail ("crops", CLI_EXIT_USAGE, "--split: '%s' is neither train nor test", split_text);
    if (index < 0 || epoch < 0)
        return cli_fail ("crops", CLI_EXIT_USAGE, "--index and --epoch must be >= 0");
    if (!load_hparams_ (&hp, preset, config, sets, dataset, seed, &error))
        return cli_fail_error ("crops", CLI_EXIT_USAGE, error);
    if (!(ds = open_dataset_ ("crops", hp.dataset, split, &error)))
        return cli_fail_error ("crops", CLI_EXIT_FAILURE, error);
    n = dinolab_dataset_get_size (ds);
    if ((guint64) index >= n)
        return cli_fail ("crops", CLI_EXIT_USAGE, "--index %" G_GINT64_FORMAT ": the %s split of %s has %"
                         G_GSIZE_FORMAT " items (0 to %" G_GSIZE_FORMAT ")", index,
                         split == DINOLAB_SPLIT_TRAIN ? "train" : "test", hp.dataset, n, n - 1);
    C = dinolab_dataset_get_channels (ds);
    if (C != 1 && C != 3)
        return cli_fail ("crops", CLI_EXIT_USAGE, "%s: %d-channel images; the augmentation takes 1 or 3",
                         hp.dataset, C);
    if (!dinolab_dataset_get_normalization (ds, mean, std, &error) ||
        !dinolab_dataset_get_image (ds, (gsize) index, &img, &error))
        return cli_fail_error ("crops", CLI_EXIT_FAILURE, error);
    if (img.width < 2 || img.height < 2)
        return cli_fail ("crops", CLI_EXIT_USAGE, "%s: item %" G_GINT64_FORMAT " is %dx%d; crops need "
                         "images of at least 2x2 pixels", hp.dataset, index, img.width, img.height);

    aug = dinolab_augment_new (&hp, C, mean, std);
    n_views = dinolab_augment_get_n_views (aug);
    views = g_new (float *, n_views);
    for (int v = 0; v < n_views; v++) {
        int S = v < 2 ? hp.global_crop_size : hp.local_crop_size;
        views[v] = g_new (float, (gsize) C * S * S);
    }
    log = g_new0 (DinolabAugmentLog, n_views);
    _dinolab_augment_views_logged (aug, &img, (guint64) epoch, (guint64) index, views, log, NULL);

    label = dinolab_dataset_get_label (ds, (gsize) index);
    if (label >= 0 && (guint) label < dinolab_dataset_get_n_classes (ds))
        orig_label = g_strdup_printf ("label %d: %s", label, dinolab_dataset_get_class_name (ds, (guint) label));
    else
        orig_label = g_strdup ("no label");
    title = g_strdup_printf ("%s \u2014 item %" G_GINT64_FORMAT ", epoch %" G_GINT64_FORMAT ", seed %"
                             G_GUINT64_FORMAT, dinolab_dataset_get_description (ds), index, epoch, hp.seed);
    for (int c = 0; c < C; c++)
        g_string_append_printf (norm, "%s%.3f/%.3f", c ? ", " : "", mean[c], std[c]);
    subtitle = g_strdup_printf ("2 global %d\u00d7%d, scale (%g, %g); %d local %d\u00d7%d, scale (%g, %g); "
                                "blur \u03c3 \u00d7 %.3g (global), \u00d7 %.3g (local); mean/std %s",
                                hp.global_crop_size, hp.global_crop_size, hp.global_crops_scale[0],
                                hp.global_crops_scale[1], hp.local_crops_number, hp.local_crop_size,
                                hp.local_crop_size, hp.local_crops_scale[0], hp.local_crops_scale[1],
                                hp.global_crop_size / 224.0, hp.local_crop_size / 96.0, norm->str);

    ok = write_sheet_ (out, &img, views, log, n_views, C, mean, std, title, subtitle, orig_label, &error);
    for (int v = 0; v < n_views; v++)
        g_free (views[v]);
    g_free (views);
    if (!ok)
        return cli_fail_error ("crops", CLI_EXIT_FAILURE, error);
    printf ("%s: item %" G_GINT64_FORMAT " of %s and its %d views\n", out, index,
            dinolab_dataset_get_spec (ds), n_views);
    return CLI_EXIT_OK;
}

// ----------------------------------------------------------------------------
// loader throughput

typedef struct {
    int    threads;
    int    batches;
    double seconds, samples_per_s, crops_per_s;
} LoaderRate;

/* Consumes batches for about @seconds, after the first one (start-up: worker threads,
 * first decode), and reports the rate. */
static gboolean
measure_loader_ (DinolabDataset *ds, const DinolabHparams *hp, const float *mean, const float *std,
                 int threads, double seconds, LoaderRate *r, GError **error)
{
    g_autoptr (DinolabLoader) ld = dinolab_loader_new (ds, hp, mean, std, threads, error);
    gint64 t0, t;
    int n = 0;

    if (ld == NULL || dinolab_loader_next (ld, NULL, error) == NULL)
        return FALSE;
    t0 = t = g_get_monotonic_time ();
    while ((t - t0) * 1e-6 < seconds) {
        if (dinolab_loader_next (ld, NULL, error) == NULL)
            return FALSE;
        n++;
        t = g_get_monotonic_time ();
    }
    r->threads = threads;
    r->batches = n;
    r->seconds = (t - t0) * 1e-6;
    r->samples_per_s = (double) n * hp->batch_size_per_gpu / r->seconds;
    r->crops_per_s = r->samples_per_s * (2 + hp->local_crops_number);
    return TRUE;
}

/* Median seconds of a full training step on one core (BLAS on 1 thread), on a real
 * batch: what the trainer consumes. */
static gboolean
measure_step_ (DinolabDataset *ds, const DinolabHparams *hp, const float *mean, const float *std,
               int steps, double *step_s, GError **error)
{
    g_autoptr (DinolabLoader) ld = NULL;
    g_autoptr (DinolabModel) student = NULL;
    g_autoptr (DinolabModel) teacher = NULL;
    g_autoptr (DinolabStepper) stepper = NULL;
    g_autofree double *t = g_new (double, steps);
    const DinolabBatch *b;

    if (!(ld = dinolab_loader_new (ds, hp, mean, std, 1, error)) ||
        !(b = dinolab_loader_next (ld, NULL, error)) ||
        !(student = dinolab_model_new (hp, TRUE, error)) ||
        !(teacher = dinolab_model_new (hp, TRUE, error)))
        return FALSE;
    dinolab_model_init_random (student, hp->seed);
    dinolab_model_copy_params (teacher, student);
    if (!(stepper = dinolab_stepper_new (hp, student, teacher, hp->batch_size_per_gpu, hp->local_crops_number,
                                         hp->global_crop_size, hp->local_crop_size, error)))
        return FALSE;
    dinolab_blas_set_threads (1);
    for (int i = -1; i < steps; i++) {   /* one warm-up step */
        DinolabStepMetrics m;
        gint64 t0 = g_get_monotonic_time ();
        if (!dinolab_stepper_run (stepper, b->globals, b->locals, i + 1,
                                  dinolab_loader_get_steps_per_epoch (ld), &m, error))
            return FALSE;
        if (i >= 0)
            t[i] = (g_get_monotonic_time () - t0) * 1e-6;
    }
    /* median by insertion sort: a handful of values */
    for (int i = 1; i < steps; i++)
        for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    *step_s = steps % 2 ? t[steps / 2] : 0.5 * (t[steps / 2 - 1] + t[steps / 2]);
    return TRUE;
}

int
cmd_bench_data (int argc, char **argv)
{
    g_autofree char *dataset = NULL, *config = NULL, *preset = NULL;
    g_auto (GStrv) sets = NULL;
    int threads = (int) g_get_num_processors (), steps = 3, status = CLI_EXIT_OK;
    double seconds = 3.0;
    gboolean json = FALSE, no_step = FALSE;
    const GOptionEntry entries[] = {
        { "preset", 0, 0, G_OPTION_ARG_STRING, &preset, "Start from this preset (default: default)", "NAME" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Hyperparameters (JSON) on top of the preset", "CFG.json" },
        { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override one hyperparameter (repeatable)", "KEY=VALUE" },
        { "dataset", 0, 0, G_OPTION_ARG_STRING, &dataset, "Dataset spec (default: the preset's)", "SPEC" },
        { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Loader threads for the second measure (default: the "
          "number of processors)", "N" },
        { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Seconds per loader measure (default 3)", "S" },
        { "steps", 0, 0, G_OPTION_ARG_INT, &steps, "Timed training steps (default 3, after one warm-up)", "N" },
        { "no-step", 0, 0, G_OPTION_ARG_NONE, &no_step, "Skip timing the training step", NULL },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object on standard output", NULL },
        { NULL }
    };
    g_autoptr (GError) error = NULL;
    g_autoptr (DinolabDataset) ds = NULL;
    g_auto (DinolabHparams) hp = { 0 };
    LoaderRate one = { 0 }, many = { 0 };
    double step_s = 0.0, trainer_rate = 0.0;
    float mean[3], std[3];
    int C;

    if (!cli_parse ("bench-data", "", "Prints the loader's throughput (multi-crop samples per second: "
                    "decode, augment, batch) on one thread and on N, and the rate at which one core's "
                    "training step consumes samples with the same settings, with their ratio. Figures, "
                    "not assertions.", entries, &argc, &argv, &status))
        return status;
    if (threads < 1 || steps < 1 || !(seconds > 0.0))
        return cli_fail ("bench-data", CLI_EXIT_USAGE, "--threads and --steps must be >= 1, --seconds > 0");
    if (!load_hparams_ (&hp, preset, config, sets, dataset, -1, &error))
        return cli_fail_error ("bench-data", CLI_EXIT_USAGE, error);
    if (!(ds = open_dataset_ ("bench-data", hp.dataset, DINOLAB_SPLIT_TRAIN, &error)))
        return cli_fail_error ("bench-data", CLI_EXIT_FAILURE, error);
    C = dinolab_dataset_get_channels (ds);
    if (hp.in_chans != C) {
        /* the data decides; the model timed below is built for it */
        g_autofree char *text = g_strdup_printf ("%d", C);
        if (!dinolab_hparams_set (&hp, "in_chans", text, &error))
            return cli_fail_error ("bench-data", CLI_EXIT_USAGE, error);
    }
    if (!dinolab_dataset_get_normalization (ds, mean, std, &error))
        return cli_fail_error ("bench-data", CLI_EXIT_FAILURE, error);

    if (!json) {
        printf ("%s\n", dinolab_dataset_get_description (ds));
        printf ("samples: 2 x %dx%d + %d x %dx%d crops, batch %d\n", hp.global_crop_size, hp.global_crop_size,
                hp.local_crops_number, hp.local_crop_size, hp.local_crop_size, hp.batch_size_per_gpu);
        fflush (stdout);
    }
    if (!measure_loader_ (ds, &hp, mean, std, 1, seconds, &one, &error))
        return cli_fail_error ("bench-data", CLI_EXIT_FAILURE, error);
    if (!json) {
        printf ("loader, 1 thread:   %9.0f samples/s  %9.0f crops/s  (%d batches in %.1f s)\n",
                one.samples_per_s, one.crops_per_s, one.batches, one.seconds);
        fflush (stdout);
    }
    if (threads > 1) {
        if (!measure_loader_ (ds, &hp, mean, std, threads, seconds, &many, &error))
            return cli_fail_error ("bench-data", CLI_EXIT_FAILURE, error);
        if (!json)
            printf ("loader, %d threads: %9.0f samples/s  %9.0f crops/s  (%d batches in %.1f s; %.2fx)\n",
                    threads, many.samples_per_s, many.crops_per_s, many.batches, many.seconds,
                    many.samples_per_s / one.samples_per_s);
    }
    if (!no_step) {
        if (!measure_step_ (ds, &hp, mean, std, steps, &step_s, &error))
            return cli_fail_error ("bench-data", CLI_EXIT_FAILURE, error);
        trainer_rate = hp.batch_size_per_gpu / step_s;
        if (!json)
            printf ("trainer, 1 core:    %9.1f samples/s  (median step %.3f s of %d)\n"
                    "loader (1 thread) / trainer (1 core): %.0fx\n",
                    trainer_rate, step_s, steps, one.samples_per_s / trainer_rate);
    }
    if (json) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        g_autoptr (JsonGenerator) gen = json_generator_new ();
        g_autoptr (JsonNode) root = NULL;
        g_autofree char *text = NULL;
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "dataset");
        json_builder_add_string_value (b, dinolab_dataset_get_spec (ds));
        json_builder_set_member_name (b, "batch_size_per_gpu");
        json_builder_add_int_value (b, hp.batch_size_per_gpu);
        json_builder_set_member_name (b, "crops_per_sample");
        json_builder_add_int_value (b, 2 + hp.local_crops_number);
        json_builder_set_member_name (b, "loader_1_thread_samples_per_s");
        json_builder_add_double_value (b, one.samples_per_s);
        if (threads > 1) {
            json_builder_set_member_name (b, "loader_threads");
            json_builder_add_int_value (b, threads);
            json_builder_set_member_name (b, "loader_n_threads_samples_per_s");
            json_builder_add_double_value (b, many.samples_per_s);
        }
        if (!no_step) {
            json_builder_set_member_name (b, "trainer_1_core_samples_per_s");
            json_builder_add_double_value (b, trainer_rate);
            json_builder_set_member_name (b, "loader_to_trainer_ratio");
            json_builder_add_double_value (b, one.samples_per_s / trainer_rate);
        }
        json_builder_end_object (b);
        root = json_builder_get_root (b);
        json_generator_set_root (gen, root);
        text = json_generator_to_data (gen, NULL);
        printf ("%s\n", text);
    }
    return CLI_EXIT_OK;
}
