#!/bin/sh
# Remove what the function never loads from an installed runtime layer (site-packages dir):
# LiteRT's GPU accelerator, tools and vendor delegates (Lambda has no GPU; the Interpreter
# runs on CPU with XNNPACK), test suites, and the f2py compiler front end.
# Used by the Dockerfile and by the runtime-layer test, so the tested layer is the shipped one.
set -eu
site="${1:?usage: prune_runtime.sh SITE_PACKAGES}"
rm -rf \
  "$site"/ai_edge_litert/libLiteRtWebGpuAccelerator.so \
  "$site"/ai_edge_litert/tools \
  "$site"/ai_edge_litert/vendors \
  "$site"/numpy/f2py \
  "$site"/numpy/_pyinstaller \
  "$site"/numpy/typing/tests
find "$site" -depth -type d -name tests -path "*/numpy/*" -exec rm -rf {} +
