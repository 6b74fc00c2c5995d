/* The compiled trie walk of decoding.tokens.walk (see that module for the contract).
 *
 * walk_subtrees(nodes, states, byte, byte_class, end, depth, token_start, tokens, rows,
 *               num_classes, expanded, prune, boundary, items, next_of, bits, hit_tokens,
 *               hit_states, found, vocab, stack, held_nodes, held_states) -> (held, found)
 *
 * Arrays are C-contiguous buffers: int32 except `byte` (one byte per node), `expanded` (one byte
 * per state), `prune` (one byte per node, or empty: prune nothing) and `bits` (packed flags, one
 * bit per token, lowest first). A node's byte class is byte_class[byte[node]] (256 entries), so
 * nothing per automaton is laid out over the trie. For each j, walks the subtree below preorder
 * node nodes[j] entered in state states[j]. Each token reached in a live state s (its id below
 * `vocab`) is written to whichever outputs are non-empty: next_of[token] = s, and its bit in
 * `bits`, with then, while fewer than len(hit_tokens) were recorded, the pair (token, s) at
 * position `found` of hit_tokens / hit_states; `found` (passed in, returned) counts every token
 * reached, recorded or not, so a caller resuming a walk passes back what the previous call
 * returned. The walk skips the
 * subtree below a dead node (state 0) or a node whose prune byte is set, and sets aside (in
 * held_nodes / held_states) each node with children whose state has no row yet, skipping its
 * subtree; `held` is how many were set aside. With a non-empty `items` (one per token), also
 * writes into items[token] how many times the token's path leaves state `boundary` (for a
 * repetition's automaton: how many items the token starts); `stack` then holds two halves, states
 * and counts. Every index is checked before it is used; input
 * that breaks the preorder layout raises ValueError and writes nothing out of bounds. The GIL is
 * released during a walk whose subtrees span at least RELEASE_NODES nodes (a walk of a whole big
 * vocabulary): a release lets any thread waiting for the GIL (the cache's writer) take it for up
 * to the switch interval (5 ms), which a short walk would wait for every time.
 *
 * crossing_flags(byte_flags, byte, depth, end, token_start, out) -> None
 *
 * For decoding.tokens.lexemes: `byte_flags` (256 bytes) flags the bytes of a set F; the trie's
 * preorder arrays as above. Writes out[i] = 1 where no token spelled at or below node i holds a
 * byte of F, else 0: a token holds one exactly when a node on its path has such a byte, so one
 * pass flags the nodes that spell a token on such a path, keeping the flag of each depth on a
 * stack, and a second, from the last node back, clears every node whose subtree (i .. end[i])
 * holds a flagged one, from a running count. Indices are checked (ValueError).
 *
 * fill_rows(bits, eos, out) -> None (decoding.tokens.bits.fill_rows)
 *
 * `out` is a writable 2-D int32 buffer whose rows are contiguous (any row stride), at least
 * len(bits) rows. For each i, copies the packed uint8 flags bits[i] into the bytes of row i,
 * zeroes the rest of the row, then sets the bit of every token id in eos[i] (an int64 buffer;
 * empty: none). Every length and id is checked before anything is written (ValueError); the
 * copies run with the GIL released when they write at least RELEASE_BYTES bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define NBUF 19
#define RELEASE_NODES (1 << 18)  /* a walk spanning fewer nodes keeps the GIL */
#define RELEASE_BYTES (1 << 20)  /* so does a fill writing fewer bytes */

typedef struct {
    Py_buffer view;
    Py_ssize_t len; /* items */
} Arr;

static int get_arr(PyObject *obj, Arr *a, Py_ssize_t itemsize, int writable, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &a->view, flags) < 0) return -1;
    if (a->view.itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: items of %zd bytes expected", name, itemsize);
        PyBuffer_Release(&a->view);
        return -1;
    }
    a->len = a->view.len / itemsize;
    return 0;
}

typedef struct {
    int32_t *next_of;      /* per token, or NULL */
    uint8_t *bits;         /* packed per token, or NULL */
    int32_t *hit_tokens;   /* the first `cap` tokens reached, with their states */
    int32_t *hit_states;
    Py_ssize_t cap;
    Py_ssize_t found;      /* tokens reached so far (recorded or not) */
    Py_ssize_t vocab;      /* token ids are below this */
} Out;

/* The walk, with the outputs in use (`next_of`, `bits` and hits, `items`) as constant flags:
 * each caller below gets its own copy of the loop without the tests of the others. */
static inline __attribute__((always_inline)) Py_ssize_t walk_with(
        const int32_t *nodes, const int32_t *states, Py_ssize_t njobs, const uint8_t *byte,
        const int32_t *byte_class, const int32_t *end, const int32_t *depth, Py_ssize_t n,
        const int32_t *token_start, const int32_t *tokens, Py_ssize_t ntokens,
        const int32_t *rows, Py_ssize_t nstates, int32_t nclasses, const uint8_t *expanded,
        const uint8_t *prune, int32_t boundary, int32_t *items, Out *out, int32_t *stack,
        Py_ssize_t nstack, int32_t *held_nodes, int32_t *held_states, const int dense,
        const int packed) {
    Py_ssize_t held = 0;
    int32_t *counts = NULL;
    int32_t cls[256];
    for (int b = 0; b < 256; b++) {
        cls[b] = byte_class[b];
        if (cls[b] < 0 || cls[b] >= nclasses) return -1;
    }
    if (items != NULL) {  /* counting: the stack's second half holds the counts */
        nstack /= 2;
        counts = stack + nstack;
        if (njobs > 1 || (njobs == 1 && nodes[0] != 0)) return -1;  /* whole walks only */
        if (nstack > 0) counts[0] = 0;
    }
    for (Py_ssize_t j = 0; j < njobs; j++) {
        int32_t root = nodes[j];
        if (root < 0 || root >= n || depth[root] >= nstack || states[j] < 0 || states[j] >= nstates)
            return -1;
        stack[depth[root]] = states[j];
        int32_t stop = end[root];
        if (stop > n) return -1;
        int32_t i = root + 1;
        while (i < stop) {
            int32_t next = end[i];
            if (next <= i) return -1;
            if (prune != NULL && prune[i]) {
                i = next;
                continue;
            }
            int32_t d = depth[i];
            if (d < 1 || d >= nstack) return -1;
            int32_t parent = stack[d - 1];
            int32_t s = rows[(Py_ssize_t)parent * nclasses + cls[byte[i]]];
            if (s == 0) {
                i = next;
                continue;
            }
            if (s < 0 || s >= nstates) return -1;
            int32_t t0 = token_start[i], t1 = token_start[i + 1];
            if (t0 < 0 || t1 > ntokens || t1 < t0) return -1;
            int32_t count = 0;
            if (counts != NULL) {
                count = counts[d - 1] + (parent == boundary);
                counts[d] = count;
            }
            /* A node spells 0 or 1 tokens, unpredictably: its first token slot is handled
             * without a branch on whether it spells one (`has` masks the writes; a node that
             * spells none reads some token's slot and leaves its outputs as they are; the
             * unwritten hit slot at `found` is overwritten by the next token reached). */
            if (ntokens > 0) {
                int32_t has = t1 > t0;
                int32_t k = t0 < ntokens ? t0 : ntokens - 1;
                do {
                    int32_t t = tokens[k];
                    if (t < 0 || t >= out->vocab) return -1;
                    if (dense) out->next_of[t] = has ? s : out->next_of[t];
                    if (packed) {
                        out->bits[t >> 3] |= (uint8_t)((uint32_t)has << (t & 7));
                        if (out->found < out->cap) {
                            out->hit_tokens[out->found] = t;
                            out->hit_states[out->found] = s;
                        }
                    }
                    out->found += has;
                    if (items != NULL) items[t] = has ? count : items[t];
                    has = 1;
                } while (++k < t1);
            }
            /* Written for leaves too (only a node's children read stack[d]): one branch,
             * rarely taken, instead of one on whether the node has children. */
            stack[d] = s;
            if ((next > i + 1) & !expanded[s]) {
                if (counts != NULL) return -1;  /* counting walks need every row first */
                if (held >= n) return -1;
                held_nodes[held] = i;
                held_states[held] = s;
                held++;
                i = next;
                continue;
            }
            i++;
        }
    }
    return held;
}

static Py_ssize_t walk(const int32_t *nodes, const int32_t *states, Py_ssize_t njobs,
                       const uint8_t *byte, const int32_t *byte_class, const int32_t *end,
                       const int32_t *depth, Py_ssize_t n, const int32_t *token_start,
                       const int32_t *tokens, Py_ssize_t ntokens, const int32_t *rows,
                       Py_ssize_t nstates, int32_t nclasses, const uint8_t *expanded,
                       const uint8_t *prune, int32_t boundary, int32_t *items, Out *out,
                       int32_t *stack, Py_ssize_t nstack, int32_t *held_nodes,
                       int32_t *held_states) {
#define WALK(dense, packed, items_)                                                         \
    walk_with(nodes, states, njobs, byte, byte_class, end, depth, n, token_start, tokens,   \
              ntokens, rows, nstates, nclasses, expanded, prune, boundary, items_, out,     \
              stack, nstack, held_nodes, held_states, dense, packed)
    int dense = out->next_of != NULL, packed = out->bits != NULL;
    if (items != NULL) return WALK(dense, packed, items);
    if (dense && !packed) return WALK(1, 0, NULL);
    if (packed && !dense) return WALK(0, 1, NULL);
    return WALK(dense, packed, NULL);
#undef WALK
}

static PyObject *walk_subtrees(PyObject *self, PyObject *args) {
    PyObject *o[NBUF];
    int num_classes, boundary;
    Py_ssize_t found, vocab;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOiOOiOOOOOnnOOO", &o[0], &o[1], &o[2], &o[3], &o[4],
                          &o[5], &o[6], &o[7], &o[8], &num_classes, &o[9], &o[10], &boundary,
                          &o[11], &o[12], &o[13], &o[14], &o[15], &found, &vocab, &o[16], &o[17],
                          &o[18]))
        return NULL;
    static const char *names[NBUF] = {"nodes", "states", "byte", "byte_class", "end", "depth",
                                      "token_start", "tokens", "rows", "expanded", "prune",
                                      "items", "next_of", "bits", "hit_tokens", "hit_states",
                                      "stack", "held_nodes", "held_states"};
    static const Py_ssize_t sizes[NBUF] = {4, 4, 1, 4, 4, 4, 4, 4, 4, 1, 1, 4, 4, 1, 4, 4, 4, 4, 4};
    static const int writable[NBUF] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    Arr a[NBUF];
    int got = 0;
    PyObject *result = NULL;
    for (; got < NBUF; got++)
        if (get_arr(o[got], &a[got], sizes[got], writable[got], names[got]) < 0) goto done;
    Py_ssize_t n = a[2].len;
    if (num_classes < 1 || vocab < 0 || found < 0 || a[1].len != a[0].len || a[3].len != 256
        || a[4].len != n || a[5].len != n || a[6].len != n + 1 || a[8].len % num_classes != 0
        || (a[10].len && a[10].len != n) || (a[11].len && a[11].len != vocab)
        || (a[12].len && a[12].len != vocab) || (a[13].len && a[13].len * 8 < vocab)
        || a[14].len != a[15].len || a[17].len < n || a[18].len < n) {
        PyErr_SetString(PyExc_ValueError, "walk_subtrees: array lengths do not fit together");
        goto done;
    }
    Py_ssize_t nstates = a[8].len / num_classes;
    if (a[9].len < nstates) nstates = a[9].len;
    const int32_t *roots = a[0].view.buf, *ends = a[4].view.buf;
    Py_ssize_t span = 0;  /* nodes below the roots: what the walk may visit at most */
    for (Py_ssize_t j = 0; j < a[0].len && span < RELEASE_NODES; j++)
        if (roots[j] >= 0 && roots[j] < n && ends[roots[j]] > roots[j]) span += ends[roots[j]] - roots[j];
    Out out = {a[12].len ? a[12].view.buf : NULL, a[13].len ? a[13].view.buf : NULL,
               a[14].view.buf, a[15].view.buf, a[14].len, found, vocab};
    Py_ssize_t held;
    PyThreadState *released = span >= RELEASE_NODES ? PyEval_SaveThread() : NULL;
    held = walk(a[0].view.buf, a[1].view.buf, a[0].len, a[2].view.buf, a[3].view.buf,
                a[4].view.buf, a[5].view.buf, n, a[6].view.buf, a[7].view.buf, a[7].len,
                a[8].view.buf, nstates, num_classes, a[9].view.buf,
                a[10].len ? a[10].view.buf : NULL, boundary, a[11].len ? a[11].view.buf : NULL,
                &out, a[16].view.buf, a[16].len, a[17].view.buf, a[18].view.buf);
    if (released != NULL) PyEval_RestoreThread(released);
    if (held < 0)
        PyErr_SetString(PyExc_ValueError, "walk_subtrees: an index is out of range (the trie "
                                          "or the automaton's rows are malformed)");
    else
        result = Py_BuildValue("nn", held, out.found);
done:
    for (int k = 0; k < got; k++) PyBuffer_Release(&a[k].view);
    return result;
}

/* read_bytes(rows, num_classes, byte_class, expanded, state, data, pos) -> (state, pos)
 *
 * Follows data[pos:] from `state` through the rows; stops at the end, at the dead state, or before
 * the first byte read from a state whose row is not computed yet (`expanded` is 0): returns the
 * state reached and how many bytes of data were read. Indices are checked (ValueError). */
static PyObject *read_bytes(PyObject *self, PyObject *args) {
    PyObject *rows_obj, *class_obj, *expanded_obj;
    int num_classes;
    long long state;
    Py_buffer data;
    Py_ssize_t pos;
    if (!PyArg_ParseTuple(args, "OiOOLy*n", &rows_obj, &num_classes, &class_obj, &expanded_obj,
                          &state, &data, &pos))
        return NULL;
    Arr rows, classes, expanded;
    int got = 0;
    PyObject *result = NULL;
    if (get_arr(rows_obj, &rows, 4, 0, "rows") < 0) goto done;
    got = 1;
    if (get_arr(class_obj, &classes, 4, 0, "byte_class") < 0) goto done;
    got = 2;
    if (get_arr(expanded_obj, &expanded, 1, 0, "expanded") < 0) goto done;
    got = 3;
    Py_ssize_t nstates = num_classes > 0 ? rows.len / num_classes : 0;
    if (expanded.len < nstates) nstates = expanded.len;
    const int32_t *r = rows.view.buf, *cls = classes.view.buf;
    const uint8_t *ex = expanded.view.buf, *bytes = data.buf;
    if (num_classes < 1 || classes.len != 256 || pos < 0 || pos > data.len || state < 0
        || state >= nstates) {
        PyErr_SetString(PyExc_ValueError, "read_bytes: arguments out of range");
        goto done;
    }
    while (pos < data.len && state != 0 && ex[state]) {
        int32_t c = cls[bytes[pos]];
        int32_t next = (c >= 0 && c < num_classes) ? r[(Py_ssize_t)state * num_classes + c] : -1;
        if (next < 0 || next >= nstates) {
            PyErr_SetString(PyExc_ValueError, "read_bytes: a row points outside the automaton");
            goto done;
        }
        state = next;
        pos++;
    }
    result = Py_BuildValue("Ln", state, pos);
done:
    if (got > 0) PyBuffer_Release(&rows.view);
    if (got > 1) PyBuffer_Release(&classes.view);
    if (got > 2) PyBuffer_Release(&expanded.view);
    PyBuffer_Release(&data);
    return result;
}

static PyObject *crossing_flags(PyObject *self, PyObject *args) {
    PyObject *o[6];
    if (!PyArg_ParseTuple(args, "OOOOOO", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5])) return NULL;
    static const char *names[6] = {"byte_flags", "byte", "depth", "end", "token_start", "out"};
    static const Py_ssize_t sizes[6] = {1, 1, 4, 4, 4, 1};
    Arr a[6];
    int got = 0;
    PyObject *result = NULL;
    int32_t *count = NULL;
    uint8_t *path = NULL;
    for (; got < 6; got++)
        if (get_arr(o[got], &a[got], sizes[got], got == 5, names[got]) < 0) goto done;
    Py_ssize_t n = a[1].len;
    if (a[0].len != 256 || a[2].len != n || a[3].len != n || a[4].len != n + 1 || a[5].len != n
        || n < 1) {
        PyErr_SetString(PyExc_ValueError, "crossing_flags: array lengths do not fit together");
        goto done;
    }
    const uint8_t *flag = a[0].view.buf, *byte = a[1].view.buf;
    const int32_t *depth = a[2].view.buf, *end = a[3].view.buf, *start = a[4].view.buf;
    uint8_t *out = a[5].view.buf;
    count = PyMem_Malloc((n + 1) * sizeof(int32_t));  /* count[i]: flagged nodes before i */
    path = PyMem_Malloc(n);  /* per depth: whether the path down to it holds a byte of F */
    if (count == NULL || path == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    count[0] = count[1] = 0;  /* the root spells no token */
    path[0] = 0;
    int bad = depth[0] != 0;
    for (Py_ssize_t i = 1; i < n && !bad; i++) {
        int32_t d = depth[i];
        bad = d < 1 || d >= n || start[i] > start[i + 1];
        if (bad) break;
        path[d] = path[d - 1] | (flag[byte[i]] != 0);
        count[i + 1] = count[i] + (path[d] && start[i + 1] > start[i]);
    }
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        bad = end[i] <= i || end[i] > n;
        if (!bad) out[i] = count[end[i]] == count[i];
    }
    if (bad)
        PyErr_SetString(PyExc_ValueError, "crossing_flags: an index is out of range (the trie "
                                          "arrays are malformed)");
    else
        result = Py_NewRef(Py_None);
done:
    PyMem_Free(count);
    PyMem_Free(path);
    for (int k = 0; k < got; k++) PyBuffer_Release(&a[k].view);
    return result;
}

/* Releases the first n buffers of each list. */
static void release_rows(Py_buffer *bits, Py_buffer *eos, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        PyBuffer_Release(&bits[i]);
        PyBuffer_Release(&eos[i]);
    }
}

static PyObject *fill_rows(PyObject *self, PyObject *args) {
    PyObject *bits_list, *eos_list, *out_obj;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &bits_list, &PyList_Type, &eos_list,
                          &out_obj))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(bits_list);
    if (PyList_GET_SIZE(eos_list) != n) {
        PyErr_SetString(PyExc_ValueError, "fill_rows: bits and eos differ in length");
        return NULL;
    }
    Py_buffer out;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_STRIDES | PyBUF_FORMAT) < 0)
        return NULL;
    if (out.ndim != 2 || out.itemsize != 4 || out.strides[1] != 4 || out.shape[0] < n
        || (n > 1 && out.strides[0] < out.shape[1] * 4)) {
        PyErr_SetString(PyExc_ValueError,
                        "fill_rows: out must be 2-D int32 with contiguous rows, one per row");
        PyBuffer_Release(&out);
        return NULL;
    }
    Py_ssize_t row_bytes = out.shape[1] * 4;
    Py_buffer *bits = PyMem_Calloc(n ? n : 1, sizeof(Py_buffer));
    Py_buffer *eos = PyMem_Calloc(n ? n : 1, sizeof(Py_buffer));
    Py_ssize_t got = 0;
    if (bits == NULL || eos == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (; got < n; got++) {
        if (PyObject_GetBuffer(PyList_GET_ITEM(bits_list, got), &bits[got], PyBUF_SIMPLE) < 0)
            goto fail;
        if (PyObject_GetBuffer(PyList_GET_ITEM(eos_list, got), &eos[got], PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&bits[got]);
            goto fail;
        }
        const int64_t *ids = eos[got].buf;
        Py_ssize_t nids = eos[got].len / 8;
        int bad = bits[got].len > row_bytes || eos[got].len % 8 != 0;
        for (Py_ssize_t k = 0; k < nids && !bad; k++)
            bad = ids[k] < 0 || ids[k] >= row_bytes * 8;
        if (bad) {
            PyErr_Format(PyExc_ValueError, "fill_rows: row %zd does not fit %zd int32 words",
                         got, out.shape[1]);
            got++;
            goto fail;
        }
    }
    PyThreadState *released = n * row_bytes >= RELEASE_BYTES ? PyEval_SaveThread() : NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t *row = (uint8_t *)out.buf + i * out.strides[0];
        memcpy(row, bits[i].buf, bits[i].len);
        memset(row + bits[i].len, 0, row_bytes - bits[i].len);
        const int64_t *ids = eos[i].buf;
        for (Py_ssize_t k = 0; k < eos[i].len / 8; k++)
            row[ids[k] >> 3] |= (uint8_t)(1u << (ids[k] & 7));
    }
    if (released != NULL) PyEval_RestoreThread(released);
    release_rows(bits, eos, n);
    PyMem_Free(bits);
    PyMem_Free(eos);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
fail:
    if (bits != NULL && eos != NULL) release_rows(bits, eos, got);
    PyMem_Free(bits);
    PyMem_Free(eos);
    PyBuffer_Release(&out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"crossing_flags", crossing_flags, METH_VARARGS,
     "Flag the trie nodes with no token holding a byte of a set (see decoding.tokens.lexemes)."},
    {"fill_rows", fill_rows, METH_VARARGS,
     "Copy packed rows into an int32 bitmask and set EOS bits (see decoding.tokens.bits)."},
    {"read_bytes", read_bytes, METH_VARARGS,
     "Follow bytes through an automaton's computed rows (see decoding.tokens.walk)."},
    {"walk_subtrees", walk_subtrees, METH_VARARGS,
     "Walk trie subtrees over an automaton's rows (see decoding.tokens.walk)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_walk",
                                    "The compiled trie walk of decoding.tokens.walk.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__walk(void) { return PyModule_Create(&module); }
