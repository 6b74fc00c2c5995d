"""TokenTrie: the vocabulary's byte strings as a trie laid out level by level, for bulk walks.

Invariants:
- Node 0 is the root (the empty prefix). Every other node is one non-empty prefix of some usable
  token (non-special, non-empty bytes); `node_byte[n]` is its last byte, `parent[n]` the node of
  the prefix one byte shorter.
- Nodes are numbered breadth-first: the nodes of depth d are exactly `level_bounds[d-1] ..
  level_bounds[d]-1`, so a walk handles one depth with a few whole-slice numpy operations.
- `token_node[t]` is the node spelling token t for usable tokens, and 0 (the root) otherwise.

`to_arrays` / `from_arrays` turn a trie into plain arrays and back (the disk cache stores them);
`from_arrays` checks the structure (parents one level up, every index in range, one node per usable
token at the depth of its length), so a walk over a loaded trie never indexes out of bounds; that
the bytes spell the tokens is left to the cache's checksum (a full check costs as much as a build).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from decoding.vocabulary import Vocabulary


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
        self.parent = new_id[np.asarray(parent, dtype=np.int64)[order]]
        self.node_byte = np.asarray(byte, dtype=np.uint8)[order]
        self.token_node = np.where(token_dfs > 0, new_id[token_dfs], 0)
        self.usable_ids = np.asarray(sorted(usable), dtype=np.int64)
        counts = np.bincount(depth_arr)
        self.level_bounds = np.cumsum(counts).tolist()  # level_bounds[d] = end of depth d
        self.num_nodes = len(order)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The trie as plain arrays (`parent`, `node_byte`, `token_node`, `level_bounds`)."""
        return {"parent": self.parent.astype(np.int32), "node_byte": self.node_byte,
                "token_node": self.token_node.astype(np.int32),
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
                and parent.dtype.kind == token_node.dtype.kind == bounds.dtype.kind == "i"
                and node_byte.dtype == np.uint8 and len(node_byte) == n > 0
                and len(token_node) == vocabulary.size and len(bounds) > 0
                and bounds[0] == 1 and bounds[-1] == n and (np.diff(bounds) > 0).all()):
            raise ValueError("trie arrays have the wrong types or shapes")
        depth = np.repeat(np.arange(len(bounds)), np.diff(bounds, prepend=0))
        if parent[0] != 0 or node_byte[0] != 0 or parent.min() < 0 or parent.max() >= n \
                or (depth[parent[1:]] != depth[1:] - 1).any():
            raise ValueError("trie arrays: a node's parent is not on the level above it")
        if token_node.min() < 0 or token_node.max() >= n:
            raise ValueError("trie arrays: a token node is out of range")
        _check_token_nodes(vocabulary, token_node, depth)
        trie = cls.__new__(cls)
        trie.parent = parent.astype(np.int64)
        trie.node_byte = node_byte
        trie.token_node = token_node.astype(np.int64)
        trie.usable_ids = np.flatnonzero(token_node).astype(np.int64)
        trie.level_bounds = bounds.tolist()
        trie.num_nodes = n
        return trie


def _check_token_nodes(vocabulary: Vocabulary, token_node: np.ndarray, depth: np.ndarray) -> None:
    """ValueError unless the usable tokens, and only they, have distinct nodes at their length."""
    lengths = vocabulary.lengths.astype(np.int64)
    usable = lengths > 0
    usable[sorted(vocabulary.special_ids)] = False
    if ((token_node > 0) != usable).any() or (depth[token_node] != lengths * usable).any() \
            or np.bincount(token_node[usable], minlength=1).max(initial=0) > 1:
        raise ValueError("trie arrays: the token nodes do not match the usable tokens")


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
