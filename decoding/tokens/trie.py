"""TokenTrie: the vocabulary's byte strings as a trie laid out level by level, for bulk walks.

Invariants:
- Node 0 is the root (the empty prefix). Every other node is one non-empty prefix of some usable
  token (non-special, non-empty bytes); `node_byte[n]` is its last byte, `parent[n]` the node of
  the prefix one byte shorter.
- Nodes are numbered breadth-first: the nodes of depth d are exactly `level_bounds[d-1] ..
  level_bounds[d]-1`, so a walk handles one depth with a few whole-slice numpy operations.
- `token_node[t]` is the node spelling token t for usable tokens, and 0 (the root) otherwise.
- `parent` and `token_node` are int32 (a trie has far fewer than 2**31 nodes), in a built trie and
  a loaded one alike, so loading keeps the stored arrays without converting them.

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

import numpy as np

from decoding.tokens.vocabulary import Vocabulary


class TokenTrie:
    """The byte trie of a vocabulary's usable tokens, in breadth-first order."""

    def __init__(self, vocabulary: Vocabulary):
        usable = [t for t, b in enumerate(vocabulary.token_bytes)
                  if b and t not in vocabulary.special_ids]
        usable.sort(key=vocabulary.token_bytes.__getitem__)
        # Depth-first numbering from the sorted tokens: a token adds the nodes of the bytes
        # it does not share with the previous token.
        parent, byte, depth = [0], [0], [0]
        token_dfs = np.zeros(vocabulary.size, dtype=np.int64)
        path: list[int] = [0]
        prev = b""
        for t in usable:
            tok = vocabulary.token_bytes[t]
            common = 0
            limit = min(len(tok), len(prev))
            while common < limit and tok[common] == prev[common]:
                common += 1
            del path[common + 1:]
            for d in range(common, len(tok)):
                parent.append(path[-1])
                byte.append(tok[d])
                depth.append(d + 1)
                path.append(len(parent) - 1)
            token_dfs[t] = path[len(tok)]
            prev = tok
        depth_arr = np.asarray(depth, dtype=np.int64)
        # Breadth-first renumbering: by depth, then by depth-first id (lexicographic order).
        order = np.lexsort((np.arange(len(depth_arr)), depth_arr))
        new_id = np.empty_like(order)
        new_id[order] = np.arange(len(order))
        self.parent = new_id[np.asarray(parent, dtype=np.int64)[order]].astype(np.int32)
        self.node_byte = np.asarray(byte, dtype=np.uint8)[order]
        self.token_node = np.where(token_dfs > 0, new_id[token_dfs], 0).astype(np.int32)
        self.usable_ids = np.asarray(sorted(usable), dtype=np.int64)
        counts = np.bincount(depth_arr)
        self.level_bounds = np.cumsum(counts).tolist()  # level_bounds[d] = end of depth d
        self.num_nodes = len(order)

    @functools.cached_property
    def unusable_bits(self) -> np.ndarray:
        """`np.packbits` of the vocabulary-wide flags of the tokens that are not usable."""
        never = np.ones(len(self.token_node), dtype=bool)
        never[self.usable_ids] = False
        return np.packbits(never)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The trie as plain arrays (`parent`, `node_byte`, `token_node`, `level_bounds`)."""
        return {"parent": self.parent, "node_byte": self.node_byte,
                "token_node": self.token_node,
                "level_bounds": np.asarray(self.level_bounds, dtype=np.int64)}

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
        return trie


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
    """The trie of a vocabulary, made by `make` once per fingerprint in this process."""
    with _LOCK:
        trie = _TRIES.get(vocabulary.fingerprint)
        if trie is None:
            trie = _TRIES[vocabulary.fingerprint] = make(vocabulary)
        return trie
