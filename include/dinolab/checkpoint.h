/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * checkpoint.h: the file of a training checkpoint: everything a run needs to go on
 * exactly where it was, in one safetensors file (DESIGN.md "Model files").
 *
 * Tensors (PyTorch layouts, the model table's names):
 *   student.<name>                    student parameters
 *   teacher.<name>                    teacher parameters
 *   optimizer.exp_avg.<name>          AdamW first moment      } or, for SGD,
 *   optimizer.exp_avg_sq.<name>       AdamW second moment     } optimizer.momentum_buffer.<name>
 *   center                            [1, out_dim]
 * Metadata (__metadata__, all strings):
 *   format              "dinolab-checkpoint-1"
 *   hyperparameters     the run's hyperparameter JSON
 *   run                 the run's uuid
 *   step                the next global iteration to run (= steps done)
 *   epoch               the epoch of that iteration
 *   iteration_in_epoch  its index within the epoch
 *   optimizer_steps     JSON array: updates done per tensor, in table order
 *   wall_seconds        training time so far (seconds, summed over resumes)
 *   trainer_state       JSON object of the trainer's own state (collapse-watch sums)
 *   rng                 how the random streams are derived: they are stateless functions of
 *                       the seed and the position, so the seed and step are the RNG state
 * A checkpoint is a valid weight file too: dinolab_safetensors_read (path, "teacher")
 * then dinolab_model_load_safetensors() gives the teacher (what `knn --run` does), and
 * "student" the student.
 *
 * Files are written through "<path>.tmp", fsync and rename (io.h), then the folder is
 * synced, so a crash leaves either the old set of files or the new one.
 * This module knows nothing about runs or the store: the trainer names the files and
 * records them.
 */
#pragma once

#include <glib.h>

#include "dinolab/model.h"
#include "dinolab/optim.h"

G_BEGIN_DECLS

#define DINOLAB_CHECKPOINT_FORMAT "dinolab-checkpoint-1"

/* The position and bookkeeping stored beside the tensors. Strings are owned by the
 * struct after dinolab_checkpoint_read_meta(); free them with dinolab_checkpoint_meta_clear. */
typedef struct {
    char   *run_uuid;
    char   *hparams_json;
    gint64  step;                /* next global iteration */
    int     epoch;
    int     iteration_in_epoch;
    double  wall_seconds;
    char   *trainer_state;       /* JSON object text, or NULL */
} DinolabCheckpointMeta;

void     dinolab_checkpoint_meta_clear (DinolabCheckpointMeta *meta);

/* dinolab_checkpoint_write:
 * Writes @student, @teacher, the optimizer state of @opt (moments and per-tensor step
 * counts) and @center [out_dim] to @path with the metadata of @meta (strings borrowed;
 * hparams_json is the student's when NULL). All pointers are borrowed and only read.
 * The file goes through "<path>.tmp", fsync and rename (io.h), then its folder is
 * fsynced so the rename itself survives a power cut.
 * Returns FALSE with DINOLAB_ERROR_IO (the message names the file and the system's
 * reason, e.g. "No space left on device") and leaves no file or "<path>.tmp" behind;
 * an older file at @path stays as it was. */
gboolean dinolab_checkpoint_write      (const char                  *path,
                                        DinolabModel                *student,
                                        DinolabModel                *teacher,
                                        DinolabOptimizer            *opt,
                                        const float                 *center,
                                        const DinolabCheckpointMeta *meta,
                                        GError                     **error);

/* dinolab_checkpoint_read_meta:
 * Reads only the metadata of the checkpoint at @path into @meta (caller-owned, its old
 * contents are overwritten; clear it after). CORRUPT when the file is not a Dinolab
 * checkpoint (wrong "format") or a field is malformed, IO when it cannot be read. */
gboolean dinolab_checkpoint_read_meta  (const char                  *path,
                                        DinolabCheckpointMeta       *meta,
                                        GError                     **error);

/* dinolab_checkpoint_load:
 * Restores @student, @teacher (parameters), @opt (NULL: skipped; else moments and step
 * counts, which must be of the kind the file holds) and @center ([out_dim], NULL:
 * skipped) from @path, and fills @meta (NULL: not wanted). Every tensor is checked
 * against the student's table first, so nothing changes on error: a missing tensor or
 * a shape that does not match the configuration is one INVALID_INPUT message naming
 * the file, the tensor and both shapes:
 *   "ckpt.safetensors: student.pos_embed: expected [1,50,192], found [1,17,192]
 *    (the checkpoint does not match the configuration)". */
gboolean dinolab_checkpoint_load       (const char                  *path,
                                        DinolabModel                *student,
                                        DinolabModel                *teacher,
                                        DinolabOptimizer            *opt,
                                        float                       *center,
                                        DinolabCheckpointMeta       *meta,
                                        GError                     **error);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DinolabCheckpointMeta, dinolab_checkpoint_meta_clear)

G_END_DECLS
