# Lookout: one process, SQLite under /data by default (set LOOKOUT_DATABASE_URL for PostgreSQL).
# The console answers loopback clients only: for a demo on your own machine run with
# `-p 127.0.0.1:8080:8080 -e LOOKOUT_CONSOLE_AUTH=none`; shared, put an authenticating proxy in
# front and set LOOKOUT_CONSOLE_AUTH=proxy (README, "The console: who may use it").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    LOOKOUT_DATA_DIR=/data \
    LOOKOUT_HOST=0.0.0.0 \
    LOOKOUT_PORT=8080

RUN useradd --create-home --uid 10001 lookout \
    && mkdir -p /data && chown lookout:lookout /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY skills ./skills
COPY core ./core
COPY knowledge ./knowledge
COPY integrations ./integrations
COPY runbooks ./runbooks
COPY storage ./storage
RUN pip install .

USER lookout
VOLUME ["/data"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"LOOKOUT_PORT\", \"8080\")}/healthz', timeout=2)"

CMD ["lookout", "serve"]
