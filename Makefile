# Moodstream: `make run` starts everything on an embedded broker; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL_DIR ?= models/sentiment-v2
export PYTHONUNBUFFERED := 1

.DEFAULT_GOAL := help
.PHONY: help install model run broker kafka test test-unit test-integration test-e2e lint bench loadgen replay clean up down logs

help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock requirements-nodeps.txt scripts/install.sh
	@bash scripts/install.sh
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install pinned dependencies (skips what is there)

model: $(STAMP) ## Build the sentiment model (≤ 15 min), or reuse the build cached for this code and data
	$(PY) -m moodstream_model --out $(MODEL_DIR)

run: install model ## Start the embedded broker and the three services; Ctrl-C stops all (BROKER=kafka: Apache Kafka)
	$(PY) -m moodstream_dev.stack $(if $(AMQP),--amqp) $(if $(BROKER),--broker $(BROKER))

broker: install ## Start only the embedded broker on 127.0.0.1:9092
	$(PY) -m moodstream_dev.broker --port 9092

kafka: install ## Start only an Apache Kafka cluster on 127.0.0.1:9092 (NODES=3 for three; needs Java 17+)
	$(PY) -m moodstream_dev.kafka --port 9092 --nodes $(or $(NODES),1)

test: install model ## Run every test (unit, integration on the real broker, e2e)
	$(PY) -m pytest tests --durations=15

test-unit: install ## Run the fast unit tests only
	$(PY) -m pytest tests/unit

test-integration: install model ## Run the integration tests (real broker, RocksDB, RabbitMQ)
	$(PY) -m pytest tests/integration

test-e2e: install model ## Run the end-to-end tests (the whole stack in processes, a real browser)
	$(PY) -m pytest tests/e2e

loadgen: install ## Send load to a running `make run` stack; ARGS="--count 20000 --rate 500 --via http"
	$(VENV)/bin/moodstream loadgen $(ARGS)

replay: install ## Reprocess a topic; ARGS="--service analyzer --from earliest --dry-run"
	$(VENV)/bin/moodstream replay $(ARGS)

lint: install ## ruff + mypy
	$(VENV)/bin/ruff check libs services tools tests bench
	$(VENV)/bin/mypy --cache-dir $(HOME)/.cache/moodstream/mypy/$$(printf %s "$(CURDIR)" | sha256sum | cut -c1-12) libs/common/moodstream_common services

bench: install model ## Run the benchmarks; results in bench/results/*.json
	$(PY) -m bench.run_all

clean: ## Remove local state (RocksDB stores, logs); keeps .venv and models
	rm -rf var test-artifacts

up: ## Build the images and start the Docker stack on Redpanda (needs infra/.env)
	docker compose -f infra/compose.yaml up -d --build

down: ## Stop the Docker stack (volumes kept)
	docker compose -f infra/compose.yaml down

logs: ## Follow the Docker stack's logs
	docker compose -f infra/compose.yaml logs -f --tail=100
