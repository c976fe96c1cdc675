/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-attention-view.h: DinolabAttentionView, the "Attention" page of the
 * main window (issue #6): pick a model (a run's checkpoint, the live run's
 * newest checkpoint, or a safetensors weight file; teacher or student) and an
 * image (a dataset item, an image file, or a file dropped on the view), and
 * see the last block's CLS attention as a DinolabAttentionGrid: the image,
 * the mean and every head, as colormap overlays or threshold masks. A
 * timeline slider scrubs through the run's stored attention snapshots of its
 * probe images. Models load and run in a GTask (the engine's eval.h, the same
 * code as `dinolab-cli attention`); the grid exports to PNG.
 * Messages go out as toasts through the window's "win.show-toast" action
 * (parameter "s"). It is not a window and does not own the store.
 */
#pragma once

#include <gtk/gtk.h>

#include "dinolab/store.h"

G_BEGIN_DECLS

#define DINOLAB_TYPE_ATTENTION_VIEW (dinolab_attention_view_get_type ())

G_DECLARE_FINAL_TYPE (DinolabAttentionView, dinolab_attention_view, DINOLAB, ATTENTION_VIEW, GtkWidget)

/* Creates the view, with no store. Returns a floating widget. */
GtkWidget *dinolab_attention_view_new       (void);

/* dinolab_attention_view_set_store:
 * The run store whose runs the view offers (borrowed: it must outlive the
 * view or be replaced; NULL clears). Lists the runs again. */
void       dinolab_attention_view_set_store (DinolabAttentionView *self,
                                             DinolabStore         *store);

/* dinolab_attention_view_show_run:
 * Selects run @uuid and its newest checkpoint as the source (and the first
 * item of its dataset as the image when no image is chosen yet), then
 * computes. An unknown run gives a toast. */
void       dinolab_attention_view_show_run  (DinolabAttentionView *self,
                                             const char           *uuid);

/* dinolab_attention_view_show_weights:
 * Uses the safetensors weight file @path as the source (as the file chooser
 * does) and computes. */
void       dinolab_attention_view_show_weights (DinolabAttentionView *self,
                                                const char           *path);

/* dinolab_attention_view_show_image_file:
 * Uses the image file @path as the image (as the file chooser and a drop
 * do) and computes. */
void       dinolab_attention_view_show_image_file (DinolabAttentionView *self,
                                                   const char           *path);

/* dinolab_attention_view_is_busy:
 * TRUE while a computation or snapshot load runs (property "busy"). */
gboolean   dinolab_attention_view_is_busy   (DinolabAttentionView *self);

/* dinolab_attention_view_export_png:
 * Writes the grid as shown to @path (what the Export button does after its
 * file chooser). FALSE with @error set when there is nothing to export or
 * the file cannot be written. */
gboolean   dinolab_attention_view_export_png (DinolabAttentionView *self,
                                              const char           *path,
                                              GError              **error);

G_END_DECLS
