/* tmpl.h -- a small mustache-like HTML template renderer over a jansson object.
 *   {{name}}          value, HTML-escaped (strings; numbers; true/false; missing or null -> "")
 *   {{{name}}}        value, raw (only for markup the server built itself)
 *   {{a.b}}           dotted lookup
 *   {{#name}}..{{/name}}  section: repeated for each element of an array (the element becomes the
 *                     context, looked up first, falling back to outer contexts); once for a truthy
 *                     value; skipped for false/null/""/[]/missing
 *   {{^name}}..{{/name}}  inverted section: rendered only when name is falsy
 *   {{.}}             the current element itself (for arrays of strings)
 * Escaping covers & < > " ' ` = so values are safe in text and in quoted attributes. */
#ifndef TETHER_COMMON_TMPL_H
#define TETHER_COMMON_TMPL_H
#include <jansson.h>
#include <stddef.h>

/* Renders tmpl against ctx. A malloc'd string, or NULL with a sentence in err (unbalanced section,
 * nesting deeper than 16, output over 1 MiB). */
char *tmpl_render(const char *tmpl, const json_t *ctx, char *err, size_t errlen);
/* HTML-escapes s into a new malloc'd string. */
char *tmpl_escape(const char *s);

#endif
