"""Benchmark: full-text search (issue 12, acceptance 3) over N stored entries.

    python bench/search.py [--entries 1000000] [--authors 1000] [--queries 100]

Builds two databases from the same signed entries, chunk by chunk: one through the real
ingest path (the search index kept in the entries' transaction), one through the same code
with the index's calls in the write path replaced by no-ops (`without_index`: the FTS5
tables exist but stay empty). Each chunk goes into both, the order alternating, so a busy
spell of the shared machine hits both alike. Prints:
- ingest rate with the index and without it, and their ratio (bar: >= 0.9); and the CPU
  per entry of this process and its verification processes (Linux /proc), the steadier
  figure on a machine shared with other work;
- bytes the index adds per post (database files after the WAL checkpoint of close);
- query latency, p50 and p99 per kind and over the whole mix, of `Service.search` /
  `Service.tag` (first page of 20, with the matching profiles and the views' counts, what
  the CLI gets) on the indexed database (bar: p99 <= 20 ms).

Posts are 200 characters of English-like text: words drawn by a Zipf law from a vocabulary
of common English words followed by a tail of made-up ones; one post in five has one to
three tags, one in fifty a content warning; every author has a name and a bio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2psocial.core.content import About, Post
from p2psocial.core.entry import create_content_entry
from p2psocial.core.identity import Identity
from p2psocial.runtime.service import Service
from p2psocial.store import search
from p2psocial.store.sqlite import Store
from p2psocial.testing import identity_for

BATCH = 2000
IN_FLIGHT = 3
POST_CHARS = 200
CHUNK = 50_000  # entries generated, then ingested into each database in turn
TAIL_WORDS = 30_000


def _words(text: str) -> list[str]:
    return text.split()


COMMON = _words("""the of and to a in is it you that he was for on are with as I his they be at one
have this from or had by hot word but what some we can out other were all there when up use
your how said an each she which do their time if will way about many then them write would
like so these her long make thing see him two has look more day could go come did number
sound no most people my over know water than call first who may down side been now find any
new work part take get place made live where after back little only round man year came show
every good me give our under name very through just form sentence great think say help low
line differ turn cause much mean before move right boy old too same tell does set three want
air well also play small end put home read hand port large spell add even land here must big
high such follow act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page should country
found answer school grow study still learn plant cover food sun four between state keep eye
never last let thought city tree cross farm hard start might story saw far sea draw left late
run don't while press close night real life few north open seem together next white children
begin got walk example ease paper group always music those both mark often letter until mile
river car feet care second book carry took science eat room friend began idea fish mountain
stop once base hear horse cut sure watch color face wood main enough plain girl usual young
ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half
rock order fire south problem piece told knew pass since top whole king space heard best hour
better true during hundred five remember step early hold west ground interest reach fast verb
sing listen six table travel less morning ten simple several vowel toward war lay against
pattern slow center love person money serve appear road map rain rule govern pull cold notice
voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star
box noun field rest correct able pound done beauty drive stood contain front teach week final
gave green oh quick develop ocean warm free minute strong special mind behind clear tail
produce fact street inch multiply nothing course stay wheel full force blue object decide
surface deep moon island foot system busy test record boat common gold possible plane stead
dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring
yes distant fill east paint language among coffee garden rust python linux bicycle concert
""")
TAGS = _words("""rust python linux music art photo travel food coffee books science space climate
news politics football cycling running garden cats dogs film games history maths opensource
privacy security p2p localfirst design writing poetry jazz hiking birds weather cooking""")
NAMES = _words("""Ana Ben Chloe Dmitri Elena Farid Grace Hugo Ines Jonas Keiko Lars Maya Nora Omar
Priya Quinn Rosa Sami Tara Umar Vera Wen Ximena Yusuf Zoe""")


def vocabulary() -> list[str]:
    """Common English words, then a tail of made-up words (syllables), most frequent first."""
    rnd = random.Random(7)
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + ["ing", "er", "on"]
    tail: dict[str, None] = {}
    while len(tail) < TAIL_WORDS:
        tail["".join(rnd.choice(syllables) for _ in range(rnd.randint(2, 4)))] = None
    return list(dict.fromkeys(COMMON)) + [w for w in tail if w not in COMMON]


WORDS = vocabulary()
_CUMULATIVE = list(__import__("itertools").accumulate(1 / (r + 1) for r in range(len(WORDS))))


def post_text(rnd: random.Random) -> str:
    """About POST_CHARS characters of Zipf-distributed words."""
    words: list[str] = []
    size = 0
    while size < POST_CHARS:
        word = rnd.choices(WORDS, cum_weights=_CUMULATIVE, k=8)
        words.extend(word)
        size += sum(len(w) + 1 for w in word)
    return " ".join(words)[:POST_CHARS].rsplit(" ", 1)[0]


def make_post(rnd: random.Random) -> Post:
    """A post: text, tags in one of five, a content warning in one of fifty."""
    tags: tuple[str, ...] = ()
    if rnd.random() < 0.2:
        tags = tuple(dict.fromkeys(rnd.choices(TAGS, weights=[1 / (i + 1) for i in
                                                               range(len(TAGS))],
                                               k=rnd.randint(1, 3))))
    cw = rnd.choice(["spoilers", "politics", "food"]) if rnd.random() < 0.02 else None
    return Post(text=post_text(rnd), tags=tags, cw=cw)


def author(index: int) -> Identity:
    """The bench's author number `index` (deterministic keys)."""
    return identity_for(f"search-bench-{index}")


def make_feed(job: tuple[int, int]) -> list[tuple[bytes, bytes | None]]:
    """Author `index`'s feed of `count` entries: an about (name, bio), then posts."""
    index, count = job
    ident = author(index)
    rnd = random.Random(index)
    base = 1_700_000_000_000 + index
    name = f"{NAMES[index % len(NAMES)]} {WORDS[200 + index % 2000].capitalize()}"
    contents: list[Any] = [About(name=name, bio=post_text(rnd)[:120])]
    contents.extend(make_post(rnd) for _ in range(count - 1))
    out, prev = [], None
    for seq, content in enumerate(contents, 1):
        e = create_content_entry(ident, seq=seq, prev=prev, timestamp=base + seq * 60_000,
                                 content=content)
        out.append((e.header, e.payload))
        prev = e.hash
    return out


@contextmanager
def without_index() -> Iterator[None]:
    """The ingest path with the search index's calls made no-ops (bench only)."""
    saved = (search.last_rowid, search.index_posts, search.refresh_profiles,
             search.unindex_post)
    search.last_rowid = lambda db: 0  # type: ignore[assignment]
    search.index_posts = lambda *a: None  # type: ignore[assignment]
    search.refresh_profiles = lambda *a: None  # type: ignore[assignment]
    search.unindex_post = lambda *a: None  # type: ignore[assignment]
    try:
        yield
    finally:
        (search.last_rowid, search.index_posts, search.refresh_profiles,
         search.unindex_post) = saved


def tree_cpu() -> float:
    """CPU seconds used so far by this process and every process under it (the store's
    verification processes), from /proc (Linux): unlike wall time, not inflated when other
    work shares the machine."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    mine, total = {os.getpid()}, 0.0
    for _ in range(4):  # children, grandchildren (a forkserver's workers), …
        mine |= {pid for pid, parent in parents.items() if parent in mine}
    for pid in mine:
        total += used.get(pid, 0.0)
    return total


async def ingest(store: Store, raw: list[tuple[bytes, bytes | None]]) -> tuple[float, float]:
    """Seconds, and CPU seconds of this process tree, to ingest `raw`, IN_FLIGHT batches at
    a time (as a sync session does)."""
    cpu = tree_cpu()
    t = time.perf_counter()
    pending: set[asyncio.Future[Any]] = set()
    stored = 0
    for i in range(0, len(raw), BATCH):
        if len(pending) >= IN_FLIGHT:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            stored += sum(len(d.result().accepted) for d in done)
        pending.add(asyncio.ensure_future(store.ingest(raw[i:i + BATCH])))
    for task in pending:
        stored += len((await task).accepted)
    assert stored == len(raw), (stored, len(raw))
    return time.perf_counter() - t, tree_cpu() - cpu


Chunk = tuple[int, float, float]  # entries, seconds, CPU seconds


async def build(paths: dict[str, Path], entries: int, authors: int
                ) -> dict[str, list[Chunk]]:
    """Fill both databases chunk by chunk; (entries, seconds, CPU seconds) per chunk and
    database."""
    per = entries // authors
    stores = {k: await Store.open(p) for k, p in paths.items()}
    viewer = identity_for("search-bench-viewer")
    for store in stores.values():
        await store.set_owner(viewer.public_key)
        await store.ingest(make_feed((authors + 1, 300)))  # verification processes up
    times: dict[str, list[Chunk]] = {k: [] for k in paths}
    per_chunk = max(1, CHUNK // per)
    with ProcessPoolExecutor(os.cpu_count() or 2) as pool:
        for n, first in enumerate(range(0, authors, per_chunk)):
            jobs = [(a, per) for a in range(first, min(authors, first + per_chunk))]
            raw = [r for feed in pool.map(make_feed, jobs, chunksize=4) for r in feed]
            order = ["with", "without"] if n % 2 == 0 else ["without", "with"]
            for kind in order:
                if kind == "with":
                    seconds, cpu = await ingest(stores[kind], raw)
                else:
                    with without_index():
                        seconds, cpu = await ingest(stores[kind], raw)
                times[kind].append((len(raw), seconds, cpu))
            done = first + len(jobs)
            (size_, w, wc), (_, wo, woc) = times["with"][-1], times["without"][-1]
            print(f"  {done * per:,} entries: this chunk {size_ / w:,.0f}/s with the index, "
                  f"{size_ / wo:,.0f}/s without ({wo / w:.2f}); CPU {wc / size_ * 1e6:.0f} / "
                  f"{woc / size_ * 1e6:.0f} µs per entry ({woc / wc:.2f})", file=sys.stderr)
    for store in stores.values():
        await store.close()
    return times


Query = tuple[str, Callable[[Service], Awaitable[Any]]]


def queries(authors: int) -> list[Query]:
    """The mix: (kind, call) pairs, several different terms per kind."""
    rnd = random.Random(11)
    text = post_text(random.Random(3)).split()
    out: list[Query] = []
    for i in range(5):
        common, mid, rare = WORDS[5 + i * 7], WORDS[300 + i * 37], WORDS[3000 + i * 997]
        phrase = " ".join(text[i * 2:i * 2 + 2])
        who = author(rnd.randrange(authors)).handle
        tag = TAGS[i * 3]
        out += [
            ("one common word", lambda s, w=common: s.search(w)),
            ("one rarer word", lambda s, w=mid: s.search(w)),
            ("one rare word", lambda s, w=rare: s.search(w)),
            ("two words", lambda s, a=mid, b=WORDS[40 + i]: s.search(f"{a} {b}")),
            ("phrase", lambda s, p=phrase: s.search(f'"{p}"')),
            ("prefix", lambda s, w=WORDS[100 + i * 13][:3]: s.search(f"{w}*")),
            ("tag", lambda s, t=tag: s.tag(t)),
            ("word and #tag", lambda s, w=mid, t=tag: s.search(f"{w} #{t}")),
            ("--from, common word", lambda s, w=common, h=who: s.search(w, author=h)),
            ("--from, rarer word", lambda s, w=mid, h=who: s.search(w, author=h)),
        ]
    return out


async def query_latency(path: Path, authors: int, rounds: int
                        ) -> tuple[dict[str, list[float]], dict[str, int]]:
    """ms per call of each query, `rounds` times over the mix (kinds taking turns); and the
    posts found per kind on the first round."""
    store = await Store.open(path)
    service = Service(store, identity_for("search-bench-viewer").public_key,
                      lambda: identity_for("search-bench-viewer"))
    mix = queries(authors)
    found: dict[str, int] = {}
    for kind, call in mix:  # warm the page cache once
        result = await call(service)
        posts = result if isinstance(result, list) else result.posts
        found[kind] = found.get(kind, 0) + len(posts)
    ms: dict[str, list[float]] = {kind: [] for kind, _ in mix}
    for _ in range(rounds):
        for kind, call in mix:
            t = time.perf_counter()
            await call(service)
            ms[kind].append((time.perf_counter() - t) * 1000)
    await store.close()
    return ms, found


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.parent.glob(path.name + "*"))


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        paths = {"with": Path(tmp) / "with.db", "without": Path(tmp) / "without.db"}
        t = time.perf_counter()
        times = await build(paths, args.entries, args.authors)
        total = {k: sum(c[0] for c in v) for k, v in times.items()}
        rate = {k: total[k] / sum(c[1] for c in v) for k, v in times.items()}
        cpu = {k: sum(c[2] for c in v) / total[k] * 1e6 for k, v in times.items()}
        chunk_ratios = [b[1] / a[1] for a, b in zip(times["with"], times["without"],
                                                   strict=True)]
        posts = total["with"] - args.authors
        print(f"built {total['with']:,} entries ({args.authors} authors, {posts:,} posts) "
              f"twice in {time.perf_counter() - t:.0f}s")
        ratio = rate["with"] / rate["without"]
        print(f"ingest (verified and stored, batches of {BATCH}, {IN_FLIGHT} in flight): "
              f"{rate['with']:,.0f}/s with the index, {rate['without']:,.0f}/s without: "
              f"ratio {ratio:.2f} (chunks: median {statistics.median(chunk_ratios):.2f}, "
              f"{min(chunk_ratios):.2f}-{max(chunk_ratios):.2f}) "
              f"[bar >= 0.90: {'met' if ratio >= 0.9 else 'MISSED'}]")
        print(f"CPU per entry (this process and its verification processes): "
              f"{cpu['with']:.0f} µs with the index, {cpu['without']:.0f} µs without: "
              f"{cpu['without'] / cpu['with']:.2f}, the rate ratio of a machine whose cores "
              "are all ours")
        sizes = {k: size(p_) for k, p_ in paths.items()}
        print(f"database: {sizes['with'] / 1e6:,.0f} MB with the index, "
              f"{sizes['without'] / 1e6:,.0f} MB without: "
              f"{(sizes['with'] - sizes['without']) / posts:,.0f} bytes per post "
              f"({sizes['without'] / total['with']:,.0f} bytes per entry without)")
        ms, found = await query_latency(paths["with"], args.authors, args.queries)
        print(f"queries, {args.queries} rounds over the mix (first page of 20, "
              "Service.search/tag):")
        for kind, values in ms.items():
            print(f"  {kind:22} p50 {p(values, 0.5):6.2f} ms  p99 {p(values, 0.99):6.2f} ms"
                  f"  (posts found: {found[kind] / 5:.0f} per query)")
        every = [v for values in ms.values() for v in values]
        worst = p(every, 0.99)
        print(f"  {'the whole mix':22} p50 {p(every, 0.5):6.2f} ms  p99 {worst:6.2f} ms "
              f"[bar <= 20 ms: {'met' if worst <= 20 else 'MISSED'}]")
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=100,
                        help="rounds over the query mix (50 queries each)")
    parser.add_argument("--dir", help="where the two databases go (default: the temp dir)")
    asyncio.run(main(parser.parse_args()))
