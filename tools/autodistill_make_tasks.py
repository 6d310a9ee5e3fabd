#!/usr/bin/env python3
"""autodistill-make-tasks: small GLUE-format tasks from real text nobody here wrote.

Sources (Debian packages, installed by scripts/setup.sh):
  bible-kjv   `bible -f Gen1:1-Rev22:21` prints the King James Bible, one verse a line
              ("Ge1:1 In the beginning ...").
  dict-gcide  /usr/share/dictd/gcide.{index,dict.dz}: the 1913 Webster's (GCIDE) in dictd format.

Tasks (docs/glue.md has each construction and its majority baseline):
  kjv-testament     single sentence (SST-2 layout): is a verse from the Old (0) or New (1) Testament?
  kjv-same-chapter  sentence pair (MRPC layout): are two verses from the same chapter (1), or
                    from two different books (0)?
  gcide-pos         single sentence: the part of speech (noun, verb, adjective, adverb) of the
                    headword a 1913 Webster's definition defines.
  gcide-headword    sentence pair (QNLI layout): does the definition belong to the headword
                    (entailment) or to another headword of the same part of speech?

Every task is balanced (the same number of examples per label), deterministic for a seed,
and split without leakage: by book for the KJV tasks (no book has verses in both splits), by
headword for the GCIDE tasks. Each task directory holds train.tsv, dev.tsv and task.json
(layout, labels, counts, the split, the majority baseline).

`--corpus FILE` writes the KJV as a pre-training corpus in BERT's convention: one verse a line,
a blank line between chapters (1,189 documents).

Python 3 standard library only.
"""

import argparse
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

BIBLE_RANGE = "Gen1:1-Rev22:21"
OLD_TESTAMENT_BOOKS = 39
GCIDE_DIR = "/usr/share/dictd"
TASKS = ("kjv-testament", "kjv-same-chapter", "gcide-pos", "gcide-headword")
DEV_SHARE = 0.2  # at least this share of the source text goes to the dev side of a split


class TaskError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Sources


def read_kjv(bible):
    """[(book, chapter, verse, text)] in canonical order, from the `bible` command."""
    try:
        run = subprocess.run([bible, "-f", BIBLE_RANGE], stdin=subprocess.DEVNULL,
                             capture_output=True, check=False, timeout=120)
    except FileNotFoundError:
        raise TaskError(f"{bible}: not found (install the Debian package bible-kjv: "
                        "scripts/setup.sh)")
    if run.returncode != 0:
        raise TaskError(f"{bible} failed ({run.returncode}): "
                        f"{run.stderr.decode(errors='replace').strip()}")
    verse = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.+)$")
    verses = []
    for number, line in enumerate(run.stdout.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = verse.match(line)
        if not m:
            raise TaskError(f"{bible} output line {number} is not 'BookC:V text': {line[:60]!r}")
        verses.append((m.group(1), int(m.group(2)), int(m.group(3)), m.group(4).strip()))
    books = list(dict.fromkeys(v[0] for v in verses))
    if len(books) != 66:
        raise TaskError(f"{bible} printed {len(books)} books, expected the 66 of the KJV")
    return verses


def kjv_books(verses):
    return list(dict.fromkeys(v[0] for v in verses))


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(text):
    value = 0
    for c in text:
        value = value * 64 + _B64.index(c)
    return value


_POS = {"n.": "noun", "v. t.": "verb", "v. i.": "verb", "v.": "verb", "a.": "adjective",
        "adv.": "adverb"}
_HEADER = re.compile(r"^(?P<hw>[A-Za-z][A-Za-z' -]*?) \\[^\\\n]*\\(?: \([^)\n]*\))?,\s+"
                     r"(?P<pos>[a-z]+\.(?:\s+[a-z]+\.)*)(?P<rest>.*)$", re.S)
_END = re.compile(r"\[(?:1913 Webster|WordNet|PJC|Webster 1913|Century)[^\]]*\]|\n\s*\n|\s2\.\s")
_CODE = re.compile(r"\[([^\]\s]{1,6})\]")


def _skip_brackets(text):
    """Drops leading [etymology] blocks (nested brackets) and (Domain.) labels."""
    while True:
        text = text.lstrip(" ;,\n")
        if text.startswith("["):
            depth = 0
            for i, c in enumerate(text):
                depth += c == "["
                depth -= c == "]"
                if depth == 0:
                    text = text[i + 1:]
                    break
            else:
                return ""
        elif re.match(r"^\([A-Z][^)\n]{0,30}\)", text):
            text = text[text.index(")") + 1:]
        elif re.match(r"^pl\.\s", text):  # "pl. {Cargoes}." after the part of speech
            m = re.match(r"^pl\.\s+[^.\[]*\.?", text)
            text = text[m.end():]
        else:
            return text


def _clean_definition(body):
    body = _skip_brackets(body)
    body = re.sub(r"^1\.\s+", "", body)
    body = _skip_brackets(body)
    m = _END.search(body)
    if m:
        body = body[:m.start()]
    body = re.sub(r"--[A-Z][^\n]*", " ", body)  # citations (--Shak.)
    body = re.sub(r"\s?\[[A-Z][^\]]*\]", "", body)  # labels: [Obs.], [R.], [Colloq.]
    body = _CODE.sub(lambda c: re.sub(r"[^A-Za-z0-9]", "", c.group(1)), body)
    body = body.replace("{", "").replace("}", "").replace("\t", " ")
    words = body.split()
    return " ".join(words[:40])


def read_gcide(directory):
    """[(headword, part of speech, definition)] for single-POS noun/verb/adjective/adverb entries."""
    index_path = os.path.join(directory, "gcide.index")
    dict_path = os.path.join(directory, "gcide.dict.dz")
    for path in (index_path, dict_path):
        if not os.path.exists(path):
            raise TaskError(f"{path}: not found (install the Debian package dict-gcide: "
                            "scripts/setup.sh)")
    with gzip.open(dict_path) as f:  # dictzip files are gzip files
        data = f.read()
    seen = set()
    entries = []
    with open(index_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3 or fields[0].startswith("00-"):
                continue
            offset, length = _b64(fields[1]), _b64(fields[2])
            if offset in seen:
                continue
            seen.add(offset)
            entry = data[offset:offset + length].decode("utf-8", errors="replace")
            m = _HEADER.match(entry)
            pos = " ".join(m.group("pos").split()) if m else None
            if pos not in _POS or m.group("rest").lstrip().startswith("&"):
                continue
            headword = m.group("hw").strip()
            definition = _clean_definition(m.group("rest"))
            if len(definition.split()) < 3 or headword.lower() in definition.lower().split():
                continue
            entries.append((headword, _POS[pos], definition))
    if len(entries) < 1000:
        raise TaskError(f"{directory}: only {len(entries)} usable GCIDE entries")
    return entries


# ---------------------------------------------------------------------------------------------
# Splits and sampling


def split_groups(groups, sizes, rng):
    """Shuffles `groups` and moves them to dev until dev holds DEV_SHARE of the total size."""
    order = sorted(groups)
    rng.shuffle(order)
    total = sum(sizes[g] for g in order)
    dev, held = set(), 0
    for g in order:
        if held >= DEV_SHARE * total:
            break
        dev.add(g)
        held += sizes[g]
    return dev


def sample(pool, n, rng, what):
    if len(pool) < n:
        raise TaskError(f"{what}: {len(pool)} candidates for {n} examples; ask for fewer")
    return rng.sample(pool, n)


def per_label(total, labels, what):
    n = total // len(labels)
    if n < 1:
        raise TaskError(f"{what}: {total} examples cannot cover {len(labels)} labels")
    return n


# ---------------------------------------------------------------------------------------------
# Tasks: each returns (train_rows, dev_rows, info) with rows as tuples of TSV fields.


def kjv_testament(verses, train, dev, rng):
    books = kjv_books(verses)
    testament = {b: int(i >= OLD_TESTAMENT_BOOKS) for i, b in enumerate(books)}
    sizes = {}
    for v in verses:
        sizes[v[0]] = sizes.get(v[0], 0) + 1
    dev_books = set()
    for label in (0, 1):  # split each testament by book
        dev_books |= split_groups([b for b in books if testament[b] == label], sizes, rng)
    rows = {"train": [], "dev": []}
    for split, total in (("train", train), ("dev", dev)):
        n = per_label(total, (0, 1), f"kjv-testament {split}")
        for label in (0, 1):
            pool = [v for v in verses if testament[v[0]] == label
                    and (v[0] in dev_books) == (split == "dev")]
            for v in sample(pool, n, rng, f"kjv-testament {split} label {label}"):
                rows[split].append((v[3], str(label)))
        rng.shuffle(rows[split])
    info = {
        "layout": "sst-2", "header": ["sentence", "label"], "text_columns": ["sentence"],
        "label_column": "label", "labels": ["0", "1"],
        "label_meaning": {"0": "Old Testament", "1": "New Testament"},
        "split": {"by": "book", "dev_books": [b for b in books if b in dev_books]},
        "construction": "One KJV verse; the label is its testament. Books are split between "
                        "train and dev per testament (seeded, at least 20% of each testament's "
                        "verses in dev books); each split samples the same number of verses "
                        "from each testament.",
    }
    return rows["train"], rows["dev"], info


def kjv_same_chapter(verses, train, dev, rng):
    books = kjv_books(verses)
    sizes = {}
    for v in verses:
        sizes[v[0]] = sizes.get(v[0], 0) + 1
    dev_books = split_groups(books, sizes, rng)
    rows = {"train": [], "dev": []}
    for split, total in (("train", train), ("dev", dev)):
        pool = [v for v in verses if (v[0] in dev_books) == (split == "dev")]
        chapters = {}
        for v in pool:
            chapters.setdefault((v[0], v[1]), []).append(v)
        keys = sorted(k for k, vs in chapters.items() if len(vs) >= 2)
        n = per_label(total, (0, 1), f"kjv-same-chapter {split}")
        seen = set()
        positives = 0
        while len(rows[split]) < 2 * n:
            label = 1 if positives < n else 0
            if label == 1:
                a, b = rng.sample(chapters[rng.choice(keys)], 2)
            else:
                a, b = rng.choice(pool), rng.choice(pool)
                if a[0] == b[0]:
                    continue
            key = tuple(sorted(((a[0], a[1], a[2]), (b[0], b[1], b[2]))))
            if key in seen:
                if len(seen) > 50 * n:
                    raise TaskError(f"kjv-same-chapter {split}: too few distinct pairs")
                continue
            seen.add(key)
            positives += label
            rows[split].append((str(label), f"{a[0]}{a[1]}:{a[2]}", f"{b[0]}{b[1]}:{b[2]}",
                                a[3], b[3]))
        rng.shuffle(rows[split])
    info = {
        "layout": "mrpc", "header": ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        "text_columns": ["#1 String", "#2 String"], "label_column": "Quality",
        "labels": ["0", "1"],
        "label_meaning": {"0": "the verses are from two different books",
                          "1": "the verses are from the same chapter"},
        "split": {"by": "book", "dev_books": [b for b in books if b in dev_books]},
        "construction": "Two KJV verses (IDs are their references). Positives: two distinct "
                        "verses of one chapter; negatives: two verses of different books. Books "
                        "are split between train and dev (seeded, at least 20% of the verses in "
                        "dev books), and both verses of a pair come from the same side.",
    }
    return rows["train"], rows["dev"], info


def _gcide_split(entries, rng):
    sizes = {}
    for e in entries:
        sizes[e[0].lower()] = sizes.get(e[0].lower(), 0) + 1
    return split_groups(list(sizes), sizes, rng)


GCIDE_POS = ("noun", "verb", "adjective", "adverb")


def gcide_pos(entries, train, dev, rng):
    dev_words = _gcide_split(entries, rng)
    rows = {"train": [], "dev": []}
    for split, total in (("train", train), ("dev", dev)):
        n = per_label(total, GCIDE_POS, f"gcide-pos {split}")
        for pos in GCIDE_POS:
            pool = sorted({e[2] for e in entries if e[1] == pos
                           and (e[0].lower() in dev_words) == (split == "dev")})
            for definition in sample(pool, n, rng, f"gcide-pos {split} {pos}"):
                rows[split].append((definition, pos))
        rng.shuffle(rows[split])
    info = {
        "layout": "sst-2", "header": ["sentence", "label"], "text_columns": ["sentence"],
        "label_column": "label", "labels": list(GCIDE_POS),
        "split": {"by": "headword (case-folded)", "dev_headwords": len(dev_words)},
        "construction": "The first sense of a GCIDE (1913 Webster's) entry whose header names "
                        "exactly one of n., v. t., v. i., v., a., adv. (etymology, domain labels "
                        "and citations removed, at most 40 words; entries whose definition "
                        "contains the headword are dropped); the label is the part of speech. "
                        "Headwords are split between train and dev (seeded, about 20% of the "
                        "entries in dev); every headword's entries stay on one side.",
    }
    return rows["train"], rows["dev"], info


def gcide_headword(entries, train, dev, rng):
    dev_words = _gcide_split(entries, rng)
    rows = {"train": [], "dev": []}
    for split, total in (("train", train), ("dev", dev)):
        side = [e for e in entries if (e[0].lower() in dev_words) == (split == "dev")]
        by_pos = {}
        for e in side:
            by_pos.setdefault(e[1], []).append(e)
        n = per_label(total, ("entailment", "not_entailment"), f"gcide-headword {split}")
        picked = sample(side, 2 * n, rng, f"gcide-headword {split}")
        for i, (headword, pos, definition) in enumerate(picked):
            if i % 2:  # a definition of another headword with the same part of speech
                while True:
                    other = rng.choice(by_pos[pos])
                    if other[0].lower() != headword.lower():
                        break
                definition, label = other[2], "not_entailment"
            else:
                label = "entailment"
            rows[split].append((headword, definition, label))
        rng.shuffle(rows[split])
        rows[split] = [(str(i),) + r for i, r in enumerate(rows[split])]
    info = {
        "layout": "qnli", "header": ["index", "question", "sentence", "label"],
        "text_columns": ["question", "sentence"], "label_column": "label",
        "labels": ["not_entailment", "entailment"],
        "label_meaning": {"entailment": "the definition is the headword's",
                          "not_entailment": "the definition is another headword's"},
        "split": {"by": "headword (case-folded)", "dev_headwords": len(dev_words)},
        "construction": "A GCIDE headword and a definition (as in gcide-pos): its own "
                        "(entailment) or that of another headword of the same part of speech "
                        "from the same split (not_entailment), half each. Headwords are split "
                        "between train and dev as in gcide-pos.",
    }
    return rows["train"], rows["dev"], info


BUILDERS = {"kjv-testament": kjv_testament, "kjv-same-chapter": kjv_same_chapter,
            "gcide-pos": gcide_pos, "gcide-headword": gcide_headword}


# ---------------------------------------------------------------------------------------------
# Output


def majority(train_rows, dev_rows, info):
    col = info["header"].index(info["label_column"])
    labels = info["labels"]
    counts = {label: 0 for label in labels}
    for r in train_rows:
        counts[r[col]] += 1
    top = max(labels, key=lambda label: (counts[label], -labels.index(label)))
    hits = sum(1 for r in dev_rows if r[col] == top)
    accuracy = hits / len(dev_rows)
    # F1 of always answering `top`: 2p/(1+p) for its class, 0 for the others.
    f1_top = 2 * accuracy / (1 + accuracy) if accuracy > 0 else 0.0
    result = {"label": top, "accuracy": round(accuracy, 6),
              "macro_f1": round(f1_top / len(labels), 6)}
    if len(labels) == 2:
        result["f1"] = round(f1_top if top == labels[1] else 0.0, 6)
    return result


def check_field(text, where):
    if "\t" in text or "\n" in text or "\r" in text:
        raise TaskError(f"{where}: a field holds a tab or newline")


def write_task(out, name, train_rows, dev_rows, info, seed, sources):
    final = os.path.join(out, name)
    tmp = tempfile.mkdtemp(prefix=f".{name}.", dir=out)
    try:
        for split, rows in (("train", train_rows), ("dev", dev_rows)):
            with open(os.path.join(tmp, f"{split}.tsv"), "w", encoding="utf-8", newline="\n") as f:
                f.write("\t".join(info["header"]) + "\n")
                for row in rows:
                    for field in row:
                        check_field(field, f"{name}/{split}.tsv")
                    f.write("\t".join(row) + "\n")
        col = info["header"].index(info["label_column"])
        counts = {split: {label: sum(1 for r in rows if r[col] == label) for label in info["labels"]}
                  for split, rows in (("train", train_rows), ("dev", dev_rows))}
        task = {"name": name, "format": "autodistill-glue-task", "version": 1, **info,
                "train_examples": len(train_rows), "dev_examples": len(dev_rows),
                "label_counts": counts, "majority_baseline": majority(train_rows, dev_rows, info),
                "seed": seed, "source": sources}
        with open(os.path.join(tmp, "task.json"), "w", encoding="utf-8") as f:
            json.dump(task, f, indent=1)
            f.write("\n")
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return task


def write_corpus(path, verses):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        previous = None
        for book, chapter, _, text in verses:
            if previous is not None and previous != (book, chapter):
                f.write("\n")
            previous = (book, chapter)
            f.write(text + "\n")
    os.replace(tmp, path)


def package_version(name):
    try:
        run = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                             check=False, timeout=30)
        return run.stdout.decode().strip() if run.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="autodistill-make-tasks",
        description="Builds small GLUE-format tasks (train.tsv, dev.tsv, task.json) from the "
                    "King James Bible (bible-kjv) and the 1913 Webster's (dict-gcide).")
    parser.add_argument("--out", help="output directory: one sub-directory per task")
    parser.add_argument("--tasks", default="all",
                        help="comma-separated task names or 'all' (%s)" % ", ".join(TASKS))
    parser.add_argument("--train", type=int, default=2000, help="training examples per task "
                        "(split evenly over the labels; default 2000)")
    parser.add_argument("--dev", type=int, default=400, help="dev examples per task (default 400)")
    parser.add_argument("--seed", type=int, default=0, help="split and sampling seed (default 0)")
    parser.add_argument("--corpus", help="also write the KJV as a pre-training corpus here")
    parser.add_argument("--bible", default="bible", help="the bible-kjv command (default bible)")
    parser.add_argument("--gcide", default=GCIDE_DIR, help=f"dict-gcide files (default {GCIDE_DIR})")
    args = parser.parse_args(argv)
    try:
        if not args.out and not args.corpus:
            raise TaskError("nothing to do: give --out and/or --corpus")
        names = list(TASKS) if args.tasks == "all" else [t.strip() for t in args.tasks.split(",")]
        for name in names:
            if name not in BUILDERS:
                raise TaskError(f"--tasks: unknown task {name!r} (known: {', '.join(TASKS)})")
        if args.train < 1 or args.dev < 1:
            raise TaskError("--train and --dev must be positive")
        verses = entries = None
        if args.corpus or (args.out and any(n.startswith("kjv-") for n in names)):
            verses = read_kjv(args.bible)
        if args.corpus:
            write_corpus(args.corpus, verses)
            print(f"{args.corpus}: {len(verses)} verses in "
                  f"{len({(v[0], v[1]) for v in verses})} chapters")
        if not args.out:
            return 0
        if any(n.startswith("gcide-") for n in names):
            entries = read_gcide(args.gcide)
        os.makedirs(args.out, exist_ok=True)
        for name in names:
            rng = random.Random(f"{args.seed}:{name}")  # str seeds hash stably (sha512)
            kjv = name.startswith("kjv-")
            source = verses if kjv else entries
            train_rows, dev_rows, info = BUILDERS[name](source, args.train, args.dev, rng)
            package = "bible-kjv" if kjv else "dict-gcide"
            sources = {"package": package, "version": package_version(package),
                       "input": f"{args.bible} -f {BIBLE_RANGE}" if kjv else args.gcide}
            task = write_task(args.out, name, train_rows, dev_rows, info, args.seed, sources)
            base = task["majority_baseline"]
            print(f"{name}: {task['train_examples']} train, {task['dev_examples']} dev, "
                  f"{len(task['labels'])} labels, majority baseline accuracy "
                  f"{base['accuracy']:.3f}")
    except TaskError as e:
        print(f"autodistill-make-tasks: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
