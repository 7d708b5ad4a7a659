# distributed — build, test and run. Every target installs what is missing first.
.PHONY: all install build test bench clean run run-cluster run-registry run-log run-grading \
	run-portal run-hello

BIN := node_modules/.bin
NODE := node
# Extra flags for a service, e.g. `make run-log ARGS="--port 0"`.
ARGS ?=
# Where the running system keeps its files: `make run` and each `make run-…` use the same ones,
# so a service restarted by hand inside a `make run` system finds its data.
DIR ?= run

all: build

# npm ci only when the lock file changed since the last install.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed

build: node_modules/.installed
	$(BIN)/tsc -p .

# A clean build, so no compiled test of a deleted source runs; then every suite under c8.
test: node_modules/.installed
	rm -rf dist coverage
	$(BIN)/tsc -p .
	$(BIN)/c8 $(NODE) --test --test-concurrency=3 --test-timeout=120000 --test-reporter=spec \
		$$(find dist/test -name '*.test.js' | sort)

bench: build
	$(NODE) dist/test/bench/main.js $(ARGS)

run: build
	$(NODE) dist/cmd/launcher/main.js --dir $(DIR) $(ARGS)

# The registry as three replicas on a 3-member etcd cluster (README "Running a registry cluster").
run-cluster: build
	$(NODE) dist/cmd/launcher/main.js --dir $(DIR) --cluster 3 $(ARGS)

run-registry: build
	@mkdir -p $(DIR)
	$(NODE) dist/cmd/registryservice/main.js --state $(DIR)/registry.json $(ARGS)

run-log: build
	@mkdir -p $(DIR)
	$(NODE) dist/cmd/logservice/main.js --file $(DIR)/distributed.log $(ARGS)

run-grading: build
	@mkdir -p $(DIR)
	$(NODE) dist/cmd/gradingservice/main.js --data $(DIR)/grades.json $(ARGS)

run-portal: build
	$(NODE) dist/cmd/teacherportal/main.js $(ARGS)

run-hello: build
	$(NODE) dist/cmd/helloservice/main.js $(ARGS)

clean:
	rm -rf dist coverage
