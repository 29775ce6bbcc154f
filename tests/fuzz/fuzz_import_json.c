/*
 * The fast JSON Lines reader (producers/importers/import_json.c) against
 * jansson: whatever it reads, jansson reads the same value (same key order
 * and types) and the same number of bytes; it may leave any input to
 * jansson. No crash, leak or UB.
 */
#include "importers/import_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t used = 0;
    json_error_t jerr;
    json_t *fast = import_json_fast((const char *)data, size, &used);
    json_t *ref;
    char *a, *b;

    if (!fast)
        return 0;
    ref = json_loadb((const char *)data, size, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!ref || !json_equal(fast, ref) || used != (size_t)jerr.position)
        abort();
    a = json_dumps(fast, JSON_COMPACT);
    b = json_dumps(ref, JSON_COMPACT);
    if (!a || !b || strcmp(a, b))
        abort();
    free(a);
    free(b);
    json_decref(fast);
    json_decref(ref);
    return 0;
}
