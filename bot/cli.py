"""`lookout`: serve, demo, db upgrade, runbooks, knowledge reindex, audit export, version."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import httpx

from bot import __version__
from bot.config import ConfigError
from bot.logs import configure_logging
from bot.settings import Settings
from bot.startup import SettingError, bind, check_data_dir, check_database, load_settings, one_line

log = logging.getLogger("lookout")


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake on one line: `lookout serve: argument --port: …` (status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lookout", description="ChatOps-first SRE assistant")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the bot (HTTP, console, notifier)")
    serve.add_argument("--demo", action="store_true", help="seed demo data and replay a storm")
    serve.add_argument("--host", help="bind address (default LOOKOUT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default LOOKOUT_PORT or 8080)")
    demo = commands.add_parser("demo", help="send the demo alert storm to a running Lookout")
    demo.add_argument("--url", help="Lookout's base URL (default http://HOST:PORT)")
    demo.add_argument("--speed", type=float, default=1.0, help="replay faster (2 = twice as fast)")
    db = commands.add_parser("db", help="database tasks")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations up to the latest")
    runbooks = commands.add_parser("runbooks", help="runbook tasks")
    runbook_commands = runbooks.add_subparsers(dest="runbooks_command", required=True)
    validate = runbook_commands.add_parser("validate", help="check runbook files (for CI)")
    validate.add_argument("path", type=Path, help="a runbook file or a folder of them")
    validate.add_argument(
        "--config",
        type=Path,
        help="check programs against this config's allowlist (default: LOOKOUT_CONFIG, if set)",
    )
    runbook_commands.add_parser("sync", help="pull and validate the configured runbook repo")
    knowledge = commands.add_parser("knowledge", help="retrieval tasks")
    knowledge_commands = knowledge.add_subparsers(dest="knowledge_command", required=True)
    knowledge_commands.add_parser(
        "reindex", help="rebuild the index of incidents, postmortems and runbooks"
    )
    audit = commands.add_parser("audit", help="audit log tasks")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser("export", help="write the audit log as jsonl or csv")
    export.add_argument("--since", required=True, help="a date, a time or a span (2026-11-01, 7d)")
    export.add_argument("--until", help="before this date or time (default: now)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", dest="format")
    export.add_argument("--output", type=Path, help="a file (default: standard output)")
    commands.add_parser("version", help="print the version")
    return parser


def serve(settings: Settings, *, demo: bool, flags: dict[str, str]) -> int:
    """Check the data dir, bind the port, reach the database, then serve (SettingError or
    ConfigError for what is wrong, before anything starts)."""
    check_data_dir(settings)
    sockets = bind(settings, flags)
    try:
        check_database(settings)
        from bot.main import http_server

        _, server = http_server(settings, demo=demo)
        log.info("serving", extra={"url": f"http://{settings.host}:{settings.port}"})
        server.run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()
    return 0


async def send_demo(settings: Settings, url: str, speed: float = 1.0) -> int:
    from datetime import UTC, datetime

    from bot.demo import storm

    headers = {}
    if settings.webhook_token is not None:
        headers["Authorization"] = f"Bearer {settings.webhook_token.get_secret_value()}"
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        for delay, body in storm(datetime.now(UTC)):
            await asyncio.sleep(delay / max(speed, 0.01))
            response = await client.post("/webhooks/alertmanager", json=body)
            if response.status_code != 200:
                print(f"{url} answered {response.status_code}: {response.text}", file=sys.stderr)
                return 1
            print(response.json())
    return 0


async def sync_runbooks(settings: Settings) -> int:
    from bot.config import load_config
    from bot.runbook_setup import runbook_catalog

    catalog = runbook_catalog(load_config(settings.config))
    if catalog.sync is None:
        print("lookout: no runbook directory is configured (runbooks.directory)", file=sys.stderr)
        return 2
    report = await catalog.sync.sync()
    print(report.summary())
    for problem in report.rejected:
        print(problem, file=sys.stderr)
    return 1 if report.error or report.rejected else 0


async def reindex(settings: Settings) -> int:
    from bot.config import load_config
    from bot.knowledge_setup import build_knowledge
    from bot.runbook_setup import runbook_catalog
    from storage.database import Database

    config = load_config(settings.config)
    database = Database(settings.resolved_database_url(), pool=settings.database_pool())
    try:
        await database.upgrade()
        knowledge = build_knowledge(settings, config, database, runbook_catalog(config))
        if knowledge is None:
            print("lookout: retrieval is disabled (knowledge.enabled: false)", file=sys.stderr)
            return 2
        report = await knowledge.sync.reindex()
        print(f"{report.summary()}; the index holds {len(knowledge.index)} documents")
    finally:
        await database.dispose()
    return 0


async def upgrade(settings: Settings) -> int:
    from storage.database import Database

    database = Database(settings.resolved_database_url(), pool=settings.database_pool())
    try:
        await database.upgrade()
        print(f"database at revision {await database.current_revision()}")
    finally:
        await database.dispose()
    return 0


async def export_audit(settings: Settings, args: argparse.Namespace) -> int:
    from bot.audit_export import ExportError, export

    try:
        count = await export(
            settings, since=args.since, until=args.until, kind=args.format, output=args.output
        )
    except ExportError as error:
        print(f"lookout: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        where = f"cannot write {args.output}" if args.output else "export failed"
        print(f"lookout: {where}: {error.strerror or error}", file=sys.stderr)
        return 1
    if args.output:
        print(f"{count} audit entries written to {args.output}", file=sys.stderr)
    return 0


def validate(path: Path, config_path: Path | None) -> int:
    """`runbooks validate`: the format, and with a config, its allowlist of programs."""
    from bot.config import load_config
    from runbooks.validate import validate_command

    executables = None
    if config_path is not None:
        try:
            executables = load_config(config_path).runbooks.execution.executables
        except ConfigError as error:
            print(f"lookout: {one_line(str(error))}", file=sys.stderr)
            return 2
    code, text = validate_command(path, executables)
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"lookout {__version__}")
        return 0
    flags = {"host": "--host", "port": "--port"}
    overrides = {
        k: v
        for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None)))
        if v is not None
    }
    try:
        settings = load_settings(overrides, {k: flags[k] for k in overrides})
    except SettingError as error:
        print(f"lookout: {one_line(str(error))}", file=sys.stderr)
        return 2
    if args.command == "runbooks" and args.runbooks_command == "validate":
        return validate(args.path, args.config or settings.config)
    configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            return serve(settings, demo=args.demo, flags={k: flags[k] for k in overrides})
        if args.command in ("db", "knowledge", "audit"):
            check_data_dir(settings)
            check_database(settings)
        if args.command == "demo":
            url = args.url or f"http://{settings.host}:{settings.port}"
            return asyncio.run(send_demo(settings, url, args.speed))
        if args.command == "db":
            return asyncio.run(upgrade(settings))
        if args.command == "runbooks":
            return asyncio.run(sync_runbooks(settings))
        if args.command == "knowledge":
            return asyncio.run(reindex(settings))
        if args.command == "audit":
            return asyncio.run(export_audit(settings, args))
    except ConfigError as error:
        print(f"lookout: LOOKOUT_CONFIG: {one_line(str(error))}", file=sys.stderr)
        return 2
    except SettingError as error:
        print(f"lookout: {one_line(str(error))}", file=sys.stderr)
        return 2
    except httpx.HTTPError as error:
        print(f"lookout: cannot reach Lookout: {error}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
