/*
 * libFuzzer target: the STIX importer on untrusted input:
 * STIX 2.1 bundles (and objects carrying "objects").
 * See fuzz_import.h for the properties checked.
 */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_import(CISHARE_IMPORT_STIX, data, size);
}
