"""TokenTrie: the vocabulary's byte strings as a trie laid out level by level, for bulk walks.

Invariants:
- Node 0 is the root (the empty prefix). Every other node is one non-empty prefix of some usable
  token (non-special, non-empty bytes); `node_byte[n]` is its last byte, `parent[n]` the node of
  the prefix one byte shorter.
- Nodes are numbered breadth-first: the nodes of depth d are exactly `level_bounds[d-1] ..
  level_bounds[d]-1`, in the byte order of their prefixes, so a walk handles one depth with a
  few whole-slice numpy operations.
- `token_node[t]` is the node spelling token t for usable tokens, and 0 (the root) otherwise.
- `parent` and `token_node` are int32 (a trie has far fewer than 2**31 nodes), in a built trie and
  a loaded one alike, so loading keeps the stored arrays without converting them.

The constructor works on whole arrays, without a Python step per token (Gemma 3's 262,144 tokens
in about 0.3 s): the tokens sorted as byte strings, each adds the nodes of the bytes it does not
share with the one before it.

`preorder` lays the same nodes out depth first (`Preorder`), the order the compiled walk
(`decoding.tokens.walk`) reads them in; the constructor sets it from its own depth-first
numbering, and a trie loaded without it derives it from the arrays above when first needed.

`to_arrays` / `from_arrays` turn a trie into plain arrays and back (the disk cache stores them);
`from_arrays` checks the structure (parents one level up, every index in range, one node per usable
token at the depth of its length, shared only by tokens with the same bytes), so a walk over a
loaded trie never indexes out of bounds; that
the bytes spell the tokens is left to the cache's checksum (a full check costs as much as a build).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from decoding.tokens import bits as packed
from decoding.tokens.vocabulary import Vocabulary


@dataclass(frozen=True)
class Preorder:
    """The trie's nodes in depth-first order (a node, then its children's subtrees in byte order).

    Invariants: node 0 is the root; `end[i] > i` is one past the last node of i's subtree (so a
    node with children has `end[i] > i + 1`); `depth[i]` is its length in bytes, the root's 0;
    `byte[i]` its last byte; the tokens spelled by node i are `tokens[token_start[i]:
    token_start[i + 1]]` (the root spells none); `of_node[b]` is the position of breadth-first
    node b. All int32 except `byte` (uint8).
    """

    end: np.ndarray
    depth: np.ndarray
    byte: np.ndarray
    token_start: np.ndarray
    tokens: np.ndarray
    of_node: np.ndarray


class TokenTrie:
    """The byte trie of a vocabulary's usable tokens, in breadth-first order."""

    def __init__(self, vocabulary: Vocabulary):
        usable = _usable_ids(vocabulary)
        rows, lengths = _padded_rows(vocabulary, usable)
        order = _lexicographic_order(rows, lengths)
        rows, lengths = rows[order], lengths[order]
        # Depth-first numbering from the sorted tokens: token k adds the nodes of the bytes it
        # does not share with token k-1 (depths common[k]+1 .. lengths[k]), numbered from
        # first[k] on; the node ids are 1.. in that order, the root is 0.
        common = _common_prefixes(rows, lengths)
        added = lengths - common
        first = 1 + np.cumsum(added) - added
        owner = np.repeat(np.arange(len(lengths)), added)
        depth = np.concatenate(([0], common[owner] + np.arange(1, len(owner) + 1)
                                - first[owner] + 1)).astype(np.int64)
        byte = np.concatenate(([0], rows[owner, depth[1:] - 1])).astype(np.uint8)
        # Breadth-first renumbering: by depth, then by depth-first id (lexicographic order).
        # In depth-first numbering the node at depth d on the path at id m is the last node of
        # depth d numbered below m: a node's parent (d = its depth - 1, m = its id) and a
        # token's node (d = its length, m = the id after its last new node; a token that repeats
        # the previous token's bytes adds none and spells that token's node) are found by
        # searching the breadth-first keys depth * n + id.
        n = len(depth)
        bfs = np.argsort(depth.astype(np.min_scalar_type(depth.max())), kind="stable")  # radix
        keys = depth[bfs] * n + bfs
        parent = np.searchsorted(keys, (depth[bfs] - 1) * n + bfs) - 1
        parent[0] = 0
        spelled = np.searchsorted(keys, lengths * n + first + added) - 1
        self.parent = parent.astype(np.int32)
        self.node_byte = byte[bfs]
        self.token_node = np.zeros(vocabulary.size, dtype=np.int32)
        self.token_node[usable[order]] = spelled
        self.usable_ids = usable
        self.level_bounds = np.cumsum(np.bincount(depth)).tolist()  # [d] = end of depth d
        self.num_nodes = n
        # The depth-first layout is the numbering above: set it now rather than derive it.
        self.__dict__["preorder"] = _depth_first(depth, byte, bfs, parent, self.level_bounds,
                                                 usable[order], bfs[spelled])

    @functools.cached_property
    def preorder(self) -> Preorder:
        """The nodes in depth-first order (see `Preorder`), computed from the breadth-first arrays
        level by level: a child's position is its parent's, plus one, plus the sizes of the
        subtrees of the siblings before it (siblings are consecutive, in byte order)."""
        n, bounds = self.num_nodes, self.level_bounds
        if (np.diff(self.parent[1:]) < 0).any():
            raise ValueError("trie arrays: siblings are not consecutive")
        size = np.ones(n, dtype=np.int64)
        for d in range(len(bounds) - 1, 0, -1):  # subtree sizes, deepest level first
            lo, hi = bounds[d - 1], bounds[d]
            size += np.bincount(self.parent[lo:hi], weights=size[lo:hi], minlength=n
                                ).astype(np.int64)
        position = np.zeros(n, dtype=np.int64)
        depth = np.zeros(n, dtype=np.int32)
        for d in range(1, len(bounds)):
            lo, hi = bounds[d - 1], bounds[d]
            parents, sizes = self.parent[lo:hi], size[lo:hi]
            before = np.cumsum(sizes) - sizes  # sizes of the earlier nodes of this level
            first = np.flatnonzero(np.diff(parents, prepend=-1))  # each sibling group's start
            group = np.repeat(first, np.diff(np.append(first, hi - lo)))
            position[lo:hi] = position[parents] + 1 + before - before[group]
            depth[lo:hi] = d
        order = np.empty(n, dtype=np.int64)
        order[position] = np.arange(n)
        tokens = self.usable_ids[np.argsort(position[self.token_node[self.usable_ids]],
                                            kind="stable")]
        counts = np.bincount(position[self.token_node[tokens]], minlength=n)
        return Preorder(end=(position + size)[order].astype(np.int32), depth=depth[order],
                        byte=self.node_byte[order],
                        token_start=np.concatenate(([0], np.cumsum(counts))).astype(np.int32),
                        tokens=tokens.astype(np.int32), of_node=position.astype(np.int32))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The trie as plain arrays (`parent`, `node_byte`, `token_node`, `level_bounds`, and
        the `Preorder` fields prefixed with `pre_`)."""
        pre = self.preorder
        return {"parent": self.parent, "node_byte": self.node_byte,
                "token_node": self.token_node,
                "level_bounds": np.asarray(self.level_bounds, dtype=np.int64),
                **{f"pre_{f.name}": getattr(pre, f.name) for f in fields(Preorder)}}

    @classmethod
    def from_arrays(cls, vocabulary: Vocabulary, arrays: dict[str, np.ndarray]) -> "TokenTrie":
        """The trie of `vocabulary` from `to_arrays` output; ValueError if the arrays break its
        structure (see the module docstring)."""
        try:
            parent = np.asarray(arrays["parent"])
            node_byte = np.asarray(arrays["node_byte"])
            token_node = np.asarray(arrays["token_node"])
            bounds = np.asarray(arrays["level_bounds"])
        except KeyError as exc:
            raise ValueError(f"trie arrays lack {exc}") from None
        n = len(parent)
        if not (parent.ndim == node_byte.ndim == token_node.ndim == bounds.ndim == 1
                and parent.dtype == token_node.dtype == np.int32 and bounds.dtype.kind == "i"
                and node_byte.dtype == np.uint8 and len(node_byte) == n > 0
                and len(token_node) == vocabulary.size and len(bounds) > 0
                and bounds[0] == 1 and bounds[-1] == n and (np.diff(bounds) > 0).all()):
            raise ValueError("trie arrays have the wrong types or shapes")
        # Level d (d >= 1) is nodes bounds[d-1] .. bounds[d]-1; its parents must lie on level d-1.
        above = np.concatenate(([0], bounds[:-1]))
        if parent[0] != 0 or node_byte[0] != 0 or (len(bounds) > 1 and (
                (np.minimum.reduceat(parent, bounds[:-1]) < above[:-1]).any()
                or (np.maximum.reduceat(parent, bounds[:-1]) >= bounds[:-1]).any())):
            raise ValueError("trie arrays: a node's parent is not on the level above it")
        if token_node.min() < 0 or token_node.max() >= n:
            raise ValueError("trie arrays: a token node is out of range")
        _check_token_nodes(vocabulary, token_node, bounds)
        trie = cls.__new__(cls)
        trie.parent = parent
        trie.node_byte = node_byte
        trie.token_node = token_node
        trie.usable_ids = np.flatnonzero(token_node > 0).astype(np.int64)
        trie.level_bounds = bounds.tolist()
        trie.num_nodes = n
        pre = _preorder_of(arrays, n, len(trie.usable_ids))
        if pre is not None:  # else computed when first needed
            trie.__dict__["preorder"] = pre
        return trie


def _depth_first(depth: np.ndarray, byte: np.ndarray, bfs: np.ndarray, parent: np.ndarray,
                 bounds: list[int], tokens: np.ndarray, token_dfs: np.ndarray) -> Preorder:
    """The `Preorder` of a trie built from sorted tokens: `depth` and `byte` by depth-first id,
    `bfs` the depth-first id of each breadth-first node, `parent` the breadth-first parents,
    `tokens` the usable ids in byte order (ties by id) and `token_dfs` their nodes' depth-first
    ids. A node's subtree ends where the next node of its level starts, or where its parent's
    subtree ends if that comes first; filled level by level from the root down."""
    n = len(depth)
    end = np.empty(n, dtype=np.int64)  # by breadth-first node
    end[0] = n
    for d in range(1, len(bounds)):
        lo, hi = bounds[d - 1], bounds[d]
        following = np.append(bfs[lo + 1:hi], n)  # the next node of this level (depth first)
        end[lo:hi] = np.minimum(following, end[parent[lo:hi]])
    by_dfs = np.empty(n, dtype=np.int32)
    by_dfs[bfs] = end
    counts = np.bincount(token_dfs, minlength=n)
    return Preorder(end=by_dfs, depth=depth.astype(np.int32), byte=byte,
                    token_start=np.concatenate(([0], np.cumsum(counts))).astype(np.int32),
                    tokens=tokens.astype(np.int32), of_node=bfs.astype(np.int32))


def unusable_bits_of(vocabulary: Vocabulary) -> np.ndarray:
    """The vocabulary-wide flags of the tokens no trie holds (special, or without bytes), packed
    (`decoding.tokens.bits`), without making the trie; kept per fingerprint, read-only."""
    bits = _UNUSABLE.get(vocabulary.fingerprint)
    if bits is None:
        never = np.ones(vocabulary.size, dtype=bool)
        never[_usable_ids(vocabulary)] = False
        bits = packed.pack(never)
        bits.flags.writeable = False
        _UNUSABLE[vocabulary.fingerprint] = bits
    return bits


_UNUSABLE: dict[str, np.ndarray] = {}


def _usable_ids(vocabulary: Vocabulary) -> np.ndarray:
    """The ids of the tokens with bytes that are not special, ascending (int64)."""
    usable = vocabulary.lengths > 0
    usable[np.fromiter(vocabulary.special_ids, dtype=np.int64,
                       count=len(vocabulary.special_ids))] = False
    return np.flatnonzero(usable).astype(np.int64)


def _padded_rows(vocabulary: Vocabulary, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of tokens `ids`, one zero-padded row each (uint8), and their lengths (int64)."""
    lengths = vocabulary.lengths[ids].astype(np.int64)
    rows = np.zeros((len(ids), int(lengths.max(initial=0))), dtype=np.uint8)
    ends = np.cumsum(lengths)
    column = np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - lengths, lengths)
    rows[np.repeat(np.arange(len(ids)), lengths), column] = \
        vocabulary.flat[np.repeat(vocabulary.offsets[ids], lengths) + column]
    return rows, lengths


def _lexicographic_order(rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The stable order that sorts the rows' tokens as byte strings: rows compared as raw bytes,
    then by length (the padding makes a token and itself plus trailing zero bytes compare equal,
    and the shorter one, a prefix of the other, sorts first), then by position."""
    keys = np.concatenate((rows, _big_endian(lengths), _big_endian(np.arange(len(lengths)))),
                          axis=1)  # the position last: no two keys are equal, any sort is stable
    return np.argsort(keys.view(f"S{keys.shape[1]}").ravel())


def _big_endian(values: np.ndarray) -> np.ndarray:
    """Each value as a row of 4 bytes, most significant first (values below 2**32)."""
    return values.astype(">u4").view(np.uint8).reshape(-1, 4)


def _common_prefixes(rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per sorted token, the length of the prefix it shares with the token before it (0 for the
    first), as int64."""
    common = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) > 1:
        differ = np.concatenate((rows[1:] != rows[:-1],
                                 np.ones((len(lengths) - 1, 1), dtype=bool)), axis=1)
        common[1:] = np.minimum(differ.argmax(axis=1),
                                np.minimum(lengths[1:], lengths[:-1]))
    return common


def _preorder_of(arrays: dict[str, np.ndarray], n: int, usable: int) -> Preorder | None:
    """The stored `Preorder` if every field is there with its type and length (the compiled
    walk checks every index it follows, so a wrong value can never reach outside the arrays)."""
    try:
        pre = Preorder(**{f.name: np.asarray(arrays[f"pre_{f.name}"]) for f in fields(Preorder)})
    except KeyError:
        return None
    sized = [(pre.end, np.int32, n), (pre.depth, np.int32, n), (pre.byte, np.uint8, n),
             (pre.token_start, np.int32, n + 1), (pre.tokens, np.int32, usable),
             (pre.of_node, np.int32, n)]
    if all(a.ndim == 1 and a.dtype == dtype and len(a) == size for a, dtype, size in sized):
        return pre
    return None


def _check_token_nodes(vocabulary: Vocabulary, token_node: np.ndarray, bounds: np.ndarray) -> None:
    """ValueError unless the usable tokens, and only they, have nodes at their length (depth d is
    the node range `[bounds[d-1], bounds[d])`), shared only by tokens with the same bytes (Gemma's
    added token "\n" and its byte-fallback token <0x0A> spell one node)."""
    usable = vocabulary.lengths > 0
    usable[sorted(vocabulary.special_ids)] = False
    nodes, lengths = token_node[usable], vocabulary.lengths[usable]
    if ((token_node > 0) != usable).any() or lengths.max(initial=0) >= len(bounds) \
            or (nodes < bounds[lengths - 1]).any() or (nodes >= bounds[lengths]).any() \
            or not _shared_nodes_spell_the_same(vocabulary, np.flatnonzero(usable), nodes):
        raise ValueError("trie arrays: the token nodes do not match the usable tokens")


def _shared_nodes_spell_the_same(vocabulary: Vocabulary, ids: np.ndarray,
                                 nodes: np.ndarray) -> bool:
    """Whether tokens `ids` that share a node (`nodes`, one per id) have the same bytes."""
    on_shared = np.flatnonzero(np.bincount(nodes)[nodes] > 1)  # few: sorted cheaply
    order = on_shared[np.argsort(nodes[on_shared], kind="stable")]
    same = np.flatnonzero(nodes[order][1:] == nodes[order][:-1])
    flat, offsets, lengths = vocabulary.flat, vocabulary.offsets, vocabulary.lengths
    for a, b in zip(ids[order][same].tolist(), ids[order][same + 1].tolist()):
        if lengths[a] != lengths[b] or not np.array_equal(
                flat[offsets[a]:offsets[a] + lengths[a]], flat[offsets[b]:offsets[b] + lengths[b]]):
            return False
    return True


_LOCK = threading.Lock()
_TRIES: dict[str, TokenTrie] = {}


def trie_of(vocabulary: Vocabulary,
            make: Callable[[Vocabulary], TokenTrie] = TokenTrie) -> TokenTrie:
    """The trie of a vocabulary, made by `make` once per fingerprint in this process (a hit
    takes no lock)."""
    trie = _TRIES.get(vocabulary.fingerprint)
    if trie is not None:
        return trie
    with _LOCK:
        trie = _TRIES.get(vocabulary.fingerprint)
        if trie is None:
            trie = _TRIES[vocabulary.fingerprint] = make(vocabulary)
        return trie
