"""TokenTrie: the vocabulary's byte strings as a trie laid out level by level, for bulk walks.

Invariants:
- Node 0 is the root (the empty prefix). Every other node is one non-empty prefix of some usable
  token (non-special, non-empty bytes); `node_byte[n]` is its last byte, `parent[n]` the node of
  the prefix one byte shorter.
- Nodes are numbered breadth-first: the nodes of depth d are exactly `level_bounds[d-1] ..
  level_bounds[d]-1`, so a walk handles one depth with a few whole-slice numpy operations.
- `token_node[t]` is the node spelling token t for usable tokens, and 0 (the root) otherwise.
"""

from __future__ import annotations

import threading

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


_LOCK = threading.Lock()
_TRIES: dict[str, TokenTrie] = {}


def trie_of(vocabulary: Vocabulary) -> TokenTrie:
    """The trie of a vocabulary, built once per fingerprint in this process."""
    with _LOCK:
        trie = _TRIES.get(vocabulary.fingerprint)
        if trie is None:
            trie = _TRIES[vocabulary.fingerprint] = TokenTrie(vocabulary)
        return trie
