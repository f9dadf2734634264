"""`python manage.py convert_dataset olist|maven ... --out FILE`: a public data set as import CSV.

The CSV it writes is imported with `python manage.py import_leads FILE` (docs/recipes.md).
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.imports.datasets import (
    MAVEN_COLUMNS,
    OLIST_COLUMNS,
    dataset_csv_write,
    dataset_rows_read,
    maven_rows_convert,
    maven_team_ensure,
    olist_rows_convert,
)

NEEDS = {"olist": ["mqls", "deals"], "maven": ["pipeline", "teams", "accounts"]}


class Command(BaseCommand):
    help = (
        "Write Accord's import CSV from a public data set. "
        "olist: --mqls olist_marketing_qualified_leads_dataset.csv --deals "
        "olist_closed_deals_dataset.csv. maven: --pipeline sales_pipeline.csv --teams "
        "sales_teams.csv --accounts accounts.csv [--products products.csv] [--ensure-team]."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", choices=sorted(NEEDS))
        parser.add_argument("--out", required=True, help="Path of the import CSV to write.")
        parser.add_argument("--mqls", help="Olist: the marketing qualified leads file.")
        parser.add_argument("--deals", help="Olist: the closed deals file.")
        parser.add_argument("--pipeline", help="Maven: sales_pipeline.csv.")
        parser.add_argument("--teams", help="Maven: sales_teams.csv.")
        parser.add_argument("--accounts", help="Maven: accounts.csv.")
        parser.add_argument(
            "--products", help="Maven: products.csv (open opportunities get the list price)."
        )
        parser.add_argument(
            "--ensure-team",
            action="store_true",
            help="Maven: also create the agents, managers and regional-office territories "
            "in this database, so the import's owner_email finds them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dataset = options["dataset"]
        for name in [*NEEDS[dataset], *(["products"] if options["products"] else [])]:
            path = options[name]
            if not path:
                raise CommandError(f"{dataset} needs --{name} FILE")
            if not os.path.isfile(path):
                raise CommandError(f"No such file: {path}")
        started = time.monotonic()
        if dataset == "olist":
            rows = olist_rows_convert(
                mqls=dataset_rows_read(options["mqls"]),
                deals=dataset_rows_read(options["deals"]),
            )
            columns = OLIST_COLUMNS
        else:
            if options["ensure_team"]:
                team = maven_team_ensure(teams=dataset_rows_read(options["teams"]))
                self.stdout.write(
                    f"Team: {team.reps} sales reps, {team.managers} managers, "
                    f"{team.territories} territories."
                )
            rows = maven_rows_convert(
                pipeline=dataset_rows_read(options["pipeline"]),
                teams=dataset_rows_read(options["teams"]),
                accounts=dataset_rows_read(options["accounts"]),
                products=dataset_rows_read(options["products"]) if options["products"] else (),
            )
            columns = MAVEN_COLUMNS
        with open(options["out"], "w", newline="", encoding="utf-8") as out:
            count = dataset_csv_write(rows=rows, columns=columns, out=out)
        self.stdout.write(
            f"{count} rows written to {options['out']} in {time.monotonic() - started:.1f} s."
        )
