/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-runs-view.h: DinolabRunsView, the "Runs" page of the main window:
 * a searchable, sortable, multi-select table of every run in the store
 * (refreshed every 2 s while shown, so runs a `dinolab-cli` process trains
 * appear and update live) above a DinolabComparePage for the selection, and
 * the commands on runs as "runs.*" actions: edit (name, notes, tags), delete
 * (confirmed), resume, new run from these settings, export metrics CSV and
 * export the plot. It reads and edits the store in GTasks and never trains:
 * resuming and new runs are signals the window routes to the Train page.
 * Messages reach the user through the window's "win.show-toast" action.
 */
#pragma once

#include <adwaita.h>

#include "dinolab/store.h"

G_BEGIN_DECLS

#define DINOLAB_TYPE_RUNS_VIEW (dinolab_runs_view_get_type ())

G_DECLARE_FINAL_TYPE (DinolabRunsView, dinolab_runs_view, DINOLAB, RUNS_VIEW, AdwBin)

/* Signals:
 *   "resume-run"   (const char *uuid): the user asked to resume that run.
 *   "new-run-from" (const char *hparams_json): the user wants a new run with
 *                  these hyperparameters (the JSON the run was created with).
 *   "loaded"       (): a run-list refresh has been applied (for tests).
 * Actions (group "runs"): runs.edit, runs.delete, runs.resume, runs.new-from,
 *   runs.export-csv, runs.export-plot (open a file chooser), runs.refresh. */

/* dinolab_runs_view_new: a floating widget with no store (empty table). */
GtkWidget  *dinolab_runs_view_new             (void);

/* dinolab_runs_view_set_store:
 * Shows the runs of @store (borrowed; NULL clears). The view reads and
 * writes through a handle of its own on the same database file
 * (dinolab_store_get_path), so its workers never depend on @store's
 * lifetime. Loads the list in a GTask. */
void        dinolab_runs_view_set_store       (DinolabRunsView *self,
                                               DinolabStore    *store);

/* dinolab_runs_view_refresh:
 * Reloads the run list now (a GTask; no-op while one is in flight). */
void        dinolab_runs_view_refresh         (DinolabRunsView *self);

/* dinolab_runs_view_export_csv_to:
 * Writes the metrics of the selected run (exactly one) as CSV to @path, in
 * the format of `dinolab-cli runs export`, in a GTask; a toast reports the
 * outcome. What the file chooser of runs.export-csv calls. */
void        dinolab_runs_view_export_csv_to   (DinolabRunsView *self,
                                               const char      *path);

/* dinolab_runs_view_export_plot_to:
 * Writes the comparison plot to @path: SVG when it ends in ".svg", else PNG,
 * DINOLAB_RUNS_VIEW_EXPORT_WIDTH x _HEIGHT. Returns FALSE with @error set. */
#define DINOLAB_RUNS_VIEW_EXPORT_WIDTH  1200
#define DINOLAB_RUNS_VIEW_EXPORT_HEIGHT  800
gboolean    dinolab_runs_view_export_plot_to  (DinolabRunsView *self,
                                               const char      *path,
                                               GError         **error);

G_END_DECLS
