"""Developer tooling behind the Makefile: local servers, `make run`, CI helpers."""
