# kprobe: the two commands a fresh Debian 12 root machine needs are
# `make demo` and `make test`; both run `make setup` first (idempotent).
VENV := .venv/bin

.PHONY: setup demo test lint proto
setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/kprobe demo

test: setup
	$(VENV)/ruff check .
	$(VENV)/python -m pytest

lint: setup
	$(VENV)/ruff check .

# Regenerate Python (and the plugin's TypeScript types) from proto/ (the generated files are committed and a
# test checks they are current).
proto:
	$(VENV)/python -m kprobe.protogen
	bash scripts/plugin.sh install && cd grafana_plugin && npm run --silent proto
