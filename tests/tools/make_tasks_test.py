#!/usr/bin/env python3
"""Tests of autodistill-make-tasks on the real sources (Debian's bible-kjv and dict-gcide).

Determinism (byte-identical output of two runs under different hash seeds), the GLUE TSV
format, balance, no leakage between train and dev (books, headwords, texts), the majority
baseline in task.json, the pre-training corpus, and clear errors. Usage:
    make_tasks_test.py TOOL
"""

import collections
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = None
TRAIN, DEV = 400, 120  # small: the test checks construction, not learnability


def run(*args, env=None):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          env=env, timeout=300)


def read_tsv(path):
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "", f"{path} must end with a newline"
    return [line.split("\t") for line in lines[:-1]]


def files_of(directory):
    out = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, directory)] = f.read()
    return out


class MakeTasksTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "a")
        cls.corpus = os.path.join(cls.tmp.name, "kjv.txt")
        env = dict(os.environ, PYTHONHASHSEED="1")
        r = run("--out", cls.out, "--train", str(TRAIN), "--dev", str(DEV), "--seed", "7",
                "--corpus", cls.corpus, env=env)
        if r.returncode != 0:
            raise AssertionError(f"make-tasks failed: {r.stderr}")
        cls.stdout = r.stdout
        cls.tasks = {}
        for name in ("kjv-testament", "kjv-same-chapter", "gcide-pos", "gcide-headword"):
            d = os.path.join(cls.out, name)
            with open(os.path.join(d, "task.json"), encoding="utf-8") as f:
                meta = json.load(f)
            cls.tasks[name] = (meta, read_tsv(os.path.join(d, "train.tsv")),
                               read_tsv(os.path.join(d, "dev.tsv")))
        # The KJV as verse text -> book, to check the book splits.
        cls.book_of = {}
        bible = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, check=True).stdout
        for line in bible.splitlines():
            ref, text = line.split(" ", 1)
            book = ref.rstrip("0123456789:")
            cls.book_of.setdefault(text.strip(), set()).add(book)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_deterministic_across_runs_and_hash_seeds(self):
        again = os.path.join(self.tmp.name, "b")
        env = dict(os.environ, PYTHONHASHSEED="2")
        r = run("--out", again, "--train", str(TRAIN), "--dev", str(DEV), "--seed", "7", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(files_of(self.out), files_of(again))
        other = os.path.join(self.tmp.name, "c")
        r = run("--out", other, "--tasks", "kjv-testament", "--train", str(TRAIN), "--dev",
                str(DEV), "--seed", "8")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(files_of(os.path.join(self.out, "kjv-testament")),
                            files_of(os.path.join(other, "kjv-testament")))

    def test_glue_format(self):
        headers = {"kjv-testament": ["sentence", "label"],
                   "kjv-same-chapter": ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                   "gcide-pos": ["sentence", "label"],
                   "gcide-headword": ["index", "question", "sentence", "label"]}
        for name, (meta, train, dev) in self.tasks.items():
            with self.subTest(task=name):
                self.assertEqual(meta["header"], headers[name])
                for rows in (train, dev):
                    self.assertEqual(rows[0], headers[name])
                    for row in rows[1:]:
                        self.assertEqual(len(row), len(headers[name]))
                        self.assertTrue(all(field.strip() for field in row), row)
                        self.assertIn(row[meta["header"].index(meta["label_column"])],
                                      meta["labels"])
                self.assertEqual(meta["train_examples"], len(train) - 1)
                self.assertEqual(meta["dev_examples"], len(dev) - 1)

    def test_balanced(self):
        for name, (meta, train, dev) in self.tasks.items():
            col = meta["header"].index(meta["label_column"])
            for split, rows, size in (("train", train, TRAIN), ("dev", dev, DEV)):
                with self.subTest(task=name, split=split):
                    counts = collections.Counter(r[col] for r in rows[1:])
                    per_label = size // len(meta["labels"])
                    self.assertEqual(dict(counts), {l: per_label for l in meta["labels"]})
                    self.assertEqual(meta["label_counts"][split], dict(counts))

    def test_majority_baseline_in_task_json(self):
        for name, (meta, train, dev) in self.tasks.items():
            with self.subTest(task=name):
                base = meta["majority_baseline"]
                col = meta["header"].index(meta["label_column"])
                hits = sum(1 for r in dev[1:] if r[col] == base["label"])
                self.assertAlmostEqual(base["accuracy"], hits / (len(dev) - 1), places=6)
                self.assertAlmostEqual(base["accuracy"], 1 / len(meta["labels"]), places=6)

    def test_kjv_splits_by_book(self):
        meta, train, dev = self.tasks["kjv-testament"]
        dev_books = set(meta["split"]["dev_books"])
        self.assertTrue(dev_books)
        for split, rows in (("train", train), ("dev", dev)):
            for text, _ in rows[1:]:
                books = self.book_of[text]
                if split == "dev":
                    self.assertTrue(books & dev_books, text)
                else:
                    self.assertFalse(books <= dev_books, text)
        train_texts = {r[0] for r in train[1:]}
        self.assertFalse(train_texts & {r[0] for r in dev[1:]})
        meta, train, dev = self.tasks["kjv-same-chapter"]
        dev_books = set(meta["split"]["dev_books"])
        for split, rows in (("train", train), ("dev", dev)):
            for label, id1, id2, _, _ in rows[1:]:
                book1, book2 = id1.rstrip("0123456789:"), id2.rstrip("0123456789:")
                chapter1, chapter2 = id1.split(":")[0], id2.split(":")[0]
                self.assertEqual(book1 in dev_books, split == "dev")
                self.assertEqual(book2 in dev_books, split == "dev")
                self.assertNotEqual(id1, id2)
                if label == "1":
                    self.assertEqual(chapter1, chapter2)
                else:
                    self.assertNotEqual(book1, book2)

    def test_testament_labels(self):
        meta, train, dev = self.tasks["kjv-testament"]
        new_testament = {"Mat", "Mark", "Luke", "John", "Acts", "Rom", "1Cor", "2Cor", "Gal",
                         "Eph", "Phi", "Col", "1Th", "2Th", "1Tim", "2Tim", "Titus", "Phmn",
                         "Heb", "Jas", "1Pet", "2Pet", "1Jn", "2Jn", "3Jn", "Jude", "Rev"}
        for text, label in train[1:] + dev[1:]:
            books = self.book_of[text]
            expected = {"1" if b in new_testament else "0" for b in books}
            self.assertIn(label, expected, text)

    def test_gcide_splits_by_headword(self):
        meta, train, dev = self.tasks["gcide-headword"]
        train_words = {r[1].lower() for r in train[1:]}
        dev_words = {r[1].lower() for r in dev[1:]}
        self.assertFalse(train_words & dev_words)
        for name in ("gcide-pos", "gcide-headword"):
            meta, train, dev = self.tasks[name]
            col = meta["header"].index("sentence")
            with self.subTest(task=name):
                self.assertFalse({r[col] for r in train[1:]} & {r[col] for r in dev[1:]})

    def test_corpus(self):
        with open(self.corpus, encoding="utf-8") as f:
            documents = f.read().rstrip("\n").split("\n\n")
        self.assertEqual(len(documents), 1189)  # chapters
        self.assertEqual(sum(len(d.split("\n")) for d in documents), 31102)  # verses
        self.assertTrue(documents[0].startswith("In the beginning God created"))

    def test_errors(self):
        r = run("--out", os.path.join(self.tmp.name, "e"), "--tasks", "kjv-testament",
                "--train", "100000")
        self.assertEqual(r.returncode, 2)
        self.assertIn("ask for fewer", r.stderr)
        r = run("--out", os.path.join(self.tmp.name, "e"), "--tasks", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown task 'nope'", r.stderr)
        r = run("--out", os.path.join(self.tmp.name, "e"), "--tasks", "kjv-testament",
                "--bible", "/nonexistent/bible")
        self.assertEqual(r.returncode, 2)
        self.assertIn("bible-kjv", r.stderr)
        r = run()
        self.assertEqual(r.returncode, 2)
        # No half-written task directory is left behind.
        leftovers = [n for n in os.listdir(os.path.join(self.tmp.name, "e")) if n.startswith(".")]
        self.assertEqual(leftovers, [])


if __name__ == "__main__":
    TOOL = sys.argv.pop(1)
    unittest.main(verbosity=2)
