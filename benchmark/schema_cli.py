"""`bench schema NAME`: print the JSON Schema of a file perceptbench reads (results, card, ...).

Only pydantic is imported here; the models live in benchmark/schema.py (and, for submissions, beside them).
"""

from __future__ import annotations

import json

import click
from pydantic import BaseModel

from .schema import CardRecord, ResultRecord

# Name -> the model of that file. Other file kinds (a submission, a verification statement) join here.
SCHEMAS: dict[str, type[BaseModel]] = {
    "results": ResultRecord,
    "card": CardRecord,
}


@click.command("schema")
@click.argument("name", type=click.Choice(sorted(SCHEMAS)))
def schema(name: str) -> None:
    """Print the JSON Schema of a result file (`results`) or of a model card as results record it (`card`)."""
    click.echo(json.dumps(SCHEMAS[name].model_json_schema(), indent=2))
