/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * study.c: the collapse study's arms, run names and notes (include/dinolab/study.h), the
 * one definition the CLI and the GUI share. It trains nothing.
 */
#include "dinolab/study.h"

const DinolabCollapseArm dinolab_collapse_arms[DINOLAB_COLLAPSE_STUDY_N_ARMS] = {
    { "both",       "centering + sharpening", TRUE,  TRUE  },
    { "centering",  "centering only",         TRUE,  FALSE },
    { "sharpening", "sharpening only",        FALSE, TRUE  },
};

char *
dinolab_collapse_arm_run_name (int arm)
{
    g_return_val_if_fail (arm >= 0 && arm < DINOLAB_COLLAPSE_STUDY_N_ARMS, NULL);

    return g_strdup_printf ("collapse: %s", dinolab_collapse_arms[arm].label);
}

char *
dinolab_collapse_arm_notes (int arm, const char *started)
{
    const DinolabCollapseArm *a;

    g_return_val_if_fail (arm >= 0 && arm < DINOLAB_COLLAPSE_STUDY_N_ARMS, NULL);
    g_return_val_if_fail (started != NULL, NULL);

    a = &dinolab_collapse_arms[arm];
    return g_strdup_printf ("DINO collapse study (paper Fig. 7) started %s, run %d of %d: %s "
                            "(use_centering=%s, use_sharpening=%s)", started, arm + 1,
                            DINOLAB_COLLAPSE_STUDY_N_ARMS, a->label,
                            a->use_centering ? "true" : "false", a->use_sharpening ? "true" : "false");
}
