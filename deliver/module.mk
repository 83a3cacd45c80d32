# deliver/ - see the Makefile
