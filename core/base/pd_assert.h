/* Assertions for programmer errors. They stay on in every build (operating errors are returned
 * as codes instead). */
#ifndef PD_ASSERT_H
#define PD_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define PD_ASSERT(cond)                                                                     \
    do {                                                                                    \
        if (__builtin_expect(!(cond), 0)) {                                                 \
            fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", __FILE__, __LINE__, __func__, \
                    #cond);                                                                 \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#define PD_UNREACHABLE() PD_ASSERT(0 && "unreachable")
#define PD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PD_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
