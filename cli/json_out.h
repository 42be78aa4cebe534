/* Print a msgpack object as JSON (for --json output). */
#ifndef PD_JSON_OUT_H
#define PD_JSON_OUT_H

#include <msgpack.h>
#include <stdio.h>

void pd_json_print(FILE *out, const msgpack_object *o, int indent);

#endif
