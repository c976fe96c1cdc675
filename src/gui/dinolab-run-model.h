/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-run-model.h: the data behind the Runs view. DinolabRunRow is one
 * run of the store as the table shows it (a DinolabRunInfo with display
 * properties: texts for the cells, numbers for the sorters), and
 * DinolabRunModel is the GListModel of those rows, merged in place from a
 * fresh dinolab_store_list_runs() so that selection and scroll position
 * survive a refresh. DinolabRunStoreRef is a reference-counted store handle
 * of the view's own, so worker threads never use a handle that its owner may
 * close. None of this touches SQLite on its own: callers load the run list
 * in a worker and hand it over on the main thread.
 */
#pragma once

#include <gio/gio.h>

#include "dinolab/store.h"

G_BEGIN_DECLS

/* ---- store handle shared with worker threads ------------------------------ */

typedef struct _DinolabRunStoreRef DinolabRunStoreRef;

/* dinolab_run_store_ref_new:
 * A reference (count 1) on a handle to the database at @path (copied) that
 * is opened on first use by dinolab_run_store_ref_get(), so that opening
 * (which may wait on a lock) happens in a worker. */
DinolabRunStoreRef *dinolab_run_store_ref_new    (const char         *path);
DinolabRunStoreRef *dinolab_run_store_ref_ref    (DinolabRunStoreRef *ref);
/* Closes the handle with the last reference. NULL-safe. */
void                dinolab_run_store_ref_unref  (DinolabRunStoreRef *ref);
/* The database path (owned by @ref). */
const char         *dinolab_run_store_ref_get_path (DinolabRunStoreRef *ref);
/* dinolab_run_store_ref_get:
 * The open store (owned by @ref; valid while the caller holds its
 * reference), opening it on the first call; any thread. NULL with @error
 * set when the database cannot be opened (tried again next time). */
DinolabStore       *dinolab_run_store_ref_get    (DinolabRunStoreRef *ref,
                                                  GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DinolabRunStoreRef, dinolab_run_store_ref_unref)

/* ---- one row ---------------------------------------------------------------- */

#define DINOLAB_TYPE_RUN_ROW (dinolab_run_row_get_type ())

G_DECLARE_FINAL_TYPE (DinolabRunRow, dinolab_run_row, DINOLAB, RUN_ROW, GObject)

/* Read-only properties (notified when a refresh changes them):
 *   strings: "uuid", "name", "status-text", "dataset", "started-text",
 *            "duration-text", "epochs-text", "last-loss-text",
 *            "best-knn-text", "tags-text", "notes"
 *   numbers for sorting (NaN-free): "status" (int), "started",
 *            "duration", "epoch" (last epoch), "last-loss" (+inf if none),
 *            "best-knn" (-1 if none) */

/* The run's summary (owned by the row, replaced by a refresh). */
const DinolabRunInfo *dinolab_run_row_get_info   (DinolabRunRow *self);
const char           *dinolab_run_row_get_uuid   (DinolabRunRow *self);
const char           *dinolab_run_row_get_name   (DinolabRunRow *self);
/* dinolab_run_row_matches:
 * TRUE when every word of @search (case-folded, space-separated) occurs in
 * the name, a tag, the dataset or the status. NULL or "" matches. */
gboolean              dinolab_run_row_matches    (DinolabRunRow *self,
                                                  const char    *search);

/* ---- the list --------------------------------------------------------------- */

#define DINOLAB_TYPE_RUN_MODEL (dinolab_run_model_get_type ())

G_DECLARE_FINAL_TYPE (DinolabRunModel, dinolab_run_model, DINOLAB, RUN_MODEL, GObject)

/* An empty GListModel of DinolabRunRow. Returns a new reference. */
DinolabRunModel *dinolab_run_model_new         (void);

/* dinolab_run_model_update:
 * Makes the model hold the runs of @infos (a GPtrArray of DinolabRunInfo as
 * dinolab_store_list_runs() returns, newest first; the model steals the
 * infos and unrefs the array): rows of vanished runs are removed, rows of
 * known runs get the new info in place (property notifies, no
 * items-changed), new runs are inserted by creation time. Main thread. */
void             dinolab_run_model_update      (DinolabRunModel *self,
                                                GPtrArray       *infos);
/* The row of run @uuid (owned by the model), or NULL. */
DinolabRunRow   *dinolab_run_model_find        (DinolabRunModel *self,
                                                const char      *uuid);

G_END_DECLS
