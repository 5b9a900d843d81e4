# tweetpipe: `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
MODULES := internal producer consumer e2e
COMPOSE ?= docker compose
OUTPUT_DIR ?= ./data

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/producer, bin/consumer and bin/devstack
	@mkdir -p bin
	cd producer && go build -trimpath -ldflags "$(LDFLAGS)" -o ../bin/producer .
	cd consumer && go build -trimpath -ldflags "$(LDFLAGS)" -o ../bin/consumer .
	cd e2e && go build -trimpath -o ../bin/devstack ./cmd/devstack

.PHONY: run
run: build ## run the whole pipeline on an in-process broker; files land in ./data (Ctrl-C stops)
	@bin/devstack -bin bin -out $(OUTPUT_DIR)

.PHONY: tail
tail: ## follow the newest output files as they grow
	@scripts/tail.sh $(OUTPUT_DIR)/$${KAFKA_TOPIC:-tweets}

.PHONY: test
test: ## all unit and integration tests of every module, with -race, on an in-process broker
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -race -count=1 -timeout 20m ./...) || exit 1; done

.PHONY: test-kafka
test-kafka: ## start a real Apache Kafka (no Docker), run every test against it, stop it
	@scripts/test-kafka.sh

.PHONY: bench
bench: ## producer and consumer against kcat: throughput, latency, peak RSS (figures go in the README)
	@scripts/bench.sh

.PHONY: lint
lint: ## go vet, staticcheck and gofmt on every module
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt: files above need formatting"; exit 1; }
	@for m in $(MODULES); do (cd $$m && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.6.1 ./...) || exit 1; done

.PHONY: network
network: ## create the shared docker network kafka-network (idempotent)
	@docker network inspect kafka-network >/dev/null 2>&1 || docker network create kafka-network

.PHONY: kafka-up
kafka-up: network ## start the Kafka stack and wait until it is healthy
	$(COMPOSE) -f docker-compose.kafka.yml up -d --wait

.PHONY: apps-up
apps-up: network ## build and start the producer and consumer stack
	@test -f .env || { cp .env.example .env; echo "created .env from .env.example"; }
	@mkdir -p $(OUTPUT_DIR) replay state secrets
	@for s in twitter_consumer_key twitter_consumer_secret twitter_access_token twitter_access_secret x_bearer_token kafka_sasl_password; do \
		test -f secrets/$$s || { touch secrets/$$s; chmod 600 secrets/$$s; }; done
	TWEETPIPE_UID=$$(id -u) TWEETPIPE_GID=$$(id -g) HOST_OUTPUT_DIR=$(OUTPUT_DIR) TWEETPIPE_VERSION=$(VERSION) \
		$(COMPOSE) -f docker-compose.apps.yml up -d --build

.PHONY: up
up: kafka-up apps-up ## network, Kafka, then the apps

.PHONY: down
down: ## stop both stacks (data volumes are kept)
	-$(COMPOSE) -f docker-compose.apps.yml down
	-$(COMPOSE) -f docker-compose.kafka.yml down

.PHONY: logs
logs: ## follow the logs of both stacks
	$(COMPOSE) -f docker-compose.apps.yml logs -f --tail=100

.PHONY: ps
ps: ## list the containers of both stacks
	$(COMPOSE) -f docker-compose.kafka.yml ps
	$(COMPOSE) -f docker-compose.apps.yml ps

.PHONY: env-example
env-example: build ## regenerate .env.example from the services' -h output
	@scripts/env-example.sh > .env.example

.PHONY: clean
clean: ## remove bin/ (never the data)
	rm -rf bin
