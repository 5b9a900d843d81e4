# tweetpipe: `make help` lists the targets.
SHELL := bash
.DEFAULT_GOAL := help

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
MODULES := internal producer consumer e2e
# The producer compresses with the C zstd library (github.com/DataDog/zstd,
# through cgo) wherever Go finds a C compiler, as kcat does; without one (or
# with CGO_ENABLED=0), with klauspost's pure-Go encoder. See
# producer/internal/zstdcodec.
GO_TAGS := libzstd
# The race detector needs cgo, which Go turns off where it finds no C
# compiler: make test runs with -race where it can, and says so where not.
RACE = $(if $(filter 1,$(shell go env CGO_ENABLED 2>/dev/null)),-race)
COMPOSE ?= docker compose
# dotenv NAME: NAME's value in .env (the last line setting it; without a
# trailing "# comment" or surrounding quotes, a leading ~/ as your home, as
# Compose reads it), empty when .env has none.
dotenv = $(shell sed -n 's/^[[:space:]]*$(1)=//p' .env 2>/dev/null | sed 's/[[:space:]][[:space:]]*\#.*//; s/^["'\'']//; s/["'\'']$$//; s|^~/|$(HOME)/|' | tail -n 1)
# The host folders of the Compose stack: .env may name them (HOST_OUTPUT_DIR,
# REPLAY_DIR, STATE_DIR_HOST); make creates them as you before Compose would
# as root. OUTPUT_DIR on make's command line wins, for make run and tail too.
OUTPUT_DIR ?= $(or $(call dotenv,HOST_OUTPUT_DIR),./data)
REPLAY_HOST_DIR = $(or $(call dotenv,REPLAY_DIR),./replay)
STATE_HOST_DIR = $(or $(call dotenv,STATE_DIR_HOST),./state)
KAFKA_STACK := -f docker-compose.kafka.yml
APPS_STACK := -f docker-compose.apps.yml
# What docker-compose.apps.yml reads from the environment: the containers run
# as you (so ./data stays yours) and carry this version. Every target that
# creates app containers passes all of it, or they come back as 65532.
APPS_ENV = TWEETPIPE_UID=$$(id -u) TWEETPIPE_GID=$$(id -g) HOST_OUTPUT_DIR='$(OUTPUT_DIR)' TWEETPIPE_VERSION=$(VERSION)
# The image build fetches modules the way this machine's Go does (a site's
# own proxy); without Go on the machine, Go's defaults.
BUILD_ENV = $(if $(shell command -v go 2>/dev/null),GOPROXY='$(shell go env GOPROXY)' GOSUMDB='$(shell go env GOSUMDB)' GONOSUMDB='$(shell go env GONOSUMDB)' GOPRIVATE='$(shell go env GOPRIVATE)')
# The s3 profile (COMPOSE_PROFILES=s3 make up): versitygw serving ./s3data
# as the bucket tweetpipe, and the consumer archiving into it through .env.s3
# (docs/production.md, "Object storage in the Docker stack").
comma := ,
S3_PROFILE = $(filter s3,$(subst $(comma), ,$(COMPOSE_PROFILES)))
S3_DATA_DIR := ./s3data
S3_BUCKET := tweetpipe
# Without buildx, Compose builds with the engine's classic builder.
BUILDER_ENV = $(shell docker buildx version >/dev/null 2>&1 || echo DOCKER_BUILDKIT=0 COMPOSE_BAKE=false)

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/producer, bin/consumer and bin/devstack
	@mkdir -p bin
	cd producer && go build -trimpath -tags $(GO_TAGS) -ldflags "$(LDFLAGS)" -o ../bin/producer .
	cd consumer && go build -trimpath -ldflags "$(LDFLAGS)" -o ../bin/consumer .
	cd e2e && go build -trimpath -o ../bin/devstack ./cmd/devstack

.PHONY: run
run: build ## run the whole pipeline on an in-process broker; files land in ./data (Ctrl-C stops)
	@bin/devstack -bin bin -out '$(OUTPUT_DIR)'

.PHONY: tail
tail: ## follow the newest output files as they grow
	@scripts/tail.sh '$(OUTPUT_DIR)/$(or $(KAFKA_TOPIC),$(call dotenv,KAFKA_TOPIC),tweets)'

.PHONY: test
test: ## all unit and integration tests of every module, with -race, on an in-process broker
	@$(if $(RACE),,echo "make test: Go finds no C compiler (go env CGO_ENABLED is 0), and the race detector needs one: testing without -race (install gcc for it)")
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go test $(RACE) -count=1 -tags $(GO_TAGS) -timeout 20m ./...) || exit 1; done
	@echo "== producer's zstd codec, pure-Go build"; cd producer && go test $(RACE) -count=1 ./internal/zstdcodec/

.PHONY: test-kafka
test-kafka: ## start a real Apache Kafka (no Docker), run every test against it, stop it
	@scripts/test-kafka.sh

.PHONY: bench
bench: ## producer and consumer against kcat and Kafka's own tools: throughput, latency, memory by post size (figures go in docs/performance.md)
	@scripts/bench.sh

.PHONY: lint
lint: ## go vet, staticcheck and gofmt on every module
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt: files above need formatting"; exit 1; }
	@for m in $(MODULES); do (cd $$m && go vet -tags $(GO_TAGS) ./... && go vet ./... && go run honnef.co/go/tools/cmd/staticcheck@v0.6.1 -tags $(GO_TAGS) ./...) || exit 1; done

.PHONY: network
network: ## create the shared docker network kafka-network (idempotent)
	@docker network inspect kafka-network >/dev/null 2>&1 || docker network create kafka-network

.PHONY: kafka-up
kafka-up: network ## start the Kafka stack and wait until it is healthy
	$(COMPOSE) $(KAFKA_STACK) up -d --wait

.PHONY: apps-up
apps-up: network ## build and start the producer and consumer stack
	@test -f .env || { cp .env.example .env; echo "created .env from .env.example"; }
	@mkdir -p '$(OUTPUT_DIR)' '$(REPLAY_HOST_DIR)' '$(STATE_HOST_DIR)' secrets
	@for s in twitter_consumer_key twitter_consumer_secret twitter_access_token twitter_access_secret x_bearer_token kafka_sasl_password; do \
		test -f secrets/$$s || { touch secrets/$$s; chmod 600 secrets/$$s; }; done
	@test -f secrets/s3_access_key || { printf %s $(S3_BUCKET) >secrets/s3_access_key; chmod 600 secrets/s3_access_key; }
	@test -f secrets/s3_secret_key || { (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >secrets/s3_secret_key); }
ifneq ($(S3_PROFILE),)
	@mkdir -p $(S3_DATA_DIR)/$(S3_BUCKET)
	@printf '%s\n' '# Written by make for COMPOSE_PROFILES=s3 (removed without it): the consumer' \
		'# archives into the s3 service (docker-compose.apps.yml). Read after .env.' \
		'OUTPUT_URL=s3://$(S3_BUCKET)/archive' 'S3_ENDPOINT=http://s3:7070' 'S3_PATH_STYLE=on' \
		'AWS_ACCESS_KEY_ID_FILE=/run/secrets/s3_access_key' \
		'AWS_SECRET_ACCESS_KEY_FILE=/run/secrets/s3_secret_key' >.env.s3
else
	@rm -f .env.s3
endif
	$(APPS_ENV) $(BUILD_ENV) $(BUILDER_ENV) $(COMPOSE) $(APPS_STACK) up -d --build
	@$(APPS_ENV) scripts/apps-check.sh $(COMPOSE) $(APPS_STACK)

.PHONY: scale
scale: ## run N consumers sharing the partitions: make scale CONSUMERS=N (as you, like apps-up)
	@test -n "$(CONSUMERS)" || { echo "usage: make scale CONSUMERS=N"; exit 2; }
	$(APPS_ENV) $(BUILD_ENV) $(BUILDER_ENV) $(COMPOSE) $(APPS_STACK) up -d --scale consumer=$(CONSUMERS) consumer

.PHONY: up
up: kafka-up apps-up ## network, Kafka, then the apps

.PHONY: down
down: ## stop both stacks, the s3 profile's server included (data volumes are kept)
	-$(COMPOSE) $(APPS_STACK) --profile '*' down
	-$(COMPOSE) $(KAFKA_STACK) down

.PHONY: logs
logs: ## follow the logs of both stacks (Ctrl-C stops)
	@$(COMPOSE) $(KAFKA_STACK) logs -f --tail=100 & k=$$!; \
	$(COMPOSE) $(APPS_STACK) logs -f --tail=100 & a=$$!; \
	trap 'kill $$k $$a 2>/dev/null' INT TERM EXIT; wait

.PHONY: ps
ps: ## list the containers of both stacks
	$(COMPOSE) $(KAFKA_STACK) ps
	$(COMPOSE) $(APPS_STACK) ps

.PHONY: env-example
env-example: build ## regenerate .env.example from the services' -h output
	@scripts/env-example.sh > .env.example

.PHONY: clean
clean: ## remove bin/ (never the data)
	rm -rf bin
