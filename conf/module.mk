# conf/ - see the Makefile
