# tests/ - see the Makefile
