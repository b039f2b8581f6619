"""Synthetic catalogue and sessions with planted sequential structure."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import validate_params

from ..utils._param_validation import NumberInterval
from ._log import DatasetBunch

_TOPICS = (
    "action", "comedy", "drama", "horror", "romance", "scifi", "thriller",
    "documentary", "fantasy", "mystery", "western", "animation", "crime",
    "musical", "war", "family",
)
_FILLER = (
    "the", "a", "of", "and", "with", "in", "about", "story", "new", "old",
    "great", "world", "life", "journey", "night", "day", "people", "time",
    "city", "last",
)
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS]
_N_SYL = len(_SYLLABLES)
_WORD_SPACE = _N_SYL**2 + _N_SYL**3  # 2- and 3-syllable pseudo-words
_TOPIC_WORDS = 24  # per-topic vocabulary for titles, descriptions, queries
_TAG_WORDS = 6  # per-topic tag vocabulary

_BASE_TIME = 1_577_836_800  # 2020-01-01 00:00:00 UTC

_DESCR = """Synthetic sessions (sklearn_recsys.datasets.make_sessions).

Items belong to topics (genre-like). Each topic has its own vocabulary of
pseudo-words; an item's title mixes one word unique to the item with words of
its topic, and its description mixes topic words, the topic name and common
English filler words, so text carries the topic and identifies the item.

Sequences. Each user has a preference over topics (Dirichlet). The current
topic follows a sticky Markov chain: inside a session it changes with
probability 1 - p_stay, at a session start with probability p_switch_session,
to a topic drawn from the user's preferences. Inside a topic, each item has a
fixed successor (the topic's items form one random cycle) that comes next
with probability p_follow; otherwise the next item is drawn from the topic by
a Zipf-like popularity. Order therefore matters: a first-order transition
model beats popularity and co-occurrence (bag-of-items) models by a wide
margin. Lengths are min_length + geometric, with mean mean_length.
Timestamps: gaps of minutes inside a session, days between sessions.

With queries, each event carries a free-text query typed before it: a word
of the target's topic, the target's unique title word (about half the time)
and sometimes the topic name or a word of another topic (noise).
"""


def _pseudo_words(rng, n):
    """``n`` distinct pseudo-words made of 2 or 3 consonant-vowel syllables."""
    codes = rng.choice(_WORD_SPACE, size=n, replace=False)
    words = []
    for c in codes.tolist():
        if c < _N_SYL**2:
            parts = (c // _N_SYL, c % _N_SYL)
        else:
            c -= _N_SYL**2
            parts = (c // _N_SYL**2, (c // _N_SYL) % _N_SYL, c % _N_SYL)
        words.append("".join(_SYLLABLES[p] for p in parts))
    return np.array(words, dtype=object)


def _catalogue(rng, n_items, n_topics):
    topic_names = np.array(
        [_TOPICS[k] if k < len(_TOPICS) else f"topic{k}" for k in range(n_topics)],
        dtype=object,
    )
    # Balanced random assignment: every topic gets at least 2 items.
    topic = rng.permutation(np.arange(n_items) % n_topics)
    words = _pseudo_words(rng, n_items + n_topics * (_TOPIC_WORDS + _TAG_WORDS))
    names = words[:n_items]
    vocab = words[n_items: n_items + n_topics * _TOPIC_WORDS].reshape(n_topics, _TOPIC_WORDS)
    tag_vocab = words[n_items + n_topics * _TOPIC_WORDS:].reshape(n_topics, _TAG_WORDS)
    filler = np.array(_FILLER, dtype=object)

    titles, descriptions, tags = [], [], []
    for i in range(n_items):
        t = topic[i]
        n_title = rng.randint(2, 5)
        title = [names[i]] + list(rng.choice(vocab[t], n_title - 1, replace=False))
        rng.shuffle(title)
        titles.append(" ".join(w.capitalize() for w in title))
        n_desc = rng.randint(8, 16)
        kind = rng.random_sample(n_desc - 2)
        body = np.where(kind < 0.45, rng.choice(vocab[t], n_desc - 2), rng.choice(filler, n_desc - 2))
        if rng.random_sample() < 0.5:
            body[rng.randint(len(body))] = names[i]
        descriptions.append(" ".join(["A", topic_names[t], *body.tolist()]) + ".")
        n_tags = rng.randint(1, 4)
        item_tags = list(rng.choice(tag_vocab[t], n_tags, replace=False))
        if rng.random_sample() < 0.1:  # a stray tag of another topic
            item_tags[-1] = tag_vocab[rng.randint(n_topics), rng.randint(_TAG_WORDS)]
        tags.append(list(dict.fromkeys(item_tags)))
    items = pd.DataFrame(
        {
            "title": titles,
            "description": descriptions,
            "tags": tags,
            "topic": topic_names[topic],
            "genres": [[g] for g in topic_names[topic].tolist()],
        },
        index=pd.Index(np.arange(n_items, dtype=np.int64), name="item_id"),
    )
    return items, topic, topic_names, names, vocab


def _topic_structure(rng, topic, n_topics):
    """Members sorted by topic, a global popularity CDF and the successors."""
    members = np.argsort(topic, kind="stable")
    sizes = np.bincount(topic, minlength=n_topics)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    cdf = np.empty(len(topic))
    successor = np.empty(len(topic), dtype=np.int64)
    for k in range(n_topics):
        lo, hi = offsets[k], offsets[k + 1]
        group = members[lo:hi].copy()
        rng.shuffle(group)  # random popularity ranks inside the topic
        members[lo:hi] = group
        w = 1.0 / np.arange(1, hi - lo + 1) ** 0.8
        cdf[lo:hi] = k + np.cumsum(w) / w.sum()
        cdf[hi - 1] = k + 1
        cycle = rng.permutation(group)  # one cycle: no item is its own successor
        successor[cycle] = np.roll(cycle, -1)
    return members, offsets, cdf, successor


@validate_params(
    {
        "n_users": [NumberInterval(Integral, 1, None, closed="left")],
        "n_items": [NumberInterval(Integral, 1, None, closed="left")],
        "n_topics": [NumberInterval(Integral, 1, None, closed="left")],
        "mean_length": [NumberInterval(Real, 1, None, closed="left")],
        "min_length": [NumberInterval(Integral, 1, None, closed="left")],
        "p_follow": [NumberInterval(Real, 0, 1, closed="both")],
        "p_stay": [NumberInterval(Real, 0, 1, closed="both")],
        "p_new_session": [NumberInterval(Real, 0, 1, closed="both")],
        "with_queries": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_sessions(
    n_users=500,
    n_items=200,
    *,
    n_topics=8,
    mean_length=30,
    min_length=5,
    p_follow=0.6,
    p_stay=0.9,
    p_new_session=0.15,
    with_queries=False,
    random_state=None,
):
    """Generate a catalogue with text and users' sessions with planted order.

    The default data of this package's examples and tests: small, fast, and
    built so that reading the order of a history pays. Items belong to
    ``n_topics`` topics. A user's current topic follows a sticky Markov chain
    biased by the user's preferences; inside a topic each item has a fixed
    successor that comes next with probability ``p_follow``, otherwise a
    popular item of the topic comes. A first-order transition model therefore
    beats popularity and bag-of-items co-occurrence by a wide margin.

    Text: each item's title holds a pseudo-word unique to the item plus words
    of its topic's vocabulary; descriptions, tags and optional free-text
    queries are drawn from the same vocabularies plus common filler words.

    Parameters
    ----------
    n_users : int, default=500
        Number of users (ids ``0 .. n_users - 1``), at least 1.
    n_items : int, default=200
        Number of items (ids ``0 .. n_items - 1``); at least ``2 * n_topics``.
    n_topics : int, default=8
        Number of topics (named like genres: "action", "comedy", ...), at
        least 1.
    mean_length : float, default=30
        Mean number of events per user (``min_length`` + geometric); finite
        and at least ``min_length``.
    min_length : int, default=5
        Fewest events of a user (at least 1).
    p_follow : float, default=0.6
        Probability that the next item is the current item's successor when
        the topic does not change.
    p_stay : float, default=0.9
        Probability of keeping the topic from one event to the next inside a
        session (at a session start the topic is redrawn with probability 0.5).
    p_new_session : float, default=0.15
        Probability that an event starts a new session (a gap of hours to
        days rather than minutes).
    with_queries : bool, default=False
        Add a free-text ``query`` column to the interactions: what the user
        typed before the event, describing the target item with noise.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes
        (``data.items`` is the catalogue, not ``dict.items``).

        interactions : pandas.DataFrame
            ``user_id``, ``item_id``, ``timestamp`` (int64 Unix seconds,
            increasing per user) [, ``query``], sorted by user then time.
        items : pandas.DataFrame
            Indexed by ``item_id``: ``title``, ``description``, ``tags``
            (list of str), ``topic`` (str), ``genres`` (``[topic]``).
        users : pandas.DataFrame
            Indexed by ``user_id``: ``age`` (int), ``segment`` (str: the
            user's favourite topic 85% of the time, else a random topic).
        DESCR : str
            How the data are generated.

    Examples
    --------
    >>> from sklearn_recsys.datasets import make_sessions
    >>> data = make_sessions(n_users=20, n_items=40, n_topics=4, random_state=0)
    >>> data.interactions.columns.tolist()
    ['user_id', 'item_id', 'timestamp']
    >>> data.items.columns.tolist()
    ['title', 'description', 'tags', 'topic', 'genres']
    >>> int(data.interactions.groupby("user_id").size().min()) >= 5
    True
    """
    # Python numbers: numpy ones (unsigned ints above all) would change the
    # dtypes of the arrays built from them.
    n_users, n_items, n_topics = int(n_users), int(n_items), int(n_topics)
    min_length = int(min_length)
    p_follow, p_stay = float(p_follow), float(p_stay)
    p_new_session = float(p_new_session)
    if n_items < 2 * n_topics:
        raise ValueError(
            f"n_items must be at least 2 * n_topics = {2 * n_topics} (every topic "
            f"needs 2 items); got n_items={n_items}, n_topics={n_topics}."
        )
    n_words = n_items + n_topics * (_TOPIC_WORDS + _TAG_WORDS)
    if n_words > _WORD_SPACE:
        raise ValueError(
            f"n_items={n_items} with n_topics={n_topics} needs {n_words} distinct "
            f"words; at most {_WORD_SPACE} can be generated."
        )
    if mean_length < min_length:
        raise ValueError(
            f"mean_length must be a finite number >= min_length={min_length}; "
            f"got {mean_length!r}."
        )
    rng = check_random_state(random_state)

    items, topic, topic_names, names, vocab = _catalogue(rng, n_items, n_topics)
    members, offsets, cdf, successor = _topic_structure(rng, topic, n_topics)

    prefs = rng.dirichlet(np.full(n_topics, 0.3), size=n_users)
    cum_prefs = np.cumsum(prefs, axis=1)
    cum_prefs[:, -1] = 1.0
    favourite = prefs.argmax(axis=1)
    segment = np.where(
        rng.random_sample(n_users) < 0.85, favourite, rng.randint(n_topics, size=n_users)
    )
    users = pd.DataFrame(
        {"age": rng.randint(16, 71, size=n_users).astype(np.int64), "segment": topic_names[segment]},
        index=pd.Index(np.arange(n_users, dtype=np.int64), name="user_id"),
    )

    extra = mean_length - min_length
    lengths = min_length + (rng.geometric(1.0 / (extra + 1.0), size=n_users) - 1 if extra > 0 else 0)
    lengths = np.asarray(lengths, dtype=np.int64)
    T = int(lengths.max())

    def draw_topic(u):
        return (cum_prefs > u[:, None]).argmax(axis=1)

    def draw_item(t, u):
        idx = np.searchsorted(cdf, t + u, side="right")
        return members[np.clip(idx, offsets[t], offsets[t + 1] - 1)]

    seq = np.empty((n_users, T), dtype=np.int64)
    new_session = rng.random_sample((n_users, T)) < p_new_session
    new_session[:, 0] = True
    cur_topic = draw_topic(rng.random_sample(n_users))
    seq[:, 0] = draw_item(cur_topic, rng.random_sample(n_users))
    p_switch = np.where(new_session, 0.5, 1.0 - p_stay)
    for t in range(1, T):
        r = rng.random_sample((4, n_users))
        prev = seq[:, t - 1]
        switch = r[0] < p_switch[:, t]
        cur_topic = np.where(switch, draw_topic(r[1]), cur_topic)
        follow = (topic[prev] == cur_topic) & (r[2] < p_follow)
        seq[:, t] = np.where(follow, successor[prev], draw_item(cur_topic, r[3]))

    # Gaps: ~4 minutes inside a session, ~2 days (at least an hour) between.
    gaps = np.where(
        new_session,
        3600 + rng.exponential(2 * 86400, size=(n_users, T)),
        10 + rng.exponential(240, size=(n_users, T)),
    ).astype(np.int64)
    gaps[:, 0] = rng.randint(0, 365 * 86400, size=n_users)
    times = _BASE_TIME + np.cumsum(gaps, axis=1)

    mask = np.arange(T)[None, :] < lengths[:, None]
    item_ids = seq[mask]
    columns = {
        "user_id": np.repeat(np.arange(n_users, dtype=np.int64), lengths),
        "item_id": item_ids,
        "timestamp": times[mask],
    }
    if with_queries:
        columns["query"] = _queries(rng, item_ids, topic, topic_names, names, vocab)
    interactions = pd.DataFrame(columns)
    return DatasetBunch(interactions=interactions, items=items, users=users, DESCR=_DESCR)


def _queries(rng, targets, topic, topic_names, names, vocab):
    """A short free-text query per event describing its target, with noise."""
    n = len(targets)
    n_topics, v = vocab.shape
    t = topic[targets]
    r = rng.random_sample((3, n))
    word = vocab[t, rng.randint(v, size=n)]
    name = np.where(r[0] < 0.5, names[targets], "")
    other = vocab[rng.randint(n_topics, size=n), rng.randint(v, size=n)]
    extra = np.where(r[1] < 0.3, topic_names[t], np.where(r[1] < 0.5, other, ""))
    first_name = r[2] < 0.5
    parts = zip(
        np.where(first_name, name, word).tolist(),
        np.where(first_name, word, name).tolist(),
        extra.tolist(),
    )
    return [" ".join(w for w in p if w) for p in parts]
