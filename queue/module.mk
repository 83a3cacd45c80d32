# queue/ - see the Makefile
