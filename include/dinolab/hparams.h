/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * hparams.h: a run's hyperparameters, named as in the DINO reference implementation.
 *
 * A run is configured by one JSON object whose keys are main_dino.py's argument names
 * (arch, patch_size, teacher_temp, lr, ...) plus Dinolab's own (dataset, img_size,
 * in_chans, threads, eval_every, checkpoint_every, use_centering, use_sharpening,
 * use_momentum). This module owns that contract: the defaults (the reference's), the
 * type and allowed range of every key, the text syntax of `--set key=value`, the JSON
 * form stored with runs and in safetensors metadata, and the preset files of
 * data/presets/. Every key lives in ONE table in hparams.c; docs, the GUI form and
 * `--help` read it through dinolab_hparams_get_key() and dinolab_hparams_describe().
 *
 * It is not the trainer: it does not scale lr by the batch size or build schedules;
 * it only stores the values a researcher gave and refuses the ones no run could use.
 *
 * Typical use (the CLI's train):
 *   DinolabHparams hp;
 *   dinolab_hparams_init (&hp);                                  // reference defaults
 *   dinolab_hparams_load_preset (&hp, "default", dirs, &error);  // --preset
 *   dinolab_hparams_load_file (&hp, "cfg.json", &error);         // --config
 *   dinolab_hparams_set_assignment (&hp, "teacher_temp=0.07", &error); // --set, repeated
 *   dinolab_hparams_validate (&hp, &error);                      // cross-key checks, once
 *   ...
 *   dinolab_hparams_clear (&hp);
 *
 * The arch rule: a named arch (vit_tiny, vit_small, vit_base; deit_* are aliases) sets
 * embed_dim, depth and num_heads. Sizes given explicitly afterwards override it, and arch
 * then becomes "vit_custom" if the sizes no longer match the named model. Within one JSON
 * object "arch" is applied first, so key order does not matter. Setting arch again later
 * (e.g. --set arch=vit_tiny after a file) resets the three sizes.
 *
 * Every function that fails sets a GError in the DINOLAB_ERROR domain
 * (DINOLAB_ERROR_INVALID_INPUT, or DINOLAB_ERROR_IO when a file cannot be read) whose
 * message names the origin, the key, the value and the allowed range, e.g.
 * "cfg.json: teacher_temp: 1.5 is out of range (0, 1]".
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Same order as the optimizer module's own enum. SGD uses momentum 0.9 (DINO.md 5.1);
 * the reference's "lars" is refused. */
typedef enum {
    DINOLAB_OPTIMIZER_ADAMW,
    DINOLAB_OPTIMIZER_SGD,
} DinolabOptimizerKind;

#define DINOLAB_HPARAMS_ARCH_LEN 32

typedef struct {
    /* backbone */
    char     arch[DINOLAB_HPARAMS_ARCH_LEN]; /* vit_tiny | vit_small | vit_base | vit_custom */
    int      patch_size, embed_dim, depth, num_heads;
    double   mlp_ratio, drop_path_rate;
    /* projection head */
    int      out_dim, head_hidden_dim, bottleneck_dim, head_nlayers;
    gboolean norm_last_layer, use_bn_in_head;  /* use_bn_in_head is always FALSE */
    /* loss */
    double   student_temp, warmup_teacher_temp, teacher_temp;
    int      warmup_teacher_temp_epochs;
    double   center_momentum, momentum_teacher;
    /* optimisation */
    DinolabOptimizerKind optimizer;
    double   lr, min_lr;                       /* lr is for batch 256; the trainer scales it */
    int      warmup_epochs;
    double   weight_decay, weight_decay_end, clip_grad;
    int      freeze_last_layer, batch_size_per_gpu, epochs;
    /* multi-crop */
    double   global_crops_scale[2], local_crops_scale[2]; /* (min, max) area fractions */
    int      local_crops_number, global_crop_size, local_crop_size;
    guint64  seed;
    /* Dinolab's own */
    char    *dataset;                          /* owned (g_free'd by dinolab_hparams_clear) */
    int      img_size, in_chans, threads;
    double   eval_every;          /* epochs between evaluations; may be fractional */
    int      checkpoint_every;
    gboolean use_centering, use_sharpening, use_momentum;
} DinolabHparams;

// ----------------------------------------------------------------------------
// lifetime

/* dinolab_hparams_init:
 * Fills @hp with the defaults (the reference's main_dino.py defaults, DINO.md section 0,
 * and Dinolab's own: dataset "fashion-mnist", img_size 224, in_chans 3, threads 0,
 * eval_every 1, checkpoint_every 1, use_* TRUE). @hp may be uninitialised memory; it
 * then owns a dataset string, so pair every init with dinolab_hparams_clear(). */
void         dinolab_hparams_init          (DinolabHparams       *hp);

/* dinolab_hparams_clear:
 * Frees the strings @hp owns and sets them to NULL. Safe to call twice. */
void         dinolab_hparams_clear         (DinolabHparams       *hp);

/* dinolab_hparams_copy:
 * Deep copy of @src into @dst. @dst must have been init'ed or cleared (its old strings
 * are freed). @dst == @src is allowed and does nothing. */
void         dinolab_hparams_copy          (DinolabHparams       *dst,
                                            const DinolabHparams *src);

// ----------------------------------------------------------------------------
// setting keys

/* dinolab_hparams_set:
 * Applies one key. @value is text, as on the command line: integers ("64"), numbers
 * ("0.04", "5e-4"), booleans (true/false/1/0/yes/no/on/off), pairs ("0.4,1.0" or
 * "[0.4, 1.0]"), names ("vit_small", "adamw") or strings (dataset). "batch_size" is read
 * as "batch_size_per_gpu". The key's type and range are checked here; cross-key rules
 * (embed_dim % num_heads, ...) only in dinolab_hparams_validate(), because a sequence of
 * --set may pass through states that break them.
 * Returns TRUE on success. On failure @hp is unchanged and @error says why, naming the
 * key and the allowed range (and a close key name for a misspelt one). */
gboolean     dinolab_hparams_set           (DinolabHparams       *hp,
                                            const char           *key,
                                            const char           *value,
                                            GError              **error);

/* dinolab_hparams_set_assignment:
 * The "key=value" form of dinolab_hparams_set() (the CLI's --set). Whitespace around
 * the key and the value is ignored; the value may itself contain '='. */
gboolean     dinolab_hparams_set_assignment (DinolabHparams      *hp,
                                             const char          *assignment,
                                             GError             **error);

/* dinolab_hparams_load_json:
 * Applies every member of the JSON object @json (@length bytes, or -1 if NUL-terminated)
 * on top of @hp, "arch" first. Values must have the JSON type of the key (numbers,
 * true/false, [a, b] pairs, strings); an integer key also takes an integral number
 * such as 64.0. Unknown keys, keys starting with '_' (allowed only in preset files),
 * wrong types and out-of-range values are refused. @source names the origin in
 * messages ("cfg.json: teacher_temp: ..."); it may be NULL.
 * Returns TRUE on success; on failure @hp is unchanged. No cross-key checks. */
gboolean     dinolab_hparams_load_json     (DinolabHparams       *hp,
                                            const char           *json,
                                            gssize                length,
                                            const char           *source,
                                            GError              **error);

/* dinolab_hparams_load_file:
 * dinolab_hparams_load_json() on the contents of the file at @path (used as @source).
 * DINOLAB_ERROR_IO if the file cannot be read. @hp is unchanged on failure. */
gboolean     dinolab_hparams_load_file     (DinolabHparams       *hp,
                                            const char           *path,
                                            GError              **error);

// ----------------------------------------------------------------------------
// checking and writing

/* dinolab_hparams_validate:
 * Checks the whole set: the range of every key (the struct may have been edited
 * directly) and the cross-key rules: a named arch matches embed_dim/depth/num_heads;
 * embed_dim % num_heads == 0; img_size, global_crop_size and local_crop_size are
 * multiples of patch_size; the crop scales are pairs 0 < a <= b <= 1; min_lr <= lr;
 * warmup_epochs and warmup_teacher_temp_epochs <= epochs; dataset is not empty.
 * Returns TRUE if the set is usable, else FALSE with the first problem in @error. */
gboolean     dinolab_hparams_validate      (const DinolabHparams *hp,
                                            GError              **error);

/* dinolab_hparams_to_json:
 * Every key, as one JSON object in table order (the order of dinolab_hparams_get_key()).
 * Numbers are written in their shortest exact form, so loading the text back gives an
 * equal struct. @pretty: one key per line, else one compact line.
 * Returns a newly allocated string (g_free). */
char        *dinolab_hparams_to_json       (const DinolabHparams *hp,
                                            gboolean              pretty);

/* dinolab_hparams_get_text:
 * The value of @key in @hp as --set text ("0.04", "true", "0.4,1.0", "vit_small").
 * Feeding it back to dinolab_hparams_set() gives the same value. Accepts "batch_size".
 * Returns a newly allocated string (g_free), or NULL if @key is unknown. */
char        *dinolab_hparams_get_text      (const DinolabHparams *hp,
                                            const char           *key);

// ----------------------------------------------------------------------------
// the key table

/* dinolab_hparams_get_n_keys / dinolab_hparams_get_key:
 * The number of keys, and the name of key @i (0 <= @i < n) in table order (the order of
 * DESIGN.md's list). Aliases ("batch_size") are not listed. Static strings. */
guint        dinolab_hparams_get_n_keys    (void);
const char  *dinolab_hparams_get_key       (guint                 i);

/* dinolab_hparams_describe:
 * One line for --help and the GUI: what @key does, its allowed range and its default,
 * e.g. "Teacher temperature after its warm-up ... Range (0, 1]; default 0.04.".
 * Returns a static (interned) string, or NULL if @key is unknown. */
const char  *dinolab_hparams_describe      (const char           *key);

// ----------------------------------------------------------------------------
// presets

/* Preset files are JSON objects of hyperparameters, plus keys starting with '_' that
 * only presets may have: "_description" (a string saying what the preset is for),
 * "_base" (the name of a preset loaded first, whose keys this one overrides; chains are
 * followed and cycles refused), and any other "_..." key as a comment. A preset name is
 * the file name without ".json" (letters, digits, '.', '_', '-'; no leading '.').
 *
 * Search order: every directory in $DINOLAB_PRESETS_DIR (a G_SEARCHPATH_SEPARATOR list)
 * when it is set, then @search_dirs in order (NULL-terminated; may be NULL). The first
 * directory holding <name>.json wins. The caller passes the installed
 * pkgdatadir/presets and the source tree's data/presets. */

/* dinolab_hparams_load_preset:
 * Loads preset @name (and its _base chain) on top of @hp. No cross-key checks.
 * Returns TRUE on success; on failure @hp is unchanged, and an unknown name's message
 * lists the directories searched and the presets available. */
gboolean     dinolab_hparams_load_preset   (DinolabHparams       *hp,
                                            const char           *name,
                                            const char *const    *search_dirs,
                                            GError              **error);

/* dinolab_hparams_list_presets:
 * The names of the presets found in the search directories, sorted, without
 * duplicates. Missing directories are skipped. Returns a NULL-terminated array
 * (possibly empty, never NULL); free with g_strfreev. */
char       **dinolab_hparams_list_presets  (const char *const    *search_dirs);

/* dinolab_hparams_describe_preset:
 * The "_description" of preset @name (the file found first, not its base), or "" if it
 * has none. Returns a newly allocated string (g_free), or NULL with @error set. */
char        *dinolab_hparams_describe_preset (const char         *name,
                                              const char *const  *search_dirs,
                                              GError            **error);

/* g_auto (DinolabHparams) hp = { 0 }; clears the owned strings at scope exit. */
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DinolabHparams, dinolab_hparams_clear)

G_END_DECLS
