/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-compare-page.h: DinolabComparePage, the lower half of the Runs
 * view: the curves of the selected runs overlaid in one DinolabPlot (metric
 * chooser over the union of their metrics, smoothing, x axis step / epoch /
 * wall time, log y) and their hyperparameters side by side (one column per
 * run, one row per key, differing rows highlighted, an "only differences"
 * switch). Everything it reads from the store is read in a GTask. It does
 * not edit runs or own the selection: the Runs view hands it the rows.
 */
#pragma once

#include <adwaita.h>

#include "dinolab-plot.h"
#include "dinolab-run-model.h"

G_BEGIN_DECLS

#define DINOLAB_TYPE_COMPARE_PAGE (dinolab_compare_page_get_type ())

G_DECLARE_FINAL_TYPE (DinolabComparePage, dinolab_compare_page,
                      DINOLAB, COMPARE_PAGE, AdwBin)

/* Signal "loaded" (no arguments): emitted on the main thread when the
 * curves and the table of the last dinolab_compare_page_set_runs() or
 * metric change are in place (the plot has its series; it draws at the
 * next frame). Signal "error" (const char *message): a read failed. */

/* dinolab_compare_page_new: a floating widget showing "select runs". */
GtkWidget   *dinolab_compare_page_new               (void);

/* dinolab_compare_page_set_runs:
 * Compares the runs of @rows (a GPtrArray of DinolabRunRow, may be NULL or
 * empty: back to the placeholder) read through @ref (may be NULL with no
 * rows). Both are referenced as needed. Starts a GTask; a newer call
 * supersedes an older one still running. */
void         dinolab_compare_page_set_runs          (DinolabComparePage *self,
                                                     DinolabRunStoreRef *ref,
                                                     GPtrArray          *rows);

/* The metric drawn ("loss" by default when the runs have it), owned. */
const char  *dinolab_compare_page_get_metric        (DinolabComparePage *self);
/* Draws @metric instead (reads its series in a GTask). */
void         dinolab_compare_page_set_metric        (DinolabComparePage *self,
                                                     const char         *metric);

/* "Only differences": hides the hyperparameter rows equal in every run. */
void         dinolab_compare_page_set_only_differences (DinolabComparePage *self,
                                                        gboolean            only);

/* dinolab_compare_page_get_shown_keys:
 * The hyperparameter keys the table shows now, in order (for tests and
 * screen readers). Returns a new NULL-terminated array (g_strfreev). */
char       **dinolab_compare_page_get_shown_keys    (DinolabComparePage *self);

/* dinolab_compare_page_is_loading: TRUE while a GTask is reading. */
gboolean     dinolab_compare_page_is_loading        (DinolabComparePage *self);

/* The plot (owned by the page). */
DinolabPlot *dinolab_compare_page_get_plot          (DinolabComparePage *self);

G_END_DECLS
