/*
 * PostgreSQL snapshot visibility of streamed transactions (connectors/postgres/pg_xsnap.h).
 */
#include "pg_xsnap.h"

#include <errno.h>
#include <stdlib.h>

#include "cdc/buf.h"

/* One 64-bit id of the text at *p (advanced past it), truncated to the 32 bits the stream
 * carries. */
static bool
read_xid(const char **p, uint32_t *out)
{
    char *end;
    if (**p < '0' || **p > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(*p, &end, 10);
    if (errno)
        return false;
    *out = (uint32_t)v;
    *p = end;
    return true;
}

bool
cdc_pg_xsnap_parse(cdc_pg_xsnap_t *s, const char *text)
{
    const char *p = text;
    s->n_xip = 0;
    if (!p || !read_xid(&p, &s->xmin) || *p++ != ':' || !read_xid(&p, &s->xmax) || *p++ != ':')
        return false;
    while (*p) {
        if (s->n_xip == s->cap_xip) {
            s->cap_xip = s->cap_xip ? 2 * s->cap_xip : 16;
            s->xip = cdc_xrealloc(s->xip, s->cap_xip * sizeof(uint32_t));
        }
        if (!read_xid(&p, &s->xip[s->n_xip++]) || (*p && (*p++ != ',' || !*p)))
            return false;
    }
    return true;
}

bool
cdc_pg_xsnap_invisible(const cdc_pg_xsnap_t *s, uint32_t xid)
{
    uint32_t from_xmax = xid - s->xmax;
    if (from_xmax < (1u << 30))
        return true; /* started at or after xmax */
    if ((int32_t)(xid - s->xmin) < 0)
        return false;
    for (size_t i = 0; i < s->n_xip; i++)
        if (s->xip[i] == xid)
            return true;
    return false;
}

void
cdc_pg_xsnap_free(cdc_pg_xsnap_t *s)
{
    free(s->xip);
    s->xip = NULL;
    s->n_xip = s->cap_xip = 0;
}

void
cdc_pg_recent_add(cdc_pg_recent_t *r, uint32_t xid)
{
    r->xid[r->next] = xid;
    r->next = (r->next + 1) % CDC_PG_RECENT_XIDS;
    if (r->n < CDC_PG_RECENT_XIDS)
        r->n++;
}

uint32_t
cdc_pg_xsnap_unseen(const cdc_pg_xsnap_t *s, const cdc_pg_recent_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->xid[i] && cdc_pg_xsnap_invisible(s, r->xid[i]))
            return r->xid[i];
    return 0;
}
