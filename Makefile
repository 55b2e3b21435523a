# The README's two commands are `make demo` and `make test`; both set up first.
PY := .venv/bin/python
OVNBPF := .venv/bin/ovnbpf

.PHONY: setup demo test unit
setup:
	bash .ci/setup

demo: setup
	$(OVNBPF) demo

# pytest's exit 5 ("no tests collected") is a failure here, not a pass
test: setup
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest ran no tests: failing" >&2; exit 1; fi; exit $$rc

# pure-Python tests only: fast, no root needed
unit: setup
	$(PY) -m pytest -m "not root" $(PYTEST_ARGS)
