# Goated Live: one image for `goated serve`, `goated migrate`, `goated bot` and `goated doctor`.
# Build: docker build -t goated-live .   (docker-compose.yml builds it for you)

FROM python:3.12-slim AS build
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY server ./server
COPY web ./web
COPY piccolo_migrations ./piccolo_migrations
# Editable on purpose: the code finds web/ and piccolo_migrations/ next to server/.
RUN uv sync --frozen --no-dev

FROM python:3.12-slim
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home goated \
 && mkdir /data && chown goated:goated /data
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/server /app/server
COPY --from=build /app/web /app/web
COPY --from=build /app/piccolo_migrations /app/piccolo_migrations
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite:////data/goated.sqlite \
    TELEGRAM_SESSION_DIR=/data
# The SQLite file (when DATABASE_URL is not PostgreSQL) and the bot's session live here.
VOLUME /data
USER goated
EXPOSE 8000
# /health answers 503 only when there is nothing to serve; "degraded" (upstream or Redis
# trouble with a board in memory) stays healthy, so a replica is not restarted for it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["goated", "serve", "--host", "0.0.0.0"]
