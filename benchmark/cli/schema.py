"""`bench schema NAME`: print the JSON Schema of a file perceptbench reads (results, card, ...).

Only pydantic is imported here; the models live in benchmark/schema.py (and, for submissions, beside them).
"""

from __future__ import annotations

import json

import click
from pydantic import BaseModel

from ..schema import CardRecord, ResultRecord
from ..submissions.schema import SubmissionCard, SubmissionRecord
from ..submissions.verification import SignedStatement

# Name -> the model of that file: the one schema each file read from outside is validated against.
SCHEMAS: dict[str, type[BaseModel]] = {
    "results": ResultRecord,
    "card": CardRecord,
    "submission": SubmissionRecord,
    "submission-card": SubmissionCard,
    "verification": SignedStatement,
}


@click.command("schema")
@click.argument("name", type=click.Choice(sorted(SCHEMAS)))
def schema(name: str) -> None:
    """Print the JSON Schema of a file perceptbench reads: results, card, submission, submission-card or verification."""
    click.echo(json.dumps(SCHEMAS[name].model_json_schema(), indent=2))
