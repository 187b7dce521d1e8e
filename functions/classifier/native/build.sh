#!/bin/sh
# Builds libimgclf_unfilter.MACHINE.so (unfilter.c) into the directory given, default this
# one; MACHINE is `uname -m`, or TARGET_MACHINE with a cross compiler in CC. One definition of
# the flags, used by the Makefile (the dev venv), the Lambda's Dockerfile and the aarch64
# parity check (bench/litert_runtimes.py). GCC: the vector shuffles are its builtins.
# x86_64 targets x86-64-v2 (SSE4.1 blends, SSSE3 byte shuffles; every x86 Lambda host has it);
# aarch64 needs no flag, as NEON is part of its baseline.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
machine=${TARGET_MACHINE:-$(uname -m)}
case "$machine" in
    x86_64) arch="-march=x86-64-v2" ;;
    *) arch="" ;;
esac
library="$out/libimgclf_unfilter.$machine.so"
# Built beside, then renamed: a process loading it never sees half a file.
${CC:-cc} -O3 $arch -std=c11 -Wall -Wextra -Werror -shared -fPIC \
    -o "$library.$$.tmp" "$here/unfilter.c"
mv -f "$library.$$.tmp" "$library"
