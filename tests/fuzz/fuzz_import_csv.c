/*
 * libFuzzer target: the CSV importer on untrusted input:
 * CSV lists (header row, quoted fields).
 * See fuzz_import.h for the properties checked.
 */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_import(CISHARE_IMPORT_CSV, data, size);
}
