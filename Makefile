# One command per check; CI (.ci/run) calls the same ones.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck check-configs check bench clean

$(BIN)/python:
	python3 -m venv $(VENV)

demo: $(BIN)/python          ## install, then post the bundled stories through the zero-config default
	$(BIN)/pip install -q .
	$(BIN)/distributor demo

test: $(BIN)/python          ## install with test extras, then run every test
	$(BIN)/pip install -q '.[test]'
	$(BIN)/pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

check-configs:               ## every example config must validate
	for f in config/*.yaml; do \
	  TELEGRAM_BOT_TOKEN=1:x DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/123456789012345678/$$(printf 't%.0s' $$(seq 68)) \
	  DISCORD_BOT_TOKEN=x SMTP_PASSWORD=x CMS_WEBHOOK_SECRET=check-configs-hook-secret-0123456789 DISTRIBUTOR_WEB_SECRET=check-configs-web-secret-0123456789abcdef $(BIN)/distributor check-config -c $$f || exit 1; done

check: lint typecheck check-configs test

clean:
	rm -rf $(VENV) build dist *.egg-info outbox distributor.sqlite3*
