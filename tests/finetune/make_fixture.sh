#!/usr/bin/env bash
# The ctest fixture finetune_real_text: small GLUE tasks from the real text of
# Debian's bible-kjv and dict-gcide, and a tiny BERT teacher pre-trained on
# the King James Bible with a WordPiece vocabulary learned from it, made by
# the project's own tools (autodistill-make-tasks, autodistill-make-teacher).
# Built once per build directory, atomically.
#   make_fixture.sh TOOLS_DIR OUT_DIR
set -euo pipefail
tools=$1
out=$2
if [[ -f "$out/teacher/model.safetensors" ]]; then
  echo "$out: already built"
  exit 0
fi
tmp="$out.tmp-$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp"
python3 "$tools/autodistill-make-tasks" --out "$tmp/tasks" --tasks kjv-testament,gcide-pos \
  --train 1600 --dev 400 --seed 0 --corpus "$tmp/kjv.txt"
"$tools/autodistill-make-teacher" --corpus "$tmp/kjv.txt" --out "$tmp/teacher" --vocab-size 3000 \
  --layers 2 --hidden 64 --heads 4 --intermediate 128 --positions 64 --seq-len 64 --steps 300 \
  --seed 0 --threads 1
rm -f "$tmp/teacher/corpus.txt"
cat "$tmp/teacher/report.json"
mv -T "$tmp" "$out" 2>/dev/null || true  # another process may have finished first
