# The README's two commands are `make demo` and `make test`; both set up first.
PY := .venv/bin/python
OVNBPF := .venv/bin/ovnbpf

.PHONY: setup demo test unit docs
setup:
	bash .ci/setup

demo: setup
	$(OVNBPF) demo $(if $(LAB),--lab $(LAB))

# docs/drops.md and docs/features.md, generated from drop.h and the action registry
docs: setup
	$(PY) -m controller.docgen

# pytest's exit 5 ("no tests collected") is a failure here, not a pass
test: setup
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest ran no tests: failing" >&2; exit 1; fi; exit $$rc

# pure-Python tests only: fast, no root needed
unit: setup
	$(PY) -m pytest -m "not root" $(PYTEST_ARGS)
