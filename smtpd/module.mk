# smtpd/ - see the Makefile
