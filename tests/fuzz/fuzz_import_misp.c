/*
 * libFuzzer target: the MISP importer on untrusted input:
 * MISP events: {"Event"}, restSearch {"response"}, bare events and
 * feed manifests; also what misp-bridge feeds it from a Kafka message.
 * See fuzz_import.h for the properties checked.
 */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_import(CISHARE_IMPORT_MISP, data, size);
}
