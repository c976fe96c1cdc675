/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * study.h: the collapse study of DINO's Fig. 7 as both front ends run it (the CLI's
 * `study collapse`, the GUI's Collapse Study): three runs with the same settings (the
 * "study-collapse" preset by default) that differ only in use_centering and
 * use_sharpening, named, noted and tagged alike so that the run store, `runs` and the
 * Runs view group them however they were started.
 *
 * This is the study's definition only: each front end trains the arms itself.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The tag every run of the study carries. */
#define DINOLAB_COLLAPSE_STUDY_TAG     "study:collapse"
#define DINOLAB_COLLAPSE_STUDY_N_ARMS  3

typedef struct {
    const char *key;            /* "both", "centering", "sharpening" (JSON, options) */
    const char *label;          /* "centering + sharpening", ... (English) */
    gboolean    use_centering;
    gboolean    use_sharpening;
} DinolabCollapseArm;

/* The arms in the order they are trained: both, centering only (the teacher at the
 * student's temperature), sharpening only. */
extern const DinolabCollapseArm dinolab_collapse_arms[DINOLAB_COLLAPSE_STUDY_N_ARMS];

/* dinolab_collapse_arm_run_name:
 * The name of arm @arm's run, "collapse: <label>". Returns a new string (g_free). */
char *dinolab_collapse_arm_run_name (int         arm);

/* dinolab_collapse_arm_notes:
 * The notes stored with arm @arm's run of a study started at @started (a local time as
 * text, e.g. "2026-11-26 09:33:05"). Returns a new string (g_free). */
char *dinolab_collapse_arm_notes    (int         arm,
                                     const char *started);

G_END_DECLS
