# studybot in a container. Build:  docker build -t studybot .
# Run:    docker run -d --name studybot --restart unless-stopped \
#           -e TELEGRAM_BOT_TOKEN=123456:ABC... -v studybot-data:/data studybot
# State (studybot.db, its WAL files and the question cache) lives in the /data volume; a config.yaml placed there
# is read automatically. Logs go to stderr: docker logs -f studybot.
# Backup while it runs:  docker exec studybot studybot backup /data/backup.db
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY content ./content
COPY schedules ./schedules
RUN pip install --no-cache-dir . && rm -rf /src
RUN useradd --system --create-home --home-dir /data studybot
USER studybot
WORKDIR /data
VOLUME /data
ENTRYPOINT ["studybot"]
CMD ["run"]
