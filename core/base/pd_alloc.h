/* All allocation goes through here so tests can fail the Nth allocation (OOM countdown) and
 * check that every failure path returns -ENOMEM and leaks nothing. */
#ifndef PD_ALLOC_H
#define PD_ALLOC_H

#include <stddef.h>

void *pd_malloc(size_t n);
void *pd_calloc(size_t count, size_t size);
void *pd_realloc(void *p, size_t n);
void pd_free(void *p);
char *pd_strdup(const char *s);
char *pd_strndup(const char *s, size_t n);

/* Let the next `n` allocations succeed, then fail every one after; n < 0 disables. */
void pd_alloc_fail_after(long n);
/* Allocations attempted since the countdown was last set (to size an OOM sweep). */
unsigned long pd_alloc_count(void);

#endif
