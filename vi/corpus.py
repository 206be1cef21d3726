"""Bag-of-words corpora for topic models: one document per line of UTF-8 text.

  corpus = load_corpus(path, stop_words=..., min_count=5)  -> Corpus (CSR counts, vocab)
  train, heldout = split(corpus, heldout_frac=0.2, seed=0)
  docs = pad(train.counts)                                  -> Docs (padded, for JAX)

Tokens are the lower-cased runs of letters (Unicode letters; digits,
underscores and punctuation separate tokens). A document with no tokens
left after tokenisation, stop-word removal and vocabulary pruning is an
error naming its line, unless `drop_empty=True` drops it: an empty document
carries no information for LDA, and silently keeping or dropping it would
shift every document index after it.

`synthetic_lda` draws a small corpus from the LDA generative process with
known, well-separated topics, for tests.
"""
import re
from typing import NamedTuple, Optional, Sequence

import numpy as np
import scipy.sparse as sp

from common.errors import ConfigError
from common.errors import DataError

_TOKEN = re.compile(r'[^\W\d_]+')


class Corpus(NamedTuple):
  counts: sp.csr_matrix  # [D, V] int64 document-term counts.
  vocab: tuple           # V words; column v of counts counts vocab[v].
  lines: np.ndarray      # [D] 1-based source line of each document.


class Docs(NamedTuple):
  """Documents as padded (word id, count) pairs: the form the JAX code takes.

  Padding entries have id 0 and count 0, so they contribute nothing; a row
  of zero counts is a padding document (real documents are never empty).
  """
  word_ids: np.ndarray  # [D, L] int32.
  counts: np.ndarray    # [D, L] float32.


def tokenize(text: str, min_len: int = 1) -> list:
  """Lower-cased alphabetic tokens of at least `min_len` letters."""
  return [t for t in _TOKEN.findall(text.lower()) if len(t) >= min_len]


def _read_lines(path):
  try:
    with open(path, 'rb') as f:
      raw = f.read()
  except FileNotFoundError:
    raise DataError(f'corpus file {path} not found; pass the path of a UTF-8 '
                    'text file with one document per line') from None
  except IsADirectoryError:
    raise DataError(f'corpus path {path} is a directory; pass a UTF-8 text '
                    'file with one document per line') from None
  lines = raw.split(b'\n')
  if lines and lines[-1] == b'':  # The newline that ends the last line.
    lines.pop()
  texts = []
  for i, line in enumerate(lines):
    try:
      texts.append(line.decode('utf-8').rstrip('\r'))
    except UnicodeDecodeError as e:
      raise DataError(f'line {i + 1} of {path} is not UTF-8 ({e.reason} at '
                      f'byte {e.start}); re-encode the file as UTF-8') from None
  return texts


def load_corpus(path: str, stop_words: Optional[Sequence[str]] = None,
                min_count: int = 1, max_doc_frac: float = 1.0,
                min_len: int = 1, drop_empty: bool = False) -> Corpus:
  """Reads one document per line of a UTF-8 file into a bag-of-words Corpus.

  Args:
    path: the text file.
    stop_words: words to remove (compared after lower-casing).
    min_count: keep words occurring at least this often in the whole corpus.
    max_doc_frac: drop words that occur in more than this fraction of the
      documents (1.0 keeps all).
    min_len: minimum token length in letters.
    drop_empty: drop documents with no tokens left instead of raising.
  """
  texts = _read_lines(path)
  return from_texts(texts, stop_words=stop_words, min_count=min_count,
                    max_doc_frac=max_doc_frac, min_len=min_len,
                    drop_empty=drop_empty, source=path)


def from_texts(texts: Sequence[str], stop_words: Optional[Sequence[str]] = None,
               min_count: int = 1, max_doc_frac: float = 1.0,
               min_len: int = 1, drop_empty: bool = False,
               source: str = 'the corpus') -> Corpus:
  """`load_corpus` on documents already in memory (texts[i] is line i + 1)."""
  if int(min_count) != min_count or min_count < 1:
    raise ConfigError(f'min_count={min_count} must be an integer >= 1')
  if not 0.0 < max_doc_frac <= 1.0:
    raise ConfigError(f'max_doc_frac={max_doc_frac} must be in (0, 1] (1 keeps '
                      'every word)')
  if int(min_len) != min_len or min_len < 1:
    raise ConfigError(f'min_len={min_len} must be an integer >= 1')
  if not texts:
    raise DataError(f'{source} is empty; it needs one document per line')
  stop = frozenset(w.lower() for w in (stop_words or ()))
  docs = [[t for t in tokenize(text, min_len) if t not in stop]
          for text in texts]

  # Vocabulary statistics over every document that has tokens.
  total, doc_freq = {}, {}
  for doc in docs:
    for w in doc:
      total[w] = total.get(w, 0) + 1
    for w in set(doc):
      doc_freq[w] = doc_freq.get(w, 0) + 1
  num_nonempty = sum(1 for d in docs if d)
  max_df = max_doc_frac * max(num_nonempty, 1)
  vocab = tuple(sorted(w for w in total
                       if total[w] >= min_count and doc_freq[w] <= max_df))
  index = {w: i for i, w in enumerate(vocab)}

  rows, cols, vals, lines = [], [], [], []
  for i, doc in enumerate(docs):
    ids = [index[w] for w in doc if w in index]
    if not ids:
      if drop_empty:
        continue
      why = ('no alphabetic tokens' if not doc and not tokenize(texts[i], min_len)
             else 'no words left after stop-word removal and vocabulary '
                  f'pruning (min_count={min_count}, max_doc_frac={max_doc_frac})')
      raise DataError(f'line {i + 1} of {source} has {why}; remove that line '
                      'or pass drop_empty=True')
    uniq, cnt = np.unique(np.asarray(ids, np.int64), return_counts=True)
    rows.append(np.full(len(uniq), len(lines), np.int64))
    cols.append(uniq)
    vals.append(cnt)
    lines.append(i + 1)
  if not lines:
    raise DataError(f'{source} has no document with words left after '
                    'tokenisation and pruning; lower min_count or add text')
  counts = sp.csr_matrix(
      (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
      shape=(len(lines), len(vocab)), dtype=np.int64)
  return Corpus(counts, vocab, np.asarray(lines, np.int64))


def split(corpus: Corpus, heldout_frac: float = 0.2, seed: int = 0):
  """(train, heldout) Corpora: a seeded random split of whole documents."""
  num_docs = corpus.counts.shape[0]
  if not 0.0 < heldout_frac < 1.0:
    raise ConfigError(f'heldout_frac={heldout_frac} must be in (0, 1), e.g. 0.2')
  num_heldout = int(round(heldout_frac * num_docs))
  if num_heldout < 1 or num_heldout >= num_docs:
    raise DataError(f'{num_docs} documents cannot be split with '
                    f'heldout_frac={heldout_frac} into two non-empty sets; '
                    'use more documents or another fraction')
  perm = np.random.default_rng(seed).permutation(num_docs)
  # Sorted within each part, so the split keeps the file's document order.
  held, train = np.sort(perm[:num_heldout]), np.sort(perm[num_heldout:])
  take = lambda i: Corpus(corpus.counts[i], corpus.vocab, corpus.lines[i])
  return take(train), take(held)


def check_counts(counts, what: str = 'counts') -> sp.csr_matrix:
  """A validated [D, V] CSR matrix of non-negative integer counts, no empty row.

  Accepts a scipy sparse matrix or a dense array.
  """
  if sp.issparse(counts):
    m = sp.csr_matrix(counts)
  else:
    a = np.asarray(counts)
    if a.ndim != 2:
      raise DataError(f'{what} must be a 2-D [documents, vocabulary] matrix, '
                      f'got shape {a.shape}')
    m = sp.csr_matrix(a)
  if m.shape[0] == 0 or m.shape[1] == 0:
    raise DataError(f'{what} has shape {m.shape}; it needs at least one '
                    'document and one word')
  data = m.data
  if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
    raise DataError(f'{what} must be numeric word counts, got {data.dtype}')
  if not np.all(np.isfinite(data)):
    raise DataError(f'{what} has non-finite entries; word counts must be '
                    'non-negative integers')
  if np.any(data < 0):
    raise DataError(f'{what} has negative entries (min {data.min()}); word '
                    'counts must be non-negative integers')
  if np.any(data != np.round(data)):
    bad = data[data != np.round(data)][0]
    raise DataError(f'{what} has non-integer entries (e.g. {bad}); LDA models '
                    'word counts: pass integer counts, not tf-idf or frequencies')
  m = sp.csr_matrix(m, dtype=np.int64)
  m.eliminate_zeros()
  lengths = np.diff(m.indptr)
  if np.any(lengths == 0):
    d = int(np.flatnonzero(lengths == 0)[0])
    raise DataError(f'document {d} (row {d} of {what}) has no words; remove '
                    'empty documents (load_corpus(..., drop_empty=True) drops '
                    'them)')
  return m


def pad(counts, length: Optional[int] = None, what: str = 'counts') -> Docs:
  """Docs: each document's distinct word ids and counts, zero-padded to `length`.

  `length` defaults to the largest number of distinct words in a document.
  """
  m = check_counts(counts, what)
  lengths = np.diff(m.indptr)
  length = int(lengths.max()) if length is None else int(length)
  if lengths.max() > length:
    raise ConfigError(f'length={length} is shorter than the longest document '
                      f'({lengths.max()} distinct words); omit length')
  num_docs = m.shape[0]
  ids = np.zeros((num_docs, length), np.int32)
  cnt = np.zeros((num_docs, length), np.float32)
  row = np.repeat(np.arange(num_docs), lengths)
  col = np.arange(m.nnz) - np.repeat(m.indptr[:-1], lengths)
  ids[row, col] = m.indices
  cnt[row, col] = m.data
  return Docs(ids, cnt)


def synthetic_lda(seed: int, num_docs: int = 200, num_topics: int = 4,
                  words_per_topic: int = 8, doc_length: int = 60,
                  alpha: float = 0.2, leak: float = 0.02):
  """A corpus drawn from LDA with known, well-separated topics.

  Topic k puts most of its mass on its own block of `words_per_topic` words
  and `leak` of it spread over all V = num_topics * words_per_topic words.

  Returns:
    (counts [D, V] CSR int64, topics [K, V] rows summing to 1, theta [D, K]).
  """
  rng = np.random.default_rng(seed)
  vocab_size = num_topics * words_per_topic
  topics = np.full((num_topics, vocab_size), leak / vocab_size)
  for k in range(num_topics):
    block = slice(k * words_per_topic, (k + 1) * words_per_topic)
    topics[k, block] += (1.0 - leak) * rng.dirichlet(
        np.full(words_per_topic, 5.0))
  topics /= topics.sum(1, keepdims=True)
  theta = rng.dirichlet(np.full(num_topics, alpha), size=num_docs)
  probs = theta @ topics
  probs /= probs.sum(1, keepdims=True)
  counts = np.stack([rng.multinomial(doc_length, p) for p in probs])
  return sp.csr_matrix(counts.astype(np.int64)), topics, theta
