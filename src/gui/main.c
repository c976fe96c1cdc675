/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * main.c: entry point of `dinolab`, the GTK application. It sets up the
 * locale and the gettext domain and hands over to DinolabApplication. Nothing
 * else belongs here: everything a test needs lives in libdinolab-gui.
 *
 * DINOLAB_LOCALEDIR overrides where translations are looked up, so a build
 * tree can be run translated (build-aux/run.sh points it at build/po).
 */
#define G_LOG_DOMAIN "dinolab"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "dinolab-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(DinolabApplication) app = NULL;
  const char *localedir = g_getenv ("DINOLAB_LOCALEDIR");

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("Dinolab"));

  app = dinolab_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
