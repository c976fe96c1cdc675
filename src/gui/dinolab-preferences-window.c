/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-preferences-window.c: the preferences window. Binds the rows of its
 * template to GSettings: the default preset (a combo row over the presets
 * found, mapped to the preset's name), the plots' smoothing (a scale bound to
 * "plot-smoothing") and x axis (a combo row mapped to step/epoch/wall). It
 * shows the run store's path that the caller gives in "store-path". It is not
 * a form of hyperparameters (see dinolab-config-page.c) and opens nothing.
 */
#define G_LOG_DOMAIN "dinolab-preferences-window"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <dinolab/hparams.h>

#include "dinolab-preferences-window.h"

struct _DinolabPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  /* template children */
  AdwComboRow          *preset_row;
  GtkScale             *smoothing_scale;
  GtkAdjustment        *smoothing_adjustment;
  AdwComboRow          *x_axis_row;
  AdwActionRow         *store_row;

  GSettings            *settings;
  GtkStringList        *preset_names;
  char                 *store_path;
};

G_DEFINE_FINAL_TYPE (DinolabPreferencesWindow, dinolab_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  PROP_STORE_PATH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char * const preset_dirs[] = { PKGDATADIR "/presets", SOURCE_DATADIR "/presets", NULL };

/* The x-axis row's items, in the order of the template's string list. */
static const char * const x_axis_values[] = { "step", "epoch", "wall" };

/* ---- settings mappings ----------------------------------------------------- */

static gboolean
preset_get_mapping (GValue   *value,
                    GVariant *variant,
                    gpointer  user_data)
{
  DinolabPreferencesWindow *self = user_data;
  const char *name = g_variant_get_string (variant, NULL);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->preset_names));
  guint i;

  for (i = 0; i < n; i++)
    if (strcmp (gtk_string_list_get_string (self->preset_names, i), name) == 0)
      break;
  /* A preset named in the settings but not found (removed, or in a folder
   * only the Train view searches): list it so the row shows the truth. */
  if (i == n)
    gtk_string_list_append (self->preset_names, name);
  g_value_set_uint (value, i);
  return TRUE;
}

static GVariant *
preset_set_mapping (const GValue       *value,
                    const GVariantType *expected_type G_GNUC_UNUSED,
                    gpointer            user_data)
{
  DinolabPreferencesWindow *self = user_data;
  guint i = g_value_get_uint (value);

  if (i >= g_list_model_get_n_items (G_LIST_MODEL (self->preset_names)))
    return NULL;
  return g_variant_new_string (gtk_string_list_get_string (self->preset_names, i));
}

static gboolean
x_axis_get_mapping (GValue   *value,
                    GVariant *variant,
                    gpointer  user_data G_GNUC_UNUSED)
{
  const char *axis = g_variant_get_string (variant, NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (x_axis_values); i++)
    if (strcmp (x_axis_values[i], axis) == 0)
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
x_axis_set_mapping (const GValue       *value,
                    const GVariantType *expected_type G_GNUC_UNUSED,
                    gpointer            user_data G_GNUC_UNUSED)
{
  guint i = g_value_get_uint (value);

  if (i >= G_N_ELEMENTS (x_axis_values))
    return NULL;
  return g_variant_new_string (x_axis_values[i]);
}

/* ---- GObject --------------------------------------------------------------- */

static void
dinolab_preferences_window_constructed (GObject *object)
{
  DinolabPreferencesWindow *self = DINOLAB_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (dinolab_preferences_window_parent_class)->constructed (object);

  g_return_if_fail (G_IS_SETTINGS (self->settings));
  g_settings_bind_with_mapping (self->settings, "default-preset",
                                self->preset_row, "selected", G_SETTINGS_BIND_DEFAULT,
                                preset_get_mapping, preset_set_mapping, self, NULL);
  g_settings_bind (self->settings, "plot-smoothing",
                   self->smoothing_adjustment, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "plot-x-axis",
                                self->x_axis_row, "selected", G_SETTINGS_BIND_DEFAULT,
                                x_axis_get_mapping, x_axis_set_mapping, NULL, NULL);
}

static void
dinolab_preferences_window_dispose (GObject *object)
{
  DinolabPreferencesWindow *self = DINOLAB_PREFERENCES_WINDOW (object);

  /* unbind before the rows go: a late settings change must not reach them */
  if (self->preset_row != NULL)
    g_settings_unbind (self->preset_row, "selected");
  if (self->x_axis_row != NULL)
    g_settings_unbind (self->x_axis_row, "selected");
  if (self->smoothing_adjustment != NULL)
    g_settings_unbind (self->smoothing_adjustment, "value");
  gtk_widget_dispose_template (GTK_WIDGET (self), DINOLAB_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (dinolab_preferences_window_parent_class)->dispose (object);
}

static void
dinolab_preferences_window_finalize (GObject *object)
{
  DinolabPreferencesWindow *self = DINOLAB_PREFERENCES_WINDOW (object);

  g_clear_object (&self->preset_names);
  g_free (self->store_path);
  G_OBJECT_CLASS (dinolab_preferences_window_parent_class)->finalize (object);
}

static void
dinolab_preferences_window_get_property (GObject    *object,
                                         guint       prop_id,
                                         GValue     *value,
                                         GParamSpec *pspec)
{
  DinolabPreferencesWindow *self = DINOLAB_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    case PROP_STORE_PATH:
      g_value_set_string (value, self->store_path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_preferences_window_set_property (GObject      *object,
                                         guint         prop_id,
                                         const GValue *value,
                                         GParamSpec   *pspec)
{
  DinolabPreferencesWindow *self = DINOLAB_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    case PROP_STORE_PATH:
      dinolab_preferences_window_set_store_path (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
dinolab_preferences_window_class_init (DinolabPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = dinolab_preferences_window_constructed;
  object_class->dispose = dinolab_preferences_window_dispose;
  object_class->finalize = dinolab_preferences_window_finalize;
  object_class->get_property = dinolab_preferences_window_get_property;
  object_class->set_property = dinolab_preferences_window_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STORE_PATH] =
    g_param_spec_string ("store-path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/dinolab/Dinolab/dinolab-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DinolabPreferencesWindow, preset_row);
  gtk_widget_class_bind_template_child (widget_class, DinolabPreferencesWindow, smoothing_scale);
  gtk_widget_class_bind_template_child (widget_class, DinolabPreferencesWindow, smoothing_adjustment);
  gtk_widget_class_bind_template_child (widget_class, DinolabPreferencesWindow, x_axis_row);
  gtk_widget_class_bind_template_child (widget_class, DinolabPreferencesWindow, store_row);
}

static void
dinolab_preferences_window_init (DinolabPreferencesWindow *self)
{
  g_auto(GStrv) names = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  names = dinolab_hparams_list_presets (preset_dirs);
  self->preset_names = gtk_string_list_new ((const char * const *) names);
  adw_combo_row_set_model (self->preset_row, G_LIST_MODEL (self->preset_names));
  dinolab_preferences_window_set_store_path (self, NULL);
}

/* ---- public API ------------------------------------------------------------ */

GtkWindow *
dinolab_preferences_window_new (GtkWindow *parent,
                                GSettings *settings)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (DINOLAB_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       "modal", parent != NULL,
                       "settings", settings,
                       NULL);
}

void
dinolab_preferences_window_set_store_path (DinolabPreferencesWindow *self,
                                           const char               *path)
{
  g_return_if_fail (DINOLAB_IS_PREFERENCES_WINDOW (self));

  if (self->store_path != NULL && g_strcmp0 (self->store_path, path) == 0)
    return;
  g_free (self->store_path);
  self->store_path = g_strdup (path);
  /* TRANSLATORS: shown as the run store's path when no store is open */
  adw_action_row_set_subtitle (self->store_row, path != NULL ? path : _("None"));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STORE_PATH]);
}

const char *
dinolab_preferences_window_get_store_path (DinolabPreferencesWindow *self)
{
  g_return_val_if_fail (DINOLAB_IS_PREFERENCES_WINDOW (self), NULL);

  return self->store_path;
}
