/* jsonw.h -- writing JSON text straight into a buffer, for the hottest responses where building a
 * jansson tree and dumping it costs more than the rest of the request. Strings must be valid UTF-8
 * (everything tether stores was validated on the way in); they are escaped as RFC 8259 requires. */
#ifndef TETHER_COMMON_JSONW_H
#define TETHER_COMMON_JSONW_H
#include "common/buf.h"

/* "s" with escapes, or null when s is NULL. */
void jsonw_str(struct buf *b, const char *s);
/* ,"key": -- the comma only when first is 0. */
void jsonw_key(struct buf *b, const char *key, int first);

#endif
