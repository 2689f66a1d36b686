#!/usr/bin/env bash
# Fed to shellcheck by lint.test.ts: the unquoted expansion must be reported (SC2086).
# The main lint skips this folder.
target=$1
ls $target
