"""Checks before serving: every bad setting is one line naming it, before anything starts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sqlite3
import tempfile
from typing import Any

from pydantic import ValidationError

from bot.settings import Settings


class SettingError(Exception):
    """A setting Lookout cannot start with; the message names it and says what is wrong."""


def one_line(text: str) -> str:
    """`text` on one line: its lines joined with "; ", blank ones dropped."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def setting_name(field: str, *, flags: dict[str, str] | None = None) -> str:
    """What a user sets for the Settings field (or alias) `field`: the command-line flag
    when `flags` maps it to one, else its environment variable, e.g. port → LOOKOUT_PORT."""
    if flags and field in flags:
        return flags[field]
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    if info is None:
        return field  # already the alias (PROMETHEUS_URL, …)
    return f"LOOKOUT_{field.upper()}"


def _secret(field: str) -> bool:
    """Whether the Settings field (or alias) `field` holds a secret, never to be echoed."""
    for name, info in Settings.model_fields.items():
        if field in (name, info.validation_alias):
            return "SecretStr" in str(info.annotation)
    return True


def load_settings(overrides: dict[str, Any], flags: dict[str, str]) -> Settings:
    """Settings from the environment and the command line's `overrides` (field → value;
    `flags` names their flags); SettingError names every invalid one."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        reasons = []
        for item in error.errors():
            where = setting_name(str(item["loc"][0]), flags=flags) if item["loc"] else "settings"
            message = str(item["msg"]).removeprefix("Value error, ")
            field = str(item["loc"][0]) if item["loc"] else ""
            if not _secret(field) and isinstance(item.get("input"), str | int | float):
                message += f" (got {item['input']!r})"
            reasons.append(f"{where}: {message}")
        raise SettingError("; ".join(reasons)) from None


def check_data_dir(settings: Settings) -> None:
    """LOOKOUT_DATA_DIR exists or can be made, and Lookout can write in it (SettingError)."""
    folder = settings.data_dir
    if folder.exists() and not folder.is_dir():
        raise SettingError(f"LOOKOUT_DATA_DIR: {folder} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise SettingError(f"LOOKOUT_DATA_DIR: cannot write in {folder}: {reason}") from None


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address `host` resolves to, on `port` (not yet listening);
    OSError (socket.gaierror for a name that does not resolve) when they cannot be bound."""
    infos = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )
    sockets: list[socket.socket] = []
    seen: set[tuple[Any, ...]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, *address[:2]) in seen:
                continue
            seen.add((family, *address[:2]))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def bind(settings: Settings, flags: dict[str, str]) -> list[socket.socket]:
    """`listen` on the configured host and port, with SettingError naming the setting."""
    where = f"{settings.host}:{settings.port}"
    try:
        return listen(settings.host, settings.port)
    except socket.gaierror as error:
        name = setting_name("host", flags=flags)
        raise SettingError(f"{name}: cannot resolve {settings.host!r}: {error.strerror}") from None
    except OSError as error:
        name = setting_name("port", flags=flags)
        if error.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise SettingError(f"{name}: {where} is already in use") from None
        name = f"{setting_name('host', flags=flags)}/{name}"
        raise SettingError(f"{name}: cannot listen on {where}: {error.strerror}") from None


def check_database(settings: Settings, *, seconds: float = 15) -> None:
    """The database URL names a database Lookout can open and reach within `seconds`
    (SettingError naming LOOKOUT_DATABASE_URL, or LOOKOUT_DATA_DIR for the default SQLite)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from storage.database import Database

    name = "LOOKOUT_DATABASE_URL" if settings.database_url else "LOOKOUT_DATA_DIR"
    url = settings.resolved_database_url()
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError) as error:
        raise SettingError(f"{name}: not a database URL: {one_line(str(error))}") from None

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # The file is opened the way SQLite itself would (created when missing), without the
        # async driver, whose worker thread could outlive the check's event loop.
        try:
            with contextlib.closing(sqlite3.connect(str(parsed.database), timeout=seconds)) as db:
                db.execute("SELECT 1")
        except sqlite3.Error as error:
            raise SettingError(f"{name}: cannot open {shown}: {one_line(str(error))}") from None
        return

    async def reach() -> None:
        database = Database(url)
        try:
            async with asyncio.timeout(seconds), database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await database.dispose()

    try:
        asyncio.run(reach())
    except TimeoutError:
        raise SettingError(f"{name}: no answer from {shown} within {seconds:g} s") from None
    except (SQLAlchemyError, OSError, ValueError, ImportError) as error:
        cause = getattr(error, "orig", None) or error
        reason = one_line(str(cause)).split(" (Background on this error")[0]
        raise SettingError(f"{name}: cannot open {shown}: {reason}") from None
