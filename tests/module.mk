# tests/ - unit tests: every tests/unit/test_NAME.c becomes $(BUILD)/tests/test_NAME
#
# Each test links against one static archive of all library objects
# (every X_SRCS of the module.mk files, no program's main), so the linker
# takes only what the test uses.  Fuzz targets are in tests/fuzz.mk.

TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TESTS += $(TEST_BINS)

# Variables of modules that are not written yet expand to nothing.
TEST_LIB_SRCS := $(sort $(LIB_SRCS) $(CONF_SRCS) $(SMTPD_SRCS) $(QUEUE_SRCS) $(DELIVER_SRCS) \
	$(SCAN_SRCS) $(SENDMAIL_SRCS) $(SPOOLTOOL_SRCS))
test_objs = $(call objs,$(1))
TEST_LIB_OBJS := $(call test_objs,$(TEST_LIB_SRCS))
TEST_ARCHIVE := $(BUILD)/libmailout-test.a

CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
# Libraries the modules may need beyond $(PKG_LIBS); --as-needed drops unused ones.
TEST_EXTRA_LIBS := $(LIB_LIBS) $(CONF_LIBS) $(SMTPD_LIBS) $(QUEUE_LIBS) $(DELIVER_LIBS) \
	-lpam -lcrypt -lresolv

# Tests may include every module's headers.
$(call test_objs,$(TEST_SRCS)): CPPFLAGS_ALL += -Ismtpd -Iqueue -Ideliver $(CMOCKA_CFLAGS)

# Keep the test objects: they are intermediate files to make.
.SECONDARY: $(call test_objs,$(TEST_SRCS))

.PHONY: tests
tests: $(TEST_BINS)

$(TEST_ARCHIVE): $(TEST_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(if $^,ar rcs $@ $^,ar rcs $@)

$(BUILD)/tests/test_%: $(OBJ)/tests/unit/test_%.o $(TEST_ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(TEST_ARCHIVE) $(CMOCKA_LIBS) $(PKG_LIBS) \
		$(ARCHIVE_LIBS) $(TEST_EXTRA_LIBS)
