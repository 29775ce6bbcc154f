/*
 * libFuzzer target: the TEXT importer on untrusted input:
 * free text, one or more observables a line.
 * See fuzz_import.h for the properties checked.
 */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_import(CISHARE_IMPORT_TEXT, data, size);
}
