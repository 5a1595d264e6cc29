"""Text tasks: NLTK corpora read in place from their zips, and tiny shakespeare (next character).

Documents become fixed-length int64 token ids: lower-cased word tokens (characters for ``names``), a
vocabulary of the training split's most frequent tokens (seen at least twice, at most ``VOCAB``), 0 for
padding and 1 for out-of-vocabulary tokens. Tiny shakespeare is cut into windows of ``CONTEXT`` characters
whose label is the next character (first 90% of the text for training, the last 10% for testing).

Example:
    >>> tokenize("Don't panic!")
    ['don', "'", 't', 'panic', '!']
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from traindx.errors import InputError
from traindx.experiments.tasks.base import Task, data_dir, encode_labels, split_fixed
from traindx.experiments.tasks.registry import TaskInfo

VOCAB = 5000
CONTEXT = 32
_TOKEN = re.compile(r"\w+|[^\w\s]")
# corpus -> (tokens per document, description, licence)
CORPORA = {
    "sentence_polarity": (40, "movie-review sentences, positive / negative", "CC BY 4.0"),
    "subjectivity": (40, "subjective / objective sentences", "CC BY 4.0"),
    "qc": (20, "TREC question classes, 6 coarse", "free use (Li & Roth 2002)"),
    "qc_fine": (20, "TREC question classes, 50 fine", "free use (Li & Roth 2002)"),
    "nps_chat": (20, "chat posts, 15 dialogue acts", "NPS Chat corpus terms"),
    "names": (15, "first names (characters) by gender", "free use"),
    "movie_reviews": (300, "movie reviews (documents), positive / negative", "by permission (Pang & Lee)"),
    "pros_cons": (30, "pros / cons sentences", "CC BY 4.0"),
}
_ZIPS = {"qc_fine": "qc"}


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens."""
    return _TOKEN.findall(text.lower())


def _lines(z: zipfile.ZipFile, member: str) -> list[str]:
    return [ln.strip() for ln in z.read(member).decode("utf-8", errors="replace").splitlines() if ln.strip()]


def read_corpus(name: str, path: str | Path) -> tuple[list, list, list | None, list | None]:
    """Documents and labels of an NLTK corpus zip (train, and test where the corpus has its own)."""
    docs, labels = [], []
    with zipfile.ZipFile(path) as z:
        root = _ZIPS.get(name, name)
        if name == "sentence_polarity":
            for lab in ("neg", "pos"):
                for ln in _lines(z, f"{root}/rt-polarity.{lab}"):
                    docs.append(ln)
                    labels.append(lab)
        elif name == "subjectivity":
            for lab, f in (("objective", "plot.tok.gt9.5000"), ("subjective", "quote.tok.gt9.5000")):
                for ln in _lines(z, f"{root}/{f}"):
                    docs.append(ln)
                    labels.append(lab)
        elif name in ("qc", "qc_fine"):
            split = {}
            for part in ("train", "test"):
                d, lab = [], []
                for ln in _lines(z, f"{root}/{part}.txt"):
                    tag, _, text = ln.partition(" ")
                    d.append(text)
                    lab.append(tag if name == "qc_fine" else tag.split(":")[0])
                split[part] = (d, lab)
            return (*split["train"], *split["test"])
        elif name == "nps_chat":
            post = re.compile(r'<Post class="([^"]+)"[^>]*>([^<]*)<')
            for member in sorted(n for n in z.namelist() if n.endswith(".xml")):
                for lab, text in post.findall(z.read(member).decode("utf-8", errors="replace")):
                    docs.append(text)
                    labels.append(lab)
        elif name == "names":
            for lab in ("female", "male"):
                for ln in _lines(z, f"{root}/{lab}.txt"):
                    docs.append(ln)
                    labels.append(lab)
        elif name == "movie_reviews":
            for member in sorted(z.namelist()):
                parts = member.split("/")
                if len(parts) == 3 and parts[1] in ("neg", "pos") and parts[2].endswith(".txt"):
                    docs.append(z.read(member).decode("utf-8", errors="replace"))
                    labels.append(parts[1])
        elif name == "pros_cons":
            tag = re.compile(r"<(Pros|Cons)>(.*?)</\1>")
            for f in ("IntegratedCons.txt", "IntegratedPros.txt"):
                raw = z.read(f"{root}/{f}").decode("latin-1")
                for lab, text in tag.findall(raw):
                    docs.append(text)
                    labels.append(lab.lower())
        else:
            raise InputError(f"unknown NLTK corpus {name!r}; known: {', '.join(CORPORA)}")
    return docs, labels, None, None


def encode_docs(
    train: list[list[str]], *others: list[list[str]], length: int
) -> tuple[list[np.ndarray], int]:
    """Token ids (n, length) of tokenised documents with a vocabulary from ``train``; returns the vocab size."""
    counts = Counter(t for doc in train for t in doc)
    vocab = {t: i + 2 for i, (t, c) in enumerate(counts.most_common(VOCAB)) if c >= 2}
    out = []
    for docs in (train, *others):
        ids = np.zeros((len(docs), length), dtype=np.int64)
        for i, doc in enumerate(docs):
            row = [vocab.get(t, 1) for t in doc[:length]]
            ids[i, : len(row)] = row
        out.append(ids)
    return out, len(vocab) + 2


def load_corpus(name: str, path: str | Path) -> Task:
    """A text task from an NLTK corpus zip."""
    length = CORPORA[name][0]
    d_tr, l_tr, d_te, l_te = read_corpus(name, path)
    tok = list if name == "names" else tokenize
    if d_te is None:
        y, classes = encode_labels(l_tr)
        idx_tr, y_tr, idx_te, y_te = split_fixed(np.arange(len(d_tr)), y)
        tr, te = [tok(d_tr[i].lower()) for i in idx_tr], [tok(d_tr[i].lower()) for i in idx_te]
    else:
        y, classes = encode_labels(l_tr + l_te)
        y_tr, y_te = y[: len(l_tr)], y[len(l_tr) :]
        tr, te = [tok(d) for d in d_tr], [tok(d) for d in d_te]
    (x_tr, x_te), vocab = encode_docs(tr, te, length=length)
    return Task(name, "text", x_tr, y_tr, x_te, y_te, len(classes), source=f"NLTK corpus {_ZIPS.get(name, name)}",
                classes=classes, vocab_size=vocab)  # fmt: skip


def load_shakespeare(path: str | Path, context: int = CONTEXT, stride: int = 16) -> Task:
    """Next-character windows of tiny shakespeare (65 characters)."""
    text = Path(path).read_text(encoding="utf-8")
    chars = sorted(set(text))
    lut = {c: i for i, c in enumerate(chars)}
    codes = np.fromiter((lut[c] for c in text), dtype=np.int64, count=len(text))
    cut = int(len(codes) * 0.9)

    def windows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        starts = np.arange(0, len(a) - context - 1, stride)
        x = a[starts[:, None] + np.arange(context)] + 2  # ids 0 and 1 stay padding / unknown
        return x, a[starts + context]

    x_tr, y_tr = windows(codes[:cut])
    x_te, y_te = windows(codes[cut:])
    return Task("tinyshakespeare", "text", x_tr, y_tr, x_te, y_te, len(chars), source="tiny shakespeare",
                classes=tuple(chars), vocab_size=len(chars) + 2)  # fmt: skip


def entries() -> list[TaskInfo]:
    root = data_dir(required=False)
    out = []
    for name, (_, desc, licence) in CORPORA.items():
        f = root / "nltk" / f"{_ZIPS.get(name, name)}.zip"
        if f.is_file():
            out.append(TaskInfo(name, "text", "nltk", lambda n=name, f=f: load_corpus(n, f), files=(f,),
                                licence=licence, description=desc))  # fmt: skip
    f = root / "text" / "tinyshakespeare.txt"
    if f.is_file():
        out.append(TaskInfo("tinyshakespeare", "text", "text", lambda: load_shakespeare(f), files=(f,),
                            licence="public domain", description="next character after 32 (65 classes)"))  # fmt: skip
    return out
