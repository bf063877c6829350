"""Extraction measured against LoCoMo's own ``observation`` annotations.

Run: ``python benchmarks/bench_extraction.py [--extractor offline] [--threshold 0.3]``.
Reads the data as ``bench_locomo.py`` does (``MEMORI_LOCOMO_PATH`` or
``../shared/data/locomo/locomo-dev.json``; skips with a message when absent).

Each conversation goes through the real pipeline once per speaker: one entity per
(conversation, speaker), one session per LoCoMo session, the speaker's turns recorded
with ``Memori.record`` as ``user`` turns (their text, without the image caption) and the
other speaker's as ``assistant`` turns; ``flush`` waits for the worker, which batches,
extracts and reconciles as it does for any application. The memories are then read back
with their source turns and scored:

- coverage: the share of observations (facts about a speaker, each citing its evidence
  turns) matched by at least one memory extracted from one of those evidence turns;
- noise: the share of memories that are chit-chat: memories that match no observation
  of their speaker and either open as a greeting, thanks or an acknowledgement (a short
  list of patterns) or come from turns that no observation cites;
- counts, memories per user turn and the seconds until flushed.

The matcher (:func:`match_score`) is deterministic: the share of the observation's
content words (function words and both speakers' names dropped, a light suffix-stripping
normaliser applied to both sides) that the memory also holds; ``--threshold`` (default
0.3) decides "matched". Writes ``benchmarks/results/extraction.json``: aggregates only.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, machine_info, print_table, write_result
from bench_locomo import DEV_SPLIT, ENV_VAR, data_path, normal_id, parse_date, split_suffix

from memori import Memori
from memori.core import Memory, Scope, Turn
from memori.retrieval.query import content_words

THRESHOLD = 0.3
"""Share of an observation's content words a memory must hold to match it (see docs)."""

_OBSERVATION = re.compile(r"^session_(\d+)_observation$")
_SESSION = re.compile(r"^session_(\d+)$")
_CHIT_CHAT = re.compile(
    r"^\s*(?:hi|hey|hello|bye|goodbye|see you|take care|good (?:morning|night|evening)|"
    r"thanks?|thank you|cheers|congrats|congratulations|ok(?:ay)?|sure|yes|yeah|no|nope|"
    r"cool|great|awesome|wow|nice|sounds good|glad|i agree|i know|i see|i understand|"
    r"i hear you|i'm glad|i'm so glad|i'm happy for you|me too|same here|you too|"
    r"you're welcome|no problem|totally|absolutely|exactly|haha|lol)\b", re.I)


@dataclass(frozen=True)
class Utterance:
    dia_id: str
    speaker: str
    text: str
    session: int
    said_at: float


@dataclass(frozen=True)
class Observation:
    speaker: str
    text: str
    evidence: frozenset[str]


@dataclass(frozen=True)
class Sample:
    sample_id: str
    speakers: tuple[str, str]
    utterances: tuple[Utterance, ...]
    observations: tuple[Observation, ...]


def load_samples(raw: Sequence[dict[str, Any]]) -> list[Sample]:
    """Conversations with their turns and observations (evidence ids normalised)."""
    out = []
    for item in raw:
        conv = item["conversation"]
        speakers = (str(conv["speaker_a"]), str(conv["speaker_b"]))
        utterances: list[Utterance] = []
        for key, turns in conv.items():
            found = _SESSION.match(key)
            if found is None or not turns:
                continue
            start = parse_date(str(conv[f"{key}_date_time"]))
            utterances.extend(
                Utterance(normal_id(str(t["dia_id"])), str(t["speaker"]), str(t["text"]),
                          int(found.group(1)), start + 30.0 * i)
                for i, t in enumerate(turns))
        utterances.sort(key=lambda u: (u.session, u.said_at))
        observations: list[Observation] = []
        for key, by_speaker in item.get("observation", {}).items():
            if _OBSERVATION.match(key) is None:
                continue
            for speaker, facts in by_speaker.items():
                for fact in facts:
                    text, evidence = fact[0], fact[1]
                    ids = evidence if isinstance(evidence, list) else [evidence]
                    observations.append(Observation(
                        speaker, str(text), frozenset(normal_id(str(e)) for e in ids)))
        out.append(Sample(str(item["sample_id"]), speakers, tuple(utterances),
                          tuple(observations)))
    return out


# The matcher

def normal_words(text: str, drop: Iterable[str] = ()) -> frozenset[str]:
    """Content words of ``text`` reduced by :func:`light_stem`, minus ``drop``."""
    dropped = {light_stem(w) for w in drop}
    return frozenset(light_stem(w) for w in content_words(text)) - dropped


def light_stem(word: str) -> str:
    """A lemma-light normaliser: one regular English suffix goes (possessives are already
    split off by the tokeniser)."""
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""),
                         ("s", ""), ("e", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def match_score(observation: frozenset[str], memory: frozenset[str]) -> float:
    """The share of the observation's words the memory holds (0 when it has none)."""
    return len(observation & memory) / len(observation) if observation else 0.0


def is_chit_chat(text: str) -> bool:
    """A greeting, thanks or acknowledgement (the opening words decide)."""
    return _CHIT_CHAT.match(text) is not None


# The run

def entity_of(sample: Sample, speaker: str) -> str:
    return f"{sample.sample_id}-{re.sub(r'[^A-Za-z0-9]+', '-', speaker).lower()}"


def extract_sample(mem: Memori, sample: Sample) -> dict[str, list[Memory]]:
    """Record the conversation once per speaker and flush; each speaker's memories."""
    ids: dict[str, dict[str, str]] = {}
    for speaker in sample.speakers:
        entity = entity_of(sample, speaker)
        turns = [Turn(entity_id=entity, session_id=f"session_{u.session}",
                      role="user" if u.speaker == speaker else "assistant",
                      content=u.text, created_at=u.said_at,
                      metadata={"speaker": u.speaker, "dia_id": u.dia_id})
                 for u in sample.utterances if u.text.strip()]
        ids[speaker] = {t.id: str(t.metadata["dia_id"]) for t in turns}
        mem.record(turns)
    mem.flush()
    out: dict[str, list[Memory]] = {}
    for speaker in sample.speakers:
        found = mem.store.list_memories(Scope(entity_of(sample, speaker)),
                                        include_superseded=True)
        # source turns as dia ids, for the scoring below
        out[speaker] = [_with_dia_ids(m, ids[speaker]) for m in found]
    return out


def _with_dia_ids(memory: Memory, ids: dict[str, str]) -> Memory:
    from dataclasses import replace

    return replace(memory, source_turn_ids=tuple(ids.get(t, t) for t in memory.source_turn_ids))


@dataclass
class Tally:
    observations: int = 0
    covered: int = 0
    memories: int = 0
    memory_words: int = 0
    chit_chat_pattern: int = 0
    chit_chat_unmatched: int = 0
    user_turns: int = 0
    seconds: float = 0.0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> dict[str, Any]:
        chit = self.chit_chat_pattern + self.chit_chat_unmatched
        return {
            "observations": self.observations,
            "covered": self.covered,
            "coverage_pct": _pct(self.covered, self.observations),
            "memories": self.memories,
            "chit_chat": chit,
            "noise_pct": _pct(chit, self.memories),
            "chit_chat_by_pattern": self.chit_chat_pattern,
            "chit_chat_unmatched": self.chit_chat_unmatched,
            "user_turns": self.user_turns,
            "memories_per_user_turn": round(self.memories / max(self.user_turns, 1), 3),
            "mean_memory_words": round(self.memory_words / max(self.memories, 1), 1),
            "seconds": round(self.seconds, 2),
        }


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def score_sample(sample: Sample, memories: dict[str, list[Memory]], threshold: float) -> Tally:
    names = [w for s in sample.speakers for w in content_words(s)]
    tally = Tally(user_turns=len(sample.utterances))
    for speaker, found in memories.items():
        words = [normal_words(m.content, names) for m in found]
        obs = [o for o in sample.observations if o.speaker == speaker]
        obs_words = [normal_words(o.text, names) for o in obs]
        cited = set().union(*(o.evidence for o in obs))
        for o, ow in zip(obs, obs_words, strict=True):
            tally.observations += 1
            tally.covered += any(
                match_score(ow, mw) >= threshold
                for m, mw in zip(found, words, strict=True)
                if o.evidence.intersection(m.source_turn_ids))
        for m, mw in zip(found, words, strict=True):
            tally.memories += 1
            tally.memory_words += len(m.content.split())
            if any(match_score(ow, mw) >= threshold for ow in obs_words):
                continue  # states an observed fact, whatever its opening words
            if is_chit_chat(m.content):
                tally.chit_chat_pattern += 1
            elif not cited.intersection(m.source_turn_ids):
                tally.chit_chat_unmatched += 1
    return tally


def run(samples: Sequence[Sample], extractor: str, threshold: float) -> dict[str, Tally]:
    """Per conversation, the tally of its extraction (each in a fresh SQLite store)."""
    out: dict[str, Tally] = {}
    for sample in samples:
        with tempfile.TemporaryDirectory(prefix="memori-extraction-") as tmp:
            mem = Memori(f"sqlite:///{Path(tmp) / 'x.db'}", embedder=None, extractor=extractor)
            try:
                start = time.perf_counter()
                found = extract_sample(mem, sample)
                seconds = time.perf_counter() - start
            finally:
                mem.close()
        tally = score_sample(sample, found, threshold)
        tally.seconds = seconds
        out[sample.sample_id] = tally
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extractor", default="offline")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--output", type=Path, default=None,
                        help="default results/extraction.json for the dev split, "
                             "extraction_full.json for a full locomo10.json")
    args = parser.parse_args()
    path = data_path()
    if not path.is_file():
        print(f"SKIP: LoCoMo data not found at {path} (set {ENV_VAR} to its path)")
        return 0
    import json

    samples = load_samples(json.loads(path.read_text(encoding="utf-8")))
    tallies = run(samples, args.extractor, args.threshold)
    groups: dict[str, Tally] = {}
    for sample in samples:
        split = "tuning (dev)" if sample.sample_id in DEV_SPLIT else "held-out"
        for name in ("all", split):
            groups.setdefault(name, Tally()).add(tallies[sample.sample_id])
    report = {
        "benchmark": "locomo-extraction",
        "data": path.name,
        "extractor": args.extractor,
        "pipeline": "Memori.record + flush, one entity per (conversation, speaker)",
        "threshold": args.threshold,
        "observation_types": "none in the data (facts about a speaker, per session)",
        "by_split": {name: t.summary() for name, t in groups.items()},
        "by_conversation": {sid: t.summary() for sid, t in tallies.items()},
        "machine": machine_info(),
    }
    columns = ["coverage_pct", "noise_pct", "observations", "memories", "chit_chat",
               "memories_per_user_turn", "mean_memory_words", "seconds"]
    rows = [[name, *(s[c] for c in columns)] for name, s in
            [*report["by_conversation"].items(), *report["by_split"].items()]]
    print(f"LoCoMo {path.name}: extractor {args.extractor}, threshold {args.threshold}")
    print_table(["conversation", "coverage %", "noise %", "obs", "memories", "chit-chat",
                 "mem/turn", "words/mem", "s"], rows)
    output = args.output or RESULTS_DIR / (
        "extraction" + split_suffix(s.sample_id for s in samples) + ".json")
    write_result(output, report)
    print(f"written to {output.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
