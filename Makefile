# The README's two commands are `make demo` and `make test`; both set up first.
PY := .venv/bin/python
OVNBPF := .venv/bin/ovnbpf

.PHONY: setup demo test unit clean-lab
setup:
	bash .ci/setup

demo: setup
	$(OVNBPF) demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# pure-Python tests only: fast, no root needed
unit: setup
	$(PY) -m pytest -m "not root" $(PYTEST_ARGS)
