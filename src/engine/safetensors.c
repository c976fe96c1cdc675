/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * safetensors.c: read and write model weights as safetensors files.
 *
 * Format (github.com/huggingface/safetensors): 8 bytes little-endian uint64 N, then N
 * bytes of UTF-8 JSON, then the data buffer. The JSON maps each tensor name to
 *     {"dtype":"F32","shape":[3,4],"data_offsets":[BEGIN,END]}
 * (offsets relative to the data buffer) and may hold "__metadata__", a string ->
 * string map. We write the JSON compact, "__metadata__" first, then the tensors with
 * contiguous offsets, padded with spaces to a multiple of 8 bytes, as the reference
 * (Rust) writer does; it sorts tensors by dtype and name, we keep the caller's order
 * (the parameter-table order), which the format allows.
 *
 * Reading is as strict as the reference reader: header at most 100,000,000 bytes,
 * every tensor's byte range equals product(shape) * 4, ranges sorted by offset tile
 * the data buffer exactly (no overlap, no gap, nothing after). Everything is checked
 * against the file size before a tensor is allocated, so a hostile file cannot make us
 * read out of bounds or allocate more than its own size. Tensors are copied out of the
 * mapping, so the result does not depend on the file afterwards.
 *
 * Names are normalised on reading (prefixes of the DINO reference checkpoints and of
 * timm are stripped); matching them to a model is params.c's / model.c's job.
 * Only F32 is supported: Dinolab trains and stores in float32, and converting F16/BF16
 * is left to the tool that made the file.
 */
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "dinolab/error.h"
#include "dinolab/io.h"
#include "io-private.h"

/* The reference implementation's MAX_HEADER_SIZE. */
#define ST_MAX_HEADER_LEN 100000000u
/* A real header nests 3 deep (root, tensor, shape). The cap keeps json-glib's
 * recursive parser from overflowing the stack on "[[[[...". */
#define ST_MAX_JSON_DEPTH 32

// ----------------------------------------------------------------------------
// The object

typedef struct {
    char         *name;     /* normalised */
    DinolabArray *array;    /* F32 */
    gboolean      borrowed; /* array->data points into the mapping, not owned */
} StTensor;

struct DinolabSafetensors {
    char       *path;
    GMappedFile *mapping;  /* kept while tensors point into it */
    GPtrArray  *tensors;   /* StTensor*, in data-offset order; owns them */
    GHashTable *by_name;   /* normalised name -> StTensor* (borrowed from tensors) */
    GHashTable *metadata;  /* key -> value, both owned */
};

static void
st_tensor_free_ (gpointer p)
{
    StTensor *t = p;

    g_free (t->name);
    if (t->borrowed)
        g_free (t->array);
    else
        dinolab_array_free (t->array);
    g_free (t);
}

void
dinolab_safetensors_free (DinolabSafetensors *st)
{
    if (st == NULL)
        return;
    g_hash_table_unref (st->by_name);
    g_ptr_array_unref (st->tensors);
    g_hash_table_unref (st->metadata);
    g_clear_pointer (&st->mapping, g_mapped_file_unref);
    g_free (st->path);
    g_free (st);
}

const char *
dinolab_safetensors_get_path (const DinolabSafetensors *st)
{
    g_return_val_if_fail (st != NULL, NULL);
    return st->path;
}

guint
dinolab_safetensors_get_n_tensors (const DinolabSafetensors *st)
{
    g_return_val_if_fail (st != NULL, 0);
    return st->tensors->len;
}

const char *
dinolab_safetensors_get_name (const DinolabSafetensors *st, guint i)
{
    g_return_val_if_fail (st != NULL, NULL);
    g_return_val_if_fail (i < st->tensors->len, NULL);
    return ((const StTensor *) g_ptr_array_index (st->tensors, i))->name;
}

const DinolabArray *
dinolab_safetensors_get (const DinolabSafetensors *st, const char *name)
{
    const StTensor *t;

    g_return_val_if_fail (st != NULL, NULL);
    g_return_val_if_fail (name != NULL, NULL);

    t = g_hash_table_lookup (st->by_name, name);
    return t != NULL ? t->array : NULL;
}

const float *
dinolab_safetensors_get_f32 (const DinolabSafetensors *st, const char *name, int ndim,
                             const int64_t *shape, GError **error)
{
    const DinolabArray *a;
    gboolean same;

    g_return_val_if_fail (st != NULL, NULL);
    g_return_val_if_fail (name != NULL, NULL);
    g_return_val_if_fail (ndim >= 0 && ndim <= DINOLAB_MAX_DIMS, NULL);
    g_return_val_if_fail (ndim == 0 || shape != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    a = dinolab_safetensors_get (st, name);
    if (a == NULL) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: tensor %s is missing", st->path, name);
        return NULL;
    }
    same = a->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = a->shape[i] == shape[i];
    if (!same) {
        g_autofree char *want = dinolab_shape_to_string (ndim, shape);
        g_autofree char *found = dinolab_shape_to_string (a->ndim, a->shape);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: %s: expected %s, found %s", st->path, name, want, found);
        return NULL;
    }
    return a->data;
}

const char *
dinolab_safetensors_get_metadata (const DinolabSafetensors *st, const char *key)
{
    g_return_val_if_fail (st != NULL, NULL);
    g_return_val_if_fail (key != NULL, NULL);
    return g_hash_table_lookup (st->metadata, key);
}

// ----------------------------------------------------------------------------
// Reading: header entries

typedef enum {
    ST_ORIGIN_NONE,
    ST_ORIGIN_STUDENT,
    ST_ORIGIN_TEACHER,
} StOrigin;

/* One tensor as the header describes it, before normalisation. */
typedef struct {
    const char *stored_name;              /* borrowed from the JsonObject */
    const char *norm;                     /* points into stored_name, prefixes skipped */
    StOrigin    origin;                   /* first student./teacher. prefix seen */
    int         ndim;
    int64_t     shape[DINOLAB_MAX_DIMS];
    guint64     begin, end;               /* data_offsets, relative to the data buffer */
    guint       index;                    /* position in the header, for a stable sort */
    gboolean    keep;                     /* survives prefix collisions */
} StEntry;

/* Strips any chain of module./backbone./student./teacher. prefixes (never down to an
 * empty name) and records whether the tensor came from the student or the teacher. */
static const char *
st_strip_prefixes_ (const char *name, StOrigin *origin)
{
    static const struct {
        const char *prefix;
        StOrigin    origin;
    } prefixes[] = {
        { "module.",   ST_ORIGIN_NONE },
        { "backbone.", ST_ORIGIN_NONE },
        { "student.",  ST_ORIGIN_STUDENT },
        { "teacher.",  ST_ORIGIN_TEACHER },
    };
    gboolean again = TRUE;

    g_assert (name != NULL && origin != NULL);

    *origin = ST_ORIGIN_NONE;
    while (again) {
        again = FALSE;
        for (size_t k = 0; k < G_N_ELEMENTS (prefixes); k++) {
            size_t L = strlen (prefixes[k].prefix);
            if (strncmp (name, prefixes[k].prefix, L) == 0 && name[L] != '\0') {
                if (*origin == ST_ORIGIN_NONE)
                    *origin = prefixes[k].origin;
                name += L;
                again = TRUE;
                break;
            }
        }
    }
    return name;
}

/* TRUE if @node is a JSON integer >= 0. */
static gboolean
st_get_uint_ (JsonNode *node, guint64 *out)
{
    gint64 v;

    if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
        || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
    v = json_node_get_int (node);
    if (v < 0)
        return FALSE;
    *out = (guint64) v;
    return TRUE;
}

/* Parses and checks one tensor entry against the data buffer size @data_len. */
static gboolean
st_parse_entry_ (const char *path, const char *name, JsonNode *node, guint64 data_len,
                 StEntry *e, GError **error)
{
    JsonObject *obj;
    JsonNode *dtype_node, *shape_node, *offsets_node;
    JsonArray *arr;
    const char *dtype;
    guint64 numel = 1;
    gboolean zero = FALSE, overflow = FALSE;

    g_assert (path != NULL && name != NULL && e != NULL);

    e->stored_name = name;
    if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: tensor %s: header entry is not a JSON object", path, name);
        return FALSE;
    }
    obj = json_node_get_object (node);

    // dtype
    dtype_node = json_object_get_member (obj, "dtype");
    if (dtype_node == NULL || !JSON_NODE_HOLDS_VALUE (dtype_node)
        || json_node_get_value_type (dtype_node) != G_TYPE_STRING) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: tensor %s: \"dtype\" is missing or not a string", path, name);
        return FALSE;
    }
    dtype = json_node_get_string (dtype_node);
    if (g_strcmp0 (dtype, "F32") != 0) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: tensor %s has dtype %s; only F32 is supported "
                     "(convert the checkpoint to float32)", path, name, dtype);
        return FALSE;
    }

    // shape
    shape_node = json_object_get_member (obj, "shape");
    if (shape_node == NULL || !JSON_NODE_HOLDS_ARRAY (shape_node)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: tensor %s: \"shape\" is missing or not an array", path, name);
        return FALSE;
    }
    arr = json_node_get_array (shape_node);
    if (json_array_get_length (arr) > DINOLAB_MAX_DIMS) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: tensor %s has %u dimensions; at most %d are supported", path, name,
                     json_array_get_length (arr), DINOLAB_MAX_DIMS);
        return FALSE;
    }
    e->ndim = (int) json_array_get_length (arr);
    for (int i = 0; i < e->ndim; i++) {
        guint64 d;
        if (!st_get_uint_ (json_array_get_element (arr, (guint) i), &d)) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: tensor %s: shape entry %d is not a non-negative integer",
                         path, name, i);
            return FALSE;
        }
        e->shape[i] = (int64_t) d;
    }

    // data_offsets
    offsets_node = json_object_get_member (obj, "data_offsets");
    if (offsets_node == NULL || !JSON_NODE_HOLDS_ARRAY (offsets_node)
        || json_array_get_length (json_node_get_array (offsets_node)) != 2
        || !st_get_uint_ (json_array_get_element (json_node_get_array (offsets_node), 0), &e->begin)
        || !st_get_uint_ (json_array_get_element (json_node_get_array (offsets_node), 1), &e->end)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: tensor %s: \"data_offsets\" must be two non-negative integers",
                     path, name);
        return FALSE;
    }

    // The byte range must be inside the buffer and match the shape. A zero dim makes
    // the product 0 whatever the others say; otherwise any overflow is an error.
    for (int i = 0; i < e->ndim; i++) {
        if (e->shape[i] == 0)
            zero = TRUE;
        else if (!g_uint64_checked_mul (&numel, numel, (guint64) e->shape[i]))
            overflow = TRUE;
    }
    if (zero) {
        numel = 0;
        overflow = FALSE;
    }
    if (numel > G_MAXUINT64 / 4)
        overflow = TRUE;
    if (e->begin > e->end) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: tensor %s: data_offsets [%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                     "] are reversed", path, name, e->begin, e->end);
        return FALSE;
    }
    if (e->end > data_len) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: tensor %s: data_offsets [%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                     "] run past the end of the data (%" G_GUINT64_FORMAT " bytes; truncated?)",
                     path, name, e->begin, e->end, data_len);
        return FALSE;
    }
    if (overflow) {
        g_autofree char *s = dinolab_shape_to_string (e->ndim, e->shape);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: tensor %s: shape %s is too large (its byte count overflows)",
                     path, name, s);
        return FALSE;
    }
    if (numel * 4 != e->end - e->begin) {
        g_autofree char *s = dinolab_shape_to_string (e->ndim, e->shape);
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: tensor %s: data_offsets [%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                     "] hold %" G_GUINT64_FORMAT " bytes, but shape %s of F32 needs %"
                     G_GUINT64_FORMAT, path, name, e->begin, e->end, e->end - e->begin, s,
                     numel * 4);
        return FALSE;
    }
    return TRUE;
}

static gboolean
st_parse_metadata_ (const char *path, JsonNode *node, GHashTable *metadata, GError **error)
{
    JsonObject *obj;
    g_autoptr(GList) members = NULL;

    if (!JSON_NODE_HOLDS_OBJECT (node)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: __metadata__ is not a JSON object", path);
        return FALSE;
    }
    obj = json_node_get_object (node);
    members = json_object_get_members (obj);
    for (GList *l = members; l != NULL; l = l->next) {
        const char *key = l->data;
        JsonNode *v = json_object_get_member (obj, key);
        if (v == NULL || !JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: __metadata__ value of %s is not a string", path, key);
            return FALSE;
        }
        g_hash_table_insert (metadata, g_strdup (key), g_strdup (json_node_get_string (v)));
    }
    return TRUE;
}

/* Cheap checks on the raw header text before json-glib sees it: starts with '{',
 * valid UTF-8 without NUL bytes, nesting no deeper than ST_MAX_JSON_DEPTH. */
static gboolean
st_check_header_text_ (const char *path, const char *h, size_t n, GError **error)
{
    int depth = 0;
    gboolean in_string = FALSE;

    if (n < 2 || h[0] != '{') {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: header does not start with '{' (not a safetensors file?)", path);
        return FALSE;
    }
    if (!g_utf8_validate (h, (gssize) n, NULL)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: header is not valid UTF-8 text", path);
        return FALSE;
    }
    for (size_t i = 0; i < n; i++) {
        if (in_string) {
            if (h[i] == '\\')
                i++;
            else if (h[i] == '"')
                in_string = FALSE;
        }
        else if (h[i] == '"') {
            in_string = TRUE;
        }
        else if (h[i] == '{' || h[i] == '[') {
            if (++depth > ST_MAX_JSON_DEPTH) {
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                             "%s: header JSON nests deeper than %d levels", path,
                             ST_MAX_JSON_DEPTH);
                return FALSE;
            }
        }
        else if (h[i] == '}' || h[i] == ']') {
            depth--;
        }
    }
    return TRUE;
}

static int
st_entry_compare_ (const void *pa, const void *pb)
{
    const StEntry *a = pa, *b = pb;

    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Sorted by offset, the ranges must tile [0, data_len) exactly: no overlap (two
 * tensors sharing bytes), no gap (bytes nobody owns), nothing after the last one. */
static gboolean
st_check_layout_ (const char *path, const StEntry *entries, guint n, guint64 data_len,
                  GError **error)
{
    guint64 expected = 0;

    for (guint i = 0; i < n; i++) {
        const StEntry *e = &entries[i];
        if (e->begin < expected) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: tensor %s: data_offsets [%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                         "] overlap tensor %s", path, e->stored_name, e->begin, e->end,
                         entries[i - 1].stored_name);
            return FALSE;
        }
        if (e->begin > expected) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                         "%s: tensor %s: data_offsets [%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                         "] leave a gap of %" G_GUINT64_FORMAT " bytes before it", path,
                         e->stored_name, e->begin, e->end, e->begin - expected);
            return FALSE;
        }
        expected = e->end;
    }
    if (expected != data_len) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: %" G_GUINT64_FORMAT " bytes after the last tensor's data are not "
                     "part of any tensor", path, data_len - expected);
        return FALSE;
    }
    return TRUE;
}

/* Marks which entry wins for each normalised name. Rank: the preferred origin, then
 * no origin, then the other one; equal ranks cannot be decided. */
static gboolean
st_resolve_names_ (const char *path, StEntry *entries, guint n, StOrigin prefer, GError **error)
{
    g_autoptr(GHashTable) winner = g_hash_table_new (g_str_hash, g_str_equal); /* norm -> StEntry* */

    for (guint i = 0; i < n; i++) {
        StEntry *e = &entries[i];
        StEntry *old;
        int rank_e, rank_old;

        e->norm = st_strip_prefixes_ (e->stored_name, &e->origin);
        e->keep = TRUE;
        old = g_hash_table_lookup (winner, e->norm);
        if (old == NULL) {
            g_hash_table_insert (winner, (gpointer) e->norm, e);
            continue;
        }
        rank_e = e->origin == prefer ? 2 : e->origin == ST_ORIGIN_NONE ? 1 : 0;
        rank_old = old->origin == prefer ? 2 : old->origin == ST_ORIGIN_NONE ? 1 : 0;
        if (rank_e == rank_old) {
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: tensors %s and %s both load as %s; cannot tell which to use",
                         path, old->stored_name, e->stored_name, e->norm);
            return FALSE;
        }
        if (rank_e > rank_old) {
            old->keep = FALSE;
            g_hash_table_insert (winner, (gpointer) e->norm, e);
        }
        else {
            e->keep = FALSE;
        }
    }
    return TRUE;
}

// ----------------------------------------------------------------------------
// Reading

DinolabSafetensors *
dinolab_safetensors_read (const char *path, const char *prefer_prefix, GError **error)
{
    g_autoptr(GMappedFile) mf = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(JsonParser) parser = NULL;
    g_autoptr(GArray) entries = NULL;
    g_autoptr(GHashTable) metadata = NULL;
    g_autoptr(GList) members = NULL;
    DinolabSafetensors *st;
    const guint8 *buf, *data;
    const char *header;
    JsonNode *root;
    JsonObject *obj;
    guint64 len, hlen, data_len;
    StOrigin prefer;

    g_return_val_if_fail (path != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);

    if (prefer_prefix == NULL || strcmp (prefer_prefix, "teacher") == 0) {
        prefer = ST_ORIGIN_TEACHER;
    }
    else if (strcmp (prefer_prefix, "student") == 0) {
        prefer = ST_ORIGIN_STUDENT;
    }
    else {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                     "%s: cannot prefer \"%s\" copies; use \"student\" or \"teacher\"",
                     path, prefer_prefix);
        return NULL;
    }

    mf = _dinolab_io_map (path, error);
    if (mf == NULL)
        return NULL;
    buf = (const guint8 *) g_mapped_file_get_contents (mf);
    len = g_mapped_file_get_length (mf);

    // 8-byte header length, then the header.
    if (len < 8) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: file is %" G_GUINT64_FORMAT " bytes, too short for a safetensors "
                     "file (truncated?)", path, len);
        return NULL;
    }
    hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > ST_MAX_HEADER_LEN) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: header length %" G_GUINT64_FORMAT " exceeds the limit of %u bytes "
                     "(not a safetensors file?)", path, hlen, ST_MAX_HEADER_LEN);
        return NULL;
    }
    if (hlen > len - 8) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: header length %" G_GUINT64_FORMAT " runs past the end of the file "
                     "(%" G_GUINT64_FORMAT " bytes; truncated?)", path, hlen, len);
        return NULL;
    }
    header = (const char *) buf + 8;
    data = buf + 8 + hlen;
    data_len = len - 8 - hlen;

    if (!st_check_header_text_ (path, header, (size_t) hlen, error))
        return NULL;
    parser = json_parser_new ();
    if (!json_parser_load_from_data (parser, header, (gssize) hlen, &local)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: malformed JSON header: %s", path, local->message);
        return NULL;
    }
    root = json_parser_get_root (parser);
    if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
        g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_CORRUPT,
                     "%s: header JSON is not an object", path);
        return NULL;
    }
    obj = json_node_get_object (root);

    // Entries, checked one by one against the buffer size.
    entries = g_array_new (FALSE, TRUE, sizeof (StEntry));
    metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    members = json_object_get_members (obj);
    for (GList *l = members; l != NULL; l = l->next) {
        const char *name = l->data;
        JsonNode *node = json_object_get_member (obj, name);
        StEntry e = { 0 };

        if (strcmp (name, "__metadata__") == 0) {
            if (!st_parse_metadata_ (path, node, metadata, error))
                return NULL;
            continue;
        }
        if (!st_parse_entry_ (path, name, node, data_len, &e, error))
            return NULL;
        e.index = entries->len;
        g_array_append_val (entries, e);
    }

    // Whole-file layout, then prefix collisions.
    if (entries->len > 0)
        qsort (entries->data, entries->len, sizeof (StEntry), st_entry_compare_);
    if (!st_check_layout_ (path, (const StEntry *) (void *) entries->data, entries->len,
                           data_len, error))
        return NULL;
    if (!st_resolve_names_ (path, (StEntry *) (void *) entries->data, entries->len, prefer,
                            error))
        return NULL;

    /* Tensors point into the (read-only, private) mapping where they are aligned: a
     * weight file is read once, with no second copy of every parameter. Fresh memory is
     * expensive to fault in, so this halves the time to open a large checkpoint.
     * Misaligned data (offsets are only required to be byte offsets) is copied out. */
    st = g_new0 (DinolabSafetensors, 1);
    st->path = g_strdup (path);
    st->tensors = g_ptr_array_new_with_free_func (st_tensor_free_);
    st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
    st->metadata = g_steal_pointer (&metadata);
    for (guint i = 0; i < entries->len; i++) {
        const StEntry *e = &g_array_index (entries, StEntry, i);
        StTensor *t;

        if (!e->keep)
            continue;
        t = g_new0 (StTensor, 1);
        t->name = g_strdup (e->norm);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
        if (e->end > e->begin && ((guintptr) (data + e->begin)) % sizeof (float) == 0) {
            t->array = g_new0 (DinolabArray, 1);
            t->array->dtype = DINOLAB_DTYPE_F32;
            t->array->ndim = e->ndim;
            memcpy (t->array->shape, e->shape, sizeof t->array->shape);
            t->array->data = (void *) (data + e->begin);
            t->borrowed = TRUE;
            if (st->mapping == NULL)
                st->mapping = g_mapped_file_ref (mf);
            g_ptr_array_add (st->tensors, t);
            g_hash_table_insert (st->by_name, t->name, t);
            continue;
        }
#endif
        t->array = dinolab_array_new (DINOLAB_DTYPE_F32, e->ndim, e->shape);
        if (e->end > e->begin)
            memcpy (t->array->data, data + e->begin, (size_t) (e->end - e->begin));
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
        {
            guint32 *w = t->array->data;
            for (guint64 k = 0; k < (e->end - e->begin) / 4; k++)
                w[k] = GUINT32_FROM_LE (w[k]);
        }
#endif
        g_ptr_array_add (st->tensors, t);
        g_hash_table_insert (st->by_name, t->name, t);
    }
    return st;
}

// ----------------------------------------------------------------------------
// Writing

/* Appends @str as a JSON string literal (quotes, backslashes, control characters
 * escaped; other UTF-8 passed through). */
static void
json_append_string_ (GString *s, const char *str)
{
    g_string_append_c (s, '"');
    for (const unsigned char *p = (const unsigned char *) str; *p != '\0'; p++) {
        switch (*p) {
        case '"':  g_string_append (s, "\\\""); break;
        case '\\': g_string_append (s, "\\\\"); break;
        case '\n': g_string_append (s, "\\n"); break;
        case '\r': g_string_append (s, "\\r"); break;
        case '\t': g_string_append (s, "\\t"); break;
        case '\b': g_string_append (s, "\\b"); break;
        case '\f': g_string_append (s, "\\f"); break;
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

/* Builds the header JSON (unpadded) or returns NULL with an INVALID_INPUT error. */
static GString *
st_header_build_ (const char *path, const DinolabTensorView *tensors, guint n,
                  const char *const *metadata, GError **error)
{
    g_autoptr(GString) h = g_string_new ("{");
    g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
    guint64 offset = 0;

    if (metadata != NULL && metadata[0] != NULL) {
        g_string_append (h, "\"__metadata__\":{");
        for (guint i = 0; metadata[i] != NULL; i += 2) {
            const char *key = metadata[i], *value = metadata[i + 1];
            const char *why = NULL;

            if (!g_utf8_validate (key, -1, NULL))
                why = "is not valid UTF-8";
            else if (value == NULL)
                why = "has no value";
            else if (!g_utf8_validate (value, -1, NULL))
                why = "has a value that is not valid UTF-8";
            else if (g_hash_table_contains (seen, key))
                why = "is given twice";
            if (why != NULL) {
                g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                             "%s: metadata key %u (%s) %s", path, i / 2,
                             g_utf8_validate (key, -1, NULL) ? key : "?", why);
                return NULL;
            }
            g_hash_table_add (seen, (gpointer) key);
            if (i > 0)
                g_string_append_c (h, ',');
            json_append_string_ (h, key);
            g_string_append_c (h, ':');
            json_append_string_ (h, value);
        }
        g_string_append (h, n > 0 ? "}," : "}");
        g_hash_table_remove_all (seen);
    }

    for (guint i = 0; i < n; i++) {
        const DinolabTensorView *t = &tensors[i];
        guint64 nbytes = 4;
        const char *why = NULL;

        if (t->name == NULL || t->name[0] == '\0')
            why = "has no name";
        else if (!g_utf8_validate (t->name, -1, NULL))
            why = "has a name that is not valid UTF-8";
        else if (strcmp (t->name, "__metadata__") == 0)
            why = "may not be called __metadata__";
        else if (g_hash_table_contains (seen, t->name))
            why = "is given twice";
        else if (t->ndim < 0 || t->ndim > DINOLAB_MAX_DIMS)
            why = "has an unsupported number of dims (0..8)";
        for (int d = 0; why == NULL && d < t->ndim; d++) {
            if (t->shape[d] < 0)
                why = "has a negative dim";
            else if (!g_uint64_checked_mul (&nbytes, nbytes, (guint64) t->shape[d])
                     || nbytes > (guint64) G_MAXINT64)
                why = "is too large";
        }
        if (why == NULL && t->data == NULL && nbytes > 0)
            why = "has no data";
        if (why == NULL && nbytes > (guint64) G_MAXINT64 - offset)
            why = "does not fit in the file (offsets overflow)";
        if (why != NULL) {
            gboolean printable = t->name != NULL && g_utf8_validate (t->name, -1, NULL);
            g_set_error (error, DINOLAB_ERROR, DINOLAB_ERROR_INVALID_INPUT,
                         "%s: tensor %u (%s) %s", path, i, printable ? t->name : "?", why);
            return NULL;
        }
        g_hash_table_add (seen, (gpointer) t->name);

        if (i > 0)
            g_string_append_c (h, ',');
        json_append_string_ (h, t->name);
        g_string_append (h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++)
            g_string_append_printf (h, "%s%" G_GINT64_FORMAT, d > 0 ? "," : "", (gint64) t->shape[d]);
        g_string_append_printf (h, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT "]}",
                                offset, offset + nbytes);
        offset += nbytes;
    }
    g_string_append_c (h, '}');
    return g_steal_pointer (&h);
}

gboolean
dinolab_safetensors_write (const char *path, const DinolabTensorView *tensors, guint n,
                           const char *const *metadata, GError **error)
{
    DinolabAtomicFile *af;
    GString *h;
    guint8 len_le[8];

    g_return_val_if_fail (path != NULL, FALSE);
    g_return_val_if_fail (tensors != NULL || n == 0, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    h = st_header_build_ (path, tensors, n, metadata, error);
    if (h == NULL)
        return FALSE;
    /* Pad with spaces so the data buffer starts 8-byte aligned (8 + len). */
    while (h->len % 8 != 0)
        g_string_append_c (h, ' ');
    for (int i = 0; i < 8; i++)
        len_le[i] = (guint8) ((guint64) h->len >> (8 * i));

    af = _dinolab_atomic_file_open (path, error);
    if (af == NULL) {
        g_string_free (h, TRUE);
        return FALSE;
    }
    _dinolab_atomic_file_write (af, len_le, sizeof len_le);
    _dinolab_atomic_file_write (af, h->str, h->len);
    g_string_free (h, TRUE);
    for (guint i = 0; i < n; i++) {
        int64_t numel = 1;
        for (int d = 0; d < tensors[i].ndim; d++)
            numel *= tensors[i].shape[d];
        _dinolab_atomic_file_write_f32 (af, tensors[i].data, (size_t) numel);
    }
    return _dinolab_atomic_file_close (af, error);
}
