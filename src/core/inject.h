/* inject.h -- puts a connection's credential on an outbound request the way its catalogue scheme
 * says (header or query, with a format such as "Bearer {access_token}"). */
#ifndef TETHER_CORE_INJECT_H
#define TETHER_CORE_INJECT_H
#include <jansson.h>
#include "catalog/catalog.h"
#include "common/err.h"
#include "outbound/outbound.h"

/* Fills the scheme's inject_format from secrets (an object of strings: access_token, api_key,
 * the scheme's fields; see catalog_credential) and adds it to r, plus the
 * toolkit's fixed headers. -1 with e when a value is missing or holds CR/LF. */
int inject_credential(const struct catalog_toolkit *t, const struct catalog_scheme *s,
                      const json_t *secrets, struct outbound_req *r, struct err *e);

#endif
