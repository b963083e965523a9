# Fake helper programs the unit tests spawn (see regress/unit/helper_test.h).
PROGRAMS += regress/unit/helper_echo regress/unit/helper_raw
regress/unit/helper_echo: regress/unit/helper_echo.o $(LIBAPI)
regress/unit/helper_raw: regress/unit/helper_raw.o $(LIBAPI)
# The tests that spawn them need them built first.
regress/unit/test_imsgproc regress/unit/test_helper: \
    regress/unit/helper_echo regress/unit/helper_raw
