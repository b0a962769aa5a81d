"""Validates egress25 check --json reports against docs/report.schema.json.

usage: validate_report.py [--schema FILE] REPORT...   ("-" reads standard input)

Each REPORT must be one JSON document. Every violation is printed as
"REPORT: /json/pointer: message". Exit status: 0 all valid, 1 one is not, 2 bad usage
(or a schema that is itself invalid).
"""
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCHEMA = os.path.join(HERE, "..", "..", "docs", "report.schema.json")


def pointer(path):
    return "/" + "/".join(str(p) for p in path)


def main(argv):
    schema_file = DEFAULT_SCHEMA
    if len(argv) >= 2 and argv[0] == "--schema":
        schema_file, argv = argv[1], argv[2:]
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(schema_file, encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.Draft202012Validator
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as e:
        print(f"{schema_file}: not a valid JSON Schema: {e.message}", file=sys.stderr)
        return 2
    validator = validator_class(schema)
    invalid = 0
    for name in argv:
        try:
            if name == "-":
                document = json.load(sys.stdin)
            else:
                with open(name, encoding="utf-8") as f:
                    document = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{name}: not one JSON document: {e}")
            invalid += 1
            continue
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        for error in errors:
            print(f"{name}: {pointer(error.absolute_path)}: {error.message[:300]}")
        invalid += bool(errors)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
