"""python -m reprozoo.tasks --schema > params.schema.json: params.yaml's JSON schema, every kind's model in it."""

import sys

from reprozoo.config.params import schema
from reprozoo.tasks import kinds

if sys.argv[1:] != ["--schema"]:
    sys.exit("usage: python -m reprozoo.tasks --schema")
sys.stdout.write(schema(kinds()))
