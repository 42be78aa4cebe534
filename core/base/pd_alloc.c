#include "pd_alloc.h"

#include <stdlib.h>
#include <string.h>

/* Thread-local so a test's countdown never trips another thread's allocations. */
static _Thread_local long fail_after = -1;
static _Thread_local unsigned long attempts;

void pd_alloc_fail_after(long n)
{
    fail_after = n;
    attempts = 0;
}

unsigned long pd_alloc_count(void) { return attempts; }

static int should_fail(void)
{
    attempts++;
    if (fail_after < 0)
        return 0;
    if (fail_after == 0)
        return 1;
    fail_after--;
    return 0;
}

void *pd_malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *pd_calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *pd_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n ? n : 1); }

void pd_free(void *p) { free(p); }

char *pd_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = pd_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *pd_strdup(const char *s) { return pd_strndup(s, strlen(s)); }
