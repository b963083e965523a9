# smtp-script: the SMTP scenario tool of regress/scenarios (only the
# tests use it: not installed).
PROGRAMS	+= regress/smtp-script/smtp-script
regress/smtp-script/smtp-script: regress/smtp-script/smtp_script.o \
    regress/smtp-script/script_parse.o regress/smtp-script/script_io.o
