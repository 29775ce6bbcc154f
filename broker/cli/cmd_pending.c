/*
 * Commands not yet landed. Each is a weak definition that the real
 * implementation (a strong symbol elsewhere) replaces at link time; delete
 * an entry here once its command lands. Exit 2: the command is not usable.
 */
#include "cishare/cli.h"

#define PENDING(fn, name)                                                      \
    __attribute__((weak)) int fn(int argc, char **argv)                        \
    {                                                                          \
        (void)argc;                                                            \
        (void)argv;                                                            \
        cishare_cli_error("cishare %s: not implemented in this build", name);  \
        return CISHARE_EXIT_USAGE;                                             \
    }

