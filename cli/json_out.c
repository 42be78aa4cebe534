#include "json_out.h"

#include <inttypes.h>

static void print_string(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (ch < 0x20)
                fprintf(out, "\\u%04x", ch);
            else
                fputc(ch, out);
        }
    }
    fputc('"', out);
}

static void newline(FILE *out, int indent)
{
    fputc('\n', out);
    for (int i = 0; i < indent; i++)
        fputs("  ", out);
}

void pd_json_print(FILE *out, const msgpack_object *o, int indent)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: fputs("null", out); break;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", out); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(out, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(out, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: fprintf(out, "%.17g", o->via.f64); break;
    case MSGPACK_OBJECT_STR: print_string(out, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN:
        fputc('"', out);
        for (uint32_t i = 0; i < o->via.bin.size; i++)
            fprintf(out, "%02x", (unsigned char)o->via.bin.ptr[i]);
        fputc('"', out);
        break;
    case MSGPACK_OBJECT_ARRAY:
        fputc('[', out);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputc(',', out);
            newline(out, indent + 1);
            pd_json_print(out, &o->via.array.ptr[i], indent + 1);
        }
        if (o->via.array.size)
            newline(out, indent);
        fputc(']', out);
        break;
    case MSGPACK_OBJECT_MAP:
        fputc('{', out);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (i)
                fputc(',', out);
            newline(out, indent + 1);
            if (kv->key.type == MSGPACK_OBJECT_STR)
                print_string(out, kv->key.via.str.ptr, kv->key.via.str.size);
            else
                fputs("\"?\"", out);
            fputs(": ", out);
            pd_json_print(out, &kv->val, indent + 1);
        }
        if (o->via.map.size)
            newline(out, indent);
        fputc('}', out);
        break;
    default: fputs("null", out); break;
    }
}
