/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * hparams.c: the hyperparameter table, its parsers (--set text and JSON), the range and
 * cross-key checks, the JSON writer and the preset files.
 *
 * Everything a key is (name, C type, field, allowed range, default, one-line help) is
 * one row of hp_keys[] below; the rest of the file only walks that table, so adding a
 * key is adding a row (and a struct field). Docs and --help are generated from it
 * through dinolab_hparams_get_key() and dinolab_hparams_describe().
 *
 * Every write goes parse -> check -> apply: parsing turns text or a JSON node into an
 * HpValue (type errors), checking compares it with the row's range (range errors), and
 * applying cannot fail. So a refused value never leaves a half-written struct, and the
 * multi-key loaders get "unchanged on error" by working on a copy.
 *
 * This file is not the trainer: it never scales lr by the batch size and never builds
 * schedules. It never prints; every failure is a GError in DINOLAB_ERROR.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "dinolab/error.h"
#include "dinolab/hparams.h"

// ----------------------------------------------------------------------------
// the table

typedef enum {
    HP_INT,       /* int field, range [lo, hi] */
    HP_DOUBLE,    /* double field, range lo..hi, ends open or closed by flags */
    HP_BOOL,      /* gboolean field */
    HP_PAIR,      /* double[2] field: 0 < a <= b <= 1 */
    HP_STRING,    /* char * field, owned, non-empty UTF-8 */
    HP_ARCH,      /* char[32] field, one of hp_archs (canonical name stored) */
    HP_OPTIMIZER, /* DinolabOptimizerKind field */
    HP_SEED,      /* guint64 field, [0, G_MAXINT64] so that JSON integers hold it */
} HpType;

enum {
    HP_LO_OPEN    = 1 << 0, /* lo itself is not allowed */
    HP_HI_OPEN    = 1 << 1, /* hi itself is not allowed */
    HP_ONLY_FALSE = 1 << 2, /* a switch Dinolab does not implement: only false */
    HP_ARCH_SIZE  = 1 << 3, /* embed_dim/depth/num_heads: may turn arch into vit_custom */
};

typedef struct {
    const char *key;
    HpType      type;
    size_t      offset;   /* of the field in DinolabHparams */
    double      lo, hi;   /* range of HP_INT and HP_DOUBLE */
    guint       flags;
    const char *def;      /* default, as --set text; dinolab_hparams_init() applies it */
    const char *summary;  /* one line, no final period */
} HpKey;

#define F(field) offsetof (DinolabHparams, field)

/* Ranges: generous enough for any experiment a researcher would run on this engine,
 * tight enough to catch a typo (teacher_temp 4 instead of 0.04) or a value no run can
 * use. Defaults are main_dino.py's (DINO.md 0), except Dinolab's own keys. */
static const HpKey hp_keys[] = {
    /* backbone */
    { "arch", HP_ARCH, F (arch), 0, 0, 0, "vit_small",
      "Backbone: vit_tiny (192 wide, 12 deep, 3 heads), vit_small (384/12/6), vit_base "
      "(768/12/12) set embed_dim/depth/num_heads; vit_custom takes them as given" },
    { "patch_size", HP_INT, F (patch_size), 1, 64, 0, "16",
      "Side of the square image patches that become tokens, in pixels" },
    { "embed_dim", HP_INT, F (embed_dim), 1, 4096, HP_ARCH_SIZE, "384",
      "Token width of the ViT (set by arch; an explicit value makes arch vit_custom)" },
    { "depth", HP_INT, F (depth), 1, 64, HP_ARCH_SIZE, "12",
      "Number of transformer blocks (set by arch; an explicit value makes arch vit_custom)" },
    { "num_heads", HP_INT, F (num_heads), 1, 64, HP_ARCH_SIZE, "6",
      "Attention heads per block; must divide embed_dim (set by arch)" },
    { "mlp_ratio", HP_DOUBLE, F (mlp_ratio), 0, 16, HP_LO_OPEN, "4.0",
      "Width of each block's MLP hidden layer, as a multiple of embed_dim" },
    { "drop_path_rate", HP_DOUBLE, F (drop_path_rate), 0, 1, HP_HI_OPEN, "0.1",
      "Stochastic depth of the student: drop rate of the last block, rising linearly from 0" },
    /* projection head */
    { "out_dim", HP_INT, F (out_dim), 2, 1048576, 0, "65536",
      "K, the number of prototypes the head outputs (the softmax width of the loss)" },
    { "head_hidden_dim", HP_INT, F (head_hidden_dim), 1, 16384, 0, "2048",
      "Width of the hidden layers of the projection head's MLP" },
    { "bottleneck_dim", HP_INT, F (bottleneck_dim), 1, 4096, 0, "256",
      "Width of the L2-normalised bottleneck before the head's last layer" },
    { "head_nlayers", HP_INT, F (head_nlayers), 1, 8, 0, "3",
      "Linear layers in the head's MLP (1 = a single Linear to the bottleneck)" },
    { "norm_last_layer", HP_BOOL, F (norm_last_layer), 0, 0, 0, "true",
      "Freeze the weight-norm gain of the head's last layer at 1 (false: trainable, "
      "better for ViT-S but can be unstable)" },
    { "use_bn_in_head", HP_BOOL, F (use_bn_in_head), 0, 0, HP_ONLY_FALSE, "false",
      "BatchNorm in the projection head; Dinolab's head has none, so only false" },
    /* loss */
    { "student_temp", HP_DOUBLE, F (student_temp), 0, 1, HP_LO_OPEN, "0.1",
      "Temperature of the student softmax" },
    { "warmup_teacher_temp", HP_DOUBLE, F (warmup_teacher_temp), 0, 1, HP_LO_OPEN, "0.04",
      "Teacher temperature at epoch 0, raised linearly to teacher_temp" },
    { "teacher_temp", HP_DOUBLE, F (teacher_temp), 0, 1, HP_LO_OPEN, "0.04",
      "Teacher temperature after the warm-up; lower is sharper (above 0.07 is usually "
      "unstable)" },
    { "warmup_teacher_temp_epochs", HP_INT, F (warmup_teacher_temp_epochs), 0, 100000, 0, "0",
      "Epochs of the teacher temperature warm-up (at most epochs)" },
    { "center_momentum", HP_DOUBLE, F (center_momentum), 0, 1, 0, "0.9",
      "EMA rate of the teacher centre (0.999 is too slow and collapses)" },
    { "momentum_teacher", HP_DOUBLE, F (momentum_teacher), 0, 1, 0, "0.996",
      "Base EMA rate of the teacher, raised to 1 by a cosine schedule" },
    /* optimisation */
    { "optimizer", HP_OPTIMIZER, F (optimizer), 0, 0, 0, "adamw",
      "adamw, or sgd (momentum 0.9); the reference's lars is not supported" },
    { "lr", HP_DOUBLE, F (lr), 0, 10, 0, "0.0005",
      "Peak learning rate for a batch of 256, scaled linearly with the real batch size" },
    { "min_lr", HP_DOUBLE, F (min_lr), 0, 10, 0, "1e-06",
      "Learning rate at the end of the cosine schedule (at most lr)" },
    { "warmup_epochs", HP_INT, F (warmup_epochs), 0, 100000, 0, "10",
      "Epochs of linear learning-rate warm-up from 0 (at most epochs)" },
    { "weight_decay", HP_DOUBLE, F (weight_decay), 0, 10, 0, "0.04",
      "Weight decay at the start of its cosine schedule" },
    { "weight_decay_end", HP_DOUBLE, F (weight_decay_end), 0, 10, 0, "0.4",
      "Weight decay at the end of its cosine schedule" },
    { "clip_grad", HP_DOUBLE, F (clip_grad), 0, 1000, 0, "3.0",
      "Largest gradient norm of each parameter tensor (0 turns clipping off)" },
    { "freeze_last_layer", HP_INT, F (freeze_last_layer), 0, 100000, 0, "1",
      "Epochs during which the head's last layer is not updated" },
    { "batch_size_per_gpu", HP_INT, F (batch_size_per_gpu), 1, 65536, 0, "64",
      "Images per step (read also as batch_size); Dinolab has one device" },
    { "epochs", HP_INT, F (epochs), 1, 100000, 0, "100",
      "Number of passes over the dataset" },
    /* multi-crop */
    { "global_crops_scale", HP_PAIR, F (global_crops_scale), 0, 1, HP_LO_OPEN, "[0.4, 1.0]",
      "Area range of the two global crops, as fractions of the image" },
    { "local_crops_scale", HP_PAIR, F (local_crops_scale), 0, 1, HP_LO_OPEN, "[0.05, 0.4]",
      "Area range of the local crops, as fractions of the image" },
    { "local_crops_number", HP_INT, F (local_crops_number), 0, 64, 0, "8",
      "Local crops per image (0 turns multi-crop off)" },
    { "global_crop_size", HP_INT, F (global_crop_size), 1, 4096, 0, "224",
      "Side of the global crops in pixels (a multiple of patch_size)" },
    { "local_crop_size", HP_INT, F (local_crop_size), 1, 4096, 0, "96",
      "Side of the local crops in pixels (a multiple of patch_size)" },
    { "seed", HP_SEED, F (seed), 0, 0, 0, "0",
      "Seed of every random draw (init, crops, augmentations, drop path)" },
    /* Dinolab's own */
    { "dataset", HP_STRING, F (dataset), 0, 0, 0, "fashion-mnist",
      "Training images: fashion-mnist, or folder:PATH for an image folder" },
    { "img_size", HP_INT, F (img_size), 1, 4096, 0, "224",
      "Image side the position embedding is built for: grid = img_size / patch_size" },
    { "in_chans", HP_INT, F (in_chans), 1, 64, 0, "3",
      "Channels of the input images (1 for grey, 3 for RGB)" },
    { "threads", HP_INT, F (threads), 0, 1024, 0, "0",
      "CPU threads for training (0 = all cores)" },
    { "eval_every", HP_DOUBLE, F (eval_every), 0, 100000, HP_LO_OPEN, "1",
      "Run the k-NN evaluation every this many epochs (fractions too: 0.25 is four times an epoch)" },
    { "checkpoint_every", HP_INT, F (checkpoint_every), 1, 100000, 0, "1",
      "Write a checkpoint every this many epochs" },
    { "use_centering", HP_BOOL, F (use_centering), 0, 0, 0, "true",
      "Centre the teacher outputs (false reproduces the paper's sharpening-only ablation)" },
    { "use_sharpening", HP_BOOL, F (use_sharpening), 0, 0, 0, "true",
      "Sharpen the teacher with its own temperature (false: the student's; the paper's "
      "centering-only ablation)" },
    { "use_momentum", HP_BOOL, F (use_momentum), 0, 0, 0, "true",
      "Momentum (EMA) teacher (false: the teacher is a copy of the student; collapses)" },
};

#undef F

#define HP_N_KEYS G_N_ELEMENTS (hp_keys)

/* Other names a key is read under. */
static const struct {
    const char *alias, *key;
} hp_aliases[] = {
    { "batch_size", "batch_size_per_gpu" },
};

/* Arguments of main_dino.py that are deliberately not hyperparameters here: a config
 * written from the reference gets a reason rather than a bare "unknown". */
static const struct {
    const char *key, *why;
} hp_reference_only[] = {
    { "use_fp16",       "training runs in float32 on the CPU" },
    { "saveckp_freq",   "use checkpoint_every" },
    { "output_dir",     "runs are kept in the run store (see --db)" },
    { "data_path",      "use dataset \"folder:PATH\"" },
    { "num_workers",    "data loading uses the threads key" },
    { "dist_url",       "Dinolab trains on one machine" },
    { "local_rank",     "Dinolab trains on one machine" },
    { "world_size",     "Dinolab trains on one machine" },
};

typedef struct {
    const char *name;
    int         embed_dim, depth, num_heads;
} HpArch;

/* DINO.md 1.1. Index HP_ARCH_CUSTOM is vit_custom (sizes as given). */
static const HpArch hp_archs[] = {
    { "vit_tiny",   192, 12, 3 },
    { "vit_small",  384, 12, 6 },
    { "vit_base",   768, 12, 12 },
    { "vit_custom", 0, 0, 0 },
};
#define HP_ARCH_CUSTOM 3

static const struct {
    const char *alias;
    int         arch;
} hp_arch_aliases[] = {
    { "deit_tiny", 0 }, { "deit_small", 1 }, { "deit_base", 2 },
};

// ----------------------------------------------------------------------------
// key lookup and suggestions

static const HpKey *
hp_key_find (const char *name)
{
    g_assert (name != NULL);

    for (guint i = 0; i < G_N_ELEMENTS (hp_aliases); i++)
        if (strcmp (name, hp_aliases[i].alias) == 0)
            name = hp_aliases[i].key;
    for (guint i = 0; i < HP_N_KEYS; i++)
        if (strcmp (name, hp_keys[i].key) == 0)
            return &hp_keys[i];
    return NULL;
}

/* Levenshtein distance; G_MAXUINT for strings too long to be a misspelt key. */
static guint
hp_edit_distance (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    guint row[65];

    if (la > 64 || lb > 64)
        return G_MAXUINT;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (guint) j;
    for (size_t i = 1; i <= la; i++) {
        guint diag = row[0];
        row[0] = (guint) i;
        for (size_t j = 1; j <= lb; j++) {
            guint up = row[j];
            guint best = MIN (row[j] + 1, row[j - 1] + 1);
            best = MIN (best, diag + (a[i - 1] == b[j - 1] ? 0u : 1u));
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* qsort/g_ptr_array_sort comparator over an array of strings */
static int
hp_cmp_strv_item (const void *a, const void *b)
{
    return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

/* "min_lr" and "lr_min" have the same words: split at '_', sort, join. */
static char *
hp_sorted_words (const char *s)
{
    char **words = g_strsplit (s, "_", -1);
    char *joined;

    qsort (words, g_strv_length (words), sizeof (char *), hp_cmp_strv_item);
    joined = g_strjoinv ("_", words);
    g_strfreev (words);
    return joined;
}

/* The key (or alias) a misspelt @name most likely meant, or NULL. */
static const char *
hp_suggest (const char *name)
{
    char *norm = g_ascii_strdown (name, -1);
    char *norm_words;
    const char *best = NULL;
    guint best_d = G_MAXUINT;
    guint n_candidates = HP_N_KEYS + G_N_ELEMENTS (hp_aliases);

    g_strdelimit (norm, "- ", '_');
    norm_words = hp_sorted_words (norm);
    for (guint i = 0; i < n_candidates; i++) {
        const char *cand = i < HP_N_KEYS ? hp_keys[i].key : hp_aliases[i - HP_N_KEYS].alias;
        char *cand_words = hp_sorted_words (cand);
        guint d = strcmp (norm_words, cand_words) == 0 ? 0 : hp_edit_distance (norm, cand);

        g_free (cand_words);
        if (d < best_d) {
            best_d = d;
            best = cand;
        }
    }
    /* one slip in a short name, two in a longer one */
    if (best_d > (strlen (norm) >= 6 ? 2u : 1u))
        best = NULL;
    g_free (norm_words);
    g_free (norm);
    return best;
}

static void
hp_set_unknown_key_error (GError **error, const char *name)
{
    const char *suggestion;

    for (guint i = 0; i < G_N_ELEMENTS (hp_reference_only); i++) {
        if (strcmp (name, hp_reference_only[i].key) == 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "unknown hyperparameter '%s' (a DINO reference argument that "
                         "Dinolab does not use: %s)", name, hp_reference_only[i].why);
            return;
        }
    }
    suggestion = hp_suggest (name);
    if (suggestion != NULL)
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "unknown hyperparameter '%s' (did you mean '%s'?)", name, suggestion);
    else
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "unknown hyperparameter '%s'", name);
}

// ----------------------------------------------------------------------------
// formatting

/* Shortest text that reads back as exactly @x ("0.0005", "1e-06"), with ".0" added to
 * integral values so they stay visibly floating point ("4.0"). Valid JSON and valid
 * --set text. @buf holds at least G_ASCII_DTOSTR_BUF_SIZE bytes. */
static void
hp_format_double (char *buf, size_t len, double x)
{
    char fmt[8];
    /* at least as many digits as the integer part has, so 10 is "10", not "1e+01" */
    int min_prec = (isfinite (x) && fabs (x) >= 1.0 && fabs (x) < 1e17)
                   ? (int) floor (log10 (fabs (x))) + 1 : 1;

    g_assert (len >= G_ASCII_DTOSTR_BUF_SIZE);
    for (int prec = min_prec; prec <= 17; prec++) {
        g_snprintf (fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd (buf, (int) len, fmt, x);
        if (g_ascii_strtod (buf, NULL) == x)
            break;
    }
    if (isfinite (x) && strspn (buf, "-0123456789") == strlen (buf))
        g_strlcat (buf, ".0", len);
}

static void
hp_append_double (GString *s, double x)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    hp_format_double (buf, sizeof buf, x);
    g_string_append (s, buf);
}

/* The same for messages, without the ".0": "(0, 1]" reads better than "(0.0, 1.0]". */
static void
hp_format_number (char *buf, size_t len, double x)
{
    hp_format_double (buf, len, x);
    if (g_str_has_suffix (buf, ".0"))
        buf[strlen (buf) - 2] = '\0';
}

static void
hp_append_number (GString *s, double x)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    hp_format_number (buf, sizeof buf, x);
    g_string_append (s, buf);
}

static void
hp_append_json_string (GString *s, const char *str)
{
    g_string_append_c (s, '"');
    for (const unsigned char *p = (const unsigned char *) str; *p; p++) {
        switch (*p) {
        case '"':  g_string_append (s, "\\\""); break;
        case '\\': g_string_append (s, "\\\\"); break;
        case '\n': g_string_append (s, "\\n"); break;
        case '\r': g_string_append (s, "\\r"); break;
        case '\t': g_string_append (s, "\\t"); break;
        default:
            if (*p < 0x20)
                g_string_append_printf (s, "\\u%04x", *p);
            else
                g_string_append_c (s, (char) *p);
            break;
        }
    }
    g_string_append_c (s, '"');
}

/* The allowed values of @k, as messages and describe() show them: "(0, 1]". */
static void
hp_append_range (GString *s, const HpKey *k)
{
    switch (k->type) {
    case HP_INT:
        g_string_append_printf (s, "[%d, %d]", (int) k->lo, (int) k->hi);
        break;
    case HP_DOUBLE:
        g_string_append_c (s, (k->flags & HP_LO_OPEN) ? '(' : '[');
        hp_append_number (s, k->lo);
        g_string_append (s, ", ");
        hp_append_number (s, k->hi);
        g_string_append_c (s, (k->flags & HP_HI_OPEN) ? ')' : ']');
        break;
    case HP_BOOL:
        g_string_append (s, (k->flags & HP_ONLY_FALSE) ? "false only" : "true or false");
        break;
    case HP_PAIR:
        g_string_append (s, "[a, b] with 0 < a <= b <= 1");
        break;
    case HP_STRING:
        g_string_append (s, "a non-empty name");
        break;
    case HP_ARCH:
        g_string_append (s, "one of vit_tiny, vit_small, vit_base, vit_custom "
                            "(deit_tiny, deit_small, deit_base are aliases)");
        break;
    case HP_OPTIMIZER:
        g_string_append (s, "one of adamw, sgd");
        break;
    case HP_SEED:
        g_string_append_printf (s, "[0, %" G_GINT64_FORMAT "]", G_MAXINT64);
        break;
    default:
        g_assert_not_reached ();
    }
}

/* What a value of @k must look like, for type errors. */
static char *
hp_expected_text (const HpKey *k)
{
    GString *s = g_string_new (NULL);

    switch (k->type) {
    case HP_INT:
    case HP_SEED:
        g_string_append (s, "an integer in ");
        break;
    case HP_DOUBLE:
        g_string_append (s, "a number in ");
        break;
    case HP_PAIR:
        g_string_append (s, "two numbers ");
        break;
    case HP_STRING:
    case HP_ARCH:
    case HP_OPTIMIZER:
        g_string_append (s, "a string: ");
        break;
    case HP_BOOL:
        break;
    default:
        g_assert_not_reached ();
    }
    hp_append_range (s, k);
    return g_string_free (s, FALSE);
}

static void
hp_set_type_error (GError **error, const HpKey *k, const char *name, const char *got)
{
    char *expected = hp_expected_text (k);

    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                 "%s: expected %s, got %s", name, expected, got);
    g_free (expected);
}

// ----------------------------------------------------------------------------
// values: parse -> check -> apply

typedef struct {
    gint64      i;       /* HP_INT, HP_SEED */
    double      d;       /* HP_DOUBLE */
    gboolean    b;       /* HP_BOOL */
    double      pair[2]; /* HP_PAIR */
    const char *s;       /* HP_STRING, HP_ARCH, HP_OPTIMIZER; borrowed from the input */
    int         e;       /* set by hp_check: HP_ARCH index in hp_archs, HP_OPTIMIZER kind */
} HpValue;

/* A whole finite number, nothing before or after it. */
static gboolean
hp_parse_number (const char *text, double *out)
{
    char *end = NULL;
    double d;

    if (*text == '\0' || g_ascii_isspace (*text))
        return FALSE;
    d = g_ascii_strtod (text, &end);
    if (end == text || *end != '\0' || !isfinite (d))
        return FALSE;
    *out = d;
    return TRUE;
}

/* An integer, also written as an integral number ("64.0", "1e3"). */
static gboolean
hp_integral (double d, gint64 *out)
{
    if (!isfinite (d) || d != floor (d) || fabs (d) > 9007199254740992.0) /* 2^53 */
        return FALSE;
    *out = (gint64) d;
    return TRUE;
}

static gboolean
hp_parse_integer (const char *text, gint64 *out)
{
    double d;

    if (g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, out, NULL))
        return TRUE;
    return hp_parse_number (text, &d) && hp_integral (d, out);
}

/* "0.4,1.0", "[0.4, 1.0]" or "(0.4, 1.0)". @text is stripped and writable. */
static gboolean
hp_parse_pair (char *text, double out[2])
{
    size_t n = strlen (text);
    char **parts;
    gboolean ok;

    if (n >= 2 && ((text[0] == '[' && text[n - 1] == ']')
                   || (text[0] == '(' && text[n - 1] == ')'))) {
        text[n - 1] = '\0';
        text++;
    }
    parts = g_strsplit (text, ",", -1);
    ok = g_strv_length (parts) == 2
         && hp_parse_number (g_strstrip (parts[0]), &out[0])
         && hp_parse_number (g_strstrip (parts[1]), &out[1]);
    g_strfreev (parts);
    return ok;
}

/* --set text -> value. @text is the stripped, writable copy the value may borrow. */
static gboolean
hp_value_from_text (const HpKey *k, const char *name, char *text, HpValue *v, GError **error)
{
    char *quoted;
    gboolean ok = TRUE;

    switch (k->type) {
    case HP_INT:
    case HP_SEED:
        ok = hp_parse_integer (text, &v->i);
        break;
    case HP_DOUBLE:
        ok = hp_parse_number (text, &v->d);
        break;
    case HP_BOOL:
        if (g_ascii_strcasecmp (text, "true") == 0 || strcmp (text, "1") == 0
            || g_ascii_strcasecmp (text, "yes") == 0 || g_ascii_strcasecmp (text, "on") == 0)
            v->b = TRUE;
        else if (g_ascii_strcasecmp (text, "false") == 0 || strcmp (text, "0") == 0
                 || g_ascii_strcasecmp (text, "no") == 0 || g_ascii_strcasecmp (text, "off") == 0)
            v->b = FALSE;
        else
            ok = FALSE;
        break;
    case HP_PAIR:
        ok = hp_parse_pair (text, v->pair);
        break;
    case HP_STRING:
    case HP_ARCH:
    case HP_OPTIMIZER:
        v->s = text;
        break;
    default:
        g_assert_not_reached ();
    }
    if (!ok) {
        quoted = g_strdup_printf ("'%s'", text);
        hp_set_type_error (error, k, name, quoted);
        g_free (quoted);
    }
    return ok;
}

static gboolean
hp_node_number (JsonNode *node, double *out)
{
    GType t;

    if (!JSON_NODE_HOLDS_VALUE (node))
        return FALSE;
    t = json_node_get_value_type (node);
    if (t == G_TYPE_INT64)
        *out = (double) json_node_get_int (node);
    else if (t == G_TYPE_DOUBLE)
        *out = json_node_get_double (node);
    else
        return FALSE;
    return isfinite (*out);
}

/* A JSON value as a message shows it: numbers in their short form ("0.4", not
 * json-glib's "0.40000000000000002"), objects elided. */
static void
hp_append_node (GString *s, JsonNode *node)
{
    GType t;

    if (JSON_NODE_HOLDS_NULL (node)) {
        g_string_append (s, "null");
    } else if (JSON_NODE_HOLDS_OBJECT (node)) {
        g_string_append (s, "{...}");
    } else if (JSON_NODE_HOLDS_ARRAY (node)) {
        JsonArray *a = json_node_get_array (node);
        g_string_append_c (s, '[');
        for (guint i = 0; i < json_array_get_length (a) && s->len < 80; i++) {
            g_string_append (s, i > 0 ? ", " : "");
            hp_append_node (s, json_array_get_element (a, i));
        }
        g_string_append_c (s, ']');
    } else {
        t = json_node_get_value_type (node);
        if (t == G_TYPE_INT64)
            g_string_append_printf (s, "%" G_GINT64_FORMAT, json_node_get_int (node));
        else if (t == G_TYPE_DOUBLE)
            hp_append_number (s, json_node_get_double (node));
        else if (t == G_TYPE_BOOLEAN)
            g_string_append (s, json_node_get_boolean (node) ? "true" : "false");
        else
            hp_append_json_string (s, json_node_get_string (node));
    }
}

/* JSON member -> value. Strings are borrowed from @node. */
static gboolean
hp_value_from_node (const HpKey *k, const char *name, JsonNode *node, HpValue *v, GError **error)
{
    gboolean ok = FALSE;
    gboolean is_value = JSON_NODE_HOLDS_VALUE (node);
    GType t = is_value ? json_node_get_value_type (node) : G_TYPE_INVALID;

    switch (k->type) {
    case HP_INT:
    case HP_SEED:
        if (t == G_TYPE_INT64) {
            v->i = json_node_get_int (node);
            ok = TRUE;
        } else if (t == G_TYPE_DOUBLE) {
            ok = hp_integral (json_node_get_double (node), &v->i);
        }
        break;
    case HP_DOUBLE:
        ok = hp_node_number (node, &v->d);
        break;
    case HP_BOOL:
        if (t == G_TYPE_BOOLEAN) {
            v->b = json_node_get_boolean (node);
            ok = TRUE;
        }
        break;
    case HP_PAIR:
        if (JSON_NODE_HOLDS_ARRAY (node)) {
            JsonArray *a = json_node_get_array (node);
            ok = json_array_get_length (a) == 2
                 && hp_node_number (json_array_get_element (a, 0), &v->pair[0])
                 && hp_node_number (json_array_get_element (a, 1), &v->pair[1]);
        }
        break;
    case HP_STRING:
    case HP_ARCH:
    case HP_OPTIMIZER:
        if (t == G_TYPE_STRING) {
            v->s = json_node_get_string (node);
            ok = TRUE;
        }
        break;
    default:
        g_assert_not_reached ();
    }
    if (!ok) {
        GString *got = g_string_new (NULL);
        hp_append_node (got, node);
        if (got->len > 60)
            g_string_overwrite (g_string_truncate (got, 57), 57, "...");
        hp_set_type_error (error, k, name, got->str);
        g_string_free (got, TRUE);
    }
    return ok;
}

/* struct field -> value (for validate() and the writers). Strings borrowed from @hp. */
static void
hp_value_from_struct (const HpKey *k, const DinolabHparams *hp, HpValue *v)
{
    gconstpointer p = G_STRUCT_MEMBER_P (hp, k->offset);

    memset (v, 0, sizeof *v);
    switch (k->type) {
    case HP_INT:       v->i = *(const int *) p; break;
    case HP_SEED:      v->i = (gint64) *(const guint64 *) p; break;
    case HP_DOUBLE:    v->d = *(const double *) p; break;
    case HP_BOOL:      v->b = *(const gboolean *) p; break;
    case HP_PAIR:      memcpy (v->pair, p, sizeof v->pair); break;
    case HP_STRING:    v->s = *(const char *const *) p; break;
    case HP_ARCH:      v->s = (const char *) p; break;
    case HP_OPTIMIZER: v->e = (int) *(const DinolabOptimizerKind *) p; break;
    default:           g_assert_not_reached ();
    }
}

static gboolean
hp_in_range (const HpKey *k, double x)
{
    gboolean lo_ok = (k->flags & HP_LO_OPEN) ? x > k->lo : x >= k->lo;
    gboolean hi_ok = (k->flags & HP_HI_OPEN) ? x < k->hi : x <= k->hi;
    return lo_ok && hi_ok;
}

static void
hp_set_range_error (GError **error, const HpKey *k, const char *name, const char *shown)
{
    GString *range = g_string_new (NULL);

    hp_append_range (range, k);
    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                 "%s: %s is out of range %s", name, shown, range->str);
    g_string_free (range, TRUE);
}

static int
hp_arch_lookup (const char *s)
{
    for (int a = 0; a < (int) G_N_ELEMENTS (hp_archs); a++)
        if (strcmp (s, hp_archs[a].name) == 0)
            return a;
    for (guint i = 0; i < G_N_ELEMENTS (hp_arch_aliases); i++)
        if (strcmp (s, hp_arch_aliases[i].alias) == 0)
            return hp_arch_aliases[i].arch;
    return -1;
}

/* Range check of one value; resolves names into v->e. @from_struct: v->e already holds
 * the optimizer kind (it came from the struct, not from text). */
static gboolean
hp_check (const HpKey *k, const char *name, HpValue *v, gboolean from_struct, GError **error)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    char *shown;

    switch (k->type) {
    case HP_INT:
        if ((double) v->i < k->lo || (double) v->i > k->hi) {
            shown = g_strdup_printf ("%" G_GINT64_FORMAT, v->i);
            hp_set_range_error (error, k, name, shown);
            g_free (shown);
            return FALSE;
        }
        return TRUE;
    case HP_SEED:
        if (v->i < 0) {
            shown = g_strdup_printf ("%" G_GINT64_FORMAT, v->i);
            hp_set_range_error (error, k, name, shown);
            g_free (shown);
            return FALSE;
        }
        return TRUE;
    case HP_DOUBLE:
        if (!isfinite (v->d) || !hp_in_range (k, v->d)) {
            hp_format_number (buf, sizeof buf, v->d);
            hp_set_range_error (error, k, name, buf);
            return FALSE;
        }
        return TRUE;
    case HP_BOOL:
        if ((k->flags & HP_ONLY_FALSE) && v->b) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: true is not supported (Dinolab's projection head has no "
                         "BatchNorm; only false is allowed)", name);
            return FALSE;
        }
        return TRUE;
    case HP_PAIR:
        if (!(isfinite (v->pair[0]) && isfinite (v->pair[1]) && v->pair[0] > 0.0
              && v->pair[0] <= v->pair[1] && v->pair[1] <= 1.0)) {
            GString *s = g_string_new ("[");
            hp_append_number (s, v->pair[0]);
            g_string_append (s, ", ");
            hp_append_number (s, v->pair[1]);
            g_string_append (s, "]");
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: %s is not a valid scale range: need [a, b] with 0 < a <= b <= 1",
                         name, s->str);
            g_string_free (s, TRUE);
            return FALSE;
        }
        return TRUE;
    case HP_STRING:
        if (v->s == NULL || v->s[0] == '\0') {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: must not be empty", name);
            return FALSE;
        }
        if (!g_utf8_validate (v->s, -1, NULL)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: value is not valid UTF-8", name);
            return FALSE;
        }
        return TRUE;
    case HP_ARCH:
        v->e = hp_arch_lookup (v->s);
        if (v->e < 0) {
            GString *range = g_string_new (NULL);
            hp_append_range (range, k);
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: '%s' is not %s", name, v->s, range->str);
            g_string_free (range, TRUE);
            return FALSE;
        }
        return TRUE;
    case HP_OPTIMIZER:
        if (from_struct) {
            if (v->e != DINOLAB_OPTIMIZER_ADAMW && v->e != DINOLAB_OPTIMIZER_SGD) {
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                             "%s: invalid value %d (one of adamw, sgd)", name, v->e);
                return FALSE;
            }
        } else if (strcmp (v->s, "adamw") == 0) {
            v->e = DINOLAB_OPTIMIZER_ADAMW;
        } else if (strcmp (v->s, "sgd") == 0) {
            v->e = DINOLAB_OPTIMIZER_SGD;
        } else if (strcmp (v->s, "lars") == 0) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: 'lars' is not supported (Dinolab offers adamw and sgd; the "
                         "reference uses lars only for convnets)", name);
            return FALSE;
        } else {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: '%s' is not one of adamw, sgd", name, v->s);
            return FALSE;
        }
        return TRUE;
    default:
        g_assert_not_reached ();
    }
    return FALSE;
}

/* A named arch whose sizes were overridden becomes vit_custom (the arch rule). */
static void
hp_arch_follow_sizes (DinolabHparams *hp)
{
    int a = hp_arch_lookup (hp->arch);

    if (a >= 0 && a != HP_ARCH_CUSTOM
        && (hp->embed_dim != hp_archs[a].embed_dim || hp->depth != hp_archs[a].depth
            || hp->num_heads != hp_archs[a].num_heads))
        g_strlcpy (hp->arch, hp_archs[HP_ARCH_CUSTOM].name, sizeof hp->arch);
}

/* Writes a checked value. Cannot fail. */
static void
hp_apply (DinolabHparams *hp, const HpKey *k, const HpValue *v)
{
    gpointer p = G_STRUCT_MEMBER_P (hp, k->offset);

    switch (k->type) {
    case HP_INT:
        *(int *) p = (int) v->i;
        if (k->flags & HP_ARCH_SIZE)
            hp_arch_follow_sizes (hp);
        break;
    case HP_SEED:
        *(guint64 *) p = (guint64) v->i;
        break;
    case HP_DOUBLE:
        *(double *) p = v->d;
        break;
    case HP_BOOL:
        *(gboolean *) p = v->b ? TRUE : FALSE;
        break;
    case HP_PAIR:
        memcpy (p, v->pair, sizeof v->pair);
        break;
    case HP_STRING: {
        char *old = *(char **) p;
        *(char **) p = g_strdup (v->s); /* before freeing: v->s may be the old string */
        g_free (old);
        break;
    }
    case HP_ARCH:
        g_assert (v->e >= 0 && v->e < (int) G_N_ELEMENTS (hp_archs));
        g_strlcpy (hp->arch, hp_archs[v->e].name, sizeof hp->arch);
        if (v->e != HP_ARCH_CUSTOM) {
            hp->embed_dim = hp_archs[v->e].embed_dim;
            hp->depth = hp_archs[v->e].depth;
            hp->num_heads = hp_archs[v->e].num_heads;
        }
        break;
    case HP_OPTIMIZER:
        *(DinolabOptimizerKind *) p = (DinolabOptimizerKind) v->e;
        break;
    default:
        g_assert_not_reached ();
    }
}

/* The value of @k as --set text (@json FALSE) or as a JSON value (@json TRUE). */
static void
hp_append_value (GString *s, const DinolabHparams *hp, const HpKey *k, gboolean json,
                 gboolean pretty)
{
    HpValue v;

    hp_value_from_struct (k, hp, &v);
    switch (k->type) {
    case HP_INT:
        g_string_append_printf (s, "%" G_GINT64_FORMAT, v.i);
        break;
    case HP_SEED:
        g_string_append_printf (s, "%" G_GUINT64_FORMAT, hp->seed);
        break;
    case HP_DOUBLE:
        hp_append_double (s, v.d);
        break;
    case HP_BOOL:
        g_string_append (s, v.b ? "true" : "false");
        break;
    case HP_PAIR:
        g_string_append (s, json ? "[" : "");
        hp_append_double (s, v.pair[0]);
        g_string_append (s, json && pretty ? ", " : ",");
        hp_append_double (s, v.pair[1]);
        g_string_append (s, json ? "]" : "");
        break;
    case HP_STRING:
    case HP_ARCH:
        if (json)
            hp_append_json_string (s, v.s != NULL ? v.s : "");
        else
            g_string_append (s, v.s != NULL ? v.s : "");
        break;
    case HP_OPTIMIZER: {
        const char *name = v.e == DINOLAB_OPTIMIZER_SGD ? "sgd" : "adamw";
        if (json)
            hp_append_json_string (s, name);
        else
            g_string_append (s, name);
        break;
    }
    default:
        g_assert_not_reached ();
    }
}

// ----------------------------------------------------------------------------
// lifetime

void
dinolab_hparams_init (DinolabHparams *hp)
{
    g_return_if_fail (hp != NULL);

    memset (hp, 0, sizeof *hp);
    /* The table's defaults go through the same parser as --set, so the defaults that
     * describe() shows are the ones a run gets. arch comes first in the table. */
    for (guint i = 0; i < HP_N_KEYS; i++) {
        G_GNUC_UNUSED gboolean ok = dinolab_hparams_set (hp, hp_keys[i].key, hp_keys[i].def, NULL);
        g_assert (ok);
    }
}

void
dinolab_hparams_clear (DinolabHparams *hp)
{
    g_return_if_fail (hp != NULL);

    g_clear_pointer (&hp->dataset, g_free);
}

void
dinolab_hparams_copy (DinolabHparams *dst, const DinolabHparams *src)
{
    char *dataset;

    g_return_if_fail (dst != NULL);
    g_return_if_fail (src != NULL);

    if (dst == src)
        return;
    dataset = g_strdup (src->dataset);
    g_free (dst->dataset);
    *dst = *src;
    dst->dataset = dataset;
}

/* Replaces @hp by @with, freeing what @hp owned; @with is consumed. */
static void
hp_take (DinolabHparams *hp, DinolabHparams *with)
{
    dinolab_hparams_clear (hp);
    *hp = *with;
    with->dataset = NULL;
}

// ----------------------------------------------------------------------------
// setting keys

gboolean
dinolab_hparams_set (DinolabHparams *hp, const char *key, const char *value, GError **error)
{
    const HpKey *k;
    HpValue v = { 0 };
    char *text;
    gboolean ok;

    g_return_val_if_fail (hp != NULL, FALSE);
    g_return_val_if_fail (key != NULL, FALSE);
    g_return_val_if_fail (value != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    k = hp_key_find (key);
    if (k == NULL) {
        hp_set_unknown_key_error (error, key);
        return FALSE;
    }
    text = g_strstrip (g_strdup (value));
    ok = hp_value_from_text (k, key, text, &v, error) && hp_check (k, key, &v, FALSE, error);
    if (ok)
        hp_apply (hp, k, &v);
    g_free (text);
    return ok;
}

gboolean
dinolab_hparams_set_assignment (DinolabHparams *hp, const char *assignment, GError **error)
{
    const char *eq;
    char *key;
    gboolean ok;

    g_return_val_if_fail (hp != NULL, FALSE);
    g_return_val_if_fail (assignment != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    eq = strchr (assignment, '=');
    if (eq == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "'%s': expected key=value, e.g. teacher_temp=0.07", assignment);
        return FALSE;
    }
    key = g_strstrip (g_strndup (assignment, (gsize) (eq - assignment)));
    if (key[0] == '\0') {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "'%s': no key before '='", assignment);
        g_free (key);
        return FALSE;
    }
    ok = dinolab_hparams_set (hp, key, eq + 1, error);
    g_free (key);
    return ok;
}

/* Applies one JSON member to @hp (already a working copy). */
static gboolean
hp_apply_member (DinolabHparams *hp, const char *name, JsonNode *node, GError **error)
{
    const HpKey *k = hp_key_find (name);
    HpValue v = { 0 };

    if (k == NULL) {
        hp_set_unknown_key_error (error, name);
        return FALSE;
    }
    if (!hp_value_from_node (k, name, node, &v, error) || !hp_check (k, name, &v, FALSE, error))
        return FALSE;
    hp_apply (hp, k, &v);
    return TRUE;
}

/* Applies every member of @obj to @hp (a working copy; the caller drops it on error).
 * "arch" goes first so that explicit sizes override it whatever the key order.
 * @preset: '_' keys are the preset's own (skipped) instead of refused. */
static gboolean
hp_apply_object (DinolabHparams *hp, JsonObject *obj, gboolean preset, GError **error)
{
    GList *members;
    gboolean ok = TRUE;

    if (json_object_has_member (obj, "arch")
        && !hp_apply_member (hp, "arch", json_object_get_member (obj, "arch"), error))
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS (hp_aliases); i++) {
        JsonNode *a = json_object_get_member (obj, hp_aliases[i].alias);
        JsonNode *b = json_object_get_member (obj, hp_aliases[i].key);
        if (a != NULL && b != NULL && !json_node_equal (a, b)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s and %s are the same hyperparameter but have different values",
                         hp_aliases[i].alias, hp_aliases[i].key);
            return FALSE;
        }
    }
    members = json_object_get_members (obj);
    for (GList *l = members; l != NULL && ok; l = l->next) {
        const char *name = l->data;
        if (strcmp (name, "arch") == 0)
            continue;
        if (name[0] == '_') {
            if (preset)
                continue;
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "'%s': keys starting with '_' are only allowed in preset files", name);
            ok = FALSE;
            break;
        }
        ok = hp_apply_member (hp, name, json_object_get_member (obj, name), error);
    }
    g_list_free (members);
    return ok;
}

static const char *
hp_node_kind (JsonNode *node)
{
    GType t;

    if (node == NULL)
        return "an empty document";
    if (JSON_NODE_HOLDS_OBJECT (node))
        return "an object";
    if (JSON_NODE_HOLDS_ARRAY (node))
        return "an array";
    if (JSON_NODE_HOLDS_NULL (node))
        return "null";
    t = json_node_get_value_type (node);
    if (t == G_TYPE_STRING)
        return "a string";
    if (t == G_TYPE_BOOLEAN)
        return "a boolean";
    return "a number";
}

/* Parses @json into an object node (caller unrefs), or NULL with @error set. */
static JsonNode *
hp_parse_object (const char *json, gssize length, GError **error)
{
    JsonParser *parser = json_parser_new_immutable ();
    GError *local = NULL;
    JsonNode *root = NULL;

    if (!json_parser_load_from_data (parser, json, length, &local)) {
        /* json-glib names the buffer "<data>"; the caller prefixes the real source */
        gboolean located = g_str_has_prefix (local->message, "<data>:");
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT, "not valid JSON: %s%s",
                     located ? "line " : "",
                     located ? local->message + strlen ("<data>:") : local->message);
        g_error_free (local);
    } else {
        root = json_parser_steal_root (parser);
        if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "expected a JSON object of hyperparameters, found %s",
                         hp_node_kind (root));
            g_clear_pointer (&root, json_node_unref);
        }
    }
    g_object_unref (parser);
    return root;
}

gboolean
dinolab_hparams_load_json (DinolabHparams *hp, const char *json, gssize length,
                           const char *source, GError **error)
{
    DinolabHparams work;
    JsonNode *root;
    gboolean ok;

    g_return_val_if_fail (hp != NULL, FALSE);
    g_return_val_if_fail (json != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    root = hp_parse_object (json, length, error);
    if (root == NULL) {
        if (source != NULL)
            g_prefix_error (error, "%s: ", source);
        return FALSE;
    }
    memset (&work, 0, sizeof work);
    dinolab_hparams_copy (&work, hp);
    ok = hp_apply_object (&work, json_node_get_object (root), FALSE, error);
    if (ok)
        hp_take (hp, &work);
    else
        dinolab_hparams_clear (&work);
    if (!ok && source != NULL)
        g_prefix_error (error, "%s: ", source);
    json_node_unref (root);
    return ok;
}

static char *
hp_read_file (const char *path, gsize *length, GError **error)
{
    GError *local = NULL;
    char *contents = NULL;

    if (!g_file_get_contents (path, &contents, length, &local)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_IO, "%s", local->message);
        g_error_free (local);
        return NULL;
    }
    return contents;
}

gboolean
dinolab_hparams_load_file (DinolabHparams *hp, const char *path, GError **error)
{
    char *contents;
    gsize length;
    gboolean ok;

    g_return_val_if_fail (hp != NULL, FALSE);
    g_return_val_if_fail (path != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    contents = hp_read_file (path, &length, error);
    if (contents == NULL)
        return FALSE;
    ok = dinolab_hparams_load_json (hp, contents, (gssize) length, path, error);
    g_free (contents);
    return ok;
}

// ----------------------------------------------------------------------------
// checking and writing

static gboolean
hp_check_patch_multiple (const char *name, int value, int patch_size, GError **error)
{
    if (value % patch_size != 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %d is not a multiple of patch_size %d", name, value, patch_size);
        return FALSE;
    }
    return TRUE;
}

gboolean
dinolab_hparams_validate (const DinolabHparams *hp, GError **error)
{
    char lr[G_ASCII_DTOSTR_BUF_SIZE], min_lr[G_ASCII_DTOSTR_BUF_SIZE];
    int a;

    g_return_val_if_fail (hp != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    /* each key on its own: the struct may have been filled in directly */
    for (guint i = 0; i < HP_N_KEYS; i++) {
        HpValue v;
        hp_value_from_struct (&hp_keys[i], hp, &v);
        if (hp_keys[i].type == HP_ARCH && memchr (hp->arch, '\0', sizeof hp->arch) == NULL) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "arch: not a terminated string");
            return FALSE;
        }
        if (!hp_check (&hp_keys[i], hp_keys[i].key, &v, TRUE, error))
            return FALSE;
    }

    /* cross-key rules */
    a = hp_arch_lookup (hp->arch);
    if (a != HP_ARCH_CUSTOM
        && (hp->embed_dim != hp_archs[a].embed_dim || hp->depth != hp_archs[a].depth
            || hp->num_heads != hp_archs[a].num_heads)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "arch: %s means embed_dim %d, depth %d, num_heads %d, but they are %d, "
                     "%d, %d (use arch vit_custom for other sizes)", hp_archs[a].name,
                     hp_archs[a].embed_dim, hp_archs[a].depth, hp_archs[a].num_heads,
                     hp->embed_dim, hp->depth, hp->num_heads);
        return FALSE;
    }
    if (hp->embed_dim % hp->num_heads != 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "embed_dim: %d is not divisible by num_heads %d",
                     hp->embed_dim, hp->num_heads);
        return FALSE;
    }
    if (!hp_check_patch_multiple ("img_size", hp->img_size, hp->patch_size, error)
        || !hp_check_patch_multiple ("global_crop_size", hp->global_crop_size, hp->patch_size,
                                     error)
        || !hp_check_patch_multiple ("local_crop_size", hp->local_crop_size, hp->patch_size,
                                     error))
        return FALSE;
    if (hp->min_lr > hp->lr) {
        hp_format_number (lr, sizeof lr, hp->lr);
        hp_format_number (min_lr, sizeof min_lr, hp->min_lr);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "min_lr: %s is above lr %s (the schedule decays from lr to min_lr)",
                     min_lr, lr);
        return FALSE;
    }
    if (hp->warmup_epochs > hp->epochs) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "warmup_epochs: %d is more than epochs %d", hp->warmup_epochs, hp->epochs);
        return FALSE;
    }
    if (hp->warmup_teacher_temp_epochs > hp->epochs) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "warmup_teacher_temp_epochs: %d is more than epochs %d",
                     hp->warmup_teacher_temp_epochs, hp->epochs);
        return FALSE;
    }
    return TRUE;
}

char *
dinolab_hparams_to_json (const DinolabHparams *hp, gboolean pretty)
{
    GString *s;

    g_return_val_if_fail (hp != NULL, NULL);

    s = g_string_new ("{");
    for (guint i = 0; i < HP_N_KEYS; i++) {
        g_string_append (s, i == 0 ? "" : ",");
        g_string_append (s, pretty ? "\n  " : "");
        hp_append_json_string (s, hp_keys[i].key);
        g_string_append (s, pretty ? ": " : ":");
        hp_append_value (s, hp, &hp_keys[i], TRUE, pretty);
    }
    g_string_append (s, pretty ? "\n}\n" : "}");
    return g_string_free (s, FALSE);
}

char *
dinolab_hparams_get_text (const DinolabHparams *hp, const char *key)
{
    const HpKey *k;
    GString *s;

    g_return_val_if_fail (hp != NULL, NULL);
    g_return_val_if_fail (key != NULL, NULL);

    k = hp_key_find (key);
    if (k == NULL)
        return NULL;
    s = g_string_new (NULL);
    hp_append_value (s, hp, k, FALSE, FALSE);
    return g_string_free (s, FALSE);
}

// ----------------------------------------------------------------------------
// the key table

guint
dinolab_hparams_get_n_keys (void)
{
    return HP_N_KEYS;
}

const char *
dinolab_hparams_get_key (guint i)
{
    g_return_val_if_fail (i < HP_N_KEYS, NULL);

    return hp_keys[i].key;
}

const char *
dinolab_hparams_describe (const char *key)
{
    const HpKey *k;
    GString *s;
    const char *line;

    g_return_val_if_fail (key != NULL, NULL);

    k = hp_key_find (key);
    if (k == NULL)
        return NULL;
    s = g_string_new (k->summary);
    g_string_append (s, ". Allowed: ");
    hp_append_range (s, k);
    g_string_append (s, "; default ");
    g_string_append (s, k->def);
    g_string_append (s, ".");
    line = g_intern_string (s->str); /* static and thread-safe: the same text each call */
    g_string_free (s, TRUE);
    return line;
}

// ----------------------------------------------------------------------------
// presets

#define HP_PRESET_MAX_DEPTH 16

static gboolean
hp_preset_name_is_valid (const char *name)
{
    if (name[0] == '\0' || name[0] == '.' || strlen (name) > 128)
        return FALSE;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
            return FALSE;
    return TRUE;
}

/* $DINOLAB_PRESETS_DIR entries, then @search_dirs; empty entries dropped. g_strfreev. */
static char **
hp_preset_dirs (const char *const *search_dirs)
{
    GPtrArray *dirs = g_ptr_array_new ();
    const char *env = g_getenv ("DINOLAB_PRESETS_DIR");

    if (env != NULL && env[0] != '\0') {
        char **parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
        for (char **p = parts; *p; p++)
            if (**p != '\0')
                g_ptr_array_add (dirs, g_strdup (*p));
        g_strfreev (parts);
    }
    for (const char *const *d = search_dirs; d != NULL && *d != NULL; d++)
        if (**d != '\0')
            g_ptr_array_add (dirs, g_strdup (*d));
    g_ptr_array_add (dirs, NULL);
    return (char **) g_ptr_array_free (dirs, FALSE);
}

static char **
hp_list_presets_in (char **dirs)
{
    GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    GPtrArray *names = g_ptr_array_new ();

    for (char **d = dirs; *d != NULL; d++) {
        GDir *dir = g_dir_open (*d, 0, NULL);
        const char *entry;
        if (dir == NULL)
            continue;
        while ((entry = g_dir_read_name (dir)) != NULL) {
            char *name;
            if (!g_str_has_suffix (entry, ".json"))
                continue;
            name = g_strndup (entry, strlen (entry) - strlen (".json"));
            if (hp_preset_name_is_valid (name) && !g_hash_table_contains (seen, name)) {
                g_ptr_array_add (names, g_strdup (name));
                g_hash_table_add (seen, name);
            } else {
                g_free (name);
            }
        }
        g_dir_close (dir);
    }
    g_hash_table_destroy (seen);
    g_ptr_array_sort (names, hp_cmp_strv_item);
    g_ptr_array_add (names, NULL);
    return (char **) g_ptr_array_free (names, FALSE);
}

/* Path of preset @name in @dirs (g_free), or NULL with @error set. */
static char *
hp_preset_find (const char *name, char **dirs, GError **error)
{
    char *file, *dir_list, *available, **names;

    if (!hp_preset_name_is_valid (name)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "preset name '%s' is not valid (letters, digits, '.', '_' and '-', "
                     "not starting with '.')", name);
        return NULL;
    }
    file = g_strconcat (name, ".json", NULL);
    for (char **d = dirs; *d != NULL; d++) {
        char *path = g_build_filename (*d, file, NULL);
        if (g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
            g_free (file);
            return path;
        }
        g_free (path);
    }
    g_free (file);

    dir_list = g_strjoinv (", ", dirs);
    names = hp_list_presets_in (dirs);
    available = g_strjoinv (", ", names);
    g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                 "preset '%s' not found in %s (available: %s)", name,
                 dirs[0] != NULL ? dir_list : "no preset directories",
                 names[0] != NULL ? available : "none");
    g_free (available);
    g_strfreev (names);
    g_free (dir_list);
    return NULL;
}

/* Reads preset file @path into an object node (caller unrefs), or NULL. */
static JsonNode *
hp_preset_read (const char *path, GError **error)
{
    gsize length;
    char *contents = hp_read_file (path, &length, error);
    JsonNode *root;

    if (contents == NULL)
        return NULL;
    root = hp_parse_object (contents, (gssize) length, error);
    if (root == NULL)
        g_prefix_error (error, "%s: ", path);
    g_free (contents);
    return root;
}

/* Refuses @name if it is already being loaded (a _base loop) or the chain is too deep.
 * @chain holds the names being loaded, outermost first. */
static gboolean
hp_preset_check_chain (const char *name, GPtrArray *chain, GError **error)
{
    GString *loop;

    for (guint i = 0; i < chain->len; i++) {
        if (strcmp (g_ptr_array_index (chain, i), name) == 0) {
            loop = g_string_new (NULL);
            for (guint j = 0; j < chain->len; j++)
                g_string_append_printf (loop, "%s -> ",
                                        (const char *) g_ptr_array_index (chain, j));
            g_string_append (loop, name);
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "'%s' makes a loop: %s", name, loop->str);
            g_string_free (loop, TRUE);
            return FALSE;
        }
    }
    if (chain->len >= HP_PRESET_MAX_DEPTH) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "'%s' is more than %d presets deep", name, HP_PRESET_MAX_DEPTH);
        return FALSE;
    }
    return TRUE;
}

/* Loads preset @name, found at @path, and its _base chain onto @hp (a working copy).
 * Errors are prefixed once, by the file where they arise. */
static gboolean
hp_preset_load (DinolabHparams *hp, const char *name, const char *path, char **dirs,
                GPtrArray *chain, GError **error)
{
    JsonNode *root = hp_preset_read (path, error);
    JsonObject *obj;
    JsonNode *base;
    char *base_path = NULL;
    gboolean ok = TRUE;

    if (root == NULL)
        return FALSE;
    obj = json_node_get_object (root);
    g_ptr_array_add (chain, g_strdup (name));

    base = json_object_get_member (obj, "_base");
    if (base != NULL) {
        if (!JSON_NODE_HOLDS_VALUE (base) || json_node_get_value_type (base) != G_TYPE_STRING) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "expected the name of a preset (a string)");
            ok = FALSE;
        } else if (!hp_preset_check_chain (json_node_get_string (base), chain, error)
                   || (base_path = hp_preset_find (json_node_get_string (base), dirs,
                                                   error)) == NULL) {
            ok = FALSE;
        }
        if (!ok)
            g_prefix_error (error, "%s: _base: ", path);
        else
            ok = hp_preset_load (hp, json_node_get_string (base), base_path, dirs, chain,
                                 error);
    }
    if (ok && !hp_apply_object (hp, obj, TRUE, error)) {
        g_prefix_error (error, "%s: ", path);
        ok = FALSE;
    }

    g_ptr_array_remove_index (chain, chain->len - 1);
    g_free (base_path);
    json_node_unref (root);
    return ok;
}

gboolean
dinolab_hparams_load_preset (DinolabHparams *hp, const char *name,
                             const char *const *search_dirs, GError **error)
{
    DinolabHparams work;
    char **dirs, *path;
    GPtrArray *chain;
    gboolean ok;

    g_return_val_if_fail (hp != NULL, FALSE);
    g_return_val_if_fail (name != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    dirs = hp_preset_dirs (search_dirs);
    chain = g_ptr_array_new_with_free_func (g_free);
    memset (&work, 0, sizeof work);
    dinolab_hparams_copy (&work, hp);
    path = hp_preset_find (name, dirs, error);
    ok = path != NULL && hp_preset_load (&work, name, path, dirs, chain, error);
    if (ok)
        hp_take (hp, &work);
    else
        dinolab_hparams_clear (&work);
    g_ptr_array_free (chain, TRUE);
    g_strfreev (dirs);
    g_free (path);
    return ok;
}

char **
dinolab_hparams_list_presets (const char *const *search_dirs)
{
    char **dirs = hp_preset_dirs (search_dirs);
    char **names = hp_list_presets_in (dirs);

    g_strfreev (dirs);
    return names;
}

char *
dinolab_hparams_describe_preset (const char *name, const char *const *search_dirs,
                                 GError **error)
{
    char **dirs;
    char *path, *description = NULL;
    JsonNode *root, *node;

    g_return_val_if_fail (name != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    dirs = hp_preset_dirs (search_dirs);
    path = hp_preset_find (name, dirs, error);
    g_strfreev (dirs);
    if (path == NULL)
        return NULL;
    root = hp_preset_read (path, error);
    if (root != NULL) {
        node = json_object_get_member (json_node_get_object (root), "_description");
        if (node == NULL)
            description = g_strdup ("");
        else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
            description = g_strdup (json_node_get_string (node));
        else
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: _description: expected a string", path);
        json_node_unref (root);
    }
    g_free (path);
    return description;
}
