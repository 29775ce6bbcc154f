#!/usr/bin/env bash
# The STIX 2.1 sink's bundle, made from every example message of
# schemas/examples/, must validate with the OASIS stix2-validator in strict
# mode (warnings are errors) with reference checks. The validator lives in
# a venv under the build folder, installed on first use.
set -euo pipefail

: "${CISHARE_BIN:?}" "${CISHARE_SRC:?}"
build=$(cd "$(dirname "$CISHARE_BIN")" && pwd)
venv="$build/.venv-stix"
test_sinks="$build/tests/test_sinks"
tmp=$(mktemp -d /tmp/cishare-stix-validate-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$venv/bin/stix2_validator" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q stix2-validator ||
        { echo "% ERROR: cannot install stix2-validator" >&2; exit 1; }
fi

# The sinks' unit test leaves its example bundle where we ask.
CISHARE_SINKS_KEEP="$tmp" "$test_sinks" >"$tmp/test.log" 2>&1 ||
    { cat "$tmp/test.log"; exit 1; }
bundle="$tmp/stix/bundle.json"
[ -s "$bundle" ] || { echo "% ERROR: no bundle at $bundle" >&2; exit 1; }

types=$(python3 -c 'import json,sys
print(" ".join(sorted({o["type"] for o in json.load(open(sys.argv[1]))["objects"]})))' "$bundle")
echo "% bundle object types: $types"
for t in indicator identity marking-definition report incident sighting \
    vulnerability extension-definition; do
    case " $types " in
    *" $t "*) ;;
    *) echo "% ERROR: no $t object in the bundle" >&2; exit 1 ;;
    esac
done

"$venv/bin/stix2_validator" --strict --enforce-refs "$bundle"

# The validator must be able to say no: an indicator without its pattern.
python3 -c 'import json,sys
b=json.load(open(sys.argv[1]))
for o in b["objects"]:
    if o["type"] == "indicator":
        del o["pattern"]; break
json.dump(b, open(sys.argv[2], "w"))' "$bundle" "$tmp/broken.json"
if "$venv/bin/stix2_validator" --strict --enforce-refs "$tmp/broken.json" \
    >"$tmp/broken.log" 2>&1; then
    echo "% ERROR: the validator accepted a broken bundle" >&2
    exit 1
fi
echo "% stix_validate: ok"
