#!/usr/bin/env bash
# Interop: an independent Avro library (Python fastavro, installed into a
# venv beside the build) decodes cishare's payload bytes using only
# schemas/*.avsc, re-encodes them to the same bytes, and computes the same
# canonical forms and fingerprints. Also checks every schema field has a doc.
set -euo pipefail
: "${CISHARE_BIN:?}" "${CISHARE_SRC:?}"
venv="$(dirname "$CISHARE_BIN")/.venv-interop"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import fastavro' 2>/dev/null; then
    python3 -m venv "$venv"
    if ! "$venv/bin/pip" install -q fastavro; then
        echo "FAIL: cannot install fastavro into $venv (network?)" >&2
        exit 1
    fi
fi
exec "$venv/bin/python" "$(dirname "$0")/interop_fastavro.py"
