/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-config-page.c: the hyperparameter form. The template holds the
 * preset group and one empty AdwPreferencesGroup per part of the recipe; this
 * file adds one row per key of the engine's table (dinolab_hparams_get_key()),
 * in the group and with the title the local table form_fields[] gives it.
 * A key the local table does not know (added to the engine later) still gets
 * a plain text row in "Other", so every key always has a field.
 *
 * Each field keeps the text it shows. Checking is the engine's alone: the
 * text is applied with dinolab_hparams_set() to a scratch set (type, range),
 * then all texts are applied in the engine's own order (arch first, as
 * dinolab_hparams_load_json() does) and dinolab_hparams_validate() checks the
 * cross-key rules. A cross-key message is shown at the field just edited when
 * it names that key (patch_size 5 -> "img_size: 28 is not a multiple of
 * patch_size 5" shows at patch_size), else at the key the message starts with.
 *
 * It is not the trainer's configuration: nothing here runs or schedules
 * anything, and it does not read GSettings (the caller picks the preset).
 */
#define G_LOG_DOMAIN "dinolab-config-page"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "dinolab-config-page.h"

/* ---- the form's table ------------------------------------------------------ */

typedef enum {
  FIELD_TEXT,    /* GtkEntry: numbers, pairs, seed */
  FIELD_INT,     /* GtkSpinButton */
  FIELD_SWITCH,  /* GtkSwitch */
  FIELD_CHOICE,  /* AdwComboRow over fixed names */
  FIELD_DATASET, /* GtkEntry plus a menu of file choosers */
} FieldKind;

typedef enum {
  GROUP_DATA,
  GROUP_ARCH,
  GROUP_HEAD,
  GROUP_LOSS,
  GROUP_OPTIM,
  GROUP_RUN,
  GROUP_OTHER,
  N_GROUPS
} FieldGroup;

typedef struct {
  const char  *key;
  FieldGroup   group;
  FieldKind    kind;
  const char  *title;  /* N_(): translated when the row is made */
} FieldSpec;

/* The rows in display order, grouped as in the paper. The reference names
 * (the keys) are shown under the titles; users know them. */
static const FieldSpec form_fields[] = {
  { "dataset",                    GROUP_DATA,  FIELD_DATASET, N_("Dataset") },
  { "img_size",                   GROUP_DATA,  FIELD_INT,     N_("Image size") },
  { "in_chans",                   GROUP_DATA,  FIELD_INT,     N_("Input channels") },
  { "global_crop_size",           GROUP_DATA,  FIELD_INT,     N_("Global crop size") },
  { "local_crop_size",            GROUP_DATA,  FIELD_INT,     N_("Local crop size") },
  { "local_crops_number",         GROUP_DATA,  FIELD_INT,     N_("Local crops per image") },
  { "global_crops_scale",         GROUP_DATA,  FIELD_TEXT,    N_("Global crop area") },
  { "local_crops_scale",          GROUP_DATA,  FIELD_TEXT,    N_("Local crop area") },

  { "arch",                       GROUP_ARCH,  FIELD_CHOICE,  N_("Architecture") },
  { "patch_size",                 GROUP_ARCH,  FIELD_INT,     N_("Patch size") },
  { "embed_dim",                  GROUP_ARCH,  FIELD_INT,     N_("Embedding width") },
  { "depth",                      GROUP_ARCH,  FIELD_INT,     N_("Depth") },
  { "num_heads",                  GROUP_ARCH,  FIELD_INT,     N_("Attention heads") },
  { "mlp_ratio",                  GROUP_ARCH,  FIELD_TEXT,    N_("MLP ratio") },
  { "drop_path_rate",             GROUP_ARCH,  FIELD_TEXT,    N_("Stochastic depth") },

  { "out_dim",                    GROUP_HEAD,  FIELD_INT,     N_("Prototypes (K)") },
  { "head_hidden_dim",            GROUP_HEAD,  FIELD_INT,     N_("Hidden width") },
  { "bottleneck_dim",             GROUP_HEAD,  FIELD_INT,     N_("Bottleneck width") },
  { "head_nlayers",               GROUP_HEAD,  FIELD_INT,     N_("Layers") },
  { "norm_last_layer",            GROUP_HEAD,  FIELD_SWITCH,  N_("Normalized last layer") },
  { "use_bn_in_head",             GROUP_HEAD,  FIELD_SWITCH,  N_("Batch norm in head") },

  { "student_temp",               GROUP_LOSS,  FIELD_TEXT,    N_("Student temperature") },
  { "warmup_teacher_temp",        GROUP_LOSS,  FIELD_TEXT,    N_("Initial teacher temperature") },
  { "teacher_temp",               GROUP_LOSS,  FIELD_TEXT,    N_("Teacher temperature") },
  { "warmup_teacher_temp_epochs", GROUP_LOSS,  FIELD_INT,     N_("Temperature warm-up epochs") },
  { "center_momentum",            GROUP_LOSS,  FIELD_TEXT,    N_("Center momentum") },
  { "use_centering",              GROUP_LOSS,  FIELD_SWITCH,  N_("Centering") },
  { "use_sharpening",             GROUP_LOSS,  FIELD_SWITCH,  N_("Sharpening") },
  { "use_momentum",               GROUP_LOSS,  FIELD_SWITCH,  N_("Momentum teacher") },

  { "optimizer",                  GROUP_OPTIM, FIELD_CHOICE,  N_("Optimizer") },
  { "lr",                         GROUP_OPTIM, FIELD_TEXT,    N_("Learning rate (per 256 images)") },
  { "min_lr",                     GROUP_OPTIM, FIELD_TEXT,    N_("Final learning rate") },
  { "warmup_epochs",              GROUP_OPTIM, FIELD_INT,     N_("Warm-up epochs") },
  { "weight_decay",               GROUP_OPTIM, FIELD_TEXT,    N_("Weight decay") },
  { "weight_decay_end",           GROUP_OPTIM, FIELD_TEXT,    N_("Final weight decay") },
  { "momentum_teacher",           GROUP_OPTIM, FIELD_TEXT,    N_("Teacher momentum") },
  { "clip_grad",                  GROUP_OPTIM, FIELD_TEXT,    N_("Gradient clipping") },
  { "freeze_last_layer",          GROUP_OPTIM, FIELD_INT,     N_("Frozen last layer (epochs)") },
  { "batch_size_per_gpu",         GROUP_OPTIM, FIELD_INT,     N_("Batch size") },
  { "epochs",                     GROUP_OPTIM, FIELD_INT,     N_("Epochs") },

  { "seed",                       GROUP_RUN,   FIELD_TEXT,    N_("Seed") },
  { "threads",                    GROUP_RUN,   FIELD_INT,     N_("Threads (0: all cores)") },
  { "eval_every",                 GROUP_RUN,   FIELD_TEXT,    N_("Evaluate every (epochs)") },
  { "checkpoint_every",           GROUP_RUN,   FIELD_INT,     N_("Checkpoint every (epochs)") },
};

/* The names the two choice keys take (what dinolab_hparams_get_text() gives). */
static const char * const arch_choices[] = { "vit_tiny", "vit_small", "vit_base", "vit_custom", NULL };
static const char * const optimizer_choices[] = { "adamw", "sgd", NULL };

static const char * const preset_dirs[] = { PKGDATADIR "/presets", SOURCE_DATADIR "/presets", NULL };

/* The keys whose values move together: arch sets the three sizes, explicit
 * sizes turn arch into vit_custom. */
static gboolean
is_size_key (const char *key)
{
  return strcmp (key, "embed_dim") == 0 || strcmp (key, "depth") == 0
         || strcmp (key, "num_heads") == 0;
}

/* ---- the object ------------------------------------------------------------ */

typedef struct {
  char              *key;           /* the engine's name (static in the engine) */
  FieldKind          kind;
  AdwActionRow      *row;           /* AdwComboRow for FIELD_CHOICE */
  GtkWidget         *control;       /* entry, spin button, switch, or the combo row */
  GtkStringList     *choices;       /* FIELD_CHOICE only */
  char              *text;          /* what the field holds */
  char              *own_message;   /* dinolab_hparams_set()'s refusal of text, or NULL */
  char              *message;       /* what is shown: own_message or a cross-key message */
} Field;

struct _DinolabConfigPage
{
  AdwBin                parent_instance;

  /* template children */
  GtkWidget            *content_box;
  AdwComboRow          *preset_row;
  AdwExpanderRow       *preset_about_row;
  GtkLabel             *preset_description_label;
  AdwPreferencesGroup  *groups[N_GROUPS];
  GMenuModel           *dataset_menu;

  Field                *fields;         /* [n_fields], in engine table order */
  guint                 n_fields;
  GtkStringList        *preset_names;   /* the presets found, then "Custom" */
  char                 *preset;         /* current preset, NULL when custom */
  char                 *base_preset;    /* the preset last loaded (for "Custom" text) */
  char                 *blame_key;      /* the field that shows the cross-key message */
  GtkSizeGroup         *value_width;    /* entries and spin buttons line up */
  GtkNativeDialog      *chooser;        /* the dataset file chooser while open */
  char                 *chooser_kind;

  guint                 filling : 1;    /* fields set by code: no custom, no sync */
  guint                 valid : 1;
  guint                 locked : 1;
};

G_DEFINE_FINAL_TYPE (DinolabConfigPage, dinolab_config_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_VALID,
  PROP_LOCKED,
  PROP_PRESET,
  N_PROPS
};

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static const FieldSpec *
find_spec (const char *key)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (form_fields); i++)
    if (strcmp (form_fields[i].key, key) == 0)
      return &form_fields[i];
  return NULL;
}

static Field *
find_field (DinolabConfigPage *self,
            const char        *key)
{
  guint i;

  if (g_strcmp0 (key, "batch_size") == 0)  /* the engine's alias */
    key = "batch_size_per_gpu";
  for (i = 0; i < self->n_fields; i++)
    if (strcmp (self->fields[i].key, key) == 0)
      return &self->fields[i];
  return NULL;
}

/* ---- checking -------------------------------------------------------------- */

/* Applies the fields' texts to @hp (init'ed by the caller) in the order
 * dinolab_hparams_load_json() uses: arch first, then the table order. When
 * @arch_last, arch is applied again at the end, so it resets the sizes (the
 * user just chose it). Fields that the engine refused are skipped. */
static void
build_hparams (DinolabConfigPage *self,
               DinolabHparams    *hp,
               gboolean           arch_last)
{
  Field *arch = find_field (self, "arch");
  guint i;

  if (arch != NULL && arch->own_message == NULL)
    dinolab_hparams_set (hp, arch->key, arch->text, NULL);
  for (i = 0; i < self->n_fields; i++)
    {
      Field *f = &self->fields[i];
      if (f != arch && f->own_message == NULL)
        dinolab_hparams_set (hp, f->key, f->text, NULL);
    }
  if (arch_last && arch != NULL && arch->own_message == NULL)
    dinolab_hparams_set (hp, arch->key, arch->text, NULL);
}

/* Whether @message names @key as a whole word. */
static gboolean
message_names_key (const char *message,
                   const char *key)
{
  gsize len = strlen (key);
  const char *p;

  for (p = strstr (message, key); p != NULL; p = strstr (p + 1, key))
    {
      gboolean start_ok = p == message || !(g_ascii_isalnum (p[-1]) || p[-1] == '_');
      gboolean end_ok = !(g_ascii_isalnum (p[len]) || p[len] == '_');
      if (start_ok && end_ok)
        return TRUE;
    }
  return FALSE;
}

/* Shows f->message at its row: the message in place of the key's name under
 * the title, and the "error" style on the row and its control. */
static void
field_show_message (Field *f)
{
  const char *tooltip = dinolab_hparams_describe (f->key);

  adw_action_row_set_subtitle (f->row, f->message != NULL ? f->message : f->key);
  if (f->message != NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (f->row), "error");
      if (f->control != GTK_WIDGET (f->row))
        gtk_widget_add_css_class (f->control, "error");
      gtk_accessible_update_property (GTK_ACCESSIBLE (f->control),
                                      GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, f->message,
                                      -1);
      gtk_accessible_update_state (GTK_ACCESSIBLE (f->control),
                                   GTK_ACCESSIBLE_STATE_INVALID, GTK_ACCESSIBLE_INVALID_TRUE,
                                   -1);
    }
  else
    {
      gtk_widget_remove_css_class (GTK_WIDGET (f->row), "error");
      gtk_widget_remove_css_class (f->control, "error");
      gtk_accessible_update_property (GTK_ACCESSIBLE (f->control),
                                      GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, tooltip,
                                      -1);
      gtk_accessible_reset_state (GTK_ACCESSIBLE (f->control), GTK_ACCESSIBLE_STATE_INVALID);
    }
}

/* Checks the whole form after an edit of @edited (NULL after a fill) and
 * updates every field's message and the "valid" property. */
static void
revalidate (DinolabConfigPage *self,
            const char        *edited)
{
  g_auto(DinolabHparams) hp = { 0 };
  g_autoptr(GError) error = NULL;
  gboolean own_ok = TRUE;
  gboolean valid;
  const char *blame = NULL;
  guint i;

  for (i = 0; i < self->n_fields; i++)
    own_ok = own_ok && self->fields[i].own_message == NULL;

  dinolab_hparams_init (&hp);
  build_hparams (self, &hp, FALSE);
  if (own_ok && !dinolab_hparams_validate (&hp, &error))
    {
      /* The field to blame: the one just edited if the message names it, else
       * the one blamed before if still named (the mark does not jump around
       * when an unrelated field is edited), else the message's leading key. */
      if (edited != NULL && find_field (self, edited) != NULL
          && message_names_key (error->message, edited))
        blame = find_field (self, edited)->key;
      else if (self->blame_key != NULL && message_names_key (error->message, self->blame_key))
        blame = find_field (self, self->blame_key)->key;
      else
        {
          const char *colon = strchr (error->message, ':');
          g_autofree char *lead = colon != NULL
                                  ? g_strndup (error->message, colon - error->message) : NULL;
          Field *f = lead != NULL ? find_field (self, lead) : NULL;
          blame = f != NULL ? f->key : self->fields[0].key;
        }
    }
  g_free (self->blame_key);
  self->blame_key = g_strdup (blame);

  for (i = 0; i < self->n_fields; i++)
    {
      Field *f = &self->fields[i];
      const char *message = f->own_message;

      if (message == NULL && blame != NULL && strcmp (f->key, blame) == 0)
        message = error->message;
      if (g_strcmp0 (message, f->message) != 0)
        {
          g_free (f->message);
          f->message = g_strdup (message);
          field_show_message (f);
        }
    }

  valid = own_ok && error == NULL;
  if (valid != self->valid)
    {
      self->valid = valid;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VALID]);
    }
}

/* ---- fields ---------------------------------------------------------------- */

/* Puts @text into @f's widget (no check, no signal of ours). */
static void
field_set_widget (DinolabConfigPage *self,
                  Field             *f,
                  const char        *text)
{
  gboolean was_filling = self->filling;

  self->filling = TRUE;
  switch (f->kind)
    {
    case FIELD_TEXT:
    case FIELD_DATASET:
      if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (f->control)), text) != 0)
        gtk_editable_set_text (GTK_EDITABLE (f->control), text);
      break;
    case FIELD_INT:
      {
        char *end = NULL;
        double value = g_ascii_strtod (text, &end);
        /* The adjustment follows integers, so +/- start from the shown value;
         * anything else is put in as text for the engine to refuse. */
        if (*text != '\0' && end != NULL && *end == '\0' && value == (gint64) value)
          gtk_spin_button_set_value (GTK_SPIN_BUTTON (f->control), value);
        if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (f->control)), text) != 0)
          gtk_editable_set_text (GTK_EDITABLE (f->control), text);
      }
      break;
    case FIELD_SWITCH:
      {
        /* The engine's boolean words (hparams.h); a value it refuses for this
         * key (use_bn_in_head true) is still shown, marked. */
        static const char * const yes[] = { "true", "1", "yes", "on", NULL };
        static const char * const no[] = { "false", "0", "no", "off", NULL };
        g_autofree char *word = g_ascii_strdown (text, -1);

        g_strstrip (word);

        if (g_strv_contains (yes, word))
          gtk_switch_set_active (GTK_SWITCH (f->control), TRUE);
        else if (g_strv_contains (no, word))
          gtk_switch_set_active (GTK_SWITCH (f->control), FALSE);
      }
      break;
    case FIELD_CHOICE:
      {
        guint n = g_list_model_get_n_items (G_LIST_MODEL (f->choices));
        guint i;
        for (i = 0; i < n; i++)
          if (strcmp (gtk_string_list_get_string (f->choices, i), text) == 0)
            break;
        if (i == n)
          {
            /* A valid name we do not list (an alias): add it, so the row can
             * show what the field holds. An invalid one selects nothing, so
             * that any choice the user then makes is a change. */
            g_auto(DinolabHparams) hp = { 0 };
            dinolab_hparams_init (&hp);
            if (!dinolab_hparams_set (&hp, f->key, text, NULL))
              i = GTK_INVALID_LIST_POSITION;
            else
              gtk_string_list_append (f->choices, text);
          }
        adw_combo_row_set_selected (ADW_COMBO_ROW (f->control), i);
      }
      break;
    default:
      g_assert_not_reached ();
    }
  self->filling = was_filling;
}

/* Stores @text as @f's content and checks it alone. */
static void
field_store (Field      *f,
             const char *text)
{
  g_auto(DinolabHparams) hp = { 0 };
  g_autoptr(GError) error = NULL;

  g_free (f->text);
  f->text = g_strdup (text);
  g_clear_pointer (&f->own_message, g_free);
  dinolab_hparams_init (&hp);
  if (!dinolab_hparams_set (&hp, f->key, text, &error))
    f->own_message = g_strdup (error->message);
}

static void
set_custom (DinolabConfigPage *self)
{
  g_autofree char *subtitle = NULL;

  if (self->preset == NULL)
    return;
  g_clear_pointer (&self->preset, g_free);
  self->filling = TRUE;
  adw_combo_row_set_selected (self->preset_row,
                              g_list_model_get_n_items (G_LIST_MODEL (self->preset_names)) - 1);
  self->filling = FALSE;
  if (self->base_preset != NULL)
    /* TRANSLATORS: %s is a preset name such as "default" */
    subtitle = g_strdup_printf (_("Edited after loading “%s”"), self->base_preset);
  else
    subtitle = g_strdup (_("Not from a preset"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->preset_row), subtitle);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRESET]);
}

/* After the user (or set_value) changed @f: the preset becomes custom, the
 * arch and the sizes follow each other, everything is checked again. */
static void
field_edited (DinolabConfigPage *self,
              Field             *f)
{
  g_auto(DinolabHparams) hp = { 0 };
  gboolean is_arch = strcmp (f->key, "arch") == 0;

  set_custom (self);
  if (f->own_message == NULL && (is_arch || is_size_key (f->key)))
    {
      guint i;

      dinolab_hparams_init (&hp);
      build_hparams (self, &hp, is_arch);
      for (i = 0; i < self->n_fields; i++)
        {
          Field *other = &self->fields[i];
          g_autofree char *text = NULL;

          if (other == f || !(strcmp (other->key, "arch") == 0 || is_size_key (other->key)))
            continue;
          if (other->own_message != NULL && !is_arch)
            continue;
          text = dinolab_hparams_get_text (&hp, other->key);
          if (g_strcmp0 (text, other->text) != 0)
            {
              field_set_widget (self, other, text);
              field_store (other, text);
            }
        }
    }
  revalidate (self, f->key);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
field_changed_from_widget (DinolabConfigPage *self,
                           Field             *f,
                           const char        *text)
{
  if (g_strcmp0 (text, f->text) == 0)
    return;
  field_store (f, text);
  if (!self->filling)
    field_edited (self, f);
}

static void
on_editable_changed (GtkEditable *editable,
                     gpointer     user_data)
{
  DinolabConfigPage *self = DINOLAB_CONFIG_PAGE (user_data);
  Field *f = find_field (self, gtk_widget_get_name (GTK_WIDGET (editable)));

  g_assert (f != NULL);
  field_changed_from_widget (self, f, gtk_editable_get_text (editable));
}

static void
on_switch_active (GtkSwitch  *sw,
                  GParamSpec *pspec G_GNUC_UNUSED,
                  gpointer    user_data)
{
  DinolabConfigPage *self = DINOLAB_CONFIG_PAGE (user_data);
  Field *f = find_field (self, gtk_widget_get_name (GTK_WIDGET (sw)));

  g_assert (f != NULL);
  field_changed_from_widget (self, f, gtk_switch_get_active (sw) ? "true" : "false");
}

static void
on_choice_selected (AdwComboRow *row,
                    GParamSpec  *pspec G_GNUC_UNUSED,
                    gpointer     user_data)
{
  DinolabConfigPage *self = DINOLAB_CONFIG_PAGE (user_data);
  Field *f = find_field (self, gtk_widget_get_name (GTK_WIDGET (row)));
  guint selected = adw_combo_row_get_selected (row);

  g_assert (f != NULL);
  if (selected == GTK_INVALID_LIST_POSITION)
    return;
  field_changed_from_widget (self, f, gtk_string_list_get_string (f->choices, selected));
}

/* Creates the row of @key in its group. The control's widget name is the key,
 * which is how its signal handlers (and tests) find the field. */
static void
field_init (DinolabConfigPage *self,
            Field             *f,
            const char        *key)
{
  const FieldSpec *spec = find_spec (key);
  const char *title = spec != NULL ? _(spec->title) : key;
  const char *describe = dinolab_hparams_describe (key);
  FieldGroup group = spec != NULL ? spec->group : GROUP_OTHER;
  GtkWidget *suffix = NULL;

  f->key = g_strdup (key);
  f->kind = spec != NULL ? spec->kind : FIELD_TEXT;
  f->text = g_strdup ("");

  if (f->kind == FIELD_CHOICE)
    {
      const char * const *names = strcmp (key, "arch") == 0 ? arch_choices : optimizer_choices;
      f->choices = gtk_string_list_new (names);
      f->row = ADW_ACTION_ROW (adw_combo_row_new ());
      adw_combo_row_set_model (ADW_COMBO_ROW (f->row), G_LIST_MODEL (f->choices));
      f->control = GTK_WIDGET (f->row);
    }
  else
    {
      f->row = ADW_ACTION_ROW (adw_action_row_new ());
      switch (f->kind)
        {
        case FIELD_TEXT:
        case FIELD_DATASET:
          f->control = gtk_entry_new ();
          gtk_editable_set_width_chars (GTK_EDITABLE (f->control),
                                        f->kind == FIELD_DATASET ? 14 : 9);
          gtk_editable_set_max_width_chars (GTK_EDITABLE (f->control),
                                            f->kind == FIELD_DATASET ? 24 : 9);
          if (f->kind == FIELD_TEXT)
            gtk_editable_set_alignment (GTK_EDITABLE (f->control), 1.0);
          break;
        case FIELD_INT:
          /* Wide bounds: the engine, not the adjustment, says what is allowed,
           * so a typed 0 or 100 reaches it and gets its message. */
          f->control = gtk_spin_button_new_with_range (-1e9, 1e9, 1);
          gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (f->control), FALSE);
          gtk_editable_set_width_chars (GTK_EDITABLE (f->control), 7);
          break;
        case FIELD_SWITCH:
          f->control = gtk_switch_new ();
          break;
        case FIELD_CHOICE:
        default:
          g_assert_not_reached ();
        }
      gtk_widget_set_valign (f->control, GTK_ALIGN_CENTER);
      if (f->kind == FIELD_TEXT || f->kind == FIELD_INT)
        gtk_size_group_add_widget (self->value_width, f->control);
      suffix = f->control;
      if (f->kind == FIELD_DATASET)
        {
          GtkWidget *button = gtk_menu_button_new ();
          GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

          gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (button), "document-open-symbolic");
          gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (button), self->dataset_menu);
          gtk_widget_set_tooltip_text (button, _("Choose a Dataset"));
          gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                          GTK_ACCESSIBLE_PROPERTY_LABEL, _("Choose a Dataset"),
                                          -1);
          gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
          gtk_widget_set_name (button, "dataset-menu-button");
          gtk_box_append (GTK_BOX (box), f->control);
          gtk_box_append (GTK_BOX (box), button);
          suffix = box;
        }
      adw_action_row_add_suffix (f->row, suffix);
      if (f->kind == FIELD_SWITCH)
        adw_action_row_set_activatable_widget (f->row, f->control);
    }

  gtk_widget_set_name (f->control, key);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (f->row), title);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (f->row), FALSE);
  adw_action_row_set_subtitle (f->row, key);
  adw_action_row_set_subtitle_lines (f->row, 0);  /* messages wrap */
  gtk_widget_set_tooltip_text (GTK_WIDGET (f->row), describe);
  gtk_accessible_update_property (GTK_ACCESSIBLE (f->control),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, title,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, describe,
                                  -1);
  adw_preferences_group_add (self->groups[group], GTK_WIDGET (f->row));
  if (group == GROUP_OTHER)
    gtk_widget_set_visible (GTK_WIDGET (self->groups[GROUP_OTHER]), TRUE);

  switch (f->kind)
    {
    case FIELD_TEXT:
    case FIELD_DATASET:
    case FIELD_INT:
      g_signal_connect (f->control, "changed", G_CALLBACK (on_editable_changed), self);
      break;
    case FIELD_SWITCH:
      g_signal_connect (f->control, "notify::active", G_CALLBACK (on_switch_active), self);
      break;
    case FIELD_CHOICE:
      g_signal_connect (f->control, "notify::selected", G_CALLBACK (on_choice_selected), self);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
field_clear (Field *f)
{
  g_clear_object (&f->choices);
  g_clear_pointer (&f->key, g_free);
  g_clear_pointer (&f->text, g_free);
  g_clear_pointer (&f->own_message, g_free);
  g_clear_pointer (&f->message, g_free);
}

/* Sets every field from @hp, then checks once and emits "changed". */
static void
fill_from_hparams (DinolabConfigPage    *self,
                   const DinolabHparams *hp)
{
  guint i;

  self->filling = TRUE;
  for (i = 0; i < self->n_fields; i++)
    {
      Field *f = &self->fields[i];
      g_autofree char *text = dinolab_hparams_get_text (hp, f->key);

      field_set_widget (self, f, text);
      field_store (f, text);
    }
  self->filling = FALSE;
  g_clear_pointer (&self->blame_key, g_free);
  revalidate (self, NULL);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

/* ---- presets --------------------------------------------------------------- */

/* The first sentence of @text (up to ". " or the end), for the row's subtitle. */
static char *
first_sentence (const char *text)
{
  const char *end = strstr (text, ". ");

  return end != NULL ? g_strndup (text, end - text + 1) : g_strdup (text);
}

static void
show_preset (DinolabConfigPage *self,
             const char        *name)
{
  g_autofree char *description = dinolab_hparams_describe_preset (name, preset_dirs, NULL);
  g_autofree char *summary = NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->preset_names));
  guint i;

  for (i = 0; i + 1 < n; i++)
    if (strcmp (gtk_string_list_get_string (self->preset_names, i), name) == 0)
      break;
  if (i + 1 == n)
    {
      /* found by the engine but not listed (e.g. DINOLAB_PRESETS_DIR set
       * later): list it before "Custom" */
      gtk_string_list_splice (self->preset_names, n - 1, 0, (const char * const []) { name, NULL });
    }
  self->filling = TRUE;
  adw_combo_row_set_selected (self->preset_row, i);
  self->filling = FALSE;

  if (description == NULL || *description == '\0')
    {
      g_free (description);
      description = g_strdup (_("This preset has no description."));
    }
  summary = first_sentence (description);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->preset_row), summary);
  gtk_label_set_text (self->preset_description_label, description);
}

static void
on_preset_selected (AdwComboRow       *row,
                    GParamSpec        *pspec G_GNUC_UNUSED,
                    DinolabConfigPage *self)
{
  g_autoptr(GError) error = NULL;
  guint selected = adw_combo_row_get_selected (row);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->preset_names));
  char *name;

  if (self->filling || selected == GTK_INVALID_LIST_POSITION)
    return;
  if (selected + 1 == n)
    {
      /* "Custom" chosen by hand: keep the values, forget the preset */
      set_custom (self);
      return;
    }
  name = g_strdup (gtk_string_list_get_string (self->preset_names, selected));
  if (!dinolab_config_page_load_preset (self, name, &error))
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->preset_row), error->message);
  g_free (name);
}

/* ---- the dataset chooser --------------------------------------------------- */

static void
on_chooser_response (GtkNativeDialog   *dialog,
                     int                response,
                     DinolabConfigPage *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL)
        {
          g_autofree char *spec = g_strdup_printf ("%s:%s", self->chooser_kind, path);
          dinolab_config_page_set_value (self, "dataset", spec);
        }
    }
  g_clear_object (&self->chooser);
}

/* config.choose-dataset(s): "fashion-mnist" sets it at once; the other kinds
 * (idx, npy: a file; mnist, cifar10, cifar100, folder: a folder) open a
 * chooser and make the spec "<kind>:<path>" (data.h). */
static void
choose_dataset_action (GtkWidget  *widget,
                       const char *action_name G_GNUC_UNUSED,
                       GVariant   *parameter)
{
  DinolabConfigPage *self = DINOLAB_CONFIG_PAGE (widget);
  const char *kind = g_variant_get_string (parameter, NULL);
  gboolean is_file = strcmp (kind, "idx") == 0 || strcmp (kind, "npy") == 0;
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) filter = NULL;

  if (strcmp (kind, "fashion-mnist") == 0)
    {
      dinolab_config_page_set_value (self, "dataset", "fashion-mnist");
      return;
    }
  if (self->chooser != NULL)
    return;
  chooser = gtk_file_chooser_native_new (is_file ? _("Choose a Dataset File")
                                                 : _("Choose a Dataset Folder"),
                                         GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         is_file ? GTK_FILE_CHOOSER_ACTION_OPEN
                                                 : GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                         NULL, NULL);
  if (strcmp (kind, "npy") == 0)
    {
      filter = gtk_file_filter_new ();
      gtk_file_filter_set_name (filter, _("NumPy arrays"));
      gtk_file_filter_add_pattern (filter, "*.npy");
    }
  else if (strcmp (kind, "idx") == 0)
    {
      filter = gtk_file_filter_new ();
      gtk_file_filter_set_name (filter, _("IDX image files"));
      gtk_file_filter_add_pattern (filter, "*-idx3-ubyte");
      gtk_file_filter_add_pattern (filter, "*-idx3-ubyte.gz");
    }
  if (filter != NULL)
    gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_free (self->chooser_kind);
  self->chooser_kind = g_strdup (kind);
  self->chooser = GTK_NATIVE_DIALOG (chooser);
  g_signal_connect (chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (self->chooser);
}

/* ---- GObject --------------------------------------------------------------- */

static void
dinolab_config_page_dispose (GObject *object)
{
  DinolabConfigPage *self = DINOLAB_CONFIG_PAGE (object);

  if (self->chooser != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->chooser, self);
      gtk_native_dialog_destroy (self->chooser);
      g_clear_object (&self->chooser);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), DINOLAB_TYPE_CONFIG_PAGE);
  G_OBJECT_CLASS (dinolab_config_page_parent_class)->dispose (object);
}

static void
dinolab_config_page_finalize (GObject *object)
{
  DinolabConfigPage *self = DINOLAB_CONFIG_PAGE (object);
  guint i;

  for (i = 0; i < self->n_fields; i++)
    field_clear (&self->fields[i]);
  g_free (self->fields);
  g_clear_object (&self->preset_names);
  g_clear_object (&self->value_width);
  g_free (self->preset);
  g_free (self->base_preset);
  g_free (self->blame_key);
  g_free (self->chooser_kind);
  G_OBJECT_CLASS (dinolab_config_page_parent_class)->finalize (object);
}

static void
dinolab_config_page_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  DinolabConfigPage *self = DINOLAB_CONFIG_PAGE (object);

  switch (prop_id)
    {
    case PROP_VALID:
      g_value_set_boolean (value, self->valid);
      break;
    case PROP_LOCKED:
      g_value_set_boolean (value, self->locked);
      break;
    case PROP_PRESET:
      g_value_set_string (value, self->preset);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_config_page_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  DinolabConfigPage *self = DINOLAB_CONFIG_PAGE (object);

  switch (prop_id)
    {
    case PROP_LOCKED:
      dinolab_config_page_set_locked (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_config_page_class_init (DinolabConfigPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = dinolab_config_page_dispose;
  object_class->finalize = dinolab_config_page_finalize;
  object_class->get_property = dinolab_config_page_get_property;
  object_class->set_property = dinolab_config_page_set_property;

  properties[PROP_VALID] =
    g_param_spec_boolean ("valid", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOCKED] =
    g_param_spec_boolean ("locked", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PRESET] =
    g_param_spec_string ("preset", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/dinolab/Dinolab/dinolab-config-page.ui");
  gtk_widget_class_bind_template_child (widget_class, DinolabConfigPage, content_box);
  gtk_widget_class_bind_template_child (widget_class, DinolabConfigPage, preset_row);
  gtk_widget_class_bind_template_child (widget_class, DinolabConfigPage, preset_about_row);
  gtk_widget_class_bind_template_child (widget_class, DinolabConfigPage, preset_description_label);
  gtk_widget_class_bind_template_child (widget_class, DinolabConfigPage, dataset_menu);
  gtk_widget_class_bind_template_child_full (widget_class, "data_group", FALSE,
                                             G_STRUCT_OFFSET (DinolabConfigPage, groups[GROUP_DATA]));
  gtk_widget_class_bind_template_child_full (widget_class, "arch_group", FALSE,
                                             G_STRUCT_OFFSET (DinolabConfigPage, groups[GROUP_ARCH]));
  gtk_widget_class_bind_template_child_full (widget_class, "head_group", FALSE,
                                             G_STRUCT_OFFSET (DinolabConfigPage, groups[GROUP_HEAD]));
  gtk_widget_class_bind_template_child_full (widget_class, "loss_group", FALSE,
                                             G_STRUCT_OFFSET (DinolabConfigPage, groups[GROUP_LOSS]));
  gtk_widget_class_bind_template_child_full (widget_class, "optim_group", FALSE,
                                             G_STRUCT_OFFSET (DinolabConfigPage, groups[GROUP_OPTIM]));
  gtk_widget_class_bind_template_child_full (widget_class, "run_group", FALSE,
                                             G_STRUCT_OFFSET (DinolabConfigPage, groups[GROUP_RUN]));
  gtk_widget_class_bind_template_child_full (widget_class, "other_group", FALSE,
                                             G_STRUCT_OFFSET (DinolabConfigPage, groups[GROUP_OTHER]));

  gtk_widget_class_install_action (widget_class, "config.choose-dataset", "s",
                                   choose_dataset_action);
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
dinolab_config_page_init (DinolabConfigPage *self)
{
  g_auto(DinolabHparams) hp = { 0 };
  g_auto(GStrv) names = NULL;
  guint i;

  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Hyperparameters"),
                                  -1);

  names = dinolab_hparams_list_presets (preset_dirs);
  self->preset_names = gtk_string_list_new ((const char * const *) names);
  gtk_string_list_append (self->preset_names, _("Custom"));
  adw_combo_row_set_model (self->preset_row, G_LIST_MODEL (self->preset_names));
  g_signal_connect (self->preset_row, "notify::selected", G_CALLBACK (on_preset_selected), self);

  self->value_width = gtk_size_group_new (GTK_SIZE_GROUP_HORIZONTAL);
  self->n_fields = dinolab_hparams_get_n_keys ();
  self->fields = g_new0 (Field, self->n_fields);
  /* rows in the form's order; fields[] in the engine's */
  for (i = 0; i < G_N_ELEMENTS (form_fields); i++)
    {
      guint k;
      for (k = 0; k < self->n_fields; k++)
        if (strcmp (dinolab_hparams_get_key (k), form_fields[i].key) == 0)
          field_init (self, &self->fields[k], form_fields[i].key);
    }
  for (i = 0; i < self->n_fields; i++)
    if (self->fields[i].key == NULL)
      field_init (self, &self->fields[i], dinolab_hparams_get_key (i));

  if (!dinolab_config_page_load_preset (self, "default", NULL))
    {
      /* no preset installed: the reference's defaults, shown as custom */
      dinolab_hparams_init (&hp);
      dinolab_config_page_set_hparams (self, &hp);
    }
}

/* ---- public API ------------------------------------------------------------ */

GtkWidget *
dinolab_config_page_new (void)
{
  return g_object_new (DINOLAB_TYPE_CONFIG_PAGE, NULL);
}

gboolean
dinolab_config_page_load_preset (DinolabConfigPage  *self,
                                 const char         *name,
                                 GError            **error)
{
  g_auto(DinolabHparams) hp = { 0 };

  g_return_val_if_fail (DINOLAB_IS_CONFIG_PAGE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  dinolab_hparams_init (&hp);
  if (!dinolab_hparams_load_preset (&hp, name, preset_dirs, error))
    return FALSE;
  fill_from_hparams (self, &hp);
  g_free (self->base_preset);
  self->base_preset = g_strdup (name);
  g_free (self->preset);
  self->preset = g_strdup (name);
  show_preset (self, name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PRESET]);
  return TRUE;
}

void
dinolab_config_page_set_hparams (DinolabConfigPage    *self,
                                 const DinolabHparams *hp)
{
  g_return_if_fail (DINOLAB_IS_CONFIG_PAGE (self));
  g_return_if_fail (hp != NULL);

  fill_from_hparams (self, hp);
  g_clear_pointer (&self->base_preset, g_free);
  if (self->preset == NULL)
    self->preset = g_strdup ("");  /* so set_custom() updates the row */
  set_custom (self);
  gtk_label_set_text (self->preset_description_label,
                      _("The values were set from outside the form (e.g. from a run), not from a preset."));
}

gboolean
dinolab_config_page_get_hparams (DinolabConfigPage *self,
                                 DinolabHparams    *out)
{
  g_auto(DinolabHparams) hp = { 0 };

  g_return_val_if_fail (DINOLAB_IS_CONFIG_PAGE (self), FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (!self->valid)
    return FALSE;
  dinolab_hparams_init (&hp);
  build_hparams (self, &hp, FALSE);
  if (!dinolab_hparams_validate (&hp, NULL))
    return FALSE;  /* cannot happen while valid; kept as the contract */
  dinolab_hparams_copy (out, &hp);
  return TRUE;
}

gboolean
dinolab_config_page_get_valid (DinolabConfigPage *self)
{
  g_return_val_if_fail (DINOLAB_IS_CONFIG_PAGE (self), FALSE);

  return self->valid;
}

void
dinolab_config_page_set_locked (DinolabConfigPage *self,
                                gboolean           locked)
{
  g_return_if_fail (DINOLAB_IS_CONFIG_PAGE (self));

  locked = !!locked;
  if (self->locked == (guint) locked)
    return;
  self->locked = locked;
  gtk_widget_set_sensitive (self->content_box, !locked);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "config.choose-dataset", !locked);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCKED]);
}

gboolean
dinolab_config_page_set_value (DinolabConfigPage *self,
                               const char        *key,
                               const char        *text)
{
  g_autofree char *old = NULL;
  Field *f;

  g_return_val_if_fail (DINOLAB_IS_CONFIG_PAGE (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  f = find_field (self, key);
  if (f == NULL)
    return FALSE;
  /* The widget shows the text if it can (a switch cannot show "maybe"); the
   * field holds it either way, so the message appears where it belongs. */
  old = g_strdup (f->text);
  field_set_widget (self, f, text);
  field_store (f, text);
  if (g_strcmp0 (old, text) != 0)
    field_edited (self, f);
  return f->message == NULL;
}

const char *
dinolab_config_page_get_message (DinolabConfigPage *self,
                                 const char        *key)
{
  Field *f;

  g_return_val_if_fail (DINOLAB_IS_CONFIG_PAGE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  f = find_field (self, key);
  return f != NULL ? f->message : NULL;
}

const char *
dinolab_config_page_get_preset (DinolabConfigPage *self)
{
  g_return_val_if_fail (DINOLAB_IS_CONFIG_PAGE (self), NULL);

  return self->preset;
}
