# conf/ - the configuration loader (see conf/conf.h)
#
# CONF_SRCS is linked into every program and into the unit tests.  The
# built-in default configuration (conf/default.conf) is turned into C
# by conf/embed.sh; the generated file lives under $(OBJ), so its
# object is built by the generic $(OBJ)/%.o rule like any other.
CONF_GEN := $(OBJ)/conf/default_conf.c

CONF_SRCS := \
	conf/conf.c \
	conf/conf_build.c \
	conf/conf_files.c \
	conf/conf_host.c \
	conf/conf_prescan.c \
	conf/conf_value.c \
	$(CONF_GEN)

$(CONF_GEN): conf/default.conf conf/embed.sh
	@mkdir -p $(dir $@)
	sh conf/embed.sh conf/default.conf > $@.tmp
	mv $@.tmp $@
