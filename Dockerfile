# One image for every role in docker-compose.yml (api, worker, beat, migrate): the command picks.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Only what the installed distribution needs (the shipped model is package data in models/).
COPY pyproject.toml README.md ./
COPY core ./core
COPY service ./service
COPY worker ./worker
COPY models ./models
COPY textfold ./textfold
COPY cli ./cli
RUN pip install . \
    && useradd --system --create-home --home-dir /home/moderation moderation \
    && mkdir -p /app/var && chown moderation /app/var

USER moderation
ENV MODERATION_VAR_DIR=/app/var
EXPOSE 8000
CMD ["moderation", "api", "--bind", "0.0.0.0:8000"]
