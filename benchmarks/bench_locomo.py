"""LoCoMo turn-level evidence recall: BM25-only, dense-only and hybrid retrieval side by side.

Run: ``python benchmarks/bench_locomo.py [--embedder local|hash] [--ablation] [--dated]
[--url URL | --postgres] [--off-topic [--floors 0,0.5]] [--extractor offline]
[--split all|dev|held-out]``.
Reads ``MEMORI_LOCOMO_PATH`` or ``../shared/data/locomo/locomo-dev.json`` (skips with a
message when absent; with a full ``locomo10.json``, ``--split held-out`` asks only the
five conversations the defaults were not tuned on), ingests each conversation's turns
through the public API (one entity per conversation, one session per LoCoMo session,
each turn with its speaker and session date; no extraction), asks every question with
``Memori.recall`` and scores the retrieved turns against the gold evidence ids. Prints
tables and writes ``benchmarks/results/locomo.json``.

``--extractor offline`` also extracts memories from the recorded turns (the worker, as an
application runs it); a memory hit then counts as its source turns at its rank. Writes
``locomo_extracted.json``.

``--off-topic`` measures the relevance floor instead: each conversation is asked, as the
LLM path asks (15 hits recalled, the block showing at most 10), (a) its own questions
(recall@10 of the hits the block shows), (b) the questions of the
other conversations of the split and (c) the general-knowledge questions of
``off_topic_questions.txt``; for each it reports the share of calls whose context block
would be empty (nothing injected) and the mean tokens injected, for each floor of
``--floors``. Writes ``benchmarks/results/locomo_off_topic.json`` (``_<backend>`` before
``.json`` with ``--url`` or ``--postgres``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    CACHE_DIR,
    REPO_ROOT,
    RESULTS_DIR,
    DiskCachedEmbedder,
    latency_summary,
    machine_info,
    print_table,
    write_result,
)

from memori import Memori
from memori.core import Capability, Embedder, Hit, Scope, Turn
from memori.llm.context import build_block
from memori.llm.engine import recall_depth
from memori.retrieval import MIN_RELEVANCE, HybridRetriever, count_tokens, default_weights
from memori.retrieval.query import content_words

# The data set (CC BY-NC 4.0) is read at run time from outside the repository.

ENV_VAR = "MEMORI_LOCOMO_PATH"
DEFAULT_PATH = REPO_ROOT.parent / "shared" / "data" / "locomo" / "locomo-dev.json"

DEV_SPLIT = frozenset({"conv-26", "conv-30", "conv-41", "conv-42", "conv-43"})
"""The conversations of the dev split: the retriever and the extractor were tuned on these.
The other five of ``locomo10.json`` are held out (``--split held-out``)."""
SPLITS = ("all", "dev", "held-out")

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop",
              5: "adversarial"}

_SESSION = re.compile(r"^session_(\d+)$")
_EVIDENCE_ID = re.compile(r"D:?(\d+):(\d+)")


@dataclass(frozen=True)
class DialogueTurn:
    """One turn as the harness records it."""

    dia_id: str
    speaker: str
    text: str
    caption: str | None


@dataclass(frozen=True)
class Session:
    number: int
    date: str
    timestamp: float
    turns: tuple[DialogueTurn, ...]


@dataclass(frozen=True)
class Question:
    conversation: str
    text: str
    evidence: frozenset[str]
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...]

    @property
    def dia_ids(self) -> frozenset[str]:
        return frozenset(t.dia_id for s in self.sessions for t in s.turns)


def data_path() -> Path:
    """Where the data set is read from (the environment variable wins)."""
    value = os.environ.get(ENV_VAR)
    return Path(value).expanduser() if value else DEFAULT_PATH


def parse_date(text: str) -> float:
    """A LoCoMo session date ("1:56 pm on 8 May, 2023") as a UTC epoch timestamp."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(
        tzinfo=timezone.utc
    ).timestamp()


def load(path: Path) -> list[Conversation]:
    """Parse the data set at ``path`` into conversations with their questions."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [_conversation(item) for item in raw]


def of_split(conversations: Sequence[Conversation], split: str) -> list[Conversation]:
    """The conversations of ``split``: ``all`` of the file, the ``dev`` split's, or those
    ``held-out`` from it (a full ``locomo10.json`` holds both)."""
    if split not in SPLITS:
        raise ValueError(f"split is one of {SPLITS}, got {split!r}")
    if split == "all":
        return list(conversations)
    dev = split == "dev"
    return [c for c in conversations if (c.sample_id in DEV_SPLIT) == dev]


def split_or_skip(path: Path, split: str) -> list[Conversation]:
    """The conversations of ``split`` in the data file at ``path``; none, after printing
    ``SKIP:`` and why, when the file is absent or holds none of that split."""
    if not path.is_file():
        print(f"SKIP: LoCoMo data not found at {path} (set {ENV_VAR} to its path)")
        return []
    conversations = of_split(load(path), split)
    if not conversations:
        print(f"SKIP: {path.name} holds no conversation of the {split} split")
    return conversations


def split_suffix(sample_ids: Iterable[str]) -> str:
    """What a result file's name adds for these conversations: nothing for the dev split
    (the figures the docs cite), ``_heldout`` for the other five, ``_full`` for all ten
    (or any other set)."""
    ids = set(sample_ids)
    if ids == DEV_SPLIT:
        return ""
    return "_heldout" if not ids & DEV_SPLIT else "_full"


def _conversation(item: dict[str, object]) -> Conversation:
    conv = item["conversation"]
    assert isinstance(conv, dict)
    sessions = []
    for key, turns in conv.items():
        match = _SESSION.match(key)
        if match is None or not turns:
            continue
        number = int(match.group(1))
        date = str(conv[f"{key}_date_time"])
        sessions.append(Session(
            number, date, parse_date(date),
            tuple(DialogueTurn(normal_id(str(t["dia_id"])), str(t["speaker"]), str(t["text"]),
                               t.get("blip_caption")) for t in turns),
        ))
    sessions.sort(key=lambda s: s.number)
    sample_id = str(item["sample_id"])
    qa = item["qa"]
    assert isinstance(qa, list)
    questions = tuple(
        Question(sample_id, str(q["question"]), _evidence(q.get("evidence", [])),
                 int(q["category"]))
        for q in qa
    )
    return Conversation(sample_id, (str(conv["speaker_a"]), str(conv["speaker_b"])),
                        tuple(sessions), questions)


def _evidence(values: object) -> frozenset[str]:
    """Evidence ids; a few entries hold several ids ("D8:6; D9:17"), a stray colon or a
    leading zero ("D30:05"): all normalised as the turns' ids are."""
    ids: set[str] = set()
    for value in values if isinstance(values, list) else []:
        ids.update(f"D{int(s)}:{int(t)}" for s, t in _EVIDENCE_ID.findall(str(value)))
    return frozenset(ids)


def normal_id(dia_id: str) -> str:
    """``D30:05`` -> ``D30:5``: one spelling per turn (ids that do not parse are kept)."""
    found = _EVIDENCE_ID.fullmatch(dia_id.strip())
    return dia_id if found is None else f"D{int(found.group(1))}:{int(found.group(2))}"


def turn_content(turn: DialogueTurn, date: str | None = None) -> str:
    """What the harness records as the turn's content: "speaker: text [shares caption]".

    With ``date`` (the ``--dated`` experiment) the session's day leads: "[8 May, 2023] ...".
    """
    text = f"{turn.speaker}: {turn.text}"
    if turn.caption:
        text += f" [shares {turn.caption}]"
    if date:
        text = f"[{date.split(' on ')[-1]}] {text}"
    return text


# The benchmark

KS = (1, 5, 10, 25, 50)
DEPTH = max(KS)
DEFAULT_BUDGET = 1000
"""The facade's default token budget for the injected context."""

RetrieverFactory = Callable[[Embedder | None, Conversation], HybridRetriever]


@dataclass(frozen=True)
class Variant:
    """A named retriever configuration; the factory sees the conversation being asked."""

    name: str
    description: str
    factory: RetrieverFactory
    limit: int = DEPTH
    """Hits asked per question: recall@k beyond it is recall@limit."""


@dataclass
class Run:
    """The ranked evidence ids of every question for one retriever configuration."""

    name: str
    ranked: list[list[str]] = field(default_factory=list)
    tokens_top10: list[int] = field(default_factory=list)
    block_tokens: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)


TEXT_ONLY = {"memory_text": 1.0, "turn_text": 1.0}
DENSE_ONLY = {"memory_vector": 1.0, "turn_vector": 1.0}


def plain(embedder: Embedder | None, weights: dict[str, float], k: int = 5) -> HybridRetriever:
    """The bare searches: the query as asked, no conversation context, no recency."""
    return HybridRetriever(embedder=embedder, weights=weights, rrf_k=k,
                           query_processor=None, context_window=0, overlap_weight=0.0)


def main_variants(native_fusion: bool = False) -> list[Variant]:
    """The three configurations the report shows side by side (plus the store's own
    text+vector fusion when it has one)."""
    variants = [
        Variant("bm25", "the store's BM25 text search on the question as asked",
                lambda emb, conv: plain(None, TEXT_ONLY)),
        Variant("dense", "cosine over the embedder's turn vectors",
                lambda emb, conv: plain(emb, DENSE_ONLY)),
        Variant("hybrid", "the default HybridRetriever",
                lambda emb, conv: HybridRetriever(embedder=emb)),
    ]
    if native_fusion:
        variants.append(Variant(
            "hybrid (native fusion)", "the default with the store's own text+vector fusion",
            lambda emb, conv: HybridRetriever(embedder=emb, native_fusion=True)))
    return variants


def ablation_variants() -> list[Variant]:
    """Each idea of the default retriever switched on (or off) one at a time; the rows
    that build up to the default come before word coverage (``overlap_weight=0``)."""
    hybrid = functools.partial(HybridRetriever, overlap_weight=0.0)
    textbook = {"memory_text": 1.0, "memory_vector": 1.0, "turn_text": 1.0,
                "turn_vector": 1.0}
    return [
        Variant("bm25 + content words", "stopwords dropped from the text query",
                lambda e, c: hybrid(weights=TEXT_ONLY, context_window=0,
                                    query_processor=_content_words)),
        Variant("bm25 + content words + inflections", "the default text query",
                lambda e, c: hybrid(weights=TEXT_ONLY, context_window=0)),
        Variant("bm25 + query + context", "text only, with conversation context",
                lambda e, c: hybrid(weights=TEXT_ONLY)),
        Variant("dense + context", "dense only, with conversation context",
                lambda e, c: hybrid(embedder=e, weights=DENSE_ONLY)),
        Variant("hybrid, textbook RRF", "k=60, equal weights, raw query, no context",
                lambda e, c: plain(e, textbook, k=60)),
        Variant("hybrid, textbook RRF + query", "k=60, equal weights, no context",
                lambda e, c: hybrid(embedder=e, weights=textbook, rrf_k=60,
                                    context_window=0)),
        Variant("hybrid, tuned RRF + query", "k=5, text 1.5 / dense 1.0, no context",
                lambda e, c: hybrid(embedder=e, context_window=0)),
        Variant("hybrid + context window 1", "neighbours at distance 1 only",
                lambda e, c: hybrid(embedder=e, context_window=1)),
        Variant("hybrid, context seeds 5", "5 seeds instead of 10",
                lambda e, c: hybrid(embedder=e, context_seeds=5)),
        Variant("hybrid without word coverage", "the default with overlap_weight=0",
                lambda e, c: hybrid(embedder=e)),
        Variant("hybrid without the answer lean", "the default with context_answer_weight=1: "
                "the turn after a question lent no more than the turn before it",
                lambda e, c: HybridRetriever(embedder=e, context_answer_weight=1.0)),
        Variant("hybrid without the time asked about", "the default with weight 0 for "
                "'when' (a date the question names)",
                lambda e, c: HybridRetriever(
                    embedder=e, weights={**default_weights(), "when": 0.0})),
        Variant("hybrid, 100 candidates", "each search 100 deep instead of 50 (the depth "
                "is at least the 50 hits asked)",
                lambda e, c: HybridRetriever(embedder=e, candidates=100)),
        Variant("hybrid, limit 10", "10 hits asked, as the LLM path asks (each search 20 "
                "deep, the default)", lambda e, c: HybridRetriever(embedder=e), limit=10),
        Variant("hybrid, limit 10, 50 candidates", "10 hits asked, each search 50 deep",
                lambda e, c: HybridRetriever(embedder=e, candidates=50), limit=10),
        Variant("hybrid, no recency", "recency weight 0",
                lambda e, c: HybridRetriever(
                    embedder=e, weights={**default_weights(), "recency": 0.0})),
        Variant("hybrid, recency at the conversation's end",
                "clock set to the last session date, so recency acts on this data",
                lambda e, c: HybridRetriever(embedder=e, clock=_clock_at_end(c))),
    ]


def _content_words(text: str) -> str:
    return " ".join(content_words(text))


def _clock_at_end(conv: Conversation) -> Callable[[], float]:
    end = max(s.timestamp for s in conv.sessions) + 86_400.0
    return lambda: end


def make_embedder(name: str, cache: bool) -> Embedder:
    from memori.embedders import HashEmbedder, LocalEmbedder

    inner: Embedder = (LocalEmbedder(warm_start=False) if name == "local"  # int8 only
                       else HashEmbedder(dim=256))
    return DiskCachedEmbedder(inner, CACHE_DIR / "embeddings.sqlite3") if cache else inner


def ingest(mem: Memori, conversations: Sequence[Conversation], dated: bool = False) -> float:
    """Record every turn through the public API; returns the seconds until flushed."""
    start = time.perf_counter()
    for conv in conversations:
        for session in conv.sessions:
            mem.attribution(entity_id=conv.sample_id, session_id=f"session_{session.number}")
            scope = mem.scope()
            turns = [
                Turn(
                    entity_id=scope.entity_id, session_id=str(scope.session_id), role="user",
                    content=turn_content(t, session.date if dated else None),
                    created_at=session.timestamp + 30.0 * i,
                    metadata={"speaker": t.speaker, "dia_id": t.dia_id, "date": session.date},
                )
                for i, t in enumerate(session.turns)
            ]
            mem.record(turns)
    mem.flush()
    return time.perf_counter() - start


MEMORY_SOURCES: dict[str, str] = {}
"""With ``--extractor``: the dia id of each recorded turn, by turn id (memory hits)."""


def evidence_of(hits: Sequence[Hit]) -> list[str]:
    """The turn hits in rank order, each as ``conversation/dia_id``: turn ids repeat in
    every conversation (``D1:3``), so a hit from another conversation (a leak) can never
    count as the right one. A memory hit stands for its source turns (``--extractor``)."""
    out: list[str] = []
    for h in hits:
        if h.kind == "turn":
            out.append(evidence_key(h.item.entity_id, str(h.item.metadata.get("dia_id"))))
        elif h.kind == "memory" and MEMORY_SOURCES:
            out.extend(evidence_key(h.item.entity_id, MEMORY_SOURCES[t])
                       for t in getattr(h.item, "source_turn_ids", ()) if t in MEMORY_SOURCES)
    return list(dict.fromkeys(out))


def note_sources(mem: Memori, conversations: Sequence[Conversation]) -> None:
    """Fill :data:`MEMORY_SOURCES` from the recorded turns."""
    for conv in conversations:
        MEMORY_SOURCES.update((t.id, str(t.metadata.get("dia_id")))
                              for t in mem.store.list_turns(Scope(conv.sample_id)))


def evidence_key(conversation: str, dia_id: str) -> str:
    return f"{conversation}/{normal_id(dia_id)}"


def gold_of(q: Question) -> frozenset[str]:
    return frozenset(evidence_key(q.conversation, e) for e in q.evidence)


def run_questions(
    mem: Memori, variant: Variant, conversations: Sequence[Conversation],
) -> tuple[Run, list[Question]]:
    """Ask every question of every conversation; the answers' evidence ids in rank order."""
    run = Run(variant.name)
    questions: list[Question] = []
    for conv in conversations:
        mem.retriever = variant.factory(mem.embedder, conv)
        for q in conv.questions:
            questions.append(q)
            run_one(mem, run, q, variant.limit)
    return run, questions


def run_one(mem: Memori, run: Run, q: Question, limit: int = DEPTH) -> None:
    """Recall for one question and record what it returned and cost."""
    start = time.perf_counter()
    hits = mem.recall(q.text, limit=limit, entity_id=q.conversation)
    run.latency_ms.append((time.perf_counter() - start) * 1000.0)
    run.ranked.append(evidence_of(hits))
    run.tokens_top10.append(sum(count_tokens(h.content) for h in hits[:10]))
    block = build_block(hits[:10], [], budget=DEFAULT_BUDGET)
    run.block_tokens.append(block.tokens if block else 0)


def recall_at(ranked: Sequence[str], gold: frozenset[str], k: int) -> float:
    return len(gold.intersection(ranked[:k])) / len(gold)


def score(run: Run, questions: Sequence[Question]) -> dict[str, Any]:
    """Recall@k overall and by category, over the questions that have evidence."""
    groups: dict[str, list[int]] = {"all": []}
    for i, q in enumerate(questions):
        if q.evidence:
            groups["all"].append(i)
            groups.setdefault(CATEGORIES[q.category], []).append(i)
    out: dict[str, Any] = {}
    for group, idx in groups.items():
        out[group] = {"questions": len(idx)} | {
            f"R@{k}": round(100.0 * sum(
                recall_at(run.ranked[i], gold_of(questions[i]), k) for i in idx
            ) / len(idx), 2)
            for k in KS
        }
    # hits of another conversation: a cross-entity leak (must stay 0)
    out["all"]["foreign_hits"] = sum(
        not key.startswith(f"{q.conversation}/")
        for q, ranked in zip(questions, run.ranked, strict=True) for key in ranked)
    return out


def run_variants(
    mem: Memori, variants: Sequence[Variant], conversations: Sequence[Conversation],
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for variant in variants:
        run, questions = run_questions(mem, variant, conversations)
        results[variant.name] = {
            "description": variant.description,
            "recall": score(run, questions),
            "tokens_top10": _mean(run.tokens_top10),
            "context_block_tokens": _mean(run.block_tokens),
            "recall_latency": latency_summary(run.latency_ms),
        }
    return results


def _mean(values: Sequence[int]) -> float:
    return round(sum(values) / max(len(values), 1), 1)


# The relevance floor: what is injected for questions about something else

OFF_TOPIC_FILE = Path(__file__).resolve().parent / "off_topic_questions.txt"
LLM_LIMIT = 10
"""Hits the LLM path asks for (``Memori.recall_limit``'s default)."""


def off_topic_questions(path: Path = OFF_TOPIC_FILE) -> list[str]:
    """The general-knowledge questions, one a line (``#`` starts a comment line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def injected(mem: Memori, question: str, entity: str) -> tuple[list[Hit], int]:
    """The hits the LLM path would show the model for ``question`` and the tokens of the
    block it would inject (0: no block), the question being the request's message.

    The retriever is called as the LLM path calls it (``recall_depth`` hits, so its own
    floor applies: ``Memori.recall`` ranks everything unless given ``min_relevance``),
    and the hits are those the block shows, at most ``LLM_LIMIT``: the block leaves out
    what says nothing (the user's own questions, acknowledgements), which the recall
    figures therefore do not count either."""
    hits = mem.retriever.retrieve(mem.store, Scope(entity), question,
                                  limit=recall_depth(LLM_LIMIT))
    block = build_block(hits, [], budget=DEFAULT_BUDGET, exclude=[question],
                        max_hits=LLM_LIMIT)
    return (list(block.shown), block.tokens) if block else ([], 0)


def run_off_topic(
    mem: Memori, conversations: Sequence[Conversation], floors: Sequence[float],
    general: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """Per floor: recall@10 and injection of each conversation's own questions, of the
    other conversations' questions and of the general-knowledge questions."""
    results: dict[str, dict[str, Any]] = {}
    for floor in floors:
        mem.retriever = HybridRetriever(embedder=mem.embedder, min_relevance=floor)
        own = Run(f"floor {floor}")
        own_questions: list[Question] = []
        tokens: dict[str, list[int]] = {"own": [], "other": [], "off_topic": []}
        for conv in conversations:
            for q in conv.questions:
                hits, used = injected(mem, q.text, conv.sample_id)
                own.ranked.append(evidence_of(hits))
                own_questions.append(q)
                tokens["own"].append(used)
            for other in conversations:
                if other is not conv:
                    tokens["other"].extend(injected(mem, q.text, conv.sample_id)[1]
                                           for q in other.questions)
            tokens["off_topic"].extend(injected(mem, text, conv.sample_id)[1]
                                       for text in general)
        results[f"{floor:g}"] = {
            "min_relevance": floor,
            "recall": score(own, own_questions),
            **{kind: {"calls": len(values),
                      "nothing_injected_pct": round(
                          100.0 * sum(v == 0 for v in values) / max(len(values), 1), 1),
                      "mean_tokens": _mean(values)}
               for kind, values in tokens.items()},
        }
    return results


def print_off_topic(results: dict[str, dict[str, Any]]) -> None:
    rows = [[floor, res["recall"]["all"]["R@10"],
             *(x for kind in ("own", "other", "off_topic")
               for x in (res[kind]["nothing_injected_pct"], res[kind]["mean_tokens"]))]
            for floor, res in results.items()]
    print_table(["min_relevance", "R@10 own", "own: none %", "own: tok",
                 "other conv: none %", "other conv: tok", "off-topic: none %",
                 "off-topic: tok"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", choices=("local", "hash"), default="local")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the on-disk embedding cache")
    parser.add_argument("--ablation", action="store_true",
                        help="also run each idea of the default retriever on its own")
    parser.add_argument("--dated", action="store_true",
                        help="experiment: each turn's content starts with its session's day")
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--postgres", action="store_true",
                        help="use MEMORI_TEST_POSTGRES_URL or a throwaway bundled PostgreSQL")
    parser.add_argument("--variants", help="names of the variants to run, separated by '|'")
    parser.add_argument("--off-topic", action="store_true",
                        help="measure the relevance floor (own, other conversations' and "
                             "general-knowledge questions) instead of the recall tables")
    parser.add_argument("--floors", default=f"0,{MIN_RELEVANCE:g}",
                        help="with --off-topic: the min_relevance values compared, "
                             "separated by commas (default: 0 and the default floor)")
    parser.add_argument("--extractor", choices=("none", "offline"), default="none",
                        help="also extract memories from the turns (default: none)")
    parser.add_argument("--split", choices=SPLITS, default="all",
                        help="the conversations asked: all those of the file (default), "
                             "the dev split's, or the others (a full locomo10.json holds "
                             "both); results of other than the dev split are written with "
                             "_heldout or _full before .json")
    parser.add_argument("--output", type=Path, default=None,
                        help="default results/locomo.json (locomo_dated.json with --dated, "
                             "locomo_<backend>.json with --url or --postgres, "
                             "locomo_hash.json with "
                             "--embedder hash)")
    args = parser.parse_args()

    path = data_path()
    conversations = split_or_skip(path, args.split)
    if not conversations:
        return 0
    questions = [q for c in conversations for q in c.questions]
    embedder = make_embedder(args.embedder, cache=not args.no_cache)
    with tempfile.TemporaryDirectory(prefix="memori-locomo-") as tmp, \
            store_url(args, Path(tmp)) as url:
        extractor = None if args.extractor == "none" else args.extractor
        mem = Memori(url, embedder=embedder, extractor=extractor)
        try:
            ingest_s = ingest(mem, conversations, dated=args.dated)
            if extractor is not None:
                note_sources(mem, conversations)
            if args.off_topic:
                floors = [float(f) for f in args.floors.split(",") if f.strip()]
                general = off_topic_questions()
                study = run_off_topic(mem, conversations, floors, general)
                backend = mem.store.name
                return report_off_topic(args, path, conversations, embedder, backend,
                                        ingest_s, study, len(general))
            fuses = Capability.HYBRID_FUSION in mem.store.capabilities
            results = run_variants(mem, chosen(main_variants(fuses), args.variants),
                                   conversations)
            ablation = (run_variants(mem, chosen(ablation_variants(), args.variants),
                                     conversations) if args.ablation else {})
            backend = mem.store.name
            memories = sum(len(mem.store.list_memories(Scope(c.sample_id)))
                           for c in conversations)
        finally:
            mem.close()
    report = {
        "benchmark": "locomo-turn-retrieval",
        "data": path.name,
        "split": args.split,
        "conversations": len(conversations),
        "conversation_ids": [c.sample_id for c in conversations],
        "turns": sum(len(s.turns) for c in conversations for s in c.sessions),
        "questions": len(questions),
        "backend": backend,
        "embedder": embedder.name,
        "extraction": ("none (turns only)" if args.extractor == "none" else
                       f"{args.extractor} (memories count as their source turns)"),
        "memories": memories,
        "turn_content": "[session day] speaker: text" if args.dated else "speaker: text",
        "ingest_seconds": round(ingest_s, 2),
        "results": results,
        "ablation": ablation,
        "machine": machine_info(),
    }
    print_report(report)
    other = args.url or args.postgres
    name = ("locomo" + ("_dated" if args.dated else "") + (f"_{backend}" if other else "")
            + ("" if args.extractor == "none" else "_extracted")
            + ("" if args.embedder == "local" else f"_{args.embedder}")
            + split_suffix(c.sample_id for c in conversations))
    output = args.output or RESULTS_DIR / f"{name}.json"
    write_result(output, report)
    print(f"written to {output.name}")
    return 0


def report_off_topic(
    args: argparse.Namespace, path: Path, conversations: Sequence[Conversation],
    embedder: Embedder, backend: str, ingest_s: float, study: dict[str, dict[str, Any]],
    general: int,
) -> int:
    report = {
        "benchmark": "locomo-off-topic",
        "data": path.name,
        "split": args.split,
        "conversations": len(conversations),
        "conversation_ids": [c.sample_id for c in conversations],
        "questions": sum(len(c.questions) for c in conversations),
        "off_topic_questions": general,
        "backend": backend,
        "embedder": embedder.name,
        "extraction": "none (turns only)",
        "limit": LLM_LIMIT,
        "token_budget": DEFAULT_BUDGET,
        "ingest_seconds": round(ingest_s, 2),
        "results": study,
        "machine": machine_info(),
    }
    print(f"LoCoMo {path.name}: {len(conversations)} conversations; backend {backend}; "
          f"embedder {embedder.name}; {LLM_LIMIT} hits per call; {general} off-topic "
          "questions asked of each conversation")
    print_off_topic(study)
    other = args.url or args.postgres  # never over the SQLite figures the docs cite
    output = args.output or RESULTS_DIR / (
        "locomo_off_topic" + (f"_{backend}" if other else "")
        + split_suffix(c.sample_id for c in conversations) + ".json")
    write_result(output, report)
    print(f"written to {output.name}")
    return 0


@contextmanager
def store_url(args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    """The URL of the store to benchmark (a throwaway server is stopped afterwards)."""
    if args.postgres:
        from memori.testing.postgres_server import postgres_server

        with postgres_server() as url:
            yield url
        return
    yield args.url or f"sqlite:///{tmp / 'locomo.db'}"


def chosen(variants: list[Variant], names: str | None) -> list[Variant]:
    """The variants named in ``names`` (separated by '|'), or all of them."""
    if not names:
        return variants
    wanted = {n.strip() for n in names.split("|")}
    return [v for v in variants if v.name in wanted]


def print_report(report: dict[str, Any]) -> None:
    print(f"LoCoMo {report['data']}: {report['conversations']} conversations, "
          f"{report['turns']} turns, {report['questions']} questions; "
          f"backend {report['backend']}; embedder {report['embedder']}; "
          f"extraction: {report['extraction']}; content: {report['turn_content']}")
    print_recall_table(report["results"])
    print()
    cats = list(CATEGORIES.values())
    rows = [[name, *(res["recall"].get(c, {}).get("R@10", "-") for c in cats)]
            for name, res in report["results"].items()]
    print("R@10 by category")
    print_table(["retriever", *cats], rows)
    if report["ablation"]:
        print()
        print("Ablation")
        print_recall_table(report["ablation"])


def print_recall_table(results: dict[str, dict[str, Any]]) -> None:
    rows = []
    for name, res in results.items():
        overall = res["recall"]["all"]
        rows.append([name, *(overall[f"R@{k}"] for k in KS), res["tokens_top10"],
                     res["context_block_tokens"], res["recall_latency"]["p50_ms"],
                     overall["foreign_hits"]])
    print_table(["retriever", *(f"R@{k}" for k in KS), "tok@10", "block tok", "p50 ms",
                 "leaks"], rows)


if __name__ == "__main__":
    raise SystemExit(main())
